/**
 * B24Client: calls, batches and lists against one portal, inside the portal's limits — the public
 * facade. Every HTTP request goes through the exchange loop (exchange.ts: the operating tracker,
 * the leaky bucket, the POST, the one retry policy; docs/protocol.md §4.4, §5, §8); lists are read by
 * list-reader.ts over this client's requests.
 */
import pino from 'pino';
import type { Dispatcher } from 'undici';
import { B24Error } from '../errors.js';
import type { TokenProvider } from './token-provider.js';
import { StaticTokenProvider, WebhookProvider, portalKey, type StaticTokenInput } from './providers.js';
import { RateLimiter, bucketLimitsForLicense, type BucketLimits } from './limiter.js';
import { DEFAULT_OPERATING_LIMITS, OperatingTracker, type OperatingLimits, type OperatingTrackerOptions, type RestTime } from './operating.js';
import { DEFAULT_BACKOFF, batchSafety, methodSafety, type BackoffPolicy } from './retry.js';
import { errorFromEnvelope } from './error-mapping.js';
import { defaultDispatcher } from './transport.js';
import { chunkCommands, encodeCommand, normalizeCommands, parseBatchResult, type BatchCommands, type NormalizedCommand, type ParsedBatch } from './batch.js';
import type { ListOptions } from './list.js';
import { readList, type ListIo } from './list-reader.js';
import { runExchange, type Envelope, type Exchange, type ExchangeContext } from './exchange.js';
import { OPERATING_FALLBACK_MS, classifyError } from './error-class.js';
import { systemClock, type B24ClientEvent, type B24ClientEventListener, type B24Logger, type Clock } from './hooks.js';

export interface B24ClientOptions {
  /** Where credentials come from. */
  provider: TokenProvider;
  /** Longest wait for one HTTP exchange, in ms (the cloud cuts requests at 60 s). @defaultValue 30000 */
  timeoutMs?: number;
  /**
   * Longest time one call may take overall — limiter waits, retries and backoff included — in ms.
   * A wait that would end after it fails at once instead. @defaultValue 120000
   */
  deadlineMs?: number;
  /** Retries of failed exchanges. @defaultValue {@link DEFAULT_BACKOFF} (5 attempts, 500 ms base, 30 s cap) */
  retry?: Partial<BackoffPolicy>;
  /**
   * The leaky buckets. Share ONE limiter (over a shared BucketStateStore) between all clients of
   * an app so that they draw from one budget per portal. @defaultValue a limiter of its own
   */
  limiter?: RateLimiter;
  /** This portal's bucket, overriding the limiter's default and the plan. */
  limits?: Partial<BucketLimits>;
  /**
   * The per-method operating budget: a tracker to share, or the limits (and options, such as the
   * `store` that shares it with other processes) of a tracker of this client's own.
   * @defaultValue 480 s, slowdown at 80%, this client alone
   */
  operating?: OperatingTracker | (Partial<OperatingLimits> & OperatingTrackerOptions);
  /**
   * Most batch requests of one `batch()` call in flight at once. The limiter paces them, so more
   * than the bucket needs only wait; fewer than `2 × ceil(drain × latency)` leave the burst unused
   * (bench/README.md, bulk write). @defaultValue 16
   */
  batchConcurrency?: number;
  /** Metrics and tracing callback. */
  onEvent?: B24ClientEventListener;
  /** @defaultValue a pino logger named `b24kit.rest` at LOG_LEVEL (default `info`) */
  logger?: B24Logger;
  /** @defaultValue the system clock */
  clock?: Clock;
  /** undici dispatcher (connection pool). @defaultValue a keep-alive Agent of this client */
  dispatcher?: Dispatcher;
  /** @defaultValue 'b24kit' */
  userAgent?: string;
}

export interface CallOptions {
  /** Overrides the client's `timeoutMs` for each exchange of this call. */
  timeoutMs?: number;
  /** Overrides the client's `deadlineMs` for this call. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /**
   * Whether the call may be sent again when its outcome is unknown (timeout, dropped connection,
   * 5xx). By default reads and `*.update`/`*.delete`/`*.set` may, `*.add` and unknown methods not.
   */
  idempotent?: boolean;
}

export interface BatchOptions extends CallOptions {
  /** Stop at the first failing command (and send no further requests). @defaultValue false */
  halt?: boolean;
}

export type ListCallOptions = CallOptions & ListOptions;

/** A successful answer (docs/protocol.md §4.3). */
export interface CallResult<T = unknown> {
  result: T;
  total?: number;
  next?: number;
  time?: RestTime;
}

/** Results and errors of a batch, keyed as the commands were given. */
export interface BatchResult {
  result: Record<string, unknown>;
  errors: Record<string, B24Error>;
  total: Record<string, number>;
  next: Record<string, number>;
  time: Record<string, RestTime>;
}

/**
 * A Bitrix24 REST client for one portal.
 *
 * ```ts
 * const b24 = B24Client.fromWebhook('https://acme.bitrix24.com/rest/1/abc123/');
 * const { result } = await b24.call('crm.deal.get', { id: 7 });
 * for await (const deal of b24.list('crm.deal.list', { filter: { STAGE_ID: 'WON' } })) …
 * ```
 */
export class B24Client {
  readonly provider: TokenProvider;
  readonly limiter: RateLimiter;
  readonly operating: OperatingTracker;
  readonly #retry: BackoffPolicy;
  readonly #limits: Partial<BucketLimits> | undefined;
  readonly #limitsApplied = new Set<string>();
  readonly #batchConcurrency: number;
  readonly #onEvent: B24ClientEventListener | undefined;
  readonly #logger: B24Logger;
  readonly #clock: Clock;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  /** What the exchange loop works with. */
  readonly #exchangeContext: ExchangeContext;
  /** What list reading works with. */
  readonly #listIo: ListIo<CallOptions>;

  constructor(options: B24ClientOptions) {
    this.provider = options.provider;
    this.#clock = options.clock ?? systemClock;
    this.limiter = options.limiter ?? new RateLimiter({ now: () => this.#clock.now() });
    this.operating = options.operating instanceof OperatingTracker ? options.operating : ownOperatingTracker(options.operating);
    this.#retry = { ...DEFAULT_BACKOFF, ...options.retry };
    this.#limits = options.limits;
    this.#batchConcurrency = Math.max(1, options.batchConcurrency ?? 16);
    this.#onEvent = options.onEvent;
    this.#logger = options.logger ?? pino({ name: 'b24kit.rest', level: process.env.LOG_LEVEL ?? 'info' });
    this.#dispatcher = options.dispatcher ?? defaultDispatcher();
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#exchangeContext = {
      provider: this.provider,
      limiter: this.limiter,
      operating: this.operating,
      clock: this.#clock,
      dispatcher: this.#dispatcher,
      userAgent: options.userAgent ?? 'b24kit',
      retry: this.#retry,
      timeoutMs: options.timeoutMs ?? 30_000,
      deadlineMs: options.deadlineMs ?? 120_000,
      logger: this.#logger,
      emit: (event) => this.#emit(event),
      applyLimits: (key) => this.#applyLimits(key),
      readLicense: () => this.#readLicense(),
    };
    this.#listIo = {
      provider: this.provider,
      maxAttempts: this.#retry.maxAttempts,
      call: (method, params, callOptions) => this.call(method, params, callOptions),
      batchRequest: (commands, halt, callOptions) => this.#batchRequest(commands, halt, callOptions),
      // the list reader blocks a method only after a 429 OPERATION_TIME_LIMIT: the class's fallback wait
      blockMethod: (key, method) => this.operating.block(key, method, this.#clock.now(), OPERATING_FALLBACK_MS),
    };
  }

  /** A client over a fixed access token (optionally with a refresh callback). */
  static fromToken(input: StaticTokenInput, options: Omit<B24ClientOptions, 'provider'> = {}): B24Client {
    return new B24Client({ ...options, provider: new StaticTokenProvider(input) });
  }

  /** A client over an incoming webhook URL (`…/rest/{user_id}/{code}/`); http is allowed. */
  static fromWebhook(webhookUrl: string, options: Omit<B24ClientOptions, 'provider'> & { memberId?: string } = {}): B24Client {
    const { memberId, ...rest } = options;
    return new B24Client({ ...rest, provider: new WebhookProvider(webhookUrl, memberId) });
  }

  /** Closes the connection pool this client created (not a dispatcher passed in). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /**
   * Reads the plan from `app.info` (`LICENSE_FAMILY`) and sets this portal's bucket: 5/s and 250
   * on Enterprise, 2/s and 50 otherwise — unless the client was given explicit `limits`.
   * Returns the limits in force.
   */
  async applyPlanFromAppInfo(options: CallOptions = {}): Promise<BucketLimits> {
    const { result } = await this.call<{ LICENSE_FAMILY?: string; LICENSE?: string }>('app.info', {}, options);
    const key = portalKey(await this.provider.getGrant());
    this.limiter.setPlanLimits(key, bucketLimitsForLicense(result?.LICENSE_FAMILY ?? result?.LICENSE));
    this.#applyLimits(key);
    return this.limiter.limitsFor(key);
  }

  /** Calls one method with a JSON body. Resolves with the success envelope; rejects with a B24Error. */
  async call<T = unknown>(method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<CallResult<T>> {
    if (typeof method !== 'string' || !/^[A-Za-z0-9_.]+$/.test(method)) {
      throw new B24Error('B24_ERR_INVALID_ARGUMENT', `invalid method name ${JSON.stringify(String(method)).slice(0, 80)}`);
    }
    if (method.toLowerCase() === 'batch') throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'use batch() to send a batch', { method });
    const safety = options.idempotent === undefined ? methodSafety(method) : options.idempotent ? 'idempotent' : 'unsafe';
    const envelope = await this.#exchange({ method, params, safety, charged: new Map([[method, 1]]) }, options);
    return envelope as CallResult<T>;
  }

  /**
   * Runs any number of commands: cut into requests of ≤ 50 that keep commands linked by
   * `$result[…]` references together (a linked group > 50 is refused), results and errors keyed
   * as given. With `halt`, requests run one after another and stop at the first failing command;
   * commands after it are in neither `result` nor `errors`.
   */
  async batch(commands: BatchCommands, options: BatchOptions = {}): Promise<BatchResult> {
    const normalized = normalizeCommands(commands);
    const chunks = chunkCommands(normalized);
    const out: BatchResult = { result: {}, errors: {}, total: {}, next: {}, time: {} };
    const halt = options.halt ?? false;
    const memberId = (await this.provider.getGrant()).memberId;
    const merge = (parsed: ParsedBatch, chunk: NormalizedCommand[]): boolean => {
      const methodOf = new Map(chunk.map((command) => [command.key, command.method]));
      Object.assign(out.result, parsed.result);
      Object.assign(out.total, parsed.total);
      Object.assign(out.next, parsed.next);
      Object.assign(out.time, parsed.time);
      for (const [key, envelope] of Object.entries(parsed.errors)) {
        out.errors[key] = errorFromEnvelope(envelope, 400, { method: methodOf.get(key) ?? 'batch', memberId });
      }
      return Object.keys(parsed.errors).length > 0;
    };
    if (halt) {
      for (const chunk of chunks) if (merge(await this.#runChunk(chunk, true, options), chunk)) break;
      return out;
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        merge(await this.#runChunk(chunk, false, options), chunk);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#batchConcurrency, chunks.length) }, worker));
    return out;
  }

  /** Every row of a list, in order. See {@link B24Client.list}. */
  async listAll<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, options: ListCallOptions = {}): Promise<T[]> {
    const rows: T[] = [];
    for await (const row of this.list<T>(method, params, options)) rows.push(row);
    return rows;
  }

  /**
   * The rows of a list method, in order, fetched the fastest correct way: an ID cursor with
   * `start=-1`, 50 pages chained per batch (2,500 rows a request) and, for long lists, several ID
   * ranges in parallel; or `start` offsets, 50 pages per batch, for methods without ID order.
   * Stopping the loop early cancels what is in flight.
   */
  list<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, options: ListCallOptions = {}): AsyncGenerator<T, void, undefined> {
    return readList<T, CallOptions>(this.#listIo, method, params, options);
  }

  // ---------------------------------------------------------------------------------------------
  // batches

  /**
   * One chunk, re-sending commands the portal refused with OPERATION_TIME_LIMIT (never executed)
   * when nothing links them to other commands; the tracker holds them until the method's reset.
   */
  async #runChunk(chunk: NormalizedCommand[], halt: boolean, options: CallOptions): Promise<ParsedBatch> {
    const parsed = await this.#batchRequest(chunk, halt, options);
    if (halt) return parsed;
    const referenced = new Set(chunk.flatMap((command) => command.dependsOn));
    /** The fallback wait of a command refused for its method's operating budget, else undefined. */
    const operatingWait = (command: NormalizedCommand): number | undefined => {
      const envelope = parsed.errors[command.key];
      if (!envelope) return undefined;
      const decision = classifyError(errorFromEnvelope(envelope, 400, { method: command.method, memberId: undefined }), command.method);
      return decision.kind === 'wait' && decision.on === 'operating' ? decision.fallbackMs : undefined;
    };
    for (let attempt = 2; attempt <= this.#retry.maxAttempts; attempt += 1) {
      const again = chunk.filter((command) => operatingWait(command) !== undefined && command.dependsOn.length === 0 && !referenced.has(command.key));
      if (again.length === 0) break;
      const key = portalKey(await this.provider.getGrant());
      for (const command of again) this.operating.block(key, command.method, this.#clock.now(), operatingWait(command)!);
      let retried: ParsedBatch;
      try {
        retried = await this.#batchRequest(again, false, options);
      } catch (error) {
        if (error instanceof B24Error && (error.code === 'B24_ERR_OPERATION_TIME_LIMIT' || error.code === 'B24_ERR_TIMEOUT')) break;
        throw error;
      }
      for (const command of again) {
        delete parsed.errors[command.key];
        for (const section of ['result', 'errors', 'total', 'next', 'time'] as const) {
          const value = (retried[section] as Record<string, unknown>)[command.key];
          if (value !== undefined) (parsed[section] as Record<string, unknown>)[command.key] = value;
        }
      }
    }
    return parsed;
  }

  /** One batch request of ≤ 50 commands. */
  async #batchRequest(commands: NormalizedCommand[], halt: boolean, options: CallOptions): Promise<ParsedBatch> {
    if (commands.length === 0) return { result: {}, errors: {}, total: {}, next: {}, time: {} };
    const cmd: Record<string, string> = {};
    const charged = new Map<string, number>();
    const commandMethods = new Map<string, string>();
    for (const command of commands) {
      cmd[command.key] = encodeCommand(command.method, command.params);
      charged.set(command.method, (charged.get(command.method) ?? 0) + 1);
      commandMethods.set(command.key, command.method);
    }
    const safety = options.idempotent === undefined ? batchSafety(charged.keys()) : options.idempotent ? 'idempotent' : 'unsafe';
    const envelope = await this.#exchange({ method: 'batch', params: { halt: halt ? 1 : 0, cmd }, safety, charged, commandMethods }, options);
    return parseBatchResult(envelope.result);
  }

  #exchange(exchange: Exchange, options: CallOptions): Promise<Envelope> {
    return runExchange(this.#exchangeContext, exchange, options);
  }

  /**
   * The portal's plan, from app.info (`LICENSE_FAMILY`, or `LICENSE` for a webhook). Not bound to
   * one caller's signal: the plan source shares this read between callers.
   */
  async #readLicense(): Promise<string | undefined> {
    const { result } = await this.call<{ LICENSE_FAMILY?: string; LICENSE?: string } | null>('app.info', {}, { deadlineMs: 30_000 });
    return result?.LICENSE_FAMILY ?? result?.LICENSE;
  }

  #applyLimits(key: string): void {
    if (this.#limits && !this.#limitsApplied.has(key)) {
      this.limiter.setLimits(key, this.#limits);
      this.#limitsApplied.add(key);
    }
  }

  #emit(event: B24ClientEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch (error) {
      this.#logger.debug({ err: error }, 'b24kit: an onEvent listener threw');
    }
  }
}

/** A tracker from a client's `operating` limits and options. */
function ownOperatingTracker(input: (Partial<OperatingLimits> & OperatingTrackerOptions) | undefined): OperatingTracker {
  const { limitSeconds, slowdownAt, ...options } = input ?? {};
  return new OperatingTracker(
    { limitSeconds: limitSeconds ?? DEFAULT_OPERATING_LIMITS.limitSeconds, slowdownAt: slowdownAt ?? DEFAULT_OPERATING_LIMITS.slowdownAt },
    options,
  );
}
