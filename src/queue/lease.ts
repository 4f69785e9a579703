/**
 * What the holder of a job's lease may do: extend it (heartbeat), record a result, complete, fail,
 * postpone, release. Every call checks that the job is still running under this worker's lease
 * (and this attempt, when given); otherwise it throws B24_ERR_LEASE_LOST and changes nothing — the
 * job was reaped after the lease expired and possibly claimed by another worker, whose outcome is
 * the one that counts. A lease that expired but was not yet reaped is still the holder's.
 */
import { B24Error } from '../errors.js';
import type { SqlValue, Transaction } from '../store/types.js';
import { retryDelayMs } from './backoff.js';
import type { QueueContext } from './context.js';
import { errorText, isNonRetryable, isPermanentPortalError, leaseLost } from './errors.js';
import { JOB_COLUMNS, JOBS_TABLE, parseHistory, toJob, toJsonText, type JobRow } from './job-row.js';
import type { AttemptRecord, Job, LeaseCheck } from './types.js';

export interface FailOutcome {
  job: Job;
  /** `queued` for a retry (at job.runAtMs), `dead` when no attempt is left or the error is non-retryable. */
  state: 'queued' | 'dead';
}

function leaseCondition(jobId: number, workerId: string, check: LeaseCheck): { sql: string; params: SqlValue[] } {
  const attempt = check.attempt !== undefined ? ' AND attempts = ?' : '';
  return {
    sql: `id = ? AND state = 'running' AND lease_owner = ?${attempt}`,
    params: check.attempt !== undefined ? [jobId, workerId, check.attempt] : [jobId, workerId],
  };
}

/** Reads the job under a row lock and verifies the lease, inside one transaction. */
async function withLease<T>(
  ctx: QueueContext,
  jobId: number,
  workerId: string,
  check: LeaseCheck,
  fn: (tx: Transaction, row: JobRow, now: number) => Promise<T>,
): Promise<T> {
  return ctx.store.transaction(async (tx) => {
    const row = await tx.one<JobRow>(`SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE} WHERE id = ? FOR UPDATE`, [jobId]);
    if (!row) throw new B24Error('B24_ERR_JOB_NOT_FOUND', `Job ${jobId} does not exist`);
    if (row.state !== 'running') throw leaseLost(jobId, workerId, `the job is ${row.state}`);
    if (row.lease_owner !== workerId) throw leaseLost(jobId, workerId, 'another worker holds the lease');
    if (check.attempt !== undefined && Number(row.attempts) !== check.attempt) {
      throw leaseLost(jobId, workerId, `attempt ${check.attempt} ended; the job is on attempt ${row.attempts}`);
    }
    return fn(tx, row, ctx.nowMs());
  });
}

function withAttempt(row: JobRow, now: number, error: string | null): string {
  const entry: AttemptRecord = { attempt: Number(row.attempts), at: now, error, durationMs: Math.max(0, now - Number(row.started_at_ms ?? now)) };
  return JSON.stringify([...parseHistory(row.history), entry]);
}

/** The heartbeat: the lease now ends `leaseMs` from now. Returns the new expiry (epoch ms). */
export async function extendLease(ctx: QueueContext, jobId: number, workerId: string, leaseMs: number, check: LeaseCheck = {}): Promise<number> {
  const now = ctx.nowMs();
  const where = leaseCondition(jobId, workerId, check);
  const result = await ctx.store.run(`UPDATE ${JOBS_TABLE} SET lease_expires_at_ms = ?, updated_at_ms = ? WHERE ${where.sql}`, [
    now + leaseMs,
    now,
    ...where.params,
  ]);
  if (result.rowCount === 0) throw leaseLost(jobId, workerId, 'lease extension refused');
  return now + leaseMs;
}

/** Stores an intermediate result while running (what `ctx.once` memoizes), without ending the attempt. */
export async function saveResult(ctx: QueueContext, jobId: number, workerId: string, result: unknown, check: LeaseCheck = {}): Promise<void> {
  const where = leaseCondition(jobId, workerId, check);
  const outcome = await ctx.store.run(`UPDATE ${JOBS_TABLE} SET result = ?, updated_at_ms = ? WHERE ${where.sql}`, [toJsonText(result), ctx.nowMs(), ...where.params]);
  if (outcome.rowCount === 0) throw leaseLost(jobId, workerId, 'result refused');
}

/** Records the one completion of the job. */
export async function completeJob(ctx: QueueContext, jobId: number, workerId: string, result: unknown, check: LeaseCheck = {}): Promise<Job> {
  return withLease(ctx, jobId, workerId, check, async (tx, row, now) => {
    const updated = await tx.one<JobRow>(
      `UPDATE ${JOBS_TABLE}
       SET state = 'succeeded', result = ?, lease_owner = NULL, lease_expires_at_ms = NULL, finished_at_ms = ?, history = ?, updated_at_ms = ?
       WHERE id = ? RETURNING ${JOB_COLUMNS}`,
      [toJsonText(result), now, withAttempt(row, now, null), now, jobId],
    );
    return toJob(updated!);
  });
}

/** Ends the attempt with an error: a retry after backoff, or the dead letter. */
export async function failJob(ctx: QueueContext, jobId: number, workerId: string, error: unknown, check: LeaseCheck = {}): Promise<FailOutcome> {
  return withLease(ctx, jobId, workerId, check, async (tx, row, now) => {
    const text = errorText(error);
    const type = ctx.jobType(row.name);
    const deadNow = isNonRetryable(error) || (type.retryPermanentErrors !== true && isPermanentPortalError(error));
    const delay = deadNow ? undefined : retryDelayMs(Number(row.attempts), Number(row.max_attempts), type, ctx.random);
    const state = delay === undefined ? 'dead' : 'queued';
    const updated = await tx.one<JobRow>(
      `UPDATE ${JOBS_TABLE}
       SET state = ?, run_at_ms = ?, lease_owner = NULL, lease_expires_at_ms = NULL, finished_at_ms = ?, last_error = ?, history = ?, updated_at_ms = ?
       WHERE id = ? RETURNING ${JOB_COLUMNS}`,
      [state, delay === undefined ? Number(row.run_at_ms) : now + delay, state === 'dead' ? now : null, text, withAttempt(row, now, text), now, jobId],
    );
    return { job: toJob(updated!), state };
  });
}

/**
 * Puts the job back until `untilMs` WITHOUT burning the attempt (the portal is rate-limited or
 * down: the job is fine, the moment is not). Not recorded in the history; counted in `postpones`.
 */
export async function postponeJob(ctx: QueueContext, jobId: number, workerId: string, untilMs: number, reason: string | undefined, check: LeaseCheck = {}): Promise<Job> {
  return withLease(ctx, jobId, workerId, check, async (tx, row, now) => {
    const updated = await tx.one<JobRow>(
      `UPDATE ${JOBS_TABLE}
       SET state = 'queued', attempts = attempts - 1, postpones = postpones + 1, run_at_ms = ?, lease_owner = NULL, lease_expires_at_ms = NULL,
           last_error = ?, updated_at_ms = ?
       WHERE id = ? RETURNING ${JOB_COLUMNS}`,
      [Math.max(untilMs, now), reason ?? row.last_error, now, jobId],
    );
    return toJob(updated!);
  });
}

/** Hands the job back at once, giving back the attempt (graceful shutdown). */
export async function releaseJob(ctx: QueueContext, jobId: number, workerId: string, check: LeaseCheck = {}): Promise<Job> {
  return withLease(ctx, jobId, workerId, check, async (tx, _row, now) => {
    const updated = await tx.one<JobRow>(
      `UPDATE ${JOBS_TABLE}
       SET state = 'queued', attempts = attempts - 1, run_at_ms = ?, lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?
       WHERE id = ? RETURNING ${JOB_COLUMNS}`,
      [now, now, jobId],
    );
    return toJob(updated!);
  });
}
