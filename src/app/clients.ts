/**
 * The app's REST clients, one per portal, sharing one operating tracker, one connection pool and
 * THE rate limiter of the portal runtime (`runtime.limiter`, src/rest/store-bucket.ts): its
 * buckets live in the store, so every process of the app — web, workers, schedulers — draws from
 * ONE budget per portal, as the portal counts it (protocol §5.1: per portal, not per process).
 */
import { Agent } from 'undici';
import type { Logger as PinoLogger } from 'pino';
import { createPortalTokenProvider, type PortalTokenService } from '../oauth/portal-token-provider.js';
import { B24Client, type B24ClientOptions } from '../rest/client.js';
import type { B24ClientEventListener } from '../rest/hooks.js';
import type { RateLimiter } from '../rest/limiter.js';
import { OperatingTracker } from '../rest/operating.js';

/** REST client settings of an app (everything but what the app wires itself). */
export type AppRestOptions = Omit<B24ClientOptions, 'provider' | 'limiter' | 'operating' | 'dispatcher' | 'onEvent' | 'logger'>;

export class PortalClients {
  readonly #tokens: PortalTokenService;
  readonly #options: AppRestOptions;
  readonly #logger: PinoLogger;
  readonly #onEvent: B24ClientEventListener | undefined;
  readonly #limiter: RateLimiter;
  readonly #operating = new OperatingTracker();
  readonly #dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  readonly #clients = new Map<string, B24Client>();

  constructor(options: {
    tokens: PortalTokenService;
    /** The process's one limiter, store-backed so that processes share it (`runtime.limiter`). */
    limiter: RateLimiter;
    rest?: AppRestOptions;
    logger: PinoLogger;
    onEvent?: B24ClientEventListener;
  }) {
    this.#tokens = options.tokens;
    this.#limiter = options.limiter;
    this.#options = options.rest ?? {};
    this.#logger = options.logger;
    this.#onEvent = options.onEvent;
  }

  /** The client of one portal (created on first use, then shared). */
  get(memberId: string): B24Client {
    let client = this.#clients.get(memberId);
    if (!client) {
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
    }
    return client;
  }

  async close(): Promise<void> {
    this.#clients.clear();
    await this.#dispatcher.close();
  }
}
