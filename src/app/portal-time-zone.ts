/**
 * What the app learns about a portal beyond its install, in `b24kit_portal_settings` (migration
 * 0007) — for now its time zone, so that schedules run "in the portal's time zone when known".
 *
 * Learned cheaply: one `profile` call (scope `basic`, which every app has) at install and after every
 * app update, reading the installing admin's TIME_ZONE. A portal has no zone of its own in the REST
 * API; the admin's is the closest thing to "the portal's hours". An empty or unknown zone is stored
 * as NULL, and the scheduler then uses the app's `scheduler.defaultTimeZone`. A failed call is
 * logged and changes nothing: the install stands, and the next update tries again.
 */
import type { Logger as PinoLogger } from 'pino';
import type { B24Client } from '../rest/client.js';
import type { PortalInfo } from '../store/portals.js';
import type { Store, Transaction } from '../store/types.js';

export const PORTAL_SETTINGS_TABLE = 'b24kit_portal_settings';

/** A valid IANA zone name, or undefined (what Intl cannot use, the scheduler could not either). */
export function validTimeZone(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value.trim() }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Stores (or clears, with undefined) a portal's time zone. */
export async function savePortalTimeZone(store: Store, memberId: string, timeZone: string | undefined, nowMs: number): Promise<void> {
  await store.run(
    `INSERT INTO ${PORTAL_SETTINGS_TABLE} (member_id, time_zone, updated_at_ms) VALUES (?, ?, ?)
     ON CONFLICT (member_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at_ms = excluded.updated_at_ms`,
    [memberId, timeZone ?? null, Math.floor(nowMs)],
  );
}

/** The known time zones by member_id (portals without one are absent). */
export async function portalTimeZones(store: Store): Promise<Map<string, string>> {
  const rows = await store.all<{ member_id: string; time_zone: string }>(`SELECT member_id, time_zone FROM ${PORTAL_SETTINGS_TABLE} WHERE time_zone IS NOT NULL`);
  return new Map(rows.map((row) => [row.member_id, row.time_zone]));
}

/** The lifecycle hook (install, update): read `profile` TIME_ZONE and store it. Never throws. */
export function learnTimeZoneHook(options: { store: Store; client: (memberId: string) => B24Client; nowMs: () => number; logger: PinoLogger }): (portal: PortalInfo) => Promise<void> {
  return async (portal) => {
    const log = options.logger.child({ memberId: portal.memberId, module: 'portal-settings' });
    try {
      const { result } = await options.client(portal.memberId).call<{ TIME_ZONE?: unknown } | null>('profile');
      const timeZone = validTimeZone(result?.TIME_ZONE);
      await savePortalTimeZone(options.store, portal.memberId, timeZone, options.nowMs());
      log.info({ timeZone: timeZone ?? null }, timeZone ? 'portal time zone learned' : 'the portal did not say its time zone: schedules use the default');
    } catch (error) {
      log.warn({ err: error }, 'could not read the portal time zone (profile); schedules use the last known or the default');
    }
  };
}

/** The per-portal cleanup for PortalRegistry.purge. */
export async function deletePortalSettings(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${PORTAL_SETTINGS_TABLE} WHERE member_id = ?`, [memberId]);
}
