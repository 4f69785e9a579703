/**
 * A robot whose handler fails for good must still answer: the workflow waits in `running` for its
 * `bizproc.event.send` (docs/protocol.md §7.3) until the step's timeout, or for ever without one.
 * So the last failing attempt sends the answer itself, with the error as the workflow log line.
 *
 * Policy in one function: an attempt's failure is final when no retry will come — a
 * NonRetryableError, a permanent portal error (400 validation, ACCESS_DENIED, …), or the job's last
 * attempt — and not when the portal is only rate-limited or unreachable (the worker postpones those
 * without counting the attempt).
 */
import { B24Error } from '../errors.js';
import { isNonRetryable, isPermanentPortalError, isPortalUnavailable } from '../queue/errors.js';

export function isFinalRobotFailure(error: unknown, attempt: number, maxAttempts: number): boolean {
  if (isPortalUnavailable(error)) return false;
  return isNonRetryable(error) || isPermanentPortalError(error) || attempt >= maxAttempts;
}

/** The log line the portal shows in the workflow's log: the error's code and message, at most 500 characters. */
export function robotFailureMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof B24Error ? `${error.code}: ` : '';
  const line = `The application's robot failed: ${code}${message}`;
  return line.length > 500 ? `${line.slice(0, 499)}…` : line;
}
