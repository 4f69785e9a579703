/**
 * Options of the Bitrix24 emulator. Every fidelity switch lives here, with its default and the
 * section of docs/protocol.md it follows. docs/emulator.md lists them all.
 */

/** Limits of one portal (docs/protocol.md §5). */
export interface PortalLimits {
  /** Leaky-bucket drain in requests per second. @defaultValue 2 (5 on the enterprise plan) */
  drainPerSecond: number;
  /** Leaky-bucket size. @defaultValue 50 (250 on the enterprise plan) */
  burst: number;
  /** Per-method operating budget in seconds within the rolling window. @defaultValue 480 */
  operatingLimitSeconds: number;
  /** Length of the rolling operating window in seconds (10 one-minute buckets). @defaultValue 600 */
  operatingWindowSeconds: number;
  /**
   * Whether a request refused with 503 QUERY_LIMIT_EXCEEDED still adds to this portal's bucket.
   * Unset in the option defaults; a new portal takes the emulator's `countRefusedRequests`, and
   * `PUT /_emulator/portals/:id/limits` switches it per portal.
   */
  countRefusedRequests?: boolean;
}

/**
 * How much server time a REST command costs (docs/protocol.md §5.2). The cost is reported in
 * `time.operating`, counted against the per-method budget and, with `simulateLatency`,
 * really waited before the answer is sent.
 */
export interface CostModel {
  /** Base cost of a read command in ms. @defaultValue 0 */
  readMs: number;
  /** Base cost of a write command (add/update/delete/set) in ms. @defaultValue 0 */
  writeMs: number;
  /** Cost per returned row in ms. @defaultValue 0 */
  perRowMs: number;
  /** Cost of a COUNT query per million rows in the table, in ms (skipped with start=-1). @defaultValue 0 */
  countMsPerMillionRows: number;
  /** Wait the computed cost before answering. @defaultValue false */
  simulateLatency: boolean;
}

/**
 * How a batch is billed against the leaky bucket. The docs say a batch is one request
 * (docs/protocol.md §5.1); the official JS SDK counts every command. `request` follows the docs.
 */
export type BatchBilling = 'request' | 'per-command';

/**
 * Rules of the real cloud that make local work impossible — handlers must be reachable from the
 * internet, and https is required (docs/protocol.md §3.1, §4.1) — relaxed by default, each behind a
 * switch that restores the real rule (docs/emulator.md).
 */
export interface Relaxations {
  /** Accept event/robot handler URLs on loopback or private hosts. @defaultValue true */
  allowLoopbackHandlers: boolean;
  /** Accept plain http for REST calls and handler URLs. @defaultValue true */
  allowHttp: boolean;
}

export interface EmulatorOptions {
  /** The registered app's client_id. @defaultValue 'local.b24kit.demo' */
  clientId: string;
  /** The registered app's client_secret. @defaultValue 'demo-secret' */
  clientSecret: string;
  /** Access token lifetime in seconds (docs/protocol.md §1.5). @defaultValue 3600 */
  accessTokenTtlSeconds: number;
  /** Authorization code lifetime in seconds (docs/protocol.md §1.2). @defaultValue 30 */
  codeTtlSeconds: number;
  /**
   * Refresh token lifetime in seconds. The current docs say 180 days, older ones 28 days
   * (docs/protocol.md §1.5, UNCONFIRMED); the emulator takes the stricter one. @defaultValue 28 days
   */
  refreshTokenTtlSeconds: number;
  /** Public base URL of the emulator; the listening address when unset. */
  publicUrl?: string;
  /** Default limits of a new portal on a non-enterprise plan. */
  limits: PortalLimits;
  /** Default limits of a new portal on the enterprise plan. */
  enterpriseLimits: PortalLimits;
  /** Server cost of commands. Tests keep it zero; benchmarks set a realistic model. */
  cost: CostModel;
  /** @defaultValue 'request' */
  batchBilling: BatchBilling;
  /**
   * Whether a request refused with 503 QUERY_LIMIT_EXCEEDED still adds to the leaky bucket: the default
   * of every new portal, switchable per portal (`PortalLimits.countRefusedRequests`). The docs say
   * every incoming request adds to the counter; UNCONFIRMED for refused ones (apidocs.bitrix24.com settings/performance/limits).
   * @defaultValue true
   */
  countRefusedRequests: boolean;
  relax: Relaxations;
  /** Largest accepted request body in bytes. @defaultValue 10 MiB */
  bodyLimitBytes: number;
  /** Timeout for outbound deliveries (events, robots, lifecycle) in ms. @defaultValue 5000 */
  deliveryTimeoutMs: number;
  /** Where the OAuth redirect goes; `{appUrl}/oauth/callback` of the install when unset. */
  redirectUri?: string;
  /**
   * Dotted host names the control API answers at besides the emulator's own (`publicUrl`); IP
   * addresses, `localhost` and names without a dot always work (control-guard.ts). @defaultValue []
   */
  controlHosts: string[];
}

export const DEFAULT_LIMITS: PortalLimits = {
  drainPerSecond: 2,
  burst: 50,
  operatingLimitSeconds: 480,
  operatingWindowSeconds: 600,
};

export const ENTERPRISE_LIMITS: PortalLimits = {
  drainPerSecond: 5,
  burst: 250,
  operatingLimitSeconds: 480,
  operatingWindowSeconds: 600,
};

export const ZERO_COST: CostModel = {
  readMs: 0,
  writeMs: 0,
  perRowMs: 0,
  countMsPerMillionRows: 0,
  simulateLatency: false,
};

/**
 * Our estimate of a real cloud portal's server time, for benchmarks: 30 ms per write, 20 ms per read
 * plus 0.1 ms per row, 1 s per million rows a COUNT query scans (so `start=-1` matters,
 * docs/protocol.md §5.4). No public source gives these numbers; bench/README.md states the model
 * next to every result; the default is ZERO_COST.
 */
export const REALISTIC_COST: CostModel = {
  readMs: 20,
  writeMs: 30,
  perRowMs: 0.1,
  countMsPerMillionRows: 1000,
  simulateLatency: true,
};

export type EmulatorOptionsInput = Partial<Omit<EmulatorOptions, 'limits' | 'enterpriseLimits' | 'cost' | 'relax'>> & {
  limits?: Partial<PortalLimits>;
  enterpriseLimits?: Partial<PortalLimits>;
  cost?: Partial<CostModel>;
  relax?: Partial<Relaxations>;
};

export function resolveEmulatorOptions(input: EmulatorOptionsInput = {}): EmulatorOptions {
  return {
    clientId: input.clientId ?? 'local.b24kit.demo',
    clientSecret: input.clientSecret ?? 'demo-secret',
    accessTokenTtlSeconds: input.accessTokenTtlSeconds ?? 3600,
    codeTtlSeconds: input.codeTtlSeconds ?? 30,
    refreshTokenTtlSeconds: input.refreshTokenTtlSeconds ?? 28 * 24 * 3600,
    ...(input.publicUrl !== undefined ? { publicUrl: input.publicUrl } : {}),
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    enterpriseLimits: { ...ENTERPRISE_LIMITS, ...input.enterpriseLimits },
    cost: { ...ZERO_COST, ...input.cost },
    batchBilling: input.batchBilling ?? 'request',
    countRefusedRequests: input.countRefusedRequests ?? true,
    relax: { allowLoopbackHandlers: true, allowHttp: true, ...input.relax },
    bodyLimitBytes: input.bodyLimitBytes ?? 10 * 1024 * 1024,
    deliveryTimeoutMs: input.deliveryTimeoutMs ?? 5000,
    ...(input.redirectUri !== undefined ? { redirectUri: input.redirectUri } : {}),
    controlHosts: [...(input.controlHosts ?? [])],
  };
}
