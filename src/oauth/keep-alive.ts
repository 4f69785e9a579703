/**
 * Keep-alive of refresh tokens. Older docs give a refresh token 28 days (docs/protocol.md §1.5): a portal
 * whose app makes no calls for that long would be locked out. So portals whose refresh token is
 * older than `idleMs` (7 days) are refreshed. Not more often: refreshing on every call or hourly
 * can get the app blocked by the OAuth server. The built-in plugin `b24kit.keep-alive`
 * (app/builtins/keep-alive.ts) runs this hourly in processes with the scheduler role.
 *
 * Pacing: the OAuth server publishes no rate it tolerates, and its docs warn that load on it can get
 * the app blocked (docs/protocol.md §1.5), so a run never fires its refreshes back to back: they start
 * at most `refreshesPerSecond` apart (1/s by default), and `limit` (100) bounds a run. Hourly runs of
 * 100 refresh up to 2,400 portals a day: enough for 16,800 portals idle for 7 days each.
 */
import { setTimeout } from 'node:timers/promises';
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
  /** At most this many refreshes start per second (they are spread, not bursted). @defaultValue 1 */
  refreshesPerSecond?: number;
  /** Waits between two refreshes (tests pass a fake clock's). @defaultValue setTimeout */
  sleep?: (ms: number) => Promise<void>;
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

/** Refreshes idle portals one after another, paced; one portal's failure does not stop the run. */
export async function refreshIdlePortals(options: KeepAliveOptions): Promise<KeepAliveReport> {
  const cutoffMs = options.tokens.nowMs() - (options.idleMs ?? KEEP_ALIVE_IDLE_MS);
  const idle = await options.portals.listIdle(cutoffMs, options.limit ?? 100);
  const report: KeepAliveReport = { idle: idle.length, refreshed: [], alreadyFresh: [], needsReauth: [], failed: [] };
  const gapMs = refreshGapMs(options.refreshesPerSecond);
  const sleep = options.sleep ?? ((ms: number) => setTimeout(ms));
  let lastStartMs: number | undefined;
  for (const portal of idle) {
    if (lastStartMs !== undefined) {
      const waitMs = lastStartMs + gapMs - options.tokens.nowMs();
      if (waitMs > 0) await sleep(waitMs);
    }
    lastStartMs = options.tokens.nowMs();
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

/** The least time between the starts of two refreshes, in ms. */
export function refreshGapMs(refreshesPerSecond = 1): number {
  if (!(refreshesPerSecond > 0)) throw new B24Error('B24_ERR_CONFIG', `refreshesPerSecond must be a positive number, not ${refreshesPerSecond}`);
  return 1000 / refreshesPerSecond;
}
