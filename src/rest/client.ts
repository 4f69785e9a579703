/**
 * B24Client: calls, batches and lists against one portal, inside the portal's limits. Every HTTP
 * exchange goes through {@link B24Client.#exchange}: the operating tracker, the leaky bucket, the
 * POST, and the one retry policy (protocol §4.4, §5, §8).
 */
import pino from 'pino';
import type { Dispatcher } from 'undici';
import { B24Error, type ErrorCode } from '../errors.js';
import type { AccessGrant, TokenProvider } from './token-provider.js';
import { StaticTokenProvider, WebhookProvider, grantSecrets, normalizeEndpoint, portalKey, type StaticTokenInput } from './providers.js';
import { RateLimiter, bucketLimitsForLicense, type BucketLimits } from './limiter.js';
import { DEFAULT_OPERATING_LIMITS, OperatingTracker, type OperatingLimits, type RestTime } from './operating.js';
import { DEFAULT_BACKOFF, backoffMs, batchSafety, methodSafety, type BackoffPolicy, type MethodSafety } from './retry.js';
import { clientError, errorFromEnvelope, isTokenRejection, type ErrorContext } from './error-mapping.js';
import { TransportFailure, defaultDispatcher, postJson, type HttpAnswer } from './transport.js';
import { chunkCommands, encodeCommand, normalizeCommands, parseBatchResult, type BatchCommands, type NormalizedCommand, type ParsedBatch } from './batch.js';
import {
  PAGE_SIZE,
  chainCommands,
  offsetCommands,
  pageRows,
  planList,
  readChain,
  splitIdRange,
  type IdCursorPlan,
  type ListOptions,
  type OffsetPlan,
} from './list.js';
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
  /** The per-method operating budget: a shared tracker or its limits. @defaultValue 480 s, slowdown at 80% */
  operating?: OperatingTracker | Partial<OperatingLimits>;
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

/** A successful answer (protocol §4.3). */
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

interface Exchange {
  /** The REST method of the HTTP request (`batch` for batches). */
  method: string;
  params: Record<string, unknown>;
  safety: MethodSafety;
  /** Methods of the commands carried, with counts: what the operating budget is charged. */
  charged: Map<string, number>;
  /** For batches: command key → method, to feed each command's `time` to the tracker. */
  commandMethods?: Map<string, string>;
}

interface Envelope {
  result: unknown;
  total?: number;
  next?: number;
  time?: RestTime;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

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
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #retry: BackoffPolicy;
  readonly #limits: Partial<BucketLimits> | undefined;
  readonly #limitsApplied = new Set<string>();
  readonly #batchConcurrency: number;
  readonly #onEvent: B24ClientEventListener | undefined;
  readonly #logger: B24Logger;
  readonly #clock: Clock;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #userAgent: string;

  constructor(options: B24ClientOptions) {
    this.provider = options.provider;
    this.#clock = options.clock ?? systemClock;
    this.limiter = options.limiter ?? new RateLimiter({ now: () => this.#clock.now() });
    this.operating =
      options.operating instanceof OperatingTracker ? options.operating : new OperatingTracker({ ...DEFAULT_OPERATING_LIMITS, ...options.operating });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#deadlineMs = options.deadlineMs ?? 120_000;
    this.#retry = { ...DEFAULT_BACKOFF, ...options.retry };
    this.#limits = options.limits;
    this.#batchConcurrency = Math.max(1, options.batchConcurrency ?? 16);
    this.#onEvent = options.onEvent;
    this.#logger = options.logger ?? pino({ name: 'b24kit.rest', level: process.env.LOG_LEVEL ?? 'info' });
    this.#dispatcher = options.dispatcher ?? defaultDispatcher();
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#userAgent = options.userAgent ?? 'b24kit';
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
  async *list<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, options: ListCallOptions = {}): AsyncGenerator<T, void, undefined> {
    const plan = planList(method, params, options);
    const internal = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
    const callOptions: CallOptions = { ...options, signal };
    try {
      const pages = plan.kind === 'id-cursor' ? this.#idCursorPages(method, plan, options, callOptions) : this.#offsetPages(method, plan, callOptions);
      for await (const page of pages) for (const row of page) yield row as T;
    } finally {
      internal.abort(new B24Error('B24_ERR_INVALID_ARGUMENT', 'list iteration stopped by the caller', { method }));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // lists

  async *#idCursorPages(method: string, plan: IdCursorPlan, options: ListOptions, callOptions: CallOptions): AsyncGenerator<Record<string, unknown>[]> {
    const pagesPerRequest = Math.max(1, Math.min(50, options.pagesPerRequest ?? 50));
    const parallel = Math.max(1, options.parallelCursors ?? 4);
    // the first request also asks for the largest ID, to split the rest into parallel ranges
    const probe = parallel > 1 && pagesPerRequest > 1;
    const first = await this.#chainRequest(method, plan, plan.afterId, plan.upToId, probe ? pagesPerRequest - 1 : pagesPerRequest, callOptions, probe);
    yield* first.pages;
    if (first.done) return;

    let lastId = first.lastId;
    const maxId = first.maxId === undefined ? undefined : plan.upToId === undefined ? first.maxId : Math.min(first.maxId, plan.upToId);
    let ranges: [number, number | undefined][] = [[lastId, plan.upToId]];
    if (probe && maxId !== undefined) {
      if (maxId <= lastId) return;
      const rowsRead = first.pages.reduce((sum, page) => sum + page.length, 0);
      const density = rowsRead / Math.max(1, lastId - plan.afterId);
      const requestsLeft = Math.ceil((density * (maxId - lastId)) / (PAGE_SIZE * pagesPerRequest));
      const parts = Math.min(parallel, requestsLeft);
      if (parts > 1) ranges = splitIdRange(lastId, maxId, parts);
      else ranges = [[lastId, maxId]];
    }
    if (ranges.length === 1) {
      const upTo = ranges[0]![1];
      for (;;) {
        const chain = await this.#chainRequest(method, plan, lastId, upTo, pagesPerRequest, callOptions, false);
        yield* chain.pages;
        if (chain.done) return;
        lastId = chain.lastId;
      }
    }
    yield* this.#parallelRanges(method, plan, ranges as [number, number][], pagesPerRequest, callOptions);
  }

  /** Reads several ID ranges at once; yields them in ID order, buffering ranges that run ahead. */
  async *#parallelRanges(
    method: string,
    plan: IdCursorPlan,
    ranges: [number, number][],
    pagesPerRequest: number,
    callOptions: CallOptions,
  ): AsyncGenerator<Record<string, unknown>[]> {
    interface RangeState {
      pages: Record<string, unknown>[][];
      done: boolean;
      error: unknown;
      wake: (() => void) | undefined;
    }
    const states: RangeState[] = ranges.map(() => ({ pages: [], done: false, error: undefined, wake: undefined }));
    // stopping early (or one range failing) cancels the other ranges' requests in flight
    const local = new AbortController();
    const signal = callOptions.signal ? AbortSignal.any([callOptions.signal, local.signal]) : local.signal;
    const rangeOptions: CallOptions = { ...callOptions, signal };
    const notify = (state: RangeState): void => {
      const wake = state.wake;
      state.wake = undefined;
      wake?.();
    };
    const workers = ranges.map(async ([low, high], index) => {
      const state = states[index]!;
      let after = low;
      try {
        for (;;) {
          const chain = await this.#chainRequest(method, plan, after, high, pagesPerRequest, rangeOptions, false);
          state.pages.push(...chain.pages);
          notify(state);
          if (chain.done) break;
          after = chain.lastId;
        }
      } catch (error) {
        state.error = error;
      } finally {
        state.done = true;
        notify(state);
      }
    });
    try {
      for (const state of states) {
        for (;;) {
          if (state.pages.length > 0) {
            yield state.pages.shift()!;
            continue;
          }
          if (state.error !== undefined) throw state.error;
          if (state.done) break;
          await new Promise<void>((resolve) => {
            state.wake = resolve;
          });
        }
      }
    } finally {
      local.abort(new B24Error('B24_ERR_INVALID_ARGUMENT', 'list iteration stopped', { method }));
      await Promise.allSettled(workers);
    }
  }

  /**
   * One request carrying a chain of ID-cursor pages (plus, with `probeMax`, a query for the
   * largest ID). A command refused with OPERATION_TIME_LIMIT ends the chain early: the next
   * request resumes from the last row, after the tracker's wait.
   */
  async #chainRequest(
    method: string,
    plan: IdCursorPlan,
    afterId: number,
    upToId: number | undefined,
    pages: number,
    callOptions: CallOptions,
    probeMax: boolean,
  ): Promise<{ pages: Record<string, unknown>[][]; lastId: number; done: boolean; maxId: number | undefined }> {
    let attempt = 1;
    for (;;) {
      const commands = chainCommands(method, plan, afterId, pages, upToId);
      if (probeMax) {
        const filter: Record<string, unknown> = { ...(plan.base[plan.filterParam] as Record<string, unknown>), [plan.filterKey]: afterId };
        if (upToId !== undefined) filter[`<=${plan.shape.idField}`] = upToId;
        commands.push({ key: 'max', method, params: { ...plan.base, [plan.filterParam]: filter, order: { [plan.shape.idField]: 'DESC' }, select: [plan.shape.idField] }, dependsOn: [] });
      }
      const parsed = await this.#batchRequest(commands, false, callOptions);
      const chain = readChain(parsed, commands.filter((command) => command.key !== 'max'), plan, afterId);
      const maxRow = probeMax ? pageRows(parsed.result.max, plan.shape.itemsKey)[0] : undefined;
      const maxId = maxRow ? Number(maxRow[plan.shape.idField]) : undefined;
      if (!chain.error) return { pages: chain.pages, lastId: chain.lastId, done: chain.done, maxId: Number.isFinite(maxId) ? maxId : undefined };
      const memberId = (await this.provider.getGrant()).memberId;
      const error = errorFromEnvelope(chain.error, 400, { method, memberId });
      if (error.code !== 'B24_ERR_OPERATION_TIME_LIMIT' || attempt >= this.#retry.maxAttempts) throw error;
      if (chain.pages.length > 0) {
        // keep what arrived; the caller resumes from chain.lastId
        return { pages: chain.pages, lastId: chain.lastId, done: false, maxId: Number.isFinite(maxId) ? maxId : undefined };
      }
      this.operating.block(portalKey(await this.provider.getGrant()), method, this.#clock.now(), this.#operatingFallbackMs());
      attempt += 1;
    }
  }

  async *#offsetPages(method: string, plan: OffsetPlan, callOptions: CallOptions): AsyncGenerator<Record<string, unknown>[]> {
    const first = await this.call(method, plan.base, callOptions);
    yield pageRows(first.result, plan.shape.itemsKey);
    if (first.next === undefined || first.total === undefined) return;
    const chunks = chunkCommands(offsetCommands(method, plan, first.next, first.total));
    for (const chunk of chunks) {
      const parsed = await this.#batchRequest(chunk, false, callOptions);
      for (const command of chunk) {
        const failure = parsed.errors[command.key];
        if (failure) throw errorFromEnvelope(failure, 400, { method, memberId: (await this.provider.getGrant()).memberId });
        yield pageRows(parsed.result[command.key], plan.shape.itemsKey);
      }
    }
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
    for (let attempt = 2; attempt <= this.#retry.maxAttempts; attempt += 1) {
      const again = chunk.filter(
        (command) => parsed.errors[command.key]?.error === 'OPERATION_TIME_LIMIT' && command.dependsOn.length === 0 && !referenced.has(command.key),
      );
      if (again.length === 0) break;
      const key = portalKey(await this.provider.getGrant());
      for (const command of again) this.operating.block(key, command.method, this.#clock.now(), this.#operatingFallbackMs());
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

  // ---------------------------------------------------------------------------------------------
  // the exchange: limits, POST, retry policy

  async #exchange(exchange: Exchange, options: CallOptions): Promise<Envelope> {
    const clock = this.#clock;
    const deadlineAt = clock.now() + (options.deadlineMs ?? this.#deadlineMs);
    const signal = options.signal;
    let grant: AccessGrant = await this.provider.getGrant();
    let attempt = 1;
    let refreshed = false;
    let redirects = 0;
    let lastError: B24Error | undefined;
    this.#applyLimits(portalKey(grant));
    // a plan-aware limiter learns the portal's plan on first use (app.info itself goes unplanned)
    if (exchange.method !== 'app.info') await this.limiter.preparePortal(portalKey(grant), () => this.#readLicense());

    const context = (): ErrorContext => ({ method: exchange.method, memberId: grant.memberId });
    /** Waits `delayMs` before the next attempt, or throws `error` when no attempt is left. */
    const retryOrThrow = async (error: B24Error, delayMs: number | undefined): Promise<void> => {
      if (delayMs === undefined) throw error;
      this.#emit({ type: 'retry', method: exchange.method, memberId: grant.memberId, attempt: attempt + 1, delayMs, reason: error.code });
      lastError = error;
      await clock.sleep(delayMs, signal);
      attempt += 1;
    };
    const backoff = (): number | undefined => backoffMs(attempt, this.#retry, deadlineAt - clock.now());

    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const key = portalKey(grant);
      this.#applyLimits(key);

      // 1. the method's operating budget (protocol §5.2)
      const operatingWaitMs = this.operating.delayMs(key, exchange.charged, clock.now());
      if (operatingWaitMs > 0) {
        if (clock.now() + operatingWaitMs > deadlineAt) {
          throw clientError('B24_ERR_OPERATION_TIME_LIMIT', `the operating budget frees up in ${Math.ceil(operatingWaitMs / 1000)} s, after the call's deadline`, context(), {
            ...(lastError ? { cause: lastError } : {}),
          });
        }
        this.#emit({ type: 'limiter-wait', method: exchange.method, memberId: grant.memberId, reason: 'operating', waitMs: operatingWaitMs });
        await clock.sleep(operatingWaitMs, signal);
        continue;
      }

      // 2. a slot in the portal's bucket (protocol §5.1)
      const reservation = await this.limiter.reserve(key, Math.max(0, deadlineAt - clock.now()));
      if (!reservation.granted) {
        throw clientError('B24_ERR_TIMEOUT', `the rate limiter's next free slot is after the call's deadline`, context(), lastError ? { cause: lastError } : {});
      }
      if (reservation.waitMs > 0) {
        const sendAt = clock.now() + reservation.waitMs;
        this.#emit({ type: 'limiter-wait', method: exchange.method, memberId: grant.memberId, reason: 'bucket', waitMs: reservation.waitMs });
        await clock.sleep(reservation.waitMs, signal);
        // A slot is a moment, not a credit: the portal's counter cannot drain below zero, so
        // requests that wake up late together (a stalled event loop) would arrive as a burst the
        // model never granted. Too late → take a fresh slot (the stale one stays counted: safe side).
        const limits = this.limiter.limitsFor(key);
        if (clock.now() - sendAt > Math.min(250, (500 * limits.burst) / limits.drainPerSecond)) continue;
        // the portal refused a request while we waited: our slot came from a model it contradicted
        if (!this.limiter.isCurrent(key, reservation.epoch)) continue;
      }
      const timeoutMs = Math.min(options.timeoutMs ?? this.#timeoutMs, deadlineAt - clock.now());
      if (timeoutMs <= 0) throw clientError('B24_ERR_TIMEOUT', 'the call ran out of time', context(), lastError ? { cause: lastError } : {});

      // 3. the POST
      const url = `${grant.clientEndpoint}${exchange.method}.json`;
      const body = JSON.stringify(grant.accessToken === undefined ? exchange.params : { ...exchange.params, auth: grant.accessToken });
      const startedAt = clock.now();
      let answer: HttpAnswer;
      this.operating.begin(key, exchange.charged);
      try {
        answer = await postJson(url, body, { timeoutMs, signal, dispatcher: this.#dispatcher, userAgent: this.#userAgent });
      } catch (failure) {
        const durationMs = clock.now() - startedAt;
        if (!(failure instanceof TransportFailure)) throw failure;
        if (failure.kind === 'aborted') throw signal?.reason ?? failure;
        const code: ErrorCode = failure.kind === 'timeout' ? 'B24_ERR_TIMEOUT' : 'B24_ERR_NETWORK';
        const error = clientError(code, failure.message, context(), { cause: failure });
        this.#emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: 0, durationMs, attempt, commands: this.#commands(exchange), errorCode: code });
        if (failure.kind !== 'not-sent' && exchange.safety === 'unsafe') {
          // the portal may have applied it: sending it again could create a duplicate (protocol §8.3)
          throw clientError('B24_ERR_OUTCOME_UNKNOWN', `${failure.message}; the request may have been applied and is not sent again`, context(), { cause: error });
        }
        await retryOrThrow(error, backoff());
        continue;
      } finally {
        this.operating.end(key, exchange.charged);
      }
      const durationMs = clock.now() - startedAt;
      const secrets = grantSecrets(grant);

      // 4. a renamed portal: re-POST the same body to the new address (protocol §4.5)
      if (REDIRECTS.has(answer.status) && answer.location) {
        this.#emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands: this.#commands(exchange) });
        redirects += 1;
        const target = new URL(answer.location, url);
        if (redirects > MAX_REDIRECTS || (target.protocol !== 'https:' && target.protocol !== 'http:')) {
          throw clientError('B24_ERR_BAD_RESPONSE', `too many redirects or a redirect to an unusable address`, context(), { status: answer.status });
        }
        const endpoint = normalizeEndpoint(new URL('.', target).href);
        this.#emit({ type: 'redirect', method: exchange.method, memberId: grant.memberId, fromHost: hostOf(grant.clientEndpoint), toHost: target.host });
        this.#logger.warn({ memberId: grant.memberId, toHost: target.host }, 'b24kit: the portal moved; following the redirect and updating its endpoint');
        await this.provider.updateClientEndpoint?.(endpoint);
        grant = { ...grant, clientEndpoint: endpoint };
        continue;
      }

      // 5. the envelope
      const parsed = parseEnvelope(answer.text);
      if (!parsed) {
        const error =
          answer.status === 404
            ? clientError('B24_ERR_PORTAL_NOT_FOUND', `no portal at this address (HTTP 404, ${describeBody(answer)})`, context(), { status: answer.status })
            : clientError('B24_ERR_BAD_RESPONSE', `HTTP ${answer.status} with ${describeBody(answer)}`, context(), { status: answer.status });
        this.#emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands: this.#commands(exchange), errorCode: error.code });
        if (error.code === 'B24_ERR_PORTAL_NOT_FOUND') throw error;
        const processed = answer.status >= 200 && answer.status < 300;
        if (exchange.safety === 'unsafe') {
          if (processed) throw clientError('B24_ERR_OUTCOME_UNKNOWN', `HTTP ${answer.status} with an unreadable body; the request may have been applied`, context(), { status: answer.status, cause: error });
          throw error;
        }
        await retryOrThrow(error, answer.status >= 500 || processed ? backoff() : undefined);
        continue;
      }
      if ('error' in parsed && parsed.error !== undefined && !('result' in parsed && answer.status < 300)) {
        const error = errorFromEnvelope(parsed, answer.status, context(), secrets);
        this.#emit({
          type: 'request',
          method: exchange.method,
          memberId: grant.memberId,
          status: answer.status,
          durationMs,
          attempt,
          commands: this.#commands(exchange),
          errorCode: error.code,
          bitrixCode: error.bitrixCode ?? '',
        });

        if (isTokenRejection(error.bitrixCode) && grant.accessToken !== undefined && !refreshed) {
          // the provider refreshes single-flight: refresh tokens are single-use (protocol §1.5)
          this.#emit({ type: 'refresh', method: exchange.method, memberId: grant.memberId });
          grant = await this.provider.refreshAfterRejection(grant.accessToken);
          refreshed = true;
          continue;
        }
        if (error.code === 'B24_ERR_RATE_LIMITED') {
          // never executed: safe to send again, whatever the method
          this.#limitExceeded(exchange, grant, answer.status, error);
          const pauseMs = backoffMs(attempt, { ...this.#retry, baseMs: Math.max(this.#retry.baseMs, 1000 / this.limiter.limitsFor(key).drainPerSecond) }, deadlineAt - clock.now());
          if (pauseMs === undefined) throw error;
          await this.limiter.resync(key, pauseMs);
          this.#emit({ type: 'retry', method: exchange.method, memberId: grant.memberId, attempt: attempt + 1, delayMs: pauseMs, reason: error.code });
          lastError = error;
          attempt += 1;
          continue;
        }
        if (error.code === 'B24_ERR_OPERATION_TIME_LIMIT') {
          // never executed; only this method waits, until its oldest minute leaves the window
          this.#limitExceeded(exchange, grant, answer.status, error);
          if (attempt >= this.#retry.maxAttempts) throw error;
          for (const method of exchange.charged.keys()) this.operating.block(key, method, clock.now(), this.#operatingFallbackMs());
          lastError = error;
          attempt += 1;
          continue;
        }
        if (error.code === 'B24_ERR_SERVER' && exchange.safety !== 'unsafe') {
          await retryOrThrow(error, backoff());
          continue;
        }
        throw error;
      }
      if (!('result' in parsed)) {
        throw clientError('B24_ERR_BAD_RESPONSE', `HTTP ${answer.status} with JSON that is not a Bitrix24 envelope`, context(), { status: answer.status });
      }

      // 6. success
      this.#emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands: this.#commands(exchange) });
      const envelope = parsed as unknown as Envelope;
      this.#observe(key, exchange, envelope);
      return envelope;
    }
  }

  #observe(key: string, exchange: Exchange, envelope: Envelope): void {
    const now = this.#clock.now();
    if (exchange.commandMethods) {
      const times = (envelope.result as { result_time?: unknown } | null)?.result_time;
      if (times && typeof times === 'object') {
        for (const [command, time] of Object.entries(times as Record<string, RestTime>)) {
          const method = exchange.commandMethods.get(command);
          if (method) this.operating.observe(key, method, time, now);
        }
      }
      return;
    }
    this.operating.observe(key, exchange.method, envelope.time, now);
  }

  #limitExceeded(exchange: Exchange, grant: AccessGrant, status: number, error: B24Error): void {
    this.#emit({ type: 'limit-exceeded', method: exchange.method, memberId: grant.memberId, status, bitrixCode: error.bitrixCode ?? '' });
    this.#logger.warn(
      { memberId: grant.memberId, method: exchange.method, status, bitrixCode: error.bitrixCode },
      'b24kit: the portal refused a request the limiter let through (another process or app shares the budget?); resynchronising',
    );
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

  /** Wait after a 429 when no reset time is known: the JS SDK waits ≥ 10 s (protocol §4.4). */
  #operatingFallbackMs(): number {
    return 10_000;
  }

  #commands(exchange: Exchange): number {
    let count = 0;
    for (const commands of exchange.charged.values()) count += commands;
    return count;
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

/** The JSON object of a Bitrix24 envelope, or undefined for anything else (HTML, truncated JSON). */
function parseEnvelope(text: string): (Record<string, unknown> & { error?: unknown; error_description?: unknown }) | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (!('result' in value) && !('error' in value)) return undefined;
  return value as Record<string, unknown>;
}

function describeBody(answer: HttpAnswer): string {
  const type = answer.contentType.split(';')[0]?.trim() || 'no content type';
  if (answer.text.length === 0) return `an empty body (${type})`;
  if (/^\s*</.test(answer.text)) return `an HTML page (${type})`;
  return `a body that is not a Bitrix24 JSON envelope (${type}, ${answer.text.length} bytes)`;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '';
  }
}
