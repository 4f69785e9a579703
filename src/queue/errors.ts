/** The queue's errors, and how a handler's error decides between retry, dead letter and postpone. */
import { B24Error, type ErrorCode } from '../errors.js';
import { classifyError } from '../rest/error-class.js';

/**
 * Thrown by a handler (or wrapping another error) to say that retrying cannot help: the job goes
 * dead at once, keeping this error. `B24_ERR_JOB_NON_RETRYABLE`.
 */
export class NonRetryableError extends B24Error {
  constructor(message: string, options: { cause?: unknown; memberId?: string } = {}) {
    super('B24_ERR_JOB_NON_RETRYABLE', message, options);
    this.name = 'NonRetryableError';
  }
}

/**
 * B24 codes whose cause a retry of the job would meet again, whatever the job type says. The
 * portal's permanent answers (access, unknown method, validation, not found) are decided by
 * {@link isPermanentPortalError} instead: a job type may opt in to retrying those.
 */
const NON_RETRYABLE_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'B24_ERR_JOB_NON_RETRYABLE',
  'B24_ERR_INVALID_ARGUMENT',
  'B24_ERR_PORTAL_NOT_FOUND',
  'B24_ERR_PORTAL_UNINSTALLED',
  'B24_ERR_PORTAL_DELETED',
  'B24_ERR_TOKEN_REVOKED',
]);

/**
 * B24 codes that mean "the portal cannot take work now" (rate limit, operating limit, outage): the
 * worker postpones such a job, which does not burn an attempt.
 */
const PORTAL_UNAVAILABLE_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'B24_ERR_RATE_LIMITED',
  'B24_ERR_OPERATION_TIME_LIMIT',
  'B24_ERR_SERVER',
  'B24_ERR_NETWORK',
  'B24_ERR_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for {@link NonRetryableError} and for B24 errors a retry cannot fix (matched by code). */
export function isNonRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return error instanceof NonRetryableError || (code !== undefined && NON_RETRYABLE_CODES.has(code));
}

/**
 * True for an error the portal gave as its considered answer to this request — a 400 validation
 * error, ACCESS_DENIED/insufficient_scope, ERROR_METHOD_NOT_FOUND, "Not found": the class
 * `permanent` of the REST client's one decision (src/rest/error-class.ts). A job failing with it is
 * dead at once unless its type sets `retryPermanentErrors`.
 */
export function isPermanentPortalError(error: unknown): boolean {
  const method = (error as { method?: unknown } | null | undefined)?.method;
  return classifyError(error, typeof method === 'string' ? method : '').kind === 'permanent';
}

/** True for B24 errors that mean the portal is rate-limited or unreachable right now. */
export function isPortalUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && PORTAL_UNAVAILABLE_CODES.has(code);
}

export function leaseLost(jobId: number, workerId: string, detail: string): B24Error {
  return new B24Error('B24_ERR_LEASE_LOST', `Job ${jobId} is not leased to worker ${workerId} (${detail}); its outcome was discarded`);
}

const MAX_ERROR_TEXT = 2000;

/** The error as stored in last_error and the attempt history: code and message, no stack. */
export function errorText(error: unknown): string {
  let text: string;
  if (error instanceof B24Error) text = `${error.code}: ${error.message}`;
  else if (error instanceof Error) text = `${error.name}: ${error.message}`;
  else text = String(error);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}
