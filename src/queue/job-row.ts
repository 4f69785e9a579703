/** The jobs table's row and its mapping to {@link Job}. */
import type { AttemptRecord, Job, JobState } from './types.js';

export const JOBS_TABLE = 'b24kit_jobs';

export interface JobRow {
  id: number;
  member_id: string;
  name: string;
  payload: string;
  idempotency_key: string | null;
  state: JobState;
  attempts: number;
  max_attempts: number;
  postpones: number;
  run_at_ms: number;
  lease_owner: string | null;
  lease_expires_at_ms: number | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  last_error: string | null;
  history: string;
  result: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export const JOB_COLUMNS =
  'id, member_id, name, payload, idempotency_key, state, attempts, max_attempts, postpones, run_at_ms, lease_owner, ' +
  'lease_expires_at_ms, started_at_ms, finished_at_ms, last_error, history, result, created_at_ms, updated_at_ms';

/** Numbers may arrive as strings from some drivers' aggregates; ids and times are always < 2^53. */
function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function parseHistory(text: string | null | undefined): AttemptRecord[] {
  if (!text) return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as AttemptRecord[]) : [];
}

export function toJob<P = unknown, R = unknown>(row: JobRow): Job<P, R> {
  return {
    id: num(row.id),
    memberId: row.member_id,
    name: row.name,
    payload: JSON.parse(row.payload) as P,
    key: row.idempotency_key,
    state: row.state,
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    postpones: num(row.postpones),
    runAtMs: num(row.run_at_ms),
    leaseOwner: row.lease_owner,
    leaseExpiresAtMs: numOrNull(row.lease_expires_at_ms),
    startedAtMs: numOrNull(row.started_at_ms),
    finishedAtMs: numOrNull(row.finished_at_ms),
    lastError: row.last_error,
    history: parseHistory(row.history),
    result: row.result === null ? null : (JSON.parse(row.result) as R),
    createdAtMs: num(row.created_at_ms),
    updatedAtMs: num(row.updated_at_ms),
  };
}

/** JSON text of a payload or result; `undefined` is stored as null. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

/** Deletes every job of a portal and its queue head (its uninstall with CLEAN; `ctx.once` memos are purged with their own table). */
export async function deletePortalJobs(tx: import('../store/types.js').Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${JOBS_TABLE} WHERE member_id = ?`, [memberId]);
  await tx.run('DELETE FROM b24kit_job_heads WHERE member_id = ?', [memberId]); // fairness.ts JOB_HEADS_TABLE
}
