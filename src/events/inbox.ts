/**
 * The event inbox: an accepted delivery is recorded under its dedupe key and its job enqueued in
 * ONE transaction, and the HTTP answer goes out after the commit. So an event that got 200 is in
 * the store (never lost), a repeated delivery collides on the key (never enqueued twice), and a
 * failure before the commit leaves neither row (the portal sees an error, not a 200).
 */
import type { JobQueue } from '../queue/queue.js';
import type { Json } from '../queue/types.js';
import type { Store, Transaction } from '../store/types.js';

export const INBOX_TABLE = 'b24kit_event_inbox';

export type InboxStatus = 'queued' | 'duplicate' | 'ignored';

export interface InboxEntry {
  memberId: string;
  /** From dedupe-key.ts. */
  dedupeKey: string;
  /** The event name (or `robot:CODE` for robot calls). */
  event: string;
  /** The job to enqueue; undefined when the app has no handler (recorded as `ignored`). */
  job?: { name: string; payload: Json };
}

export interface InboxOutcome {
  status: InboxStatus;
  /** The job enqueued now (`queued`) — not set for duplicates and ignored events. */
  jobId?: number;
}

/** Records one delivery and enqueues its job, atomically. */
export async function recordDelivery(store: Store, queue: JobQueue, entry: InboxEntry, nowMs: number): Promise<InboxOutcome> {
  return store.transaction(async (tx) => {
    const inserted = await tx.all(
      `INSERT INTO ${INBOX_TABLE} (member_id, dedupe_key, event, status, received_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (member_id, dedupe_key) DO NOTHING RETURNING dedupe_key`,
      [entry.memberId, entry.dedupeKey, entry.event, entry.job ? 'queued' : 'ignored', nowMs],
    );
    if (inserted.length === 0) return { status: 'duplicate' };
    if (!entry.job) return { status: 'ignored' };
    // the job's idempotency key is the dedupe key too: a purged inbox row still cannot enqueue twice
    const { job, created } = await queue.enqueue(tx, { memberId: entry.memberId, name: entry.job.name, payload: entry.job.payload, key: entry.dedupeKey });
    if (!created) return { status: 'duplicate' };
    await tx.run(`UPDATE ${INBOX_TABLE} SET job_id = ? WHERE member_id = ? AND dedupe_key = ?`, [job.id, entry.memberId, entry.dedupeKey]);
    return { status: 'queued', jobId: job.id };
  });
}

/** Deletes inbox rows received before `beforeMs` (retention: a later duplicate is then new again). Returns how many. */
export async function purgeInbox(store: Store, beforeMs: number): Promise<number> {
  return (await store.run(`DELETE FROM ${INBOX_TABLE} WHERE received_at_ms < ?`, [beforeMs])).rowCount;
}

/** The per-portal cleanup for PortalRegistry.purge (ONAPPUNINSTALL with CLEAN=1). */
export async function deletePortalInbox(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${INBOX_TABLE} WHERE member_id = ?`, [memberId]);
}

/** Counts by status (for tests and `b24kit events`). */
export async function inboxCounts(store: Store, memberId?: string): Promise<Record<'queued' | 'ignored', number>> {
  const rows = await store.all<{ status: 'queued' | 'ignored'; n: number }>(
    `SELECT status, COUNT(*) AS n FROM ${INBOX_TABLE}${memberId ? ' WHERE member_id = ?' : ''} GROUP BY status`,
    memberId ? [memberId] : [],
  );
  const counts = { queued: 0, ignored: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}
