/**
 * `POST /install`: the no-UI install (ONAPPINSTALL form, docs/protocol.md §2.2) and the UI install POST
 * (docs/protocol.md §2.3). Verified with app.info before anything is stored; answers `{"status":"success"}`.
 *
 * Errors: 400 B24_ERR_BAD_REQUEST (not an install, fields missing or malformed), 403 B24_ERR_FORBIDDEN
 * (app.info refused the token, another app or portal, untrusted server_endpoint), 502
 * B24_ERR_OAUTH_UNAVAILABLE (the OAuth server could not be asked), 503 B24_ERR_STORE with Retry-After
 * (the store down or busy). Nothing is stored on any of them.
 */
import type { FastifyInstance } from 'fastify';
import { B24Error } from '../../errors.js';
import { isRecord, parseInstallPost } from '../../oauth/install-payload.js';
import type { PortalInstaller } from '../../oauth/installer.js';

export interface InstallRouteOptions {
  installer: PortalInstaller;
  /** Clock in epoch ms (token expiry). @defaultValue Date.now */
  nowMs?: () => number;
}

export function registerInstallRoute(app: FastifyInstance, options: InstallRouteOptions): void {
  const nowMs = options.nowMs ?? Date.now;
  app.post('/install', async (request) => {
    if (!isRecord(request.body)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The install POST has no form body');
    const query = isRecord(request.query) ? request.query : {};
    const claim = parseInstallPost(request.body, query, nowMs());
    const { portal, created } = await options.installer.install(claim);
    request.log.info({ memberId: portal.memberId, created }, 'install accepted');
    return { status: 'success' };
  });
}
