/**
 * `ctx.once(key, fn)`: fn's result stored per (job, key) in `b24kit_job_once`. A job that fails
 * after fn completed — or whose worker died — is retried; its next run finds the stored result
 * and does not run fn again. Keyed by the job id, so `b24kit jobs retry` keeps the memo too.
 *
 * The window that remains: fn completed but the process died before the INSERT committed. Then
 * fn runs again. Give fn's effect a natural idempotency key where the API has one (ORIGIN_ID,
 * docs/protocol.md §6.3) to close it.
 */
import { B24Error } from '../errors.js';
import type { Store, Transaction } from '../store/types.js';

export const ONCE_TABLE = 'b24kit_job_once';

export interface OnceScope {
  store: Store;
  jobId: number;
  memberId: string;
  nowMs: () => number;
}

export async function runOnce<T>(scope: OnceScope, key: string, fn: () => Promise<T> | T): Promise<T> {
  if (typeof key !== 'string' || key === '' || key.length > 200) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'ctx.once: the key must be a string of 1–200 characters');
  const stored = await read(scope, key);
  if (stored.found) return stored.value as T;
  const value = await fn();
  const text = JSON.stringify(value === undefined ? null : value);
  await scope.store.run(
    `INSERT INTO ${ONCE_TABLE} (job_id, once_key, member_id, result, created_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, once_key) DO NOTHING`,
    [scope.jobId, key, scope.memberId, text, scope.nowMs()],
  );
  // another run of the same job (a lost lease) may have stored first: everyone returns the stored value
  const winner = await read(scope, key);
  return (winner.found ? winner.value : value) as T;
}

async function read(scope: OnceScope, key: string): Promise<{ found: boolean; value?: unknown }> {
  const row = await scope.store.one<{ result: string }>(`SELECT result FROM ${ONCE_TABLE} WHERE job_id = ? AND once_key = ?`, [scope.jobId, key]);
  if (!row) return { found: false };
  const parsed: unknown = JSON.parse(row.result);
  // undefined is stored as null; hand back undefined for it (what a void fn returned)
  return { found: true, value: parsed === null ? undefined : parsed };
}

/** The per-portal cleanup for PortalRegistry.purge. */
export async function deletePortalOnce(tx: Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${ONCE_TABLE} WHERE member_id = ?`, [memberId]);
}

/** Deletes the memos of jobs about to be deleted (a discarded dead letter), in the caller's transaction. */
export async function deleteJobsOnce(tx: Transaction, jobIds: readonly number[]): Promise<void> {
  for (let start = 0; start < jobIds.length; start += 500) {
    const chunk = jobIds.slice(start, start + 500);
    await tx.run(`DELETE FROM ${ONCE_TABLE} WHERE job_id IN (${chunk.map(() => '?').join(', ')})`, chunk);
  }
}
