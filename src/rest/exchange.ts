/**
 * The exchange loop: every HTTP request of a B24Client goes through {@link runExchange} — the
 * operating tracker, the leaky bucket, the POST, a renamed portal's redirect, the envelope, and
 * the retry policy: every choice to send again, wait, refresh or give up is the class
 * `classifyError` gives the failure (error-class.ts; docs/protocol.md §4.4, §5, §8).
 */
import type { Dispatcher } from 'undici';
import type { B24Error, ErrorCode } from '../errors.js';
import type { AccessGrant, TokenProvider } from './token-provider.js';
import { grantSecrets, normalizeEndpoint, portalKey } from './providers.js';
import type { RateLimiter } from './limiter.js';
import type { OperatingTracker, RestTime } from './operating.js';
import { backoffMs, type BackoffPolicy, type MethodSafety } from './retry.js';
import { clientError, errorFromEnvelope, type ErrorContext } from './error-mapping.js';
import { classifyError, type ErrorClass } from './error-class.js';
import { TransportFailure, postJson, type HttpAnswer } from './transport.js';
import { redirectTarget } from './redirect.js';
import type { B24ClientEvent, B24Logger, Clock } from './hooks.js';

/** One HTTP request to make: a method call or a batch. */
export interface Exchange {
  /** The REST method of the HTTP request (`batch` for batches). */
  method: string;
  params: Record<string, unknown>;
  safety: MethodSafety;
  /** Methods of the commands carried, with counts: what the operating budget is charged. */
  charged: Map<string, number>;
  /** For batches: command key → method, to feed each command's `time` to the tracker. */
  commandMethods?: Map<string, string>;
}

/** A success envelope (docs/protocol.md §4.3). */
export interface Envelope {
  result: unknown;
  total?: number;
  next?: number;
  time?: RestTime;
}

/** What one exchange may be told by its caller. */
export interface ExchangeOptions {
  /** Longest wait for one HTTP request, in ms; defaults to the context's `timeoutMs`. */
  timeoutMs?: number;
  /** Longest time of the whole exchange, retries included, in ms; defaults to the context's `deadlineMs`. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** What the loop works with: one client's parts, shared by each of its exchanges. */
export interface ExchangeContext {
  provider: TokenProvider;
  limiter: RateLimiter;
  operating: OperatingTracker;
  clock: Clock;
  dispatcher: Dispatcher;
  userAgent: string;
  retry: BackoffPolicy;
  timeoutMs: number;
  deadlineMs: number;
  logger: B24Logger;
  emit(event: B24ClientEvent): void;
  /** Applies the client's explicit bucket limits to this portal (once). */
  applyLimits(key: string): void;
  /** The portal's plan, for a plan-aware limiter (read with `app.info`). */
  readLicense(): Promise<string | undefined>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** Sends `exchange` inside the portal's limits; resolves with the success envelope, rejects with a B24Error. */
export async function runExchange(context: ExchangeContext, exchange: Exchange, options: ExchangeOptions): Promise<Envelope> {
  const { clock, provider, limiter, operating, retry } = context;
  const deadlineAt = clock.now() + (options.deadlineMs ?? context.deadlineMs);
  const signal = options.signal;
  let grant: AccessGrant = await provider.getGrant();
  let attempt = 1;
  let refreshed = false;
  let redirects = 0;
  let lastError: B24Error | undefined;
  context.applyLimits(portalKey(grant));
  // a plan-aware limiter learns the portal's plan on first use (app.info itself goes unplanned)
  if (exchange.method !== 'app.info') await limiter.preparePortal(portalKey(grant), () => context.readLicense());

  const errorContext = (): ErrorContext => ({ method: exchange.method, memberId: grant.memberId });
  /** Waits `delayMs` before the next attempt, or throws `error` when no attempt is left. */
  /** Releases the operating grant of the attempt in flight (idempotent): a backoff does not hold the budget. */
  let releaseBudget: () => void = () => undefined;
  const retryOrThrow = async (error: B24Error, delayMs: number | undefined): Promise<void> => {
    releaseBudget();
    if (delayMs === undefined) throw error;
    context.emit({ type: 'retry', method: exchange.method, memberId: grant.memberId, attempt: attempt + 1, delayMs, reason: error.code });
    lastError = error;
    await clock.sleep(delayMs, signal);
    attempt += 1;
  };
  const backoff = (): number | undefined => backoffMs(attempt, retry, deadlineAt - clock.now());
  const classify = (error: B24Error, sent?: boolean): ErrorClass =>
    classifyError(error, exchange.method, { safety: exchange.safety, canRefresh: grant.accessToken !== undefined && !refreshed, ...(sent === undefined ? {} : { sent }) });
  const commands = commandCount(exchange);

  for (;;) {
    if (signal?.aborted) throw signal.reason;
    const key = portalKey(grant);
    context.applyLimits(key);

    // 1. the method's operating budget (docs/protocol.md §5.2): a grant, shared with other processes through a store
    const budget = await operating.acquire(key, exchange.charged, clock.now());
    releaseBudget = budget.release;
    const operatingWaitMs = budget.waitMs;
    if (operatingWaitMs > 0) {
      if (clock.now() + operatingWaitMs > deadlineAt) {
        throw clientError('B24_ERR_OPERATION_TIME_LIMIT', `the operating budget frees up in ${Math.ceil(operatingWaitMs / 1000)} s, after the call's deadline`, errorContext(), {
          ...(lastError ? { cause: lastError } : {}),
        });
      }
      context.emit({ type: 'limiter-wait', method: exchange.method, memberId: grant.memberId, reason: 'operating', waitMs: operatingWaitMs });
      await clock.sleep(operatingWaitMs, signal);
      continue;
    }

    try {
      // 2. a slot in the portal's bucket (docs/protocol.md §5.1)
      const reservation = await limiter.reserve(key, Math.max(0, deadlineAt - clock.now()));
      if (!reservation.granted) {
        throw clientError('B24_ERR_TIMEOUT', `the rate limiter's next free slot is after the call's deadline`, errorContext(), lastError ? { cause: lastError } : {});
      }
      if (reservation.waitMs > 0) {
        const sendAt = clock.now() + reservation.waitMs;
        context.emit({ type: 'limiter-wait', method: exchange.method, memberId: grant.memberId, reason: 'bucket', waitMs: reservation.waitMs });
        await clock.sleep(reservation.waitMs, signal);
        // A slot is a moment, not a credit: the portal's counter cannot drain below zero, so
        // requests that wake up late together (a stalled event loop) would arrive as a burst the
        // model never granted. Too late → take a fresh slot (the stale one stays counted: safe side).
        const limits = limiter.limitsFor(key);
        if (clock.now() - sendAt > Math.min(250, (500 * limits.burst) / limits.drainPerSecond)) continue;
        // the portal refused a request while we waited: our slot came from a model it contradicted
        if (!limiter.isCurrent(key, reservation.epoch)) continue;
      }
      const timeoutMs = Math.min(options.timeoutMs ?? context.timeoutMs, deadlineAt - clock.now());
      if (timeoutMs <= 0) throw clientError('B24_ERR_TIMEOUT', 'the call ran out of time', errorContext(), lastError ? { cause: lastError } : {});

      // 3. the POST
      const url = `${grant.clientEndpoint}${exchange.method}.json`;
      const body = JSON.stringify(grant.accessToken === undefined ? exchange.params : { ...exchange.params, auth: grant.accessToken });
      const startedAt = clock.now();
      let answer: HttpAnswer;
      try {
        answer = await postJson(url, body, { timeoutMs, signal, dispatcher: context.dispatcher, userAgent: context.userAgent });
      } catch (failure) {
        const durationMs = clock.now() - startedAt;
        if (!(failure instanceof TransportFailure)) throw failure;
        if (failure.kind === 'aborted') throw signal?.reason ?? failure;
        const code: ErrorCode = failure.kind === 'timeout' ? 'B24_ERR_TIMEOUT' : 'B24_ERR_NETWORK';
        const error = clientError(code, failure.message, errorContext(), { cause: failure });
        context.emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: 0, durationMs, attempt, commands, errorCode: code });
        const decision = classify(error, failure.kind !== 'not-sent');
        if (decision.kind === 'outcome-unknown') {
          // the portal may have applied it: sending it again could create a duplicate (docs/protocol.md §8.3)
          throw clientError('B24_ERR_OUTCOME_UNKNOWN', `${failure.message}; the request may have been applied and is not sent again`, errorContext(), { cause: error });
        }
        if (decision.kind !== 'retry') throw error;
        await retryOrThrow(error, backoff());
        continue;
      }
      const durationMs = clock.now() - startedAt;
      const secrets = grantSecrets(grant);

      // 4. a renamed portal: re-POST the same body to the new address (docs/protocol.md §4.5)
      if (REDIRECTS.has(answer.status) && answer.location) {
        context.emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands });
        redirects += 1;
        const next = redirectTarget(url, answer.location);
        if (redirects > MAX_REDIRECTS || 'refused' in next) {
          const why = 'refused' in next ? next.refused : `more than ${MAX_REDIRECTS} redirects`;
          throw clientError('B24_ERR_BAD_RESPONSE', `the portal redirected, not followed: ${why}`, errorContext(), { status: answer.status });
        }
        const { target } = next;
        const endpoint = normalizeEndpoint(new URL('.', target).href);
        context.emit({ type: 'redirect', method: exchange.method, memberId: grant.memberId, fromHost: hostOf(grant.clientEndpoint), toHost: target.host });
        context.logger.warn({ memberId: grant.memberId, toHost: target.host }, 'b24kit: the portal moved; following the redirect and updating its endpoint');
        await provider.updateClientEndpoint?.(endpoint);
        grant = { ...grant, clientEndpoint: endpoint };
        continue;
      }

      // 5. the envelope
      const parsed = parseEnvelope(answer.text);
      if (!parsed) {
        const error =
          answer.status === 404
            ? clientError('B24_ERR_PORTAL_NOT_FOUND', `no portal at this address (HTTP 404, ${describeBody(answer)})`, errorContext(), { status: answer.status })
            : clientError('B24_ERR_BAD_RESPONSE', `HTTP ${answer.status} with ${describeBody(answer)}`, errorContext(), { status: answer.status });
        context.emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands, errorCode: error.code });
        const decision = classify(error);
        if (decision.kind === 'outcome-unknown') {
          throw clientError('B24_ERR_OUTCOME_UNKNOWN', `HTTP ${answer.status} with an unreadable body; the request may have been applied`, errorContext(), { status: answer.status, cause: error });
        }
        if (decision.kind !== 'retry') throw error;
        await retryOrThrow(error, backoff());
        continue;
      }
      if ('error' in parsed && parsed.error !== undefined && !('result' in parsed && answer.status < 300)) {
        const error = errorFromEnvelope(parsed, answer.status, errorContext(), secrets);
        context.emit({
          type: 'request',
          method: exchange.method,
          memberId: grant.memberId,
          status: answer.status,
          durationMs,
          attempt,
          commands,
          errorCode: error.code,
          bitrixCode: error.bitrixCode ?? '',
        });

        const decision = classify(error);
        if (decision.kind === 'refresh' && grant.accessToken !== undefined) {
          // the provider refreshes single-flight: refresh tokens are single-use (docs/protocol.md §1.5)
          context.emit({ type: 'refresh', method: exchange.method, memberId: grant.memberId });
          grant = await provider.refreshAfterRejection(grant.accessToken);
          refreshed = true;
          continue;
        }
        if (decision.kind === 'wait' && decision.on === 'bucket') {
          // never executed: safe to send again, whatever the method
          limitExceeded(context, exchange, grant, answer.status, error);
          const pauseMs = backoffMs(attempt, { ...retry, baseMs: Math.max(retry.baseMs, 1000 / limiter.limitsFor(key).drainPerSecond) }, deadlineAt - clock.now());
          if (pauseMs === undefined) throw error;
          await limiter.resync(key, pauseMs);
          context.emit({ type: 'retry', method: exchange.method, memberId: grant.memberId, attempt: attempt + 1, delayMs: pauseMs, reason: error.code });
          lastError = error;
          attempt += 1;
          continue;
        }
        if (decision.kind === 'wait' && decision.on === 'operating') {
          // never executed; only this method waits, until its oldest minute leaves the window
          limitExceeded(context, exchange, grant, answer.status, error);
          if (attempt >= retry.maxAttempts) throw error;
          for (const method of exchange.charged.keys()) operating.block(key, method, clock.now(), decision.fallbackMs);
          lastError = error;
          attempt += 1;
          continue;
        }
        if (decision.kind === 'retry') {
          await retryOrThrow(error, backoff());
          continue;
        }
        // permanent, fail: the same request would meet the same answer, or must not be sent again
        throw error;
      }
      if (!('result' in parsed)) {
        throw clientError('B24_ERR_BAD_RESPONSE', `HTTP ${answer.status} with JSON that is not a Bitrix24 envelope`, errorContext(), { status: answer.status });
      }

      // 6. success
      context.emit({ type: 'request', method: exchange.method, memberId: grant.memberId, status: answer.status, durationMs, attempt, commands });
      const envelope = parsed as unknown as Envelope;
      observe(context, key, exchange, envelope);
      return envelope;
    } finally {
      // after the answer was observed (or the 429 blocked the method): its figure and its grant meet in one step
      budget.release();
    }
  }
}

/** Feeds each answered method's `time` to the operating tracker (a batch's per command). */
function observe(context: ExchangeContext, key: string, exchange: Exchange, envelope: Envelope): void {
  const now = context.clock.now();
  if (exchange.commandMethods) {
    const times = (envelope.result as { result_time?: unknown } | null)?.result_time;
    if (times && typeof times === 'object') {
      for (const [command, time] of Object.entries(times as Record<string, RestTime>)) {
        const method = exchange.commandMethods.get(command);
        if (method) context.operating.observe(key, method, time, now);
      }
    }
    return;
  }
  context.operating.observe(key, exchange.method, envelope.time, now);
}

function limitExceeded(context: ExchangeContext, exchange: Exchange, grant: AccessGrant, status: number, error: B24Error): void {
  context.emit({ type: 'limit-exceeded', method: exchange.method, memberId: grant.memberId, status, bitrixCode: error.bitrixCode ?? '' });
  context.logger.warn(
    { memberId: grant.memberId, method: exchange.method, status, bitrixCode: error.bitrixCode },
    'b24kit: the portal refused a request the limiter let through (another process or app shares the budget?); resynchronising',
  );
}

function commandCount(exchange: Exchange): number {
  let count = 0;
  for (const commands of exchange.charged.values()) count += commands;
  return count;
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
