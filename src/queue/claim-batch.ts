/**
 * Claiming in batches: a job type declared with a batch size runs several of its due jobs of ONE
 * portal in one handler call (the orders plugin packs many orders into one Bitrix24 `batch`).
 *
 * The claim is the ordinary one (claim.ts: reap, fair order, the per-portal cap, locks), and in the
 * same transaction every claimed job of a batch type gathers its followers: further due, queued
 * jobs of the same name and portal, oldest first, up to the batch size. Leads of one name and portal
 * that the fair pick returned together share a batch. Each follower is leased like its lead (its own
 * attempt, lease, history and outcome). A batch is one run under the portal's cap
 * (`maxRunningPerPortal`): one handler whose calls go one after another, in one worker slot, so only
 * the lead needed room — the followers ride in its handler call. They count as running while the
 * batch runs, so the portal's other jobs wait for it to end. (Followers taking slots made batches
 * no bigger than the cap, and smaller still when a claim came while the previous batch's outcomes
 * were being written one by one: docs/app.md "Batch jobs".)
 */
import type { Transaction } from '../store/types.js';
import { leaseDueJobs } from './claim.js';
import type { QueueContext } from './context.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, type JobRow } from './job-row.js';
import type { ClaimOptions, Job } from './types.js';

export interface GroupClaimOptions extends ClaimOptions {
  /** Batch sizes by job name: a job of such a name is claimed with up to size − 1 followers. Sizes below 2 mean no batching. */
  batchSizes: Readonly<Record<string, number>>;
}

/**
 * Claims up to `limit` runs: a run is one job, or for a batch type up to its size of jobs of one
 * name and portal (oldest first). Returns the runs in fair order.
 */
export async function claimJobGroups(ctx: QueueContext, workerId: string, options: GroupClaimOptions): Promise<Job[][]> {
  const limit = Math.max(0, Math.floor(options.limit ?? 1));
  if (limit === 0) return [];
  const leaseMs = options.leaseMs ?? ctx.leaseMs;
  return ctx.store.transaction(async (tx) => {
    const claimed = await leaseDueJobs(tx, ctx, workerId, { limit, leaseMs, names: options.names });
    if (claimed.jobs.length === 0) return [];
    const groups: Job[][] = [];
    const open = new Map<string, Job[]>();
    for (const job of claimed.jobs) {
      const size = batchSize(options.batchSizes, job.name);
      if (size < 2) {
        groups.push([job]);
        continue;
      }
      const key = `${job.name}\u0000${job.memberId}`;
      const group = open.get(key);
      if (group && group.length < size) {
        group.push(job);
        continue;
      }
      const fresh = [job];
      open.set(key, fresh);
      groups.push(fresh);
    }
    for (const group of groups) {
      const lead = group[0]!;
      const room = batchSize(options.batchSizes, lead.name) - group.length;
      if (room <= 0) continue;
      group.push(...(await leaseFollowers(tx, lead, room, { workerId, leaseMs, turn: claimed.turn, nowMs: claimed.nowMs })));
    }
    return groups;
  });
}

function batchSize(sizes: Readonly<Record<string, number>>, name: string): number {
  const size = Object.hasOwn(sizes, name) ? sizes[name] : undefined;
  return size === undefined || !Number.isFinite(size) ? 1 : Math.floor(size);
}

/** Leases up to `count` more due, queued jobs of the lead's name and portal, oldest first. */
async function leaseFollowers(
  tx: Transaction,
  lead: Job,
  count: number,
  lease: { workerId: string; leaseMs: number; turn: number; nowMs: number },
): Promise<Job[]> {
  const now = lease.nowMs;
  // SKIP LOCKED: another claimer's followers are theirs; SQLite's write lock already excludes it
  const free = await tx.all<{ id: number }>(
    `SELECT id FROM ${JOBS_TABLE}
     WHERE state = 'queued' AND name = ? AND member_id = ? AND run_at_ms <= ?
     ORDER BY run_at_ms, id LIMIT ${Math.floor(count)} FOR UPDATE SKIP LOCKED`,
    [lead.name, lead.memberId, now],
  );
  if (free.length === 0) return [];
  const ids = free.map((row) => Number(row.id));
  const rows = await tx.all<JobRow>(
    `UPDATE ${JOBS_TABLE}
     SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at_ms = ?, claim_seq = ?,
         started_at_ms = ?, finished_at_ms = NULL, updated_at_ms = ?
     WHERE id IN (${ids.map(() => '?').join(', ')}) AND state = 'queued'
     RETURNING ${JOB_COLUMNS}`,
    [lease.workerId, now + lease.leaseMs, lease.turn, now, now, ...ids],
  );
  return rows.map((row) => toJob(row)).sort((a, b) => a.runAtMs - b.runAtMs || a.id - b.id);
}
