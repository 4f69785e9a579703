/**
 * Enqueuing: one INSERT, idempotent on (member_id, name, key). Works on the store or inside a
 * caller's transaction — the event receiver records its inbox row and the job in ONE transaction,
 * so a rollback leaves neither. {@link enqueueJobs} does the same for many jobs with multi-row
 * INSERTs and one wake-up (the event inbox's group commit).
 */
import { B24Error } from '../errors.js';
import { chunkSizes, valuesRows } from '../store/sql.js';
import type { Queryable, SqlValue } from '../store/types.js';
import type { QueueContext } from './context.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, toJsonText, type JobRow } from './job-row.js';
import { notifyJobs } from './notify.js';
import type { EnqueueInput, EnqueueManyResult, EnqueueResult } from './types.js';

export async function enqueueJob<P>(ctx: QueueContext, db: Queryable, input: EnqueueInput<P>): Promise<EnqueueResult<P>> {
  validate(input);
  const now = ctx.nowMs();
  const maxAttempts = Math.max(1, Math.floor(input.maxAttempts ?? ctx.jobType(input.name).maxAttempts));
  const key = input.key ?? null;
  const inserted = await db.one<JobRow>(
    `INSERT INTO ${JOBS_TABLE} (member_id, name, payload, idempotency_key, state, attempts, max_attempts, run_at_ms, created_at_ms, updated_at_ms)
     VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)
     ON CONFLICT (member_id, name, idempotency_key) DO NOTHING
     RETURNING ${JOB_COLUMNS}`,
    [input.memberId, input.name, toJsonText(input.payload), key, maxAttempts, input.runAtMs ?? now, now, now],
  );
  if (inserted) {
    await notifyJobs(db);
    ctx.wakeups.notify();
    return { job: toJob<P>(inserted), created: true };
  }
  // a conflict is only possible with a key; the first job stays as it is, whatever its state
  const existing = await db.one<JobRow>(`SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE} WHERE member_id = ? AND name = ? AND idempotency_key = ?`, [
    input.memberId,
    input.name,
    key,
  ]);
  if (!existing) throw new B24Error('B24_ERR_STORE', 'Enqueue conflicted on its idempotency key, but no job holds the key');
  return { job: toJob<P>(existing), created: false };
}

/**
 * Enqueues many jobs through `db` (a transaction of the caller's, typically): multi-row INSERTs
 * with the same idempotency rule as {@link enqueueJob}, one `pg_notify` for the lot, and only the
 * id of each job read back. Results are in input order. A key repeated within `inputs` enqueues
 * once; its later copies come back `created: false` with the first one's id. Throws (enqueuing
 * nothing of its own) when any input is invalid.
 */
export async function enqueueJobs(ctx: QueueContext, db: Queryable, inputs: ReadonlyArray<EnqueueInput<unknown>>): Promise<EnqueueManyResult[]> {
  for (const input of inputs) validate(input);
  const now = ctx.nowMs();
  const results: Array<EnqueueManyResult | undefined> = new Array(inputs.length);
  const rows: SqlValue[][] = new Array(inputs.length);
  const firstWithKey = new Map<string, number>();
  const fresh: number[] = [];
  const repeats: Array<[index: number, first: number]> = [];
  inputs.forEach((input, index) => {
    const maxAttempts = Math.max(1, Math.floor(input.maxAttempts ?? ctx.jobType(input.name).maxAttempts));
    // serialise every payload first: a bad one fails the call before anything is written
    rows[index] = [input.memberId, input.name, toJsonText(input.payload), input.key ?? null, maxAttempts, input.runAtMs ?? now, now, now];
    if (input.key === undefined) return void fresh.push(index);
    const identity = jobIdentity(input.memberId, input.name, input.key);
    const first = firstWithKey.get(identity);
    if (first === undefined) {
      firstWithKey.set(identity, index);
      fresh.push(index);
    } else repeats.push([index, first]);
  });

  // keyed rows in one order in every call (concurrent transactions lock index entries alike, no
  // deadlock); rows without a key keep theirs (their ids are matched by position below)
  const identities = fresh.map((index) => {
    const input = inputs[index]!;
    return input.key === undefined ? '' : jobIdentity(input.memberId, input.name, input.key);
  });
  const order = fresh.map((_, position) => position).sort((a, b) => (identities[a]! < identities[b]! ? -1 : identities[a]! > identities[b]! ? 1 : 0));
  fresh.splice(0, fresh.length, ...order.map((position) => fresh[position]!));

  const conflicted: number[] = [];
  let offset = 0;
  for (const size of chunkSizes(db.dialect, fresh.length, 500)) {
    const chunk = fresh.slice(offset, offset + size);
    offset += size;
    const inserted = await db.all<{ id: number; member_id: string; name: string; idempotency_key: string | null }>(
      `INSERT INTO ${JOBS_TABLE} (member_id, name, payload, idempotency_key, state, attempts, max_attempts, run_at_ms, created_at_ms, updated_at_ms)
       VALUES ${valuesRows(size, "(?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)")}
       ON CONFLICT (member_id, name, idempotency_key) DO NOTHING
       RETURNING id, member_id, name, idempotency_key`,
      chunk.flatMap((index) => rows[index]!),
    );
    const byKey = new Map<string, number>();
    // a job without a key never conflicts; ids grow in the order of the VALUES rows on both dialects
    const unkeyed: number[] = [];
    for (const row of inserted) {
      if (row.idempotency_key === null) unkeyed.push(Number(row.id));
      else byKey.set(jobIdentity(row.member_id, row.name, row.idempotency_key), Number(row.id));
    }
    unkeyed.sort((a, b) => a - b);
    let nextUnkeyed = 0;
    for (const index of chunk) {
      const input = inputs[index]!;
      const id = input.key === undefined ? unkeyed[nextUnkeyed++] : byKey.get(jobIdentity(input.memberId, input.name, input.key));
      if (id !== undefined) results[index] = { id, created: true };
      else if (input.key !== undefined) conflicted.push(index);
      else throw new B24Error('B24_ERR_STORE', 'enqueueMany: a job without a key was not inserted');
    }
  }
  // the first job with a key stays as it is, whatever its state; read its id
  for (const index of conflicted) {
    const input = inputs[index]!;
    const existing = await db.one<{ id: number }>(`SELECT id FROM ${JOBS_TABLE} WHERE member_id = ? AND name = ? AND idempotency_key = ?`, [input.memberId, input.name, input.key!]);
    if (!existing) throw new B24Error('B24_ERR_STORE', 'Enqueue conflicted on its idempotency key, but no job holds the key');
    results[index] = { id: Number(existing.id), created: false };
  }
  for (const [index, first] of repeats) results[index] = { id: results[first]!.id, created: false };
  if (results.some((result) => result?.created)) {
    await notifyJobs(db);
    ctx.wakeups.notify();
  }
  return results as EnqueueManyResult[];
}

function jobIdentity(memberId: string, name: string, key: string): string {
  return `${memberId}\u0000${name}\u0000${key}`;
}

function validate(input: EnqueueInput<unknown>): void {
  const problem =
    typeof input.memberId !== 'string' || input.memberId === ''
      ? 'memberId is required'
      : typeof input.name !== 'string' || input.name === ''
        ? 'name is required'
        : input.key !== undefined && (typeof input.key !== 'string' || input.key === '')
          ? 'key must be a non-empty string'
          : input.runAtMs !== undefined && !Number.isFinite(input.runAtMs)
            ? 'runAtMs must be epoch milliseconds'
            : undefined;
  if (problem) throw new B24Error('B24_ERR_INVALID_ARGUMENT', `enqueue: ${problem}`, { memberId: input.memberId });
}
