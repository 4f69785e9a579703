/**
 * Per-portal fairness and the per-portal concurrency cap, decided inside the claim transaction.
 *
 * Round robin: due jobs are ranked within their portal (oldest first: `rn`), and a claim takes
 * every portal's first job before any portal's second, visiting portals in the order they were
 * last served (`claim_seq`, a counter every claim bumps; the clock is not used, so the order holds
 * when many claims happen within one millisecond or under a test's frozen clock). A portal with
 * 500 queued jobs and one with 5 therefore alternate: the small one is not starved.
 *
 * Cap: a portal never has more than `maxRunningPerPortal` running jobs across all workers. SQLite
 * serializes claims (one write lock), so the count read in the claim is exact. PostgreSQL runs claims
 * concurrently under READ COMMITTED, where two claimers could both see "1 running" and both take
 * one: a claim therefore takes a transaction-scoped advisory lock per portal it claims from (in
 * sorted order, so claims never deadlock) and counts again under it.
 */
import type { Transaction } from '../store/types.js';
import { JOBS_TABLE } from './job-row.js';

export interface Candidate {
  id: number;
  memberId: string;
}

/** Stands in for "no cap" in SQL. */
const NO_CAP = 1_000_000_000;

/** Due jobs in fair order, at most `limit`, without exceeding any portal's cap (as counted now). */
export async function fairCandidates(
  tx: Transaction,
  options: { nowMs: number; limit: number; maxRunningPerPortal: number; names: readonly string[] | undefined },
): Promise<Candidate[]> {
  const cap = Number.isFinite(options.maxRunningPerPortal) ? options.maxRunningPerPortal : NO_CAP;
  const names = options.names ?? [];
  const nameFilter = names.length > 0 ? ` AND name IN (${names.map(() => '?').join(', ')})` : '';
  const rows = await tx.all<{ id: number; member_id: string }>(
    `WITH due AS (
       SELECT id, member_id, run_at_ms, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY run_at_ms, id) AS rn
       FROM ${JOBS_TABLE}
       WHERE state = 'queued' AND run_at_ms <= ?${nameFilter}
     ),
     heads AS (
       SELECT member_id,
         (SELECT COUNT(*) FROM ${JOBS_TABLE} r WHERE r.state = 'running' AND r.member_id = due.member_id) AS running,
         COALESCE((SELECT MAX(c.claim_seq) FROM ${JOBS_TABLE} c WHERE c.member_id = due.member_id), 0) AS turn
       FROM due WHERE rn = 1
     )
     SELECT due.id, due.member_id
     FROM due JOIN heads ON heads.member_id = due.member_id
     WHERE due.rn + heads.running <= ? AND due.rn <= ?
     ORDER BY due.rn, heads.turn, due.run_at_ms, due.id
     LIMIT ?`,
    [options.nowMs, ...names, cap, options.limit, options.limit],
  );
  return rows.map((row) => ({ id: Number(row.id), memberId: row.member_id }));
}

/**
 * PostgreSQL with a cap: serializes claims per portal (advisory locks held to commit), recounts the
 * running jobs, and drops the candidates that would exceed the cap. Returns the candidates kept.
 */
export async function enforcePortalCap(tx: Transaction, candidates: Candidate[], maxRunningPerPortal: number): Promise<Candidate[]> {
  if (tx.dialect !== 'postgres' || !Number.isFinite(maxRunningPerPortal) || candidates.length === 0) return candidates;
  const portals = [...new Set(candidates.map((c) => c.memberId))].sort();
  for (const memberId of portals) {
    // keyed by schema, like the migration lock, so test schemas don't serialize each other
    await tx.run(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':${JOBS_TABLE}:' || ?))`, [memberId]);
  }
  const counts = await tx.all<{ member_id: string; n: number }>(
    `SELECT member_id, COUNT(*) AS n FROM ${JOBS_TABLE} WHERE state = 'running' AND member_id IN (${portals.map(() => '?').join(', ')}) GROUP BY member_id`,
    portals,
  );
  const room = new Map(portals.map((memberId) => [memberId, maxRunningPerPortal]));
  for (const row of counts) room.set(row.member_id, maxRunningPerPortal - Number(row.n));
  return candidates.filter((candidate) => {
    const left = room.get(candidate.memberId) ?? 0;
    if (left <= 0) return false;
    room.set(candidate.memberId, left - 1);
    return true;
  });
}
