import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import type { IssuedTokens } from './token-registry.js';
import { joinUrl } from '../lifecycle.js';
import { isoWithOffset, serverTime } from '../rest/time.js';

export interface OAuthReply {
  status: number;
  body: unknown;
  /** A redirect target, for /oauth/authorize/. */
  location?: string;
  html?: boolean;
}

function oauthError(status: number, error: string, description: string): OAuthReply {
  return { status, body: { error, error_description: description } };
}

/** The token endpoint, `GET|POST /oauth/token/` (docs/protocol.md §1.3, §1.4, §1.6). */
export function tokenEndpoint(emulator: Emulator, params: Record<string, unknown>): OAuthReply {
  const get = (name: string): string | undefined => (typeof params[name] === 'string' ? (params[name] as string) : undefined);
  const clientId = get('client_id');
  if (!clientId) return oauthError(400, 'invalid_request', 'No "client_id" parameter found');
  // wrong_client arrives with HTTP 200 (docs/protocol.md §1.6): clients must check for `error` on 200
  if (clientId !== emulator.options.clientId) return oauthError(200, 'wrong_client', 'Wrong client');
  if (get('client_secret') !== emulator.options.clientSecret) return oauthError(400, 'invalid_client', 'Invalid client secret');

  const grantType = get('grant_type');
  let tokens: IssuedTokens | undefined;
  if (grantType === 'authorization_code') {
    const code = get('code');
    if (!code) return oauthError(400, 'invalid_request', 'No "code" parameter found');
    tokens = emulator.tokens.redeemCode(code);
    if (!tokens) return oauthError(400, 'invalid_grant', 'Invalid authorization code');
  } else if (grantType === 'refresh_token') {
    const refreshToken = get('refresh_token');
    if (!refreshToken) return oauthError(400, 'invalid_request', 'No "refresh_token" parameter found');
    const outcome = emulator.tokens.refresh(refreshToken);
    if (!outcome.ok) {
      // a spent, revoked or expired token of a known portal: in an app, the mark of two refreshers racing
      const owner = outcome.memberId === undefined ? undefined : emulator.portal(outcome.memberId);
      if (owner) owner.stats.refreshesRefused += 1;
      return oauthError(400, 'invalid_grant', 'Invalid refresh token');
    }
    tokens = outcome.tokens;
    const portal = emulator.portal(tokens.memberId);
    if (portal) portal.stats.refreshes += 1;
  } else if (!grantType) {
    return oauthError(400, 'invalid_request', 'No "grant_type" parameter found');
  } else {
    // not in the Bitrix24 error list; the RFC 6749 code (UNCONFIRMED)
    return oauthError(400, 'unsupported_grant_type', 'Unsupported grant type');
  }
  const portal = emulator.portal(tokens.memberId);
  if (!portal?.app) return oauthError(401, 'NOT_INSTALLED', 'Application not installed');
  return { status: 200, body: tokenResponse(emulator, portal, tokens) };
}

export function tokenResponse(emulator: Emulator, portal: Portal, tokens: IssuedTokens): Record<string, unknown> {
  return {
    access_token: tokens.accessToken,
    expires: tokens.expires,
    expires_in: tokens.expiresIn,
    scope: tokens.scope.join(','),
    domain: emulator.oauthDomain(),
    server_endpoint: emulator.serverEndpoint(),
    status: portal.app?.status ?? 'L',
    client_endpoint: emulator.clientEndpoint(portal),
    member_id: portal.memberId,
    user_id: tokens.userId,
    refresh_token: tokens.refreshToken,
  };
}

/**
 * `GET {portal}/oauth/authorize/?client_id&state` (docs/protocol.md §1.2): the logged-in user (the
 * installing admin unless a frame was opened as another user) consents automatically; on success a redirect with code, state, domain, member_id, scope and
 * server_domain. On failure the portal shows its own page and nothing reaches the app.
 */
export function authorizeEndpoint(emulator: Emulator, portal: Portal, params: Record<string, unknown>): OAuthReply {
  const fail = (text: string): OAuthReply => ({ status: 400, body: `<html><body><h1>Authorization error</h1><p>${text}</p></body></html>`, html: true });
  if (params.client_id !== emulator.options.clientId) return fail('Unknown application');
  if (!portal.app) return fail('The application is not installed on this portal');
  const redirect = emulator.options.redirectUri ?? (portal.app.appUrl ? joinUrl(portal.app.appUrl, 'oauth/callback') : undefined);
  if (!redirect) return fail('The application has no redirect URI');
  const code = emulator.tokens.createCode(portal.memberId, portal.loggedInUserId ?? portal.app.userId, portal.app.scope);
  const query = new URLSearchParams({
    code,
    state: typeof params.state === 'string' ? params.state : '',
    domain: portal.domain,
    member_id: portal.memberId,
    scope: portal.app.scope.join(','),
    server_domain: emulator.oauthDomain(),
  });
  const separator = redirect.includes('?') ? '&' : '?';
  return { status: 302, body: '', location: `${redirect}${separator}${query.toString()}` };
}

/**
 * `{server_endpoint}app.info` on the OAuth server: the trusted check of a token
 * (apidocs.bitrix24.com settings/oauth/simple-way). The REST docs do not show this answer; its shape follows the
 * official Python SDK's response model and fixtures (b24pysdk `api/responses/bitrix_app_info_response.py`,
 * `schemas/api.py` and `tests/unit/api/responses/bitrix_app_info/`): `expires` is an ISO 8601 string,
 * `user_id` and `install.version` are integers, `scope` strings are comma-separated, and the answer
 * carries a `time` block like every REST answer.
 */
export function oauthServerRest(emulator: Emulator, method: string, params: Record<string, unknown>, bearer?: string): OAuthReply {
  const startMs = emulator.clock.nowMs();
  const started = performance.now();
  const name = method.toLowerCase().replace(/\.json$/, '');
  if (name !== 'app.info') return oauthError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
  const token = bearer ?? (typeof params.auth === 'string' ? params.auth : undefined) ?? (typeof params.access_token === 'string' ? params.access_token : undefined);
  if (!token) return oauthError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
  const check = emulator.tokens.check(token);
  if (!check.ok) return check.reason === 'expired' ? oauthError(401, 'expired_token', 'The access token provided has expired.') : oauthError(401, 'invalid_token', 'The access token provided is invalid.');
  const portal = emulator.portal(check.record.memberId);
  if (!portal?.app) return oauthError(401, 'invalid_token', 'The access token provided is invalid.');
  const result = {
    client_id: emulator.options.clientId,
    scope: check.record.scope.join(','),
    // the SDK reads it with datetime.fromisoformat: an integer makes get_app_info() raise
    expires: isoWithOffset(check.record.expiresAtMs),
    install: {
      installed: true,
      version: portal.app.version,
      status: portal.app.status,
      scope: portal.app.scope.join(','),
      domain: portal.domain,
      uri: `${emulator.baseUrl}/${portal.domain}`,
      client_endpoint: emulator.clientEndpoint(portal),
      member_id: portal.memberId,
      // UNCONFIRMED: no public source shows a real value (the SDK fixture's `user` is made up with the rest of it)
      member_type: 'PORTAL',
    },
    user_id: check.record.userId,
  };
  return { status: 200, body: { result, time: serverTime(startMs, startMs + (performance.now() - started)) } };
}
