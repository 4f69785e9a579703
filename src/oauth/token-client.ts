/**
 * A client of the OAuth token endpoint, `{oauthUrl}/oauth/token/` (docs/protocol.md §1.3–§1.6).
 * Form-encoded POST, so secrets stay out of URLs and access logs. `client_secret` goes to the
 * OAuth server only, never to a portal.
 */
import { B24Error, type ErrorCode } from '../errors.js';
import { parseScope } from '../store/portals.js';
import { OAuthUnreachableError, postOAuthForm, unreachableCause, type OAuthAnswer } from './oauth-http.js';
import { DEFAULT_OAUTH_URL } from './oauth-server.js';

/** A token answer (docs/protocol.md §1.4), typed. */
export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  /** Absolute expiry of the access token on our clock, in epoch ms. */
  expiresAtMs: number;
  expiresInSeconds: number;
  scope: string[];
  status: string | undefined;
  memberId: string | undefined;
  clientEndpoint: string | undefined;
  serverEndpoint: string | undefined;
  /** The OAuth server host (NOT the portal: docs/protocol.md §1.4). */
  oauthDomain: string | undefined;
  userId: number | undefined;
}

export interface OAuthTokenClient {
  /**
   * Trades a refresh token for a new pair. The used refresh token (and the access token issued
   * with it) dies on success. Throws B24_ERR_TOKEN_REVOKED on invalid_grant, else B24_ERR_REFRESH_FAILED.
   */
  refresh(input: { refreshToken: string; serverEndpoint?: string }): Promise<OAuthTokens>;
  /** Trades an authorization code (valid 30 s, single use) for a pair. Throws B24_ERR_CODE_EXCHANGE. */
  exchangeCode(input: { code: string; serverEndpoint?: string }): Promise<OAuthTokens>;
}

export interface OAuthTokenClientOptions {
  clientId: string;
  clientSecret: string;
  /**
   * Send every token request here (B24_OAUTH_URL set explicitly). When unset, the OAuth host of the
   * portal's server_endpoint (minus `/rest/`) is used, and `https://oauth.bitrix.info` without one.
   */
  oauthUrl?: string;
  /** Abort a token request after this many ms. Keep it below the refresh lease. @defaultValue 15000 */
  timeoutMs?: number;
  /** Our clock, for `expiresAtMs`. @defaultValue Date.now */
  nowMs?: () => number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** `https://oauth.bitrix.info/rest/` → `https://oauth.bitrix.info` (docs/protocol.md §1.1 recommendation). */
function oauthBaseFromServerEndpoint(serverEndpoint: string | undefined): string | undefined {
  if (!serverEndpoint) return undefined;
  const base = serverEndpoint.replace(/\/+$/, '').replace(/\/rest$/, '');
  return /^https?:\/\//.test(base) ? base : undefined;
}

export function createTokenClient(options: OAuthTokenClientOptions): OAuthTokenClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const nowMs = options.nowMs ?? Date.now;

  async function request(form: Record<string, string>, serverEndpoint: string | undefined, failure: ErrorCode): Promise<OAuthTokens> {
    const base = (options.oauthUrl ?? oauthBaseFromServerEndpoint(serverEndpoint) ?? DEFAULT_OAUTH_URL).replace(/\/+$/, '');
    const url = `${base}/oauth/token/`;
    const startedAtMs = nowMs();
    let response: OAuthAnswer;
    try {
      response = await postOAuthForm(url, { ...form, client_id: options.clientId, client_secret: options.clientSecret }, {
        timeoutMs,
        ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
      });
    } catch (error) {
      const timedOut = error instanceof OAuthUnreachableError && error.timedOut;
      throw new B24Error(failure, `${timedOut ? 'Timed out' : 'Network failure'} talking to the OAuth server ${base}`, { cause: unreachableCause(error) });
    }
    const { body } = response;
    if (!body) {
      throw new B24Error(failure, `The OAuth server ${base} answered HTTP ${response.status} with something that is not JSON`, { status: response.status });
    }
    // errors can come with HTTP 200 (wrong_client, docs/protocol.md §1.6): look at the body first
    if (typeof body.error === 'string' && body.error !== '') {
      const code: ErrorCode = body.error === 'invalid_grant' && failure === 'B24_ERR_REFRESH_FAILED' ? 'B24_ERR_TOKEN_REVOKED' : failure;
      const description = typeof body.error_description === 'string' ? body.error_description : '';
      throw new B24Error(code, `The OAuth server refused: ${body.error}${description ? ` (${description})` : ''}`, {
        bitrixCode: body.error,
        bitrixDescription: description,
        status: response.status,
      });
    }
    const accessToken = text_(body.access_token);
    const refreshToken = text_(body.refresh_token);
    if (!response.ok || !accessToken || !refreshToken) {
      throw new B24Error(failure, `The OAuth server answered HTTP ${response.status} without a token pair`, { status: response.status });
    }
    const expiresIn = number_(body.expires_in);
    const expires = number_(body.expires);
    // expires_in counted from before the request is safe against clock skew; `expires` is the server's clock
    const expiresAtMs = expiresIn !== undefined ? startedAtMs + expiresIn * 1000 : expires !== undefined ? expires * 1000 : startedAtMs + 3600_000;
    return {
      accessToken,
      refreshToken,
      expiresAtMs,
      expiresInSeconds: expiresIn ?? Math.max(0, Math.round((expiresAtMs - startedAtMs) / 1000)),
      scope: parseScope(text_(body.scope)),
      status: text_(body.status),
      memberId: text_(body.member_id),
      clientEndpoint: text_(body.client_endpoint),
      serverEndpoint: text_(body.server_endpoint),
      oauthDomain: text_(body.domain),
      userId: number_(body.user_id),
    };
  }

  return {
    refresh: ({ refreshToken, serverEndpoint }) => request({ grant_type: 'refresh_token', refresh_token: refreshToken }, serverEndpoint, 'B24_ERR_REFRESH_FAILED'),
    exchangeCode: ({ code, serverEndpoint }) => request({ grant_type: 'authorization_code', code }, serverEndpoint, 'B24_ERR_CODE_EXCHANGE'),
  };
}

function text_(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function number_(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}
