import type { Emulator } from './emulator.js';
import type { Portal } from './portal.js';
import type { IssuedTokens } from './oauth/token-registry.js';

/**
 * The `auth[...]` block of outbound POSTs: install, lifecycle events, events and robot calls
 * (docs/protocol.md §2.2, §3.3, §7.2). Token keys appear only when `tokens` are given; `refresh_token`
 * only when `withRefreshToken` (the core's sendRefreshToken flag). All values are strings on the wire.
 */
export function authBlock(
  emulator: Emulator,
  portal: Portal,
  options: { tokens?: IssuedTokens; withRefreshToken?: boolean; withApplicationToken?: boolean } = {},
): Record<string, string> {
  const auth: Record<string, string> = {};
  const { tokens } = options;
  if (tokens) {
    auth.access_token = tokens.accessToken;
    auth.expires = String(tokens.expires);
    auth.expires_in = String(tokens.expiresIn);
  }
  if (portal.app) auth.scope = portal.app.scope.join(',');
  auth.domain = portal.domain;
  auth.server_endpoint = emulator.serverEndpoint();
  if (portal.app) auth.status = portal.app.status;
  auth.client_endpoint = emulator.clientEndpoint(portal);
  auth.member_id = portal.memberId;
  if (tokens) auth.user_id = String(tokens.userId);
  if (tokens && options.withRefreshToken) auth.refresh_token = tokens.refreshToken;
  if (portal.app && options.withApplicationToken !== false) auth.application_token = portal.app.applicationToken;
  return auth;
}
