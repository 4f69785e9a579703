/**
 * The event inbox: an accepted delivery is recorded under its dedupe key and its jobs (one per
 * owner's handler: the app's, each plugin's) enqueued in ONE transaction, and the HTTP answer goes
 * out after the commit. So an event that got 200 is in the store (never lost), a repeated delivery
 * collides on the key (never enqueued twice), and a failure before the commit leaves no row at all
 * (the portal sees an error, not a 200).
 */
import type { JobQueue } from '../queue/queue.js';
import type { Json } from '../queue/types.js';
import { chunkSizes, isStoreUnavailable, valuesRows } from '../store/sql.js';
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
  job?: InboxJob;
  /**
   * More jobs of the same delivery (fan-out: one per owner's handler of the event), enqueued after
   * `job` in the same transaction. Each needs a name of its own: the queue's idempotency key is
   * unique per (portal, name), and every job of an entry defaults to the entry's dedupe key.
   */
  jobs?: readonly InboxJob[];
}

export interface InboxJob {
  name: string;
  payload: Json;
  /**
   * The job's idempotency key. @defaultValue the entry's dedupe key (one job per event). A key
   * shared by several deliveries collapses them into one job (the offline-events ping).
   */
  key?: string;
  /** Not before this instant, epoch ms. @defaultValue now */
  runAtMs?: number;
}

export interface InboxOutcome {
  status: InboxStatus;
  /** The (first) job enqueued now (`queued`) — not set for duplicates and ignored events. */
  jobId?: number;
  /** Every job enqueued now, in the entry's order, when the entry has more than one (fan-out). */
  jobIds?: number[];
}

/** An entry's jobs: `job`, then `jobs`. */
function jobsOf(entry: InboxEntry): InboxJob[] {
  return [...(entry.job ? [entry.job] : []), ...(entry.jobs ?? [])];
}

/** Records one delivery and enqueues its job, atomically (one transaction of its own). */
export async function recordDelivery(store: Store, queue: JobQueue, entry: InboxEntry, nowMs: number): Promise<InboxOutcome> {
  return (await store.transaction((tx) => recordIn(tx, queue, [entry], nowMs)))[0]!;
}

/**
 * The inbox rows and the jobs of `entries`, inside the caller's transaction, in a fixed number of
 * statements whatever their count (chunks aside, sql.ts chunkSizes): one multi-row INSERT of the
 * inbox rows (ON CONFLICT DO NOTHING RETURNING the keys that were new), one `enqueueMany` of the
 * jobs of the new rows. Outcomes in input order. A key repeated within `entries` is recorded once;
 * its later copies are duplicates, as if they had come after it.
 */
async function recordIn(tx: Transaction, queue: JobQueue, entries: readonly InboxEntry[], nowMs: number): Promise<InboxOutcome[]> {
  const outcomes: Array<InboxOutcome | undefined> = new Array(entries.length);
  // each entry's identity built once (the sort below compares them n·log n times)
  const identities = entries.map((entry) => inboxIdentity(entry.memberId, entry.dedupeKey));
  const seen = new Set<string>();
  const fresh: number[] = [];
  identities.forEach((identity, index) => {
    if (seen.has(identity)) outcomes[index] = { status: 'duplicate' };
    else {
      seen.add(identity);
      fresh.push(index);
    }
  });
  // one key order in every batch: concurrent batches (PostgreSQL) lock index entries in the same order, no deadlock
  fresh.sort((a, b) => compare(identities[a]!, identities[b]!));
  const inserted = new Set<string>();
  let offset = 0;
  for (const size of chunkSizes(tx.dialect, fresh.length)) {
    const chunk = fresh.slice(offset, offset + size);
    offset += size;
    const rows = await tx.all<{ member_id: string; dedupe_key: string }>(
      `INSERT INTO ${INBOX_TABLE} (member_id, dedupe_key, event, status, received_at_ms) VALUES ${valuesRows(size, '(?, ?, ?, ?, ?)')}
       ON CONFLICT (member_id, dedupe_key) DO NOTHING RETURNING member_id, dedupe_key`,
      chunk.flatMap((index) => {
        const entry = entries[index]!;
        return [entry.memberId, entry.dedupeKey, entry.event, jobsOf(entry).length > 0 ? 'queued' : 'ignored', nowMs];
      }),
    );
    for (const row of rows) inserted.add(inboxIdentity(row.member_id, row.dedupe_key));
  }
  // every job of every new row, flat: still one enqueueMany for the whole batch
  const toEnqueue: Array<{ index: number; job: InboxJob }> = [];
  for (const index of fresh) {
    const entry = entries[index]!;
    const jobs = jobsOf(entry);
    if (!inserted.has(identities[index]!)) outcomes[index] = { status: 'duplicate' };
    else if (jobs.length === 0) outcomes[index] = { status: 'ignored' };
    else for (const job of jobs) toEnqueue.push({ index, job });
  }
  if (toEnqueue.length > 0) {
    // the job's idempotency key is the dedupe key too: a purged inbox row still cannot enqueue twice
    const enqueued = await queue.enqueueMany(
      tx,
      toEnqueue.map(({ index, job }) => {
        const entry = entries[index]!;
        return { memberId: entry.memberId, name: job.name, payload: job.payload, key: job.key ?? entry.dedupeKey, ...(job.runAtMs !== undefined ? { runAtMs: job.runAtMs } : {}) };
      }),
    );
    // no job_id column: a job is found by (member_id, name, idempotency_key = dedupe_key)
    const created = new Map<number, number[]>();
    toEnqueue.forEach(({ index }, n) => {
      const ids = created.get(index) ?? [];
      if (enqueued[n]!.created) ids.push(enqueued[n]!.id);
      created.set(index, ids);
    });
    for (const [index, ids] of created) {
      const several = jobsOf(entries[index]!).length > 1;
      // queued when any job is new (a purged row whose jobs outlived it enqueues only what is missing)
      outcomes[index] = ids.length > 0 ? { status: 'queued', jobId: ids[0]!, ...(several ? { jobIds: ids } : {}) } : { status: 'duplicate' };
    }
  }
  return outcomes as InboxOutcome[];
}

function inboxIdentity(memberId: string, dedupeKey: string): string {
  return `${memberId}\u0000${dedupeKey}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Group commit: deliveries that arrive while a transaction is running — or in the same turn of the
 * event loop as the first one — are recorded together in the next one, each still atomic (its
 * inbox row and its jobs commit together) and each answered only after that commit. A lone
 * delivery gets a transaction of its own; under load the batches grow and the per-commit cost
 * (round trips, the WAL write, PostgreSQL's fsync) is shared: a batch is one multi-row INSERT for
 * the inbox, one for the jobs and one wake-up, whatever its size.
 * If a batch fails, its deliveries are retried one transaction each, so one bad delivery cannot
 * fail its neighbours (and none is answered for a commit that did not happen) — unless the store is
 * unavailable (isStoreUnavailable): then every delivery of the batch fails at once with that error.
 */
export class InboxWriter {
  readonly #store: Store;
  readonly #queue: JobQueue;
  readonly #nowMs: () => number;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  #pending: Array<{ entry: InboxEntry; resolve: (outcome: InboxOutcome) => void; reject: (error: unknown) => void }> = [];
  /** Drain loops running (each one transaction at a time). */
  #lanes = 0;
  #scheduled = false;

  constructor(options: {
    store: Store;
    queue: JobQueue;
    nowMs: () => number;
    /** @defaultValue 200 */
    maxBatch?: number;
    /**
     * Batches in flight at once (PostgreSQL; SQLite runs one transaction at a time anyway). One
     * is enough on a single machine: batches grow with the load instead (bench/README.md).
     * @defaultValue 1
     */
    concurrency?: number;
  }) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#nowMs = options.nowMs;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 200);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  }

  record(entry: InboxEntry): Promise<InboxOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (this.#lanes < this.#concurrency && !this.#scheduled) {
        this.#scheduled = true;
        // after the I/O callbacks of this turn: the requests read together are committed together
        // (on SQLite a transaction never yields to I/O, so without this every batch would be one)
        setImmediate(() => {
          this.#scheduled = false;
          if (this.#pending.length > 0 && this.#lanes < this.#concurrency) void this.#drain();
        });
      }
    });
  }

  async #drain(): Promise<void> {
    this.#lanes += 1;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#maxBatch);
        const now = this.#nowMs();
        let outcomes: InboxOutcome[] | undefined;
        try {
          outcomes = await this.#store.transaction((tx) =>
            recordIn(
              tx,
              this.#queue,
              batch.map((item) => item.entry),
              now,
            ),
          );
        } catch (error) {
          // an outage (the database down, or busy beyond its timeout) would fail each one-by-one retry
          // the same way, each after its own wait: the last of a batch of 64 would hear after 64 ×
          // busy_timeout. Every delivery of the batch gets the outage (503) now instead.
          if (batch.length === 1 || isStoreUnavailable(error)) for (const item of batch) item.reject(error);
          else for (const item of batch) await recordDelivery(this.#store, this.#queue, item.entry, now).then(item.resolve, item.reject);
          continue;
        }
        batch.forEach((item, index) => item.resolve(outcomes[index]!));
      }
    } finally {
      this.#lanes -= 1;
    }
  }
}

/** The per-portal cleanup for PortalRegistry.purge (ONAPPUNINSTALL with CLEAN=1). */
export async function deletePortalInbox(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${INBOX_TABLE} WHERE member_id = ?`, [memberId]);
}
