/**
 * Whether a portal's job may run now, and what a handler's error means for its job.
 *
 * - active → run.
 * - needs_reauth (the refresh token was rejected) → the job WAITS: postponed with growing delays
 *   (capped at 5 minutes), attempts not burned, until someone re-authorizes the portal
 *   (GET /oauth/start); events acknowledged with 200 must not be lost to an expired token.
 * - uninstalled, or unknown (purged) → the job goes DEAD at once with B24_ERR_PORTAL_UNINSTALLED
 *   / B24_ERR_PORTAL_NOT_FOUND: the API access is gone. After a re-install,
 *   `b24kit jobs retry --dead` runs them again.
 * - rate limited, operating limit, 5xx, network, timeout (the REST client's codes) → postponed
 *   without burning an attempt (queue/errors.ts `isPortalUnavailable`).
 */
import { B24Error } from '../errors.js';
import { isPortalUnavailable, postponeDelayMs, type Job } from '../queue/index.js';
import type { PortalInfo, PortalRegistry } from '../store/portals.js';

/** Thrown before the handler runs when the portal needs re-authorization; the job is postponed. */
export class PortalNeedsReauthError extends B24Error {
  constructor(memberId: string) {
    super('B24_ERR_TOKEN_REVOKED', 'The portal needs re-authorization (state needs_reauth); the job waits', { memberId });
    this.name = 'PortalNeedsReauthError';
  }
}

export async function requireRunnablePortal(portals: PortalRegistry, memberId: string): Promise<PortalInfo> {
  const portal = await portals.info(memberId);
  if (!portal) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', 'The portal is not in the registry (purged?); the job cannot run', { memberId });
  if (portal.state === 'uninstalled') throw new B24Error('B24_ERR_PORTAL_UNINSTALLED', 'The app was uninstalled from this portal; the job cannot run', { memberId });
  if (portal.state === 'needs_reauth') throw new PortalNeedsReauthError(memberId);
  return portal;
}

/** The worker's `postponeFor`: ms to postpone, or undefined to fail (retry with backoff, or dead). */
export function postponeForPortal(error: unknown, job: Job): number | undefined {
  if (isPortalUnavailable(error)) return postponeDelayMs(job.postpones + 1);
  // the token service moves the portal to needs_reauth when its refresh token is rejected mid-job
  if ((error as { code?: unknown } | null)?.code === 'B24_ERR_TOKEN_REVOKED') return postponeDelayMs(job.postpones + 1);
  return undefined;
}

/**
 * For `enqueue` and `ingest`: the portal must be installed here (active or needs_reauth — its jobs
 * wait for a re-authorization). Unknown → B24_ERR_PORTAL_NOT_FOUND, uninstalled →
 * B24_ERR_PORTAL_UNINSTALLED: nothing is enqueued for a portal whose job could only die.
 */
export async function requireInstalledPortal(portals: PortalRegistry, memberId: string): Promise<PortalInfo> {
  const portal = typeof memberId === 'string' ? await portals.info(memberId) : undefined;
  if (!portal) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', 'No portal with this member_id is installed', { memberId });
  if (portal.state === 'uninstalled') throw new B24Error('B24_ERR_PORTAL_UNINSTALLED', undefined, { memberId });
  return portal;
}
