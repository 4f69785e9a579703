/**
 * The authorization-code flow (docs/protocol.md §1.2, §1.3), with a server-side state (no cookies). Anyone
 * can call both routes, so neither trusts its query:
 *
 * - `GET /oauth/start?domain=acme.bitrix24.com` → 302 to the portal's authorize page. For a stored
 *   portal the page is derived from its client_endpoint (`{client_endpoint minus rest/}oauth/authorize/`,
 *   which also finds the emulator's portals); otherwise `https://{domain}/oauth/authorize/`, and
 *   only for a Bitrix24 cloud portal domain or an allowed host (oauth/portal-domain.ts): no open
 *   redirect. 400 B24_ERR_BAD_REQUEST for a missing or malformed domain, 400
 *   B24_ERR_DOMAIN_NOT_ALLOWED for any other host, 429 B24_ERR_TOO_MANY_REQUESTS when the caller
 *   (or everyone) holds too many unfinished flows (oauth/oauth-state.ts).
 * - `GET /oauth/callback?code&state&domain&member_id&scope&server_domain` → the state is taken
 *   (single use, 10 minutes); the callback must name the domain the state was issued for and a
 *   member_id (the one recorded with the state, when the portal was known); then the code is
 *   exchanged, the tokens verified (app.info, an administrator: see oauth/installer.ts) and stored.
 *   400 B24_ERR_BAD_REQUEST (no code, state, domain or member_id), 400 B24_ERR_STATE_INVALID
 *   (unknown, used, expired, or issued for another portal), 400 B24_ERR_CODE_EXCHANGE (the token
 *   server refused the code: used, expired, forged), 403 B24_ERR_FORBIDDEN (app.info disagrees,
 *   e.g. the code belongs to another portal), 403 B24_ERR_NOT_ADMIN, 502 when a server could not be
 *   asked. Nothing is stored on any of them.
 */
import type { FastifyInstance } from 'fastify';
import { B24Error } from '../../errors.js';
import type { PortalInstaller } from '../../oauth/installer.js';
import { clientAddressGroup } from '../client-address.js';
import type { OAuthStateStore } from '../../oauth/oauth-state.js';
import { isAllowedHost, isCloudPortalDomain } from '../../oauth/portal-domain.js';
import { findPortalByDomain } from '../../oauth/portal-lookup.js';
import type { Store } from '../../store/types.js';
import { isQualifiedPortalDomain } from '../../validators.js';

export interface OAuthRouteOptions {
  installer: PortalInstaller;
  states: OAuthStateStore;
  store: Store;
  clientId: string;
  /** Further hosts `/oauth/start` may send a browser to (`B24KIT_PORTAL_DOMAINS`): exact, or `*.suffix`. @defaultValue [] */
  allowedDomains?: readonly string[];
}

export function registerOAuthRoutes(app: FastifyInstance, options: OAuthRouteOptions): void {
  app.get('/oauth/start', async (request, reply) => {
    const domain = queryText(request.query, 'domain')?.toLowerCase();
    if (!isQualifiedPortalDomain(domain)) {
      throw new B24Error('B24_ERR_BAD_REQUEST', 'domain must be the portal host, e.g. acme.bitrix24.com');
    }
    const known = await findPortalByDomain(options.store, domain);
    if (!known && !isCloudPortalDomain(domain) && !isAllowedHost(domain, options.allowedDomains ?? [])) {
      throw new B24Error('B24_ERR_DOMAIN_NOT_ALLOWED', 'domain must be a Bitrix24 cloud portal (e.g. acme.bitrix24.com), an installed portal or an allowed host');
    }
    const base = known ? known.clientEndpoint.replace(/rest\/?$/, '') : `https://${domain}/`;
    const state = await options.states.create({ domain, ...(known ? { memberId: known.memberId } : {}), client: clientAddressGroup(request.ip) });
    const location = `${base.endsWith('/') ? base : `${base}/`}oauth/authorize/?${new URLSearchParams({ client_id: options.clientId, state }).toString()}`;
    request.log.info({ domain, memberId: known?.memberId }, 'oauth flow started');
    return reply.status(302).header('location', location).header('cache-control', 'no-store').send();
  });

  app.get('/oauth/callback', async (request, reply) => {
    const code = queryText(request.query, 'code');
    const state = queryText(request.query, 'state');
    if (!code || !state) throw new B24Error('B24_ERR_BAD_REQUEST', 'code and state are required');
    const domain = queryText(request.query, 'domain')?.toLowerCase();
    const memberId = queryText(request.query, 'member_id');
    const serverDomain = queryText(request.query, 'server_domain');
    // the portal always sends both (docs/protocol.md §1.2); without them the state could not be matched
    if (!domain || !memberId) throw new B24Error('B24_ERR_BAD_REQUEST', 'domain and member_id are required');
    const check = await options.states.consume(state);
    if (!check.ok) throw new B24Error('B24_ERR_STATE_INVALID', `OAuth state refused: ${check.reason}`);
    if (check.domain !== domain || (check.memberId !== null && check.memberId !== memberId)) {
      throw new B24Error('B24_ERR_STATE_INVALID', 'OAuth state was issued for another portal');
    }
    const { portal, created } = await options.installer.completeAuthorization({
      code,
      domain,
      memberId,
      ...(serverDomain ? { serverDomain } : {}),
    });
    return reply.header('cache-control', 'no-store').send({ status: 'success', member_id: portal.memberId, domain: portal.domain, created });
  });
}

function queryText(query: unknown, name: string): string | undefined {
  if (query === null || typeof query !== 'object') return undefined;
  const value = (query as Record<string, unknown>)[name];
  return typeof value === 'string' && value.trim() !== '' && value.length <= 2048 ? value.trim() : undefined;
}
