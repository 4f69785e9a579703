/**
 * Per-portal fairness and the per-portal concurrency cap, decided inside the claim transaction.
 *
 * Round robin: a claim takes every portal's first due job before any portal's second, visiting
 * portals in the order they were last served (`turn`: the claim_seq of the claim that last served the
 * portal, a counter every claim bumps; the clock is not used, so the order holds when many claims
 * happen within one millisecond or under a test's frozen clock), each portal's jobs oldest first. A
 * portal with 500 queued jobs and one with 5 therefore alternate: the small one is not starved.
 *
 * Cost: the claim does not rank the backlog. It reads the per-portal heads table
 * (b24kit_job_heads, migration 0010: each portal's turn and a lower bound of its queued jobs' run_at_ms,
 * kept by triggers) in round-robin order, and for the first portals there up to `limit` due jobs each
 * through the index (state, member_id, run_at_ms, id). So a claim costs O(portals it visits), whatever
 * the backlog: 10 jobs or 1,000,000. A head whose bound turned out stale (its jobs were claimed, or
 * moved later) is raised to the truth once, so it is not visited again until a job is due there.
 *
 * Cap: a portal never has more than `maxRunningPerPortal` running jobs across all workers. SQLite
 * serializes claims (one write lock), so the count read in the claim is exact. PostgreSQL runs claims
 * concurrently under READ COMMITTED, where two claimers could both see "1 running" and both take
 * one: a claim therefore takes a transaction-scoped advisory lock per portal it claims from (in
 * sorted order, so claims never deadlock) and counts again under it.
 */
import type { SqlValue, Transaction } from '../store/types.js';
import { JOBS_TABLE } from './job-row.js';

export interface Candidate {
  id: number;
  memberId: string;
}

export const JOB_HEADS_TABLE = 'b24kit_job_heads';

/** Stands in for "no cap". */
const NO_CAP = 1_000_000_000;

interface Head {
  memberId: string;
  turn: number;
  dueAtMs: number;
}

interface PortalDue {
  head: Head;
  /** Due jobs of the portal, oldest first, at most what the claim could take from it. */
  jobs: Array<{ id: number; runAtMs: number }>;
}

/** Due jobs in fair order, at most `limit`, without exceeding any portal's cap (as counted now). */
export async function fairCandidates(
  tx: Transaction,
  options: { nowMs: number; limit: number; maxRunningPerPortal: number; names: readonly string[] | undefined },
): Promise<Candidate[]> {
  const cap = Number.isFinite(options.maxRunningPerPortal) ? options.maxRunningPerPortal : NO_CAP;
  const { nowMs, limit } = options;
  const names = options.names ?? [];
  const pageSize = Math.max(16, 2 * limit);
  const portals: PortalDue[] = [];
  const stale: string[] = [];
  let after: Head | undefined;
  // the first `limit` portals (in turn order) with a due job and room under the cap hold the claim's first round;
  // fewer than that, and every portal with a due job is among them
  while (portals.length < limit) {
    const heads = await nextHeads(tx, nowMs, after, pageSize);
    if (heads.length === 0) break;
    after = heads[heads.length - 1];
    const room = await roomUnderCap(tx, heads, cap);
    const due = await dueJobs(tx, heads, room, { nowMs, limit, names });
    for (const head of heads) {
      const jobs = due.get(head.memberId) ?? [];
      if (jobs.length > 0) portals.push({ head, jobs });
      else if ((room.get(head.memberId) ?? 0) > 0) stale.push(head.memberId);
    }
    if (heads.length < pageSize) break;
  }
  await raiseStaleHeads(tx, stale);
  // same turn: the portal whose oldest due job is older goes first (then that job's id)
  portals.sort((a, b) => a.head.turn - b.head.turn || a.jobs[0]!.runAtMs - b.jobs[0]!.runAtMs || a.jobs[0]!.id - b.jobs[0]!.id);
  const picked: Candidate[] = [];
  for (let round = 0; picked.length < limit; round++) {
    let any = false;
    for (const portal of portals) {
      const job = portal.jobs[round];
      if (!job) continue;
      any = true;
      picked.push({ id: job.id, memberId: portal.head.memberId });
      if (picked.length === limit) break;
    }
    if (!any) break;
  }
  return picked;
}

/** Heads whose bound says a job may be due, in round-robin order, after `after`. */
async function nextHeads(tx: Transaction, nowMs: number, after: Head | undefined, pageSize: number): Promise<Head[]> {
  const keyset = after ? ' AND (turn, due_at_ms, member_id) > (?, ?, ?)' : '';
  const params: SqlValue[] = after ? [nowMs, after.turn, after.dueAtMs, after.memberId] : [nowMs];
  const rows = await tx.all<{ member_id: string; turn: number; due_at_ms: number }>(
    `SELECT member_id, turn, due_at_ms FROM ${JOB_HEADS_TABLE}
     WHERE due_at_ms <= ?${keyset} ORDER BY turn, due_at_ms, member_id LIMIT ${pageSize}`,
    params,
  );
  return rows.map((row) => ({ memberId: row.member_id, turn: Number(row.turn), dueAtMs: Number(row.due_at_ms) }));
}

/** How many more jobs each portal may run now. */
async function roomUnderCap(tx: Transaction, heads: Head[], cap: number): Promise<Map<string, number>> {
  const ids = heads.map((head) => head.memberId);
  const counts = await tx.all<{ member_id: string; n: number }>(
    `SELECT member_id, COUNT(*) AS n FROM ${JOBS_TABLE} WHERE state = 'running' AND member_id IN (${marks(ids)}) GROUP BY member_id`,
    ids,
  );
  const room = new Map(ids.map((id) => [id, cap]));
  for (const row of counts) room.set(row.member_id, cap - Number(row.n));
  return room;
}

/** Up to min(limit, room) due jobs of each portal with room, oldest first: one statement, one index range per portal. */
async function dueJobs(
  tx: Transaction,
  heads: Head[],
  room: Map<string, number>,
  options: { nowMs: number; limit: number; names: readonly string[] },
): Promise<Map<string, Array<{ id: number; runAtMs: number }>>> {
  const nameFilter = options.names.length > 0 ? ` AND name IN (${marks(options.names)})` : '';
  const parts: string[] = [];
  const params: SqlValue[] = [];
  for (const head of heads) {
    const take = Math.min(options.limit, room.get(head.memberId) ?? 0);
    if (take <= 0) continue;
    parts.push(
      `SELECT * FROM (SELECT id, member_id, run_at_ms FROM ${JOBS_TABLE}
       WHERE state = 'queued' AND member_id = ? AND run_at_ms <= ?${nameFilter} ORDER BY run_at_ms, id LIMIT ${take}) AS p${parts.length}`,
    );
    params.push(head.memberId, options.nowMs, ...options.names);
  }
  const due = new Map<string, Array<{ id: number; runAtMs: number }>>();
  if (parts.length === 0) return due;
  const rows = await tx.all<{ id: number; member_id: string; run_at_ms: number }>(parts.join('\nUNION ALL\n'), params);
  for (const row of rows) {
    const jobs = due.get(row.member_id) ?? [];
    jobs.push({ id: Number(row.id), runAtMs: Number(row.run_at_ms) });
    due.set(row.member_id, jobs);
  }
  for (const jobs of due.values()) jobs.sort((a, b) => a.runAtMs - b.runAtMs || a.id - b.id);
  return due;
}

/**
 * Portals visited with room but no due job (of any name the claimer takes): their bound is raised to
 * their oldest queued job (NULL: none), so claims stop visiting them until then. On PostgreSQL only
 * heads no open transaction has queued a job under (FOR UPDATE SKIP LOCKED against the triggers'
 * FOR KEY SHARE): the bound is recomputed from what is committed, so it can only become too low, never
 * too high. The others stay as they are, which costs a visit, not a job.
 */
async function raiseStaleHeads(tx: Transaction, memberIds: string[]): Promise<void> {
  if (memberIds.length === 0) return;
  let ids = [...memberIds].sort();
  if (tx.dialect === 'postgres') {
    const locked = await tx.all<{ member_id: string }>(
      `SELECT member_id FROM ${JOB_HEADS_TABLE} WHERE member_id IN (${marks(ids)}) ORDER BY member_id FOR UPDATE SKIP LOCKED`,
      ids,
    );
    ids = locked.map((row) => row.member_id);
    if (ids.length === 0) return;
  }
  await tx.run(
    `UPDATE ${JOB_HEADS_TABLE}
     SET due_at_ms = (SELECT MIN(j.run_at_ms) FROM ${JOBS_TABLE} j WHERE j.state = 'queued' AND j.member_id = ${JOB_HEADS_TABLE}.member_id)
     WHERE member_id IN (${marks(ids)})`,
    ids,
  );
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

function marks(values: readonly unknown[]): string {
  return values.map(() => '?').join(', ');
}
