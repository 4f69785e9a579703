import { EmulatorClock } from './clock.js';
import { resolveEmulatorOptions, type EmulatorOptions, type EmulatorOptionsInput, type PortalLimits, type CostModel } from './options.js';
import { TokenRegistry } from './oauth/token-registry.js';
import { MethodRegistry } from './methods/registry.js';
import { Portal, type PortalPlan } from './portal.js';
import { registerAllMethods } from './methods/all.js';

export interface CreatePortalInput {
  memberId?: string;
  domain?: string;
  plan?: PortalPlan;
  drainPerSecond?: number;
  burst?: number;
  operatingLimitSeconds?: number;
  operatingWindowSeconds?: number;
  /** @defaultValue the emulator's `countRefusedRequests` option */
  countRefusedRequests?: boolean;
  cost?: Partial<CostModel>;
  timeZone?: string;
}

/**
 * The state of a whole emulated Bitrix24 cloud: one OAuth server, one registered app and any
 * number of portals. HTTP lives in server.ts; this class is usable in-process as well.
 */
export class Emulator {
  readonly options: EmulatorOptions;
  readonly clock = new EmulatorClock();
  readonly tokens: TokenRegistry;
  readonly methods = new MethodRegistry();
  readonly #portals = new Map<string, Portal>();
  /** Base URL, e.g. `http://127.0.0.1:4100`; set when the server listens. */
  baseUrl = 'http://127.0.0.1:4100';

  constructor(input: EmulatorOptionsInput = {}) {
    this.options = resolveEmulatorOptions(input);
    this.tokens = new TokenRegistry(this.clock, () => ({
      accessSeconds: this.options.accessTokenTtlSeconds,
      refreshSeconds: this.options.refreshTokenTtlSeconds,
      codeSeconds: this.options.codeTtlSeconds,
    }));
    registerAllMethods(this.methods);
  }

  createPortal(input: CreatePortalInput = {}): Portal {
    const plan = input.plan ?? 'professional';
    const base: PortalLimits = plan === 'enterprise' ? this.options.enterpriseLimits : this.options.limits;
    const limits: PortalLimits = {
      drainPerSecond: input.drainPerSecond ?? base.drainPerSecond,
      burst: input.burst ?? base.burst,
      operatingLimitSeconds: input.operatingLimitSeconds ?? base.operatingLimitSeconds,
      operatingWindowSeconds: input.operatingWindowSeconds ?? base.operatingWindowSeconds,
      countRefusedRequests: input.countRefusedRequests ?? this.options.countRefusedRequests,
    };
    if (input.domain !== undefined && this.portalByDomain(input.domain)) {
      throw new Error(`domain already in use: ${input.domain}`);
    }
    if (input.memberId !== undefined && this.#portals.has(input.memberId)) {
      throw new Error(`member_id already in use: ${input.memberId}`);
    }
    const portal = new Portal({
      ...(input.memberId !== undefined ? { memberId: input.memberId } : {}),
      ...(input.domain !== undefined ? { domain: input.domain } : {}),
      ...(input.timeZone !== undefined ? { timeZone: input.timeZone } : {}),
      plan,
      limits,
      cost: { ...this.options.cost, ...input.cost },
    });
    portal.bucket.updatedAtMs = this.clock.nowMs();
    portal.events.attach(this);
    this.#portals.set(portal.memberId, portal);
    return portal;
  }

  portal(memberId: string): Portal | undefined {
    return this.#portals.get(memberId);
  }

  portals(): Portal[] {
    return [...this.#portals.values()];
  }

  /** The portal whose current domain is `domain`. */
  portalByDomain(domain: string): Portal | undefined {
    const wanted = domain.toLowerCase();
    for (const portal of this.#portals.values()) if (portal.domain.toLowerCase() === wanted) return portal;
    return undefined;
  }

  /** The portal that used to be at `domain` before a rename. */
  portalByPreviousDomain(domain: string): Portal | undefined {
    const wanted = domain.toLowerCase();
    for (const portal of this.#portals.values()) if (portal.previousDomains.has(wanted)) return portal;
    return undefined;
  }

  /** `{client_endpoint}` of a portal: REST calls go to `{client_endpoint}{method}` (docs/protocol.md §4.1). */
  clientEndpoint(portal: Portal): string {
    return `${this.baseUrl}/${portal.domain}/rest/`;
  }

  /** The OAuth server's REST endpoint (docs/protocol.md §1.4 `server_endpoint`). */
  serverEndpoint(): string {
    return `${this.baseUrl}/rest/`;
  }

  /** The OAuth server host, as token responses report it in `domain` (docs/protocol.md §1.4). */
  oauthDomain(): string {
    return new URL(this.baseUrl).host;
  }

  authorizeUrl(portal: Portal): string {
    return `${this.baseUrl}/${portal.domain}/oauth/authorize/`;
  }
}
