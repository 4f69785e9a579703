/**
 * Enqueuing: one INSERT, idempotent on (member_id, name, key). Works on the store or inside a
 * caller's transaction — the event receiver records its inbox row and the job in ONE transaction,
 * so a rollback leaves neither.
 */
import { B24Error } from '../errors.js';
import type { Queryable } from '../store/types.js';
import type { QueueContext } from './context.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, toJsonText, type JobRow } from './job-row.js';
import { notifyJobs } from './notify.js';
import type { EnqueueInput, EnqueueResult } from './types.js';

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
