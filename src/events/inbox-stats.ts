/**
 * Counts over the event inbox (migration 0005) for monitoring: deliveries per minute and per
 * event, by outcome. The inbox holds what was stored (queued or ignored); duplicates and refused
 * deliveries never reach it. Rows older than the retention window are gone, so are their counts.
 */
import type { Queryable } from '../store/types.js';

const MINUTE_MS = 60_000;

export async function inboxPerMinute(db: Queryable, sinceMs: number): Promise<Array<{ minuteStartMs: number; queued: number; ignored: number }>> {
  // integer division on both dialects (BIGINT / integer in PostgreSQL, INTEGER / integer in SQLite)
  const rows = await db.all<{ minute: number | string; status: string; n: number | string }>(
    `SELECT received_at_ms / ${MINUTE_MS} AS minute, status, COUNT(*) AS n FROM b24kit_event_inbox WHERE received_at_ms >= ? GROUP BY received_at_ms / ${MINUTE_MS}, status`,
    [sinceMs],
  );
  const minutes = new Map<number, { minuteStartMs: number; queued: number; ignored: number }>();
  for (const row of rows) {
    const start = Number(row.minute) * MINUTE_MS;
    const entry = minutes.get(start) ?? { minuteStartMs: start, queued: 0, ignored: 0 };
    if (row.status === 'queued') entry.queued += Number(row.n);
    else entry.ignored += Number(row.n);
    minutes.set(start, entry);
  }
  return [...minutes.values()].sort((a, b) => a.minuteStartMs - b.minuteStartMs);
}

export async function inboxByEvent(db: Queryable, sinceMs: number): Promise<Array<{ event: string; queued: number; ignored: number }>> {
  const rows = await db.all<{ event: string; status: string; n: number | string }>(
    'SELECT event, status, COUNT(*) AS n FROM b24kit_event_inbox WHERE received_at_ms >= ? GROUP BY event, status',
    [sinceMs],
  );
  const events = new Map<string, { event: string; queued: number; ignored: number }>();
  for (const row of rows) {
    const entry = events.get(row.event) ?? { event: row.event, queued: 0, ignored: 0 };
    if (row.status === 'queued') entry.queued += Number(row.n);
    else entry.ignored += Number(row.n);
    events.set(row.event, entry);
  }
  return [...events.values()].sort((a, b) => a.event.localeCompare(b.event));
}
