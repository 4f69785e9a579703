/**
 * The portals side of an app: registry, token service, installer, OAuth states, the shared rate
 * limiter (`createPortalCore`), and with the web server on top (`createPortalRuntime`, for tools
 * and tests that serve install and OAuth without an app). No module-level state: tests build as
 * many as they like, each with its own store and clock.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { createPortalTokenProvider, PortalTokenService, type TokenRefreshOutcome } from '../oauth/portal-token-provider.js';
import { createTokenClient } from '../oauth/token-client.js';
import { PortalInstaller, type PortalInstallerOptions } from '../oauth/installer.js';
import type { PortalLifecycleHooks } from '../oauth/lifecycle-hooks.js';
import { OAuthStateStore } from '../oauth/oauth-state.js';
import { B24Client, type B24ClientOptions } from '../rest/client.js';
import type { RateLimiter } from '../rest/limiter.js';
import { createStoreRateLimiter, deletePortalBuckets } from '../rest/store-bucket.js';
import type { OperatingStateStore } from '../rest/operating-share.js';
import { OperatingTracker } from '../rest/operating.js';
import { StoreOperatingStateStore, deletePortalOperating } from '../rest/store-operating.js';
import type { SecretBox } from '../store/crypto.js';
import { PortalRegistry, type PortalStateChange } from '../store/portals.js';
import type { Store } from '../store/types.js';
import { buildWebServer, type WebServerOptions } from '../server/app.js';

/** The web server's limits and timeouts an app may set (`createApp({ server })`). */
export type ServerOptions = Pick<
  WebServerOptions,
  'bodyLimitBytes' | 'trustProxy' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'connectionTimeoutMs' | 'maxConnections' | 'form'
>;
import type { EventSink } from '../server/routes/webhooks.js';

export interface PortalRuntimeOptions {
  store: Store;
  secrets: SecretBox;
  clientId: string;
  /** Sent to the OAuth server only. */
  clientSecret: string;
  /** `B24_OAUTH_URL` (or its default), without a trailing slash. */
  oauthUrl: string;
  /** True when B24_OAUTH_URL was set explicitly (then it is the only OAuth server). */
  oauthUrlOverride: boolean;
  /** The process logger (server/logging.ts): the web server logs through it. */
  logger: PinoLogger;
  /** Clock in epoch ms; tests pass the emulator's. @defaultValue Date.now */
  nowMs?: () => number;
  hooks?: Partial<PortalLifecycleHooks>;
  /** For the token endpoint and app.info. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** The app's event inbox (see server/routes/webhooks.ts). */
  events?: EventSink;
  /** More routes on the web server (the app's robots, /metrics). */
  routes?: (server: FastifyInstance) => void;
  /** Hosts `/oauth/start` may redirect to besides cloud portals and installed ones (`B24KIT_PORTAL_DOMAINS`). @defaultValue [] */
  allowedDomains?: readonly string[];
  /** Told about every stored or refused replacement of a portal's credentials (audit metrics). */
  onCredentials?: PortalInstallerOptions['onCredentials'];
  /** The process's one rate limiter. @defaultValue a store-backed, plan-aware one over `store` (shared by every process) */
  limiter?: RateLimiter;
  /** Told of every portal state change this process makes (see PortalRegistryOptions.onStateChange). Must not throw. */
  onPortalStateChange?: (change: PortalStateChange) => void;
  /** Told of every token refresh this process attempts, and its outcome (metrics). Must not throw. */
  onTokenRefresh?: (outcome: TokenRefreshOutcome) => void;
  /** How long an install's write of its new pair waits out a store outage (PortalInstallerOptions.storeRetryMs). @defaultValue 10000 */
  installStoreRetryMs?: number;
}

export interface PortalRuntime {
  store: Store;
  portals: PortalRegistry;
  tokens: PortalTokenService;
  installer: PortalInstaller;
  states: OAuthStateStore;
  server: FastifyInstance;
  /** The leaky buckets of every portal, in the store: give it to every B24Client of this process. */
  limiter: RateLimiter;
  /**
   * The operating budgets of every portal and method, in the store: a client's tracker over it
   * (`operating: { store: runtime.operatingStore }`) paces each method with every other process.
   */
  operatingStore: OperatingStateStore;
  /**
   * A REST client for one stored portal (tokens refreshed single-flight), over the runtime's
   * limiter and, unless `operating` is a tracker, the runtime's operating budgets. Close it when done.
   */
  client(memberId: string, options?: Omit<B24ClientOptions, 'provider'>): B24Client;
}

export type PortalCore = Omit<PortalRuntime, 'server'>;

/** Registry, tokens, installer, OAuth states and the limiter, without a web server. */
export function createPortalCore(options: Omit<PortalRuntimeOptions, 'events' | 'routes' | 'allowedDomains'>): PortalCore {
  const nowMs = options.nowMs ?? Date.now;
  const { store, logger } = options;
  const portals = new PortalRegistry({ store, secrets: options.secrets, nowMs, ...(options.onPortalStateChange ? { onStateChange: options.onPortalStateChange } : {}) });
  const tokenClient = createTokenClient({
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ...(options.oauthUrlOverride ? { oauthUrl: options.oauthUrl } : {}),
    nowMs,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const tokens = new PortalTokenService({
    portals,
    tokenClient,
    nowMs,
    logger: logger.child({ module: 'tokens' }),
    ...(options.onTokenRefresh ? { onRefresh: options.onTokenRefresh } : {}),
  });
  const installer = new PortalInstaller({
    portals,
    tokenClient,
    grants: tokens,
    clientId: options.clientId,
    oauthUrl: options.oauthUrl,
    oauthUrlOverride: options.oauthUrlOverride,
    logger: logger.child({ module: 'install' }),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.onCredentials ? { onCredentials: options.onCredentials } : {}),
    ...(options.installStoreRetryMs !== undefined ? { storeRetryMs: options.installStoreRetryMs } : {}),
  });
  const states = new OAuthStateStore({ store, nowMs });
  const limiter = options.limiter ?? createStoreRateLimiter({ store, now: nowMs, logger: logger.child({ module: 'rest' }) });
  portals.registerCleanup('b24kit_rest_buckets', deletePortalBuckets);
  const operatingStore = new StoreOperatingStateStore({ store });
  portals.registerCleanup('b24kit_rest_operating', deletePortalOperating);
  return {
    store,
    portals,
    tokens,
    installer,
    states,
    limiter,
    operatingStore,
    client: (memberId, clientOptions = {}) =>
      new B24Client({
        logger: logger.child({ module: 'rest' }),
        limiter,
        ...clientOptions,
        operating: clientOptions.operating instanceof OperatingTracker ? clientOptions.operating : { store: operatingStore, ...clientOptions.operating },
        provider: createPortalTokenProvider(tokens, memberId),
      }),
  };
}

/** The portal core with its web server: health, readiness, install, OAuth, events (when `events` is given) and `routes`. */
export function createPortalRuntime(options: PortalRuntimeOptions): PortalRuntime {
  const core = createPortalCore(options);
  const server = buildPortalServer(core, options);
  return { ...core, server };
}

/** The web server of a portal core. */
export function buildPortalServer(
  core: PortalCore,
  options: Pick<PortalRuntimeOptions, 'logger' | 'clientId' | 'nowMs' | 'events' | 'allowedDomains' | 'routes'> & { server?: ServerOptions },
): FastifyInstance {
  const { store } = core;
  return buildWebServer({
    ...options.server,
    loggerInstance: options.logger,
    ready: async () => (await store.one('SELECT 1 AS ok')) !== undefined,
    portals: {
      installer: core.installer,
      states: core.states,
      store,
      clientId: options.clientId,
      nowMs: options.nowMs ?? Date.now,
      ...(options.events ? { events: options.events } : {}),
      ...(options.allowedDomains ? { allowedDomains: options.allowedDomains } : {}),
    },
    ...(options.routes ? { routes: options.routes } : {}),
  });
}
