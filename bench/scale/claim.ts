/**
 * Claim latency against the backlog: 10,000 portals with 1, 10 and 100 due jobs each (10k, 100k, 1M
 * rows, bulk-inserted with one SQL statement), then claims of 1 and of 10 jobs (each completed right
 * away, so the backlog stays put). Beside it, the ranking query the claim ran before the per-portal
 * heads table (every due job ranked within its portal), run read-only on the same rows.
 */
import { JobQueue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import type { BenchDatabase } from './db.js';
import { percentiles } from './db.js';

export const PORTALS = 10_000;
const NOW = Date.UTC(2026, 0, 1);

export interface ClaimRow {
  dialect: string;
  backlog: number;
  insertSeconds: number;
  claim1: { p50: number; p95: number };
  claim10: { p50: number; p95: number };
  ranking: { p50: number } | undefined;
}

/** Adds `perPortal` due jobs to each of PORTALS portals (member_id `p00000`…), in portal order, run_at spread over the past hour. */
export async function insertBacklog(store: Store, perPortal: number): Promise<void> {
  const total = PORTALS * perPortal;
  if (store.dialect === 'postgres') {
    await store.run(
      `INSERT INTO b24kit_jobs (member_id, name, payload, state, max_attempts, run_at_ms, created_at_ms, updated_at_ms)
       SELECT 'p' || lpad((g / ${perPortal})::text, 5, '0'), 'sync', '{"n":' || g || '}', 'queued', 8, ${NOW} - 3600000 + (g % 3600000), ${NOW}, ${NOW}
       FROM generate_series(0, ${total - 1}) AS g`,
    );
    await store.run('ANALYZE b24kit_jobs');
    await store.run('ANALYZE b24kit_job_heads');
    return;
  }
  await store.run(
    `WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < ${total - 1})
     INSERT INTO b24kit_jobs (member_id, name, payload, state, max_attempts, run_at_ms, created_at_ms, updated_at_ms)
     SELECT 'p' || substr('0000' || (n / ${perPortal}), -5, 5), 'sync', '{"n":' || n || '}', 'queued', 8, ${NOW} - 3600000 + (n % 3600000), ${NOW}, ${NOW} FROM g`,
  );
  await store.run('ANALYZE');
}

/** The claim's ranking before migration 0010 (src/queue/fairness.ts at 9cd23d3), as a read-only query. */
const RANKING_BEFORE = `WITH due AS (
   SELECT id, member_id, run_at_ms, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY run_at_ms, id) AS rn
   FROM b24kit_jobs WHERE state = 'queued' AND run_at_ms <= ?
 ),
 heads AS (
   SELECT member_id,
     (SELECT COUNT(*) FROM b24kit_jobs r WHERE r.state = 'running' AND r.member_id = due.member_id) AS running,
     COALESCE((SELECT MAX(c.claim_seq) FROM b24kit_jobs c WHERE c.member_id = due.member_id), 0) AS turn
   FROM due WHERE rn = 1
 )
 SELECT due.id, due.member_id FROM due JOIN heads ON heads.member_id = due.member_id
 WHERE due.rn + heads.running <= 4 AND due.rn <= ?
 ORDER BY due.rn, heads.turn, due.run_at_ms, due.id LIMIT ?`;

async function timeClaims(queue: JobQueue, limit: number, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    const jobs = await queue.claim('bench', { limit, names: ['sync'] });
    times.push(performance.now() - started);
    if (jobs.length !== limit) throw new Error(`claim of ${limit} returned ${jobs.length}`);
    for (const job of jobs) await queue.complete(job.id, 'bench');
  }
  return times;
}

export async function measureClaims(db: BenchDatabase, options: { backlogs: number[]; rankingUpTo: number }): Promise<ClaimRow[]> {
  const store = await db.open();
  const rows: ClaimRow[] = [];
  try {
    const queue = new JobQueue({ store, nowMs: () => NOW, leaseMs: 3_600_000 });
    for (const backlog of options.backlogs) {
      const started = performance.now();
      const queued = Number((await store.one<{ n: number }>("SELECT COUNT(*) AS n FROM b24kit_jobs WHERE state = 'queued'"))?.n ?? 0);
      const perPortal = Math.round((backlog - queued) / PORTALS);
      if (perPortal > 0) await insertBacklog(store, perPortal);
      const insertSeconds = (performance.now() - started) / 1000;
      await timeClaims(queue, 1, 5); // warm
      const claim1 = percentiles(await timeClaims(queue, 1, 40));
      const claim10 = percentiles(await timeClaims(queue, 10, 40));
      let ranking: ClaimRow['ranking'];
      if (backlog <= options.rankingUpTo) {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          await store.all(RANKING_BEFORE, [NOW, 1, 1]);
          times.push(performance.now() - t);
        }
        ranking = percentiles(times);
      }
      rows.push({ dialect: db.dialect, backlog, insertSeconds, claim1, claim10, ranking });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  } finally {
    await store.close();
  }
  return rows;
}
