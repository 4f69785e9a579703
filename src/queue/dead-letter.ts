/**
 * Dead letters: a dead job keeps its last error and the history of every attempt until it is
 * replayed (back to `queued`, attempts reset, history kept) or purged.
 */
import { B24Error } from '../errors.js';
import type { SqlValue, Transaction } from '../store/types.js';
import type { QueueContext } from './context.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, type JobRow } from './job-row.js';
import { notifyJobs } from './notify.js';
import type { Job, JobState } from './types.js';

/**
 * Runs a dead job again — or a queued one now, rather than at its backoff time — with its attempts
 * reset. A running or succeeded job cannot be replayed (B24_ERR_JOB_STATE).
 */
export async function replayJob(ctx: QueueContext, jobId: number): Promise<Job> {
  const job = await ctx.store.transaction(async (tx) => {
    const row = await tx.one<JobRow>(`SELECT state FROM ${JOBS_TABLE} WHERE id = ? FOR UPDATE`, [jobId]);
    if (!row) throw new B24Error('B24_ERR_JOB_NOT_FOUND', `Job ${jobId} does not exist`);
    if (row.state !== 'dead' && row.state !== 'queued') throw new B24Error('B24_ERR_JOB_STATE', `Job ${jobId} is ${row.state}; only dead or queued jobs can be replayed`);
    const now = ctx.nowMs();
    const updated = await tx.one<JobRow>(
      `UPDATE ${JOBS_TABLE} SET state = 'queued', attempts = 0, postpones = 0, run_at_ms = ?, finished_at_ms = NULL, updated_at_ms = ?
       WHERE id = ? RETURNING ${JOB_COLUMNS}`,
      [now, now, jobId],
    );
    await notifyJobs(tx);
    return toJob(updated!);
  });
  ctx.wakeups.notify();
  return job;
}

/** Replays every dead job (of one portal and/or one job type). Returns how many. */
export async function replayDeadJobs(ctx: QueueContext, filter: DeadJobFilter = {}): Promise<number> {
  const { where, params } = deadWhere(filter);
  const now = ctx.nowMs();
  const count = await ctx.store.transaction(async (tx) => {
    const result = await tx.run(
      `UPDATE ${JOBS_TABLE} SET state = 'queued', attempts = 0, postpones = 0, run_at_ms = ?, finished_at_ms = NULL, updated_at_ms = ? WHERE ${where}`,
      [now, now, ...params],
    );
    if (result.rowCount > 0) await notifyJobs(tx);
    return result.rowCount;
  });
  if (count > 0) ctx.wakeups.notify();
  return count;
}

/** Which dead jobs to act on: one portal's and/or one job type's (all when empty). */
export interface DeadJobFilter {
  memberId?: string;
  name?: string;
}

/** Runs in the discard's transaction with the ids about to be deleted (the app deletes their `ctx.once` memos). */
export type BeforeDiscard = (tx: Transaction, jobIds: readonly number[]) => Promise<void>;

/**
 * Discards a dead job: deletes it and its attempt history for good (the dead letter was read and
 * judged not worth running). Only dead jobs can be discarded (B24_ERR_JOB_STATE); an unknown id is
 * B24_ERR_JOB_NOT_FOUND. Returns the job as it was.
 */
export async function discardJob(ctx: QueueContext, jobId: number, beforeDelete?: BeforeDiscard): Promise<Job> {
  return ctx.store.transaction(async (tx) => {
    const row = await tx.one<JobRow>(`SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE} WHERE id = ? FOR UPDATE`, [jobId]);
    if (!row) throw new B24Error('B24_ERR_JOB_NOT_FOUND', `Job ${jobId} does not exist`);
    if (row.state !== 'dead') throw new B24Error('B24_ERR_JOB_STATE', `Job ${jobId} is ${row.state}; only dead jobs can be discarded`);
    await beforeDelete?.(tx, [jobId]);
    await tx.run(`DELETE FROM ${JOBS_TABLE} WHERE id = ?`, [jobId]);
    return toJob(row);
  });
}

/** Discards every dead job (of one portal and/or one job type). Returns how many. */
export async function discardDeadJobs(ctx: QueueContext, filter: DeadJobFilter = {}, beforeDelete?: BeforeDiscard): Promise<number> {
  const { where, params } = deadWhere(filter);
  return ctx.store.transaction(async (tx) => {
    const rows = await tx.all<{ id: number }>(`SELECT id FROM ${JOBS_TABLE} WHERE ${where} FOR UPDATE`, params);
    if (rows.length === 0) return 0;
    const ids = rows.map((row) => Number(row.id));
    await beforeDelete?.(tx, ids);
    // by id: a job that died after the SELECT keeps its memos and its dead letter
    let deleted = 0;
    for (let start = 0; start < ids.length; start += DELETE_CHUNK) {
      const chunk = ids.slice(start, start + DELETE_CHUNK);
      deleted += (await tx.run(`DELETE FROM ${JOBS_TABLE} WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk)).rowCount;
    }
    return deleted;
  });
}

/** Ids per DELETE: well under SQLite's and PostgreSQL's bound-parameter limits. */
const DELETE_CHUNK = 500;

function deadWhere(filter: DeadJobFilter): { where: string; params: SqlValue[] } {
  const clauses: string[] = ["state = 'dead'"];
  const params: SqlValue[] = [];
  if (filter.memberId !== undefined) {
    clauses.push('member_id = ?');
    params.push(filter.memberId);
  }
  if (filter.name !== undefined) {
    clauses.push('name = ?');
    params.push(filter.name);
  }
  return { where: clauses.join(' AND '), params };
}

/**
 * Deletes finished jobs that ended before `finishedBeforeMs` (retention). Their idempotency keys
 * are free again afterwards. Returns how many.
 */
export async function purgeJobs(ctx: QueueContext, options: { finishedBeforeMs: number; states?: ReadonlyArray<Extract<JobState, 'succeeded' | 'dead'>> }): Promise<number> {
  const states = options.states ?? ['succeeded'];
  if (states.length === 0) return 0;
  const result = await ctx.store.run(
    `DELETE FROM ${JOBS_TABLE} WHERE state IN (${states.map(() => '?').join(', ')}) AND finished_at_ms < ?`,
    [...states, options.finishedBeforeMs],
  );
  return result.rowCount;
}
