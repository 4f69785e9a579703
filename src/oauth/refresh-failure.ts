/**
 * Why a token refresh failed, as one word from a short fixed list: what metrics label and alerts
 * match on. Never the OAuth server's free text, so the set of values stays bounded.
 */
import { B24Error } from '../errors.js';

/**
 * - `invalid_grant`: the OAuth server refused the refresh token (expired, used, revoked): the
 *   portal needs re-authorization ([OAuth error codes][oauth-errors]);
 * - `invalid_client`: a wrong client_secret, or the app is not installed; `wrong_client`: a wrong
 *   client_id (both: the same page);
 * - `oauth_error`: any other error code in the server's answer;
 * - `bad_answer`: an answer without an error code and without a token pair (not JSON, a proxy's page);
 * - `unreachable`: no answer (network failure, timeout);
 * - `no_refresh_token`: none stored for the portal;
 * - `store_write`: the new pair could not be stored (it is lost: the portal must be re-authorized);
 * - `wait_timeout`: another process held the portal's refresh lease for too long.
 *
 * [oauth-errors]: https://apidocs.bitrix24.com/settings/oauth/error-codes.html
 */
export const REFRESH_FAILURE_REASONS = [
  'invalid_grant',
  'invalid_client',
  'wrong_client',
  'oauth_error',
  'bad_answer',
  'unreachable',
  'no_refresh_token',
  'store_write',
  'wait_timeout',
] as const;

export type RefreshFailureReason = (typeof REFRESH_FAILURE_REASONS)[number];

/** The reason of a failed call to the token endpoint (the token client's error). */
export function refreshFailureReason(error: unknown): RefreshFailureReason {
  if (!(error instanceof B24Error)) return 'unreachable';
  if (error.code === 'B24_ERR_TOKEN_REVOKED') return 'invalid_grant';
  const bitrixCode = error.bitrixCode;
  if (bitrixCode === 'invalid_grant' || bitrixCode === 'invalid_client' || bitrixCode === 'wrong_client') return bitrixCode;
  if (bitrixCode !== undefined) return 'oauth_error';
  // the token client sets a status only when an answer came: no status, no answer
  return error.status !== undefined ? 'bad_answer' : 'unreachable';
}
