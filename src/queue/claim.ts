/**
 * Claiming due jobs: one short transaction that returns expired leases to the queue, picks jobs
 * fairly (fairness.ts), locks them (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's BEGIN
 * IMMEDIATE already excludes every other writer) and leases them to the worker.
 */
import type { Transaction } from '../store/types.js';
import type { QueueContext } from './context.js';
import { enforcePortalCap, fairCandidates } from './fairness.js';
import { JOB_COLUMNS, JOBS_TABLE, parseHistory, toJob, type JobRow } from './job-row.js';
import type { AttemptRecord, ClaimOptions, Job } from './types.js';

/** Expired leases handled per claim; the rest wait for the next one. */
const REAP_BATCH = 100;

export async function claimJobs(ctx: QueueContext, workerId: string, options: ClaimOptions = {}): Promise<Job[]> {
  const limit = Math.max(0, Math.floor(options.limit ?? 1));
  if (limit === 0) return [];
  const leaseMs = options.leaseMs ?? ctx.leaseMs;
  return ctx.store.transaction(async (tx) => (await leaseDueJobs(tx, ctx, workerId, { limit, leaseMs, names: options.names })).jobs);
}

/**
 * The claim's body, inside the caller's transaction (claim-batch.ts adds a batch's followers in the
 * same one): reaps, picks fairly, locks and leases. Returns the jobs in fair order and the claim's turn.
 */
export async function leaseDueJobs(
  tx: Transaction,
  ctx: QueueContext,
  workerId: string,
  options: { limit: number; leaseMs: number; names: readonly string[] | undefined },
): Promise<{ jobs: Job[]; turn: number; nowMs: number }> {
  const { limit, leaseMs } = options;
  const now = ctx.nowMs();
  await reapExpiredLeases(tx, now);
  const candidates = await fairCandidates(tx, { nowMs: now, limit, maxRunningPerPortal: ctx.maxRunningPerPortal, names: options.names });
  const allowed = await enforcePortalCap(tx, candidates, ctx.maxRunningPerPortal);
  if (allowed.length === 0) return { jobs: [], turn: 0, nowMs: now };
  const ids = allowed.map((c) => c.id);
  const marks = ids.map(() => '?').join(', ');
  // another claimer may hold or have taken some of them meanwhile: skip those, don't wait
  const locked = await tx.all<{ id: number }>(
    `SELECT id FROM ${JOBS_TABLE} WHERE id IN (${marks}) AND state = 'queued' AND run_at_ms <= ? FOR UPDATE SKIP LOCKED`,
    [...ids, now],
  );
  if (locked.length === 0) return { jobs: [], turn: 0, nowMs: now };
  const turn = await tx.one<{ seq: number }>(`SELECT COALESCE(MAX(claim_seq), 0) + 1 AS seq FROM ${JOBS_TABLE}`);
  const seq = Number(turn?.seq ?? 1);
  const lockedIds = locked.map((row) => Number(row.id));
  const rows = await tx.all<JobRow>(
    `UPDATE ${JOBS_TABLE}
     SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at_ms = ?, claim_seq = ?,
         started_at_ms = ?, finished_at_ms = NULL, updated_at_ms = ?
     WHERE id IN (${lockedIds.map(() => '?').join(', ')}) AND state = 'queued'
     RETURNING ${JOB_COLUMNS}`,
    [workerId, now + leaseMs, seq, now, now, ...lockedIds],
  );
  const order = new Map(ids.map((id, index) => [id, index]));
  return { jobs: rows.map((row) => toJob(row)).sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)), turn: seq, nowMs: now };
}

/**
 * Jobs whose lease expired — their worker died or stopped heartbeating — go back to `queued`
 * (or `dead`, if that was their last attempt). The lost lease is recorded as a failed attempt.
 * Returns how many were handled.
 */
export async function reapExpiredLeases(tx: Transaction, now: number): Promise<number> {
  const expired = await tx.all<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE}
     WHERE state = 'running' AND lease_expires_at_ms <= ?
     ORDER BY lease_expires_at_ms LIMIT ${REAP_BATCH} FOR UPDATE SKIP LOCKED`,
    [now],
  );
  for (const row of expired) {
    const attempt = Number(row.attempts);
    const error = `lease expired: worker ${row.lease_owner ?? '?'} stopped heartbeating`;
    const history: AttemptRecord[] = [...parseHistory(row.history), { attempt, at: now, error, durationMs: now - Number(row.started_at_ms ?? now) }];
    const dead = attempt >= Number(row.max_attempts);
    await tx.run(
      `UPDATE ${JOBS_TABLE}
       SET state = ?, lease_owner = NULL, lease_expires_at_ms = NULL, run_at_ms = ?, finished_at_ms = ?, last_error = ?, history = ?, updated_at_ms = ?
       WHERE id = ? AND state = 'running' AND lease_owner = ?`,
      [dead ? 'dead' : 'queued', now, dead ? now : null, error, JSON.stringify(history), now, row.id, row.lease_owner],
    );
  }
  return expired.length;
}
