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

/** Records one delivery and enqueues its job, atomically (one transaction of its own). */
export async function recordDelivery(store: Store, queue: JobQueue, entry: InboxEntry, nowMs: number): Promise<InboxOutcome> {
  return store.transaction((tx) => recordIn(tx, queue, entry, nowMs));
}

/** The inbox row and the job, inside the caller's transaction. */
async function recordIn(tx: Transaction, queue: JobQueue, entry: InboxEntry, nowMs: number): Promise<InboxOutcome> {
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
  // no job_id column: the job is found by (member_id, idempotency_key = dedupe_key); one round trip less
  return { status: 'queued', jobId: job.id };
}

/**
 * Group commit: deliveries that arrive while a transaction is running are recorded together in
 * the next one, each still atomic (its inbox row and its job commit together) and each answered
 * only after that commit. One delivery at a time costs one transaction, as before; under load the
 * batches grow and the per-commit cost (round trips, the WAL write, PostgreSQL's fsync) is shared.
 * If a batch fails, its deliveries are retried one transaction each, so one bad delivery cannot
 * fail its neighbours.
 */
export class InboxWriter {
  readonly #store: Store;
  readonly #queue: JobQueue;
  readonly #nowMs: () => number;
  readonly #maxBatch: number;
  #pending: Array<{ entry: InboxEntry; resolve: (outcome: InboxOutcome) => void; reject: (error: unknown) => void }> = [];
  #draining = false;

  constructor(options: { store: Store; queue: JobQueue; nowMs: () => number; /** @defaultValue 200 */ maxBatch?: number }) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#nowMs = options.nowMs;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 200);
  }

  record(entry: InboxEntry): Promise<InboxOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (!this.#draining) {
        this.#draining = true;
        void this.#drain();
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#maxBatch);
        const now = this.#nowMs();
        try {
          const outcomes = await this.#store.transaction(async (tx) => {
            const results: InboxOutcome[] = [];
            for (const item of batch) results.push(await recordIn(tx, this.#queue, item.entry, now));
            return results;
          });
          batch.forEach((item, index) => item.resolve(outcomes[index]!));
        } catch (error) {
          if (batch.length === 1) batch[0]!.reject(error);
          else for (const item of batch) await recordDelivery(this.#store, this.#queue, item.entry, now).then(item.resolve, item.reject);
        }
      }
    } finally {
      this.#draining = false;
    }
  }
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
