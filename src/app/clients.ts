/**
 * The app's REST clients, one per portal, sharing one operating tracker, one connection pool and
 * THE rate limiter of the portal runtime (`runtime.limiter`, src/rest/store-bucket.ts): its
 * buckets live in the store, so every process of the app — web, workers, schedulers — draws from
 * ONE budget per portal, as the portal counts it (docs/protocol.md §5.1: per portal, not per process).
 * The tracker paces each method over the runtime's operating budgets (`runtime.operatingStore`,
 * src/rest/store-operating.ts) the same way (docs/protocol.md §5.2: per app and method, not per process).
 */
import { Agent } from 'undici';
import type { Logger as PinoLogger } from 'pino';
import { createPortalTokenProvider, type PortalTokenService } from '../oauth/portal-token-provider.js';
import { B24Client, type B24ClientOptions } from '../rest/client.js';
import type { B24ClientEventListener } from '../rest/hooks.js';
import type { RateLimiter } from '../rest/limiter.js';
import { DEFAULT_OPERATING_LIMITS, OperatingTracker } from '../rest/operating.js';
import type { OperatingStateStore } from '../rest/operating-share.js';

/** REST client settings of an app (everything but what the app wires itself). */
export type AppRestOptions = Omit<B24ClientOptions, 'provider' | 'limiter' | 'operating' | 'dispatcher' | 'onEvent' | 'logger'>;

/**
 * Clients kept at most. A client holds no state of its own that matters (the bucket, the operating
 * budgets and the tokens live in shared services), so the least recently used is dropped and made
 * again when needed: a process serving 10,000 portals does not keep 10,000 clients and child loggers.
 */
export const MAX_CACHED_CLIENTS = 500;

export class PortalClients {
  readonly #tokens: PortalTokenService;
  readonly #options: AppRestOptions;
  readonly #logger: PinoLogger;
  readonly #onEvent: B24ClientEventListener | undefined;
  readonly #limiter: RateLimiter;
  readonly #operating: OperatingTracker;
  readonly #dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  /** By member_id, least recently used first (a Map keeps insertion order; a hit re-inserts). */
  readonly #clients = new Map<string, B24Client>();
  readonly #maxCached: number;

  constructor(options: {
    tokens: PortalTokenService;
    /** The process's one limiter, store-backed so that processes share it (`runtime.limiter`). */
    limiter: RateLimiter;
    /** Where the operating budgets are shared between processes (`runtime.operatingStore`). @defaultValue this process alone */
    operatingStore?: OperatingStateStore;
    rest?: AppRestOptions;
    logger: PinoLogger;
    onEvent?: B24ClientEventListener;
    /** Clients kept for reuse, least recently used dropped first. @defaultValue MAX_CACHED_CLIENTS (500) */
    maxCachedClients?: number;
  }) {
    this.#maxCached = Math.max(1, options.maxCachedClients ?? MAX_CACHED_CLIENTS);
    this.#tokens = options.tokens;
    this.#limiter = options.limiter;
    this.#operating = new OperatingTracker(DEFAULT_OPERATING_LIMITS, options.operatingStore ? { store: options.operatingStore } : {});
    this.#options = options.rest ?? {};
    this.#logger = options.logger;
    this.#onEvent = options.onEvent;
  }

  /** The operating tracker all of this process's clients share. */
  get operating(): OperatingTracker {
    return this.#operating;
  }

  /** Clients cached now (at most `maxCachedClients`). */
  get cachedClients(): number {
    return this.#clients.size;
  }

  /** The client of one portal (created on first use, then shared while recently used). */
  get(memberId: string): B24Client {
    let client = this.#clients.get(memberId);
    if (client) {
      this.#clients.delete(memberId);
      this.#clients.set(memberId, client);
    } else {
      client = new B24Client({
        ...this.#options,
        provider: createPortalTokenProvider(this.#tokens, memberId),
        limiter: this.#limiter,
        operating: this.#operating,
        dispatcher: this.#dispatcher,
        logger: this.#logger.child({ module: 'rest', memberId }),
        ...(this.#onEvent ? { onEvent: this.#onEvent } : {}),
      });
      this.#clients.set(memberId, client);
      if (this.#clients.size > this.#maxCached) this.#clients.delete(this.#clients.keys().next().value!);
    }
    return client;
  }

  async close(): Promise<void> {
    this.#clients.clear();
    await this.#dispatcher.close();
  }
}
