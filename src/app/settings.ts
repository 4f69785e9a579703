/**
 * createApp's options, and how they resolve against the environment (config/index.ts). Explicit
 * options win; whatever is missing comes from `loadConfig(process.env)` (or `env`). Without a
 * client_id anywhere, the app runs in demo mode (an in-process emulator, runtime/demo.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Logger as PinoLogger } from 'pino';
import { DEFAULT_DEMO_EMULATOR_PORT, loadConfig, type B24kitConfig } from '../config/index.js';
import type { QueueOptions } from '../queue/index.js';
import { logDestination } from '../log/format.js';
import { createServerLogger } from '../server/logging.js';
import type { Store } from '../store/types.js';
import type { AppRestOptions } from './clients.js';
import type { MetricsConfig } from './builtins/metrics.js';
import type { SettingsDeclaration } from './kit.js';
import type { ServerOptions } from './portal-runtime.js';

export interface AppConfig<S extends Record<string, unknown> = Record<string, unknown>> {
  /** The app's per-portal settings: a zod object schema and its secret keys (docs/plugins.md). `ctx.settings` in handlers, `app.settings(memberId)` outside. */
  settings?: SettingsDeclaration<S>;
  /** Settings otherwise read from the environment. @defaultValue loadConfig(process.env) */
  env?: B24kitConfig;
  /** An open store (tests). The app does not close it. @defaultValue openStore(DATABASE_URL) */
  store?: Store;
  /** The 32-byte key sealing tokens at rest. @defaultValue B24KIT_SECRET_KEY (demo: a generated key in the data dir) */
  secretKey?: Buffer;
  /** @defaultValue B24_CLIENT_ID; none = demo mode */
  clientId?: string;
  /** @defaultValue B24_CLIENT_SECRET */
  clientSecret?: string;
  /** The OAuth server; when given it is the only one used. @defaultValue B24_OAUTH_URL or the portal's server_endpoint */
  oauthUrl?: string;
  /** The public base URL (event and robot handler URLs are built on it). @defaultValue B24_APP_URL, in demo mode the listening URL */
  appUrl?: string;
  /** @defaultValue a redacting pino logger at LOG_LEVEL on stdout: readable lines on a terminal, JSON otherwise (B24KIT_LOG_FORMAT) */
  logger?: PinoLogger;
  /** The clock, epoch ms (tests pass the emulator's). @defaultValue Date.now */
  nowMs?: () => number;
  /** For the OAuth server (token endpoint, app.info). @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** @defaultValue PORT (3000) */
  port?: number;
  /**
   * Hosts `/oauth/start` may redirect to besides Bitrix24 cloud portals and installed portals: exact
   * hosts or `*.suffix` (docs/security.md). @defaultValue B24KIT_PORTAL_DOMAINS; in demo mode also `*.bitrix24.test`
   */
  portalDomains?: string[];
  /** Listen address. @defaultValue HOST, else '127.0.0.1' in demo mode and '0.0.0.0' otherwise */
  host?: string;
  /**
   * The web server's limits and timeouts (docs/security.md): body size, form limits, header /
   * request / keep-alive / idle timeouts, connection cap, and `trustProxy` behind a proxy. Set
   * `keepAliveTimeoutMs` above a load balancer's idle timeout. @defaultValue the server's defaults
   */
  server?: ServerOptions;
  /** Queue settings: lease, per-portal cap, default retry policy. */
  queue?: Pick<QueueOptions, 'leaseMs' | 'maxRunningPerPortal' | 'defaults'>;
  worker?: {
    /** Jobs run at once by this process. @defaultValue 8 */
    concurrency?: number;
    /** Idle poll period, in ms (enqueues in this process, and NOTIFY on PostgreSQL, wake it sooner). @defaultValue 1000 */
    pollIntervalMs?: number;
    /** How long SIGTERM waits for running jobs before releasing them, in ms. @defaultValue 25000 */
    shutdownTimeoutMs?: number;
  };
  scheduler?: {
    /** Tick period, in ms. @defaultValue 10000 */
    intervalMs?: number;
    /** Time zone of portals whose own is unknown (`profile` TIME_ZONE is read at install and update). @defaultValue 'UTC' */
    defaultTimeZone?: string;
  };
  /** How events declared with `app.on(name, handler, { offline: true })` are drained (docs/app.md). */
  offlineEvents?: OfflineEventsConfig;
  /**
   * How long finished jobs, inbox rows and schedule slots are kept; purged by the scheduler role
   * (docs/app.md, src/app/retention.ts).
   */
  retention?: RetentionConfig;
  /** REST client settings of ctx.b24 and app.client(): timeouts, retries, limits. */
  rest?: AppRestOptions;
  /** Cron pattern of the refresh-token keep-alive (runs with the scheduler). @defaultValue '17 * * * *' */
  keepAlivePattern?: string;
  /** `GET /metrics`: per-portal token series, off by default (docs/operations.md). */
  metrics?: MetricsConfig;
  /**
   * How long a successful event authentication (member_id + application_token) is remembered, in
   * ms; 0 disables. Bounds how long ANOTHER process's ONAPPUPDATE/ONAPPUNINSTALL takes to reach
   * this one's receiver. @defaultValue 2000
   */
  authCacheMs?: number;
  /** Demo mode: fire a sample event every this many ms. @defaultValue 3000 */
  demoTrickleMs?: number;
  /**
   * Demo mode: the built-in emulator's port; 0 = any free one. A taken port falls back to a free one,
   * with a warning. @defaultValue B24KIT_DEMO_EMULATOR_PORT, else 3999
   */
  demoEmulatorPort?: number;
  /**
   * The token of the admin dashboard (/admin) and its API (/admin/api, as a bearer token), at least
   * 16 characters; none = no dashboard (docs/operations.md "Dashboard"). In demo mode without one, a
   * random token is generated for the run and printed once, in the demo banner (a demo-only
   * convenience: a configured token is never printed). @defaultValue B24KIT_ADMIN_TOKEN
   */
  adminToken?: string;
}

export interface OfflineEventsConfig {
  /**
   * Bind ONOFFLINEEVENT online with this `minTimeout`: the portal pings at most once per this many
   * seconds after new records (0 = after every change), and each ping enqueues a drain. `false`:
   * no ping, drains only on `drainCron`. @defaultValue 10
   */
  notifyMinTimeoutSeconds?: number | false;
  /**
   * Pings within one window of this many ms share ONE drain job per portal, which runs when the
   * window ends — so it starts after every ping it stands for. @defaultValue 1000
   */
  coalesceMs?: number;
  /**
   * Cron of the safety-net drain (runs with the scheduler, once per portal per slot): catches
   * pings that were lost, since online delivery has no retries. `false`: none. @defaultValue '*\/5 * * * *'
   */
  drainCron?: string | false;
  /** Records per reservation (`event.offline.get` limit, 1..1000). @defaultValue 50 */
  batchSize?: number;
  /** Reservations per drain job; the next ping or slot drains the rest. @defaultValue 20 */
  maxBatches?: number;
}

/** Windows in days (fractions allowed; `Infinity` keeps forever), counted from when a row finished or arrived. */
export interface RetentionConfig {
  /** Succeeded jobs, from `finished_at_ms` (their `ctx.once` memos go with them). @defaultValue 7 */
  succeededJobsDays?: number;
  /** Dead jobs, from `finished_at_ms`: kept longer, for humans to inspect and replay. @defaultValue 30 */
  deadJobsDays?: number;
  /**
   * Inbox rows, from `received_at_ms`. A repeated delivery is recognised by its inbox row, so this
   * must be at least the longest time a copy of an event can arrive after the first. @defaultValue 7
   */
  inboxDays?: number;
  /** Fired schedule slots, from their fire time; the latest per (schedule, portal) is always kept. @defaultValue 7 */
  scheduleSlotsDays?: number;
  /** Cron (UTC) of the purge, once per fire time across processes; `false`: never purge. @defaultValue '37 * * * *' */
  cron?: string | false;
  /** Rows per DELETE statement: bounds how long one holds SQLite's write lock. @defaultValue 1000 */
  batchSize?: number;
}

export interface ResolvedSettings {
  demo: boolean;
  store: Store | undefined;
  databaseUrl: string;
  dataDir: string;
  secretKey: Buffer | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  oauthUrl: string;
  oauthUrlOverride: boolean;
  appUrl: string | undefined;
  logger: PinoLogger;
  nowMs: () => number;
  fetch: typeof fetch | undefined;
  port: number;
  host: string;
  portalDomains: string[];
  /** The admin token (AppConfig.adminToken); in demo mode generated when none is configured. */
  adminToken: string | undefined;
  /** True when `adminToken` was generated for this demo run (only then may the banner print it). */
  adminTokenGenerated: boolean;
  demoEmulatorPort: number;
  config: AppConfig<never>;
}

export function resolveSettings(config: AppConfig<never>): ResolvedSettings {
  const explicit = config.clientId !== undefined && config.clientSecret !== undefined && config.store !== undefined;
  const env = config.env ?? (explicit ? undefined : loadConfig(process.env));
  const clientId = config.clientId ?? env?.clientId;
  const demo = clientId === undefined;
  const configuredAdminToken = config.adminToken ?? env?.adminToken;
  // demo only: the token of a process whose every portal is the emulator's, for the banner's dashboard link
  const adminTokenGenerated = demo && configuredAdminToken === undefined;
  return {
    demo,
    store: config.store,
    databaseUrl: env?.databaseUrl ?? './data/b24kit.sqlite',
    dataDir: env?.dataDir ?? './data',
    secretKey: config.secretKey ?? env?.secretKey,
    clientId,
    clientSecret: config.clientSecret ?? env?.clientSecret,
    oauthUrl: (config.oauthUrl ?? env?.oauthUrl ?? 'https://oauth.bitrix.info').replace(/\/+$/, ''),
    oauthUrlOverride: config.oauthUrl !== undefined || (env?.oauthUrlOverride ?? false),
    appUrl: (config.appUrl ?? env?.appUrl)?.replace(/\/+$/, ''),
    logger: config.logger ?? createServerLogger({ level: env?.logLevel ?? 'info', destination: logDestination(env?.logFormat, process.stdout) }),
    nowMs: config.nowMs ?? Date.now,
    fetch: config.fetch,
    port: config.port ?? env?.port ?? 3000,
    host: config.host ?? env?.host ?? (demo ? '127.0.0.1' : '0.0.0.0'),
    // the demo emulator's portals live under *.bitrix24.test
    portalDomains: config.portalDomains ?? [...(env?.portalDomains ?? []), ...(demo ? ['*.bitrix24.test'] : [])],
    adminToken: adminTokenGenerated ? randomBytes(24).toString('base64url') : configuredAdminToken,
    adminTokenGenerated,
    demoEmulatorPort: config.demoEmulatorPort ?? env?.demoEmulatorPort ?? DEFAULT_DEMO_EMULATOR_PORT,
    config,
  };
}
