/**
 * Keep-alive of refresh tokens. Older docs give a refresh token 28 days (protocol §1.5): a portal
 * whose app makes no calls for that long would be locked out. So portals whose refresh token is
 * older than `idleMs` (7 days) are refreshed. Not more often: refreshing on every call or hourly
 * can get the app blocked by the OAuth server. The built-in plugin `b24kit.keep-alive`
 * (app/builtins/keep-alive.ts) runs this hourly in processes with the scheduler role.
 */
import { B24Error } from '../errors.js';
import type { PortalRegistry } from '../store/portals.js';
import type { PortalTokenService } from './portal-token-provider.js';

export interface KeepAliveOptions {
  portals: PortalRegistry;
  tokens: PortalTokenService;
  /** Refresh portals whose refresh token is older than this. @defaultValue 7 days */
  idleMs?: number;
  /** At most this many portals per run (oldest first). @defaultValue 100 */
  limit?: number;
}

export interface KeepAliveReport {
  /** Portals found idle. */
  idle: number;
  /** Refreshed by this run. */
  refreshed: string[];
  /** Refreshed by someone else between the listing and our turn. */
  alreadyFresh: string[];
  /** Their refresh token was rejected: now `needs_reauth`. */
  needsReauth: string[];
  /** Other failures (network, OAuth server errors); retried on the next run. */
  failed: Array<{ memberId: string; code: string }>;
}

const KEEP_ALIVE_IDLE_MS = 7 * 24 * 3600 * 1000;

/** Refreshes idle portals one after another; one portal's failure does not stop the run. */
export async function refreshIdlePortals(options: KeepAliveOptions): Promise<KeepAliveReport> {
  const cutoffMs = options.tokens.nowMs() - (options.idleMs ?? KEEP_ALIVE_IDLE_MS);
  const idle = await options.portals.listIdle(cutoffMs, options.limit ?? 100);
  const report: KeepAliveReport = { idle: idle.length, refreshed: [], alreadyFresh: [], needsReauth: [], failed: [] };
  for (const portal of idle) {
    try {
      if (await options.tokens.refreshIfIdle(portal.memberId, cutoffMs)) report.refreshed.push(portal.memberId);
      else report.alreadyFresh.push(portal.memberId);
    } catch (error) {
      const code = error instanceof B24Error ? error.code : 'UNKNOWN';
      if (code === 'B24_ERR_TOKEN_REVOKED') report.needsReauth.push(portal.memberId);
      else report.failed.push({ memberId: portal.memberId, code });
    }
  }
  return report;
}
