/**
 * `POST /webhooks/:memberId/event`: the portal's event receiver.
 *
 * - ONAPPUPDATE (docs/protocol.md §2.4): carries the NEW application_token, so the stored one cannot vouch
 *   for it; the payload's tokens pass the install's checks instead (app.info, an administrator, the
 *   refresh token redeemed: oauth/installer.ts), then application_token and tokens are replaced and
 *   the onUpdated hooks run. → 200 `{"status":"success"}`.
 * - ONAPPUNINSTALL (docs/protocol.md §2.5): no tokens; application_token compared with the stored one in
 *   constant time. The portal becomes `uninstalled`; `data[CLEAN]=1` wipes its data. → 200.
 * - Any other event, in a server that runs an app (createApp passes its receiver as `events`), goes
 *   to the durable inbox (events/receiver.ts): authenticated, deduplicated, recorded and enqueued in
 *   one transaction, then 200 `{"status":"queued"|"duplicate"|"ignored"}` (`ignored`: the app
 *   declares no handler for it; counted, nothing stored).
 * - A bare portal server without an app (no `events` option: nothing could run a handler) authenticates
 *   such an event by its application_token and answers 501 B24_ERR_EVENT_NOT_HANDLED: nothing is stored,
 *   and the portal's delivery log shows a 501 rather than a 200 for an event that was dropped.
 *
 * Errors: 400 B24_ERR_BAD_REQUEST (no event, no auth, malformed fields), 403 B24_ERR_MEMBER_MISMATCH
 * (`:memberId` ≠ `auth[member_id]`), 401/403 B24_ERR_FORBIDDEN (missing or wrong application_token —
 * an unknown portal gets the same 403 — or app.info refused the update's token), 403
 * B24_ERR_NOT_ADMIN / B24_ERR_CREDENTIALS_UNPROVEN (update), 404 B24_ERR_PORTAL_NOT_FOUND (a verified
 * update for a portal never installed here), 410 B24_ERR_PORTAL_UNINSTALLED (inbox only), 502
 * B24_ERR_OAUTH_UNAVAILABLE, 503 B24_ERR_STORE with Retry-After (the store down or busy:
 * server/error-handler.ts). Nothing is stored on any of them.
 */
import type { FastifyInstance } from 'fastify';
import { B24Error } from '../../errors.js';
import { isRecord, parseAuthBlock, parseEventIdentity } from '../../oauth/install-payload.js';
import type { PortalInstaller } from '../../oauth/installer.js';
import { isMemberId } from '../../validators.js';

export interface WebhookRouteOptions {
  installer: PortalInstaller;
  /** Clock in epoch ms (token expiry). @defaultValue Date.now */
  nowMs?: () => number;
  /** The app's event inbox (events/receiver.ts). Without it, non-lifecycle events answer 501. */
  events?: EventSink;
}

/** Where non-lifecycle events go: accepts one delivery or throws a B24Error carrying the HTTP status. */
export interface EventSink {
  accept(urlMemberId: string, body: unknown): Promise<{ status: 'queued' | 'duplicate' | 'ignored'; jobId?: number }>;
}

export function registerWebhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): void {
  const nowMs = options.nowMs ?? Date.now;
  app.post<{ Params: { memberId: string } }>('/webhooks/:memberId/event', async (request, reply) => {
    const urlMemberId = request.params.memberId;
    if (!isMemberId(urlMemberId)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The member_id in the URL is malformed');
    const body = request.body;
    if (!isRecord(body) || typeof body.event !== 'string' || body.event === '') {
      throw new B24Error('B24_ERR_BAD_REQUEST', 'Not an event: `event` is missing');
    }
    const event = body.event.toUpperCase();
    const lifecycle = event === 'ONAPPUPDATE' || event === 'ONAPPUNINSTALL';
    if (!lifecycle && options.events) {
      // the inbox checks member_id, portal and application_token itself (and counts refusals)
      const received = await options.events.accept(urlMemberId, body);
      request.log.debug({ memberId: urlMemberId, event, status: received.status, jobId: received.jobId }, 'event accepted');
      return { status: received.status };
    }
    const identity = parseEventIdentity(body);
    if (identity.memberId !== urlMemberId) throw new B24Error('B24_ERR_MEMBER_MISMATCH');

    if (event === 'ONAPPUPDATE') {
      const claim = parseAuthBlock(body.auth, nowMs(), { requireApplicationToken: true });
      await options.installer.update(urlMemberId, claim);
      return { status: 'success' };
    }
    if (event === 'ONAPPUNINSTALL') {
      const data = isRecord(body.data) ? body.data : {};
      const flag = String(data.CLEAN ?? '0').trim().toUpperCase();
      const clean = flag === '1' || flag === 'Y' || flag === 'TRUE';
      const { purged } = await options.installer.uninstall(urlMemberId, { memberId: identity.memberId, applicationToken: identity.applicationToken, clean });
      request.log.info({ memberId: urlMemberId, purged }, 'uninstall accepted');
      return { status: 'success' };
    }
    await options.installer.authenticateEvent(urlMemberId, identity);
    request.log.info({ memberId: urlMemberId, event }, 'event authenticated, but this server has no event inbox (a portal server without an app): 501');
    return reply.status(501).send({ error: 'B24_ERR_EVENT_NOT_HANDLED', message: `No receiver for ${event} yet` });
  });
}
