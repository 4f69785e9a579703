/**
 * The one decision about a failed request: for a B24Error and the method it came from, is it worth
 * sending again, after what, or never? The exchange loop (exchange.ts) acts on it for every retry
 * choice it makes; the job queue (queue/errors.ts) asks it whether a handler's error is permanent.
 * The rules follow docs/protocol.md §4.4, §5, §8 (the error envelope and statuses, the limits, the
 * retries); docs/rest.md, "Error classes", has the table with the public source of each row.
 */
import type { ErrorCode } from '../errors.js';
import { isTokenRejection } from './error-mapping.js';
import { methodSafety, type MethodSafety } from './retry.js';

/**
 * Wait after a 429 OPERATION_TIME_LIMIT when the method's reset time is not known: the JS SDK
 * waits at least 10 s (docs/protocol.md §4.4).
 */
export const OPERATING_FALLBACK_MS = 10_000;

export type ErrorClass =
  /** A transient failure of a request that may be sent again: back off, then send it again. */
  | { kind: 'retry' }
  /** The access token was refused (`expired_token`, `invalid_token`): refresh it once, send again. */
  | { kind: 'refresh' }
  /**
   * 503 QUERY_LIMIT_EXCEEDED / OVERLOAD_LIMIT: the request was never executed; any method may be
   * sent again once the portal's bucket has drained — back off with a first delay of at least one
   * drain interval and resynchronise the bucket.
   */
  | { kind: 'wait'; on: 'bucket' }
  /**
   * 429 OPERATION_TIME_LIMIT: never executed; this method alone waits until its
   * `operating_reset_at` (as the operating tracker knows it), or `fallbackMs` when that is unknown.
   */
  | { kind: 'wait'; on: 'operating'; fallbackMs: number }
  /** A write that may have been applied (it reached the portal, no answer came): never sent again. */
  | { kind: 'outcome-unknown' }
  /**
   * The portal refused this request as such (validation, access, unknown method, missing object,
   * deleted portal): the same request would meet the same answer. Not sent again; a job ends dead
   * at once unless its type opts in to retrying (`retryPermanentErrors`).
   */
  | { kind: 'permanent' }
  /**
   * Not sent again by this call, but not known to be permanent: a server error of a write that
   * may have been applied, credentials the portal refuses after a refresh (`payment_required`, an
   * unconfirmed method), a proxy's page. A job retries it within its attempts.
   */
  | { kind: 'fail' };

/** What the caller knows beyond the error itself. */
export interface ClassifyFacts {
  /** How safe it is to send the request again. @defaultValue `methodSafety(method)` */
  safety?: MethodSafety;
  /** Whether a transport failure happened after the request was sent. @defaultValue true (the safe assumption) */
  sent?: boolean;
  /** Whether a refused token may still be refreshed for this call. @defaultValue false */
  canRefresh?: boolean;
}

/** The fields of a B24Error the decision reads (any error with a `code` works). */
export interface ClassifiableError {
  code: string;
  status?: number | undefined;
  bitrixCode?: string | undefined;
}

const PERMANENT: ReadonlySet<string> = new Set<ErrorCode>([
  'B24_ERR_ACCESS_DENIED',
  'B24_ERR_METHOD_NOT_FOUND',
  'B24_ERR_NOT_FOUND',
  'B24_ERR_REST',
  'B24_ERR_PORTAL_DELETED',
  'B24_ERR_PORTAL_NOT_FOUND',
]);

/**
 * Classifies `error` (thrown for a request of `method`). Pure: the same inputs give the same class;
 * how long a wait lasts beyond its rule is the limiter's and the tracker's state, not this.
 * Errors without a B24 code (a caller's abort, a bug) are `fail`.
 */
export function classifyError(error: unknown, method: string, facts: ClassifyFacts = {}): ErrorClass {
  const known = asClassifiable(error);
  if (!known) return { kind: 'fail' };
  const safety = facts.safety ?? methodSafety(method);
  const status = known.status ?? 0;
  switch (known.code) {
    case 'B24_ERR_RATE_LIMITED':
      return { kind: 'wait', on: 'bucket' };
    case 'B24_ERR_OPERATION_TIME_LIMIT':
      return { kind: 'wait', on: 'operating', fallbackMs: OPERATING_FALLBACK_MS };
    case 'B24_ERR_AUTH':
      // refresh tokens are single-use: one refresh per call, never a loop (docs/protocol.md §1.5, §8.1)
      return isTokenRejection(known.bitrixCode) && facts.canRefresh === true ? { kind: 'refresh' } : { kind: 'fail' };
    case 'B24_ERR_SERVER':
      // a 5xx envelope may come after the portal applied the write (docs/protocol.md §8.3)
      return safety === 'unsafe' ? { kind: 'fail' } : { kind: 'retry' };
    case 'B24_ERR_NETWORK':
    case 'B24_ERR_TIMEOUT':
      // never sent: safe for any method; sent and unanswered: a write may have been applied
      return safety === 'unsafe' && facts.sent !== false ? { kind: 'outcome-unknown' } : { kind: 'retry' };
    case 'B24_ERR_BAD_RESPONSE': {
      const processed = status >= 200 && status < 300;
      if (safety === 'unsafe') return processed ? { kind: 'outcome-unknown' } : { kind: 'fail' };
      return processed || status >= 500 ? { kind: 'retry' } : { kind: 'fail' };
    }
    case 'B24_ERR_OUTCOME_UNKNOWN':
      return { kind: 'outcome-unknown' };
    default:
      return PERMANENT.has(known.code) ? { kind: 'permanent' } : { kind: 'fail' };
  }
}

function asClassifiable(error: unknown): ClassifiableError | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, status, bitrixCode } = error as { code?: unknown; status?: unknown; bitrixCode?: unknown };
  if (typeof code !== 'string') return undefined;
  return {
    code,
    ...(typeof status === 'number' ? { status } : {}),
    ...(typeof bitrixCode === 'string' ? { bitrixCode } : {}),
  };
}
