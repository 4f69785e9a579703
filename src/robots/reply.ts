/**
 * Answering a robot call (docs/protocol.md §7.3): `bizproc.event.send` closes the waiting step with the
 * return values; `bizproc.activity.log` writes progress without closing it.
 *
 * event_tokens are single-use: a token that is invalid, expired or already consumed answers 403
 * ACCESS_DENIED, and no retry can change that → {@link RobotTokenRejectedError}, a
 * NonRetryableError (the job goes dead at once). A send after the step's timeout is accepted and
 * ignored by the portal: nothing here can detect that, so reply before `robotDeadlineMs(call)`.
 */
import { B24Error } from '../errors.js';
import { NonRetryableError } from '../queue/errors.js';
import type { B24Client } from '../rest/client.js';
import type { B24Logger } from '../rest/hooks.js';

/**
 * The portal refused the event_token (403 ACCESS_DENIED): consumed by an earlier send, expired, the
 * workflow was stopped, or the robot is registered fire-and-forget. `cause` is the portal's error.
 */
export class RobotTokenRejectedError extends NonRetryableError {
  constructor(method: string, cause: B24Error) {
    super(`${method}: the portal refused the robot's event_token (consumed, expired, or the robot does not wait for an answer)`, {
      cause,
      ...(cause.memberId ? { memberId: cause.memberId } : {}),
    });
    this.name = 'RobotTokenRejectedError';
  }
}

export interface RobotResult {
  /** The call's `event_token`. */
  eventToken: string;
  /** Values by RETURN_PROPERTIES key (matched case-insensitively by the portal; unknown keys are dropped). @defaultValue {} */
  returnValues?: Record<string, unknown>;
  /** A line for the workflow log. @defaultValue the portal's "Received response from the application." */
  logMessage?: string;
}

export interface SendRobotResultOptions {
  logger?: B24Logger;
  signal?: AbortSignal;
}

/**
 * `bizproc.event.send`. Resolves once the portal accepted the result. Throws
 * {@link RobotTokenRejectedError} for a refused token, B24_ERR_INVALID_ARGUMENT for bad input, and
 * the client's errors otherwise (rate limits, outages: retryable).
 *
 * When the first send's outcome is unknown (timeout, dropped connection), it is sent once more:
 * the token is single-use, so the step cannot be completed twice. If that second send is refused
 * with 403, the first one is what consumed the token — this resolves, with a warning.
 */
export async function sendRobotResult(client: B24Client, result: RobotResult, options: SendRobotResultOptions = {}): Promise<void> {
  const params: Record<string, unknown> = { event_token: checkedToken(result.eventToken), return_values: checkedValues(result.returnValues ?? {}) };
  if (result.logMessage !== undefined) {
    if (typeof result.logMessage !== 'string') throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'logMessage must be a string', { method: 'bizproc.event.send' });
    if (result.logMessage !== '') params.log_message = result.logMessage;
  }
  const callOptions = options.signal ? { signal: options.signal } : {};
  try {
    await client.call('bizproc.event.send', params, { ...callOptions, idempotent: false });
  } catch (error) {
    if (isTokenRefusal(error)) throw new RobotTokenRejectedError('bizproc.event.send', error);
    if (!(error instanceof B24Error) || error.code !== 'B24_ERR_OUTCOME_UNKNOWN') throw error;
    try {
      await client.call('bizproc.event.send', params, { ...callOptions, idempotent: true });
    } catch (again) {
      if (isTokenRefusal(again)) {
        options.logger?.warn(
          { memberId: again.memberId, method: 'bizproc.event.send' },
          'b24kit: a robot result whose first send timed out was refused when sent again: the first send completed the step',
        );
        return;
      }
      throw again;
    }
  }
}

/**
 * `bizproc.activity.log`: a progress line in the workflow log; the step keeps waiting. Throws
 * {@link RobotTokenRejectedError} when the step is no longer waiting.
 */
export async function logRobotProgress(client: B24Client, input: { eventToken: string; message: string }, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (typeof input.message !== 'string' || input.message.trim() === '') {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'the progress message is empty', { method: 'bizproc.activity.log' });
  }
  try {
    // appending a line twice is harmless: let the client retry it like a read
    await client.call('bizproc.activity.log', { event_token: checkedToken(input.eventToken), log_message: input.message }, { ...options, idempotent: true });
  } catch (error) {
    if (isTokenRefusal(error)) throw new RobotTokenRejectedError('bizproc.activity.log', error);
    throw error;
  }
}

function isTokenRefusal(error: unknown): error is B24Error {
  return error instanceof B24Error && error.code === 'B24_ERR_ACCESS_DENIED';
}

function checkedToken(token: unknown): string {
  if (typeof token !== 'string' || token === '') throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'eventToken is missing');
  return token;
}

function checkedValues(values: unknown): Record<string, unknown> {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'returnValues must be an object keyed by return property', { method: 'bizproc.event.send' });
  }
  return values as Record<string, unknown>;
}
