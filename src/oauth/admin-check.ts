/**
 * Is the token's user a portal administrator? Any employee who opens an app's page receives an
 * access and a refresh token of their own (docs/protocol.md §2.3), so a valid token proves only that its
 * holder works at the portal. Installing, re-installing, updating or re-authorizing the app replaces
 * the credentials every later call and every event check of that portal rely on: that takes an
 * administrator, as it does in Bitrix24 itself.
 *
 * `user.admin` (scope `basic`, callable by any user) answers `true` for an administrator
 * (b24restdocs api-reference/common/users/user-admin.md). It is called at a `client_endpoint` the
 * OAuth server vouched for, never at one the payload names: an endpoint of the sender's choosing
 * would answer `true` to anything.
 */
import { B24Error } from '../errors.js';
import { postTokenForm, unreachableCause, type OAuthAnswer } from './oauth-http.js';

export interface AdminCheck {
  /** A trusted REST base of the portal, e.g. `https://acme.bitrix24.com/rest/`. */
  clientEndpoint: string;
  accessToken: string;
  memberId: string;
  /** @defaultValue 10000 */
  timeoutMs?: number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * Resolves when `user.admin` answers `true`. Throws B24_ERR_NOT_ADMIN (403) when the portal says
 * `false` or refuses the token, B24_ERR_OAUTH_UNAVAILABLE (502) when the portal cannot be asked
 * or answers with something that is not a Bitrix24 envelope. Messages never contain the token.
 */
export async function requirePortalAdmin(check: AdminCheck): Promise<void> {
  const url = `${check.clientEndpoint.replace(/\/+$/, '')}/user.admin.json`;
  let response: OAuthAnswer;
  try {
    response = await postTokenForm(url, check.accessToken, check);
  } catch (error) {
    throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', 'The portal could not be asked whether the user is an administrator (user.admin)', {
      memberId: check.memberId,
      cause: unreachableCause(error),
    });
  }
  const { body } = response;
  if (body && typeof body.error === 'string' && body.error !== '' && response.status < 500) {
    throw new B24Error('B24_ERR_NOT_ADMIN', `The portal did not confirm administrator rights: ${body.error}`, {
      bitrixCode: body.error,
      memberId: check.memberId,
    });
  }
  if (!body || !('result' in body) || response.status >= 500) {
    throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', `user.admin answered HTTP ${response.status} without a Bitrix24 result`, { memberId: check.memberId });
  }
  if (body.result !== true) {
    throw new B24Error('B24_ERR_NOT_ADMIN', 'The token belongs to a user who is not a portal administrator', { memberId: check.memberId });
  }
}
