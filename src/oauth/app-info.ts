/**
 * The trusted check of a token (docs/protocol.md §1.7): `app.info` on the OAuth server, not on the portal.
 * `status` and the rest of an install or event payload are informational only; the OAuth server
 * says which app (client_id) and which portal (member_id) a token belongs to.
 */
import { B24Error } from '../errors.js';
import { postTokenForm, unreachableCause, type OAuthAnswer } from './oauth-http.js';

export interface AppInfoCheck {
  /** The OAuth server's REST base, e.g. `https://oauth.bitrix.info/rest/` (from trustedServerEndpoint). */
  serverEndpoint: string;
  accessToken: string;
  /** Our client_id: the token must be issued to it. */
  clientId: string;
  /** The portal the payload claims: the token must belong to it. */
  memberId: string;
  /** The portal domain the payload claims, compared when both sides name one. */
  domain?: string;
  /** @defaultValue 10000 */
  timeoutMs?: number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** What the OAuth server vouches for. */
export interface VerifiedInstall {
  memberId: string;
  domain: string | undefined;
  clientEndpoint: string | undefined;
  scope: string | undefined;
  status: string | undefined;
  userId: number | undefined;
  /** The access token's expiry on the OAuth server's clock, in epoch ms. */
  expiresAtMs: number | undefined;
}

/**
 * Calls `{serverEndpoint}app.info` with the token (form POST, so the token stays out of URLs and
 * access logs) and checks client_id and member_id. Throws B24_ERR_FORBIDDEN (403) when the server
 * refuses the token or vouches for another app or portal, B24_ERR_OAUTH_UNAVAILABLE (502) when it
 * cannot be asked. Messages never contain the token.
 */
export async function verifyWithAppInfo(check: AppInfoCheck): Promise<VerifiedInstall> {
  const url = `${check.serverEndpoint.replace(/\/+$/, '')}/app.info`;
  let response: OAuthAnswer;
  try {
    response = await postTokenForm(url, check.accessToken, check);
  } catch (error) {
    throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', `app.info at ${originOf(url)} could not be reached`, { cause: unreachableCause(error) });
  }
  const { body } = response;
  if (!body) {
    throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', `app.info at ${originOf(url)} answered HTTP ${response.status} without JSON`);
  }
  if (typeof body.error === 'string' && body.error !== '') {
    if (response.status >= 500) {
      throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', `app.info at ${originOf(url)} failed: HTTP ${response.status}`, { bitrixCode: body.error });
    }
    throw new B24Error('B24_ERR_FORBIDDEN', `app.info refused the access token: ${body.error}`, { bitrixCode: body.error });
  }
  const result = record(body.result);
  const install = record(result?.install);
  if (!result || !install) {
    throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', `app.info at ${originOf(url)} answered HTTP ${response.status} without a result`);
  }
  if (text_(result.client_id) !== check.clientId) {
    throw new B24Error('B24_ERR_FORBIDDEN', 'app.info: the token was issued to another application');
  }
  const memberId = text_(install.member_id);
  if (memberId !== check.memberId) {
    throw new B24Error('B24_ERR_FORBIDDEN', 'app.info: the token belongs to another portal (member_id differs)');
  }
  if (install.installed === false) {
    throw new B24Error('B24_ERR_FORBIDDEN', 'app.info: the app is not installed on this portal');
  }
  const domain = text_(install.domain);
  if (check.domain && domain && domain.toLowerCase() !== check.domain.toLowerCase()) {
    throw new B24Error('B24_ERR_FORBIDDEN', 'app.info: the token belongs to another portal (domain differs)');
  }
  const expiresAtMs = expiryMs(result.expires);
  const userId = Number(result.user_id);
  return {
    memberId,
    domain,
    clientEndpoint: text_(install.client_endpoint),
    scope: text_(result.scope) ?? text_(install.scope),
    status: text_(install.status),
    userId: Number.isInteger(userId) && userId > 0 ? userId : undefined,
    expiresAtMs,
  };
}

/**
 * `expires` of the OAuth server's app.info is an ISO 8601 string (`2024-12-31T23:59:59+00:00` in the
 * official Python SDK's model and fixtures); unix seconds, the token endpoint's form, are read too.
 */
function expiryMs(value: unknown): number | undefined {
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  }
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function text_(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the OAuth server';
  }
}
