/**
 * Per-portal fairness and the per-portal concurrency cap, and many workers claiming at once —
 * on both dialects (on PostgreSQL the claimers really run concurrently, on separate connections).
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobQueue, Worker, type Job } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, makeQueue, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

async function enqueueMany(queue: JobQueue, store: Store, memberId: string, count: number): Promise<void> {
  await store.transaction(async (tx) => {
    for (let i = 0; i < count; i++) await queue.enqueue(tx, { memberId, name: 'sync', payload: { i } });
  });
}

describe('queue fairness and concurrency contract', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: ManualClock;

  before(async () => {
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  beforeEach(async () => {
    await resetQueueTables(store);
    clock = new ManualClock();
  });

  it('a busy portal does not starve a quiet one: claims alternate between portals', async () => {
    const queue = makeQueue(store, clock, { maxRunningPerPortal: Infinity });
    await enqueueMany(queue, store, 'busy', 500);
    clock.advance(1); // the quiet portal's jobs are all younger than the busy portal's
    await enqueueMany(queue, store, 'quiet', 5);

    const order: string[] = [];
    for (let i = 0; i < 10; i++) {
      const [job] = await queue.claim('w1', 1);
      assert.ok(job);
      order.push(job.memberId);
      await queue.complete(job.id, 'w1');
    }
    assert.equal(order.filter((m) => m === 'quiet').length, 5, `all 5 quiet jobs within the first 10 claims: ${order.join(',')}`);
    assert.deepEqual(order.slice(0, 4), ['busy', 'quiet', 'busy', 'quiet'], 'round robin, oldest portal first');

    // within one claim too: every portal's first job before any portal's second
    await enqueueMany(queue, store, 'quiet', 5);
    const batch = await queue.claim('w1', 10);
    assert.equal(batch.filter((j) => j.memberId === 'quiet').length, 5);
    // and each portal's jobs come oldest first
    const busy = batch.filter((j) => j.memberId === 'busy').map((j) => (j.payload as { i: number }).i);
    assert.deepEqual(busy, [...busy].sort((a, b) => a - b));
  });

  it('never runs more than maxRunningPerPortal jobs of one portal', async () => {
    const queue = makeQueue(store, clock, { maxRunningPerPortal: 2 });
    await enqueueMany(queue, store, 'a', 20);
    await enqueueMany(queue, store, 'b', 20);
    const first = await queue.claim('w1', 10);
    assert.deepEqual(count(first), { a: 2, b: 2 });
    assert.deepEqual(await queue.claim('w2', 10), [], 'both portals are at their cap');
    await queue.complete(first.find((j) => j.memberId === 'a')!.id, 'w1');
    assert.deepEqual(count(await queue.claim('w2', 10)), { a: 1 });
    // an expired lease frees its slot
    clock.advance(queue.leaseMs);
    assert.deepEqual(count(await queue.claim('w3', 10)), { a: 2, b: 2 });
  });

  it('holds the cap when 4 claimers on separate connections claim at once', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => db.open()));
    try {
      const queues = stores.map((s) => makeQueue(s, clock, { maxRunningPerPortal: 3 }));
      await enqueueMany(queues[0]!, store, 'a', 40);
      await enqueueMany(queues[0]!, store, 'b', 40);
      for (let round = 0; round < 5; round++) {
        const claimed = (await Promise.all(queues.map((q, i) => q.claim(`w${i}`, 10)))).flat();
        assert.deepEqual(count(claimed), { a: 3, b: 3 }, `round ${round}`);
        assert.equal(new Set(claimed.map((j) => j.id)).size, claimed.length, 'no job claimed twice');
        for (const job of claimed) await queues[0]!.complete(job.id, job.leaseOwner!);
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('4 workers on separate connections complete 200 jobs exactly once, within the per-portal cap', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => db.open()));
    const runs = new Map<number, number>();
    const inFlight = new Map<string, number>();
    let maxInFlight = 0;
    const cap = 3;
    const workers = stores.map(
      (s, i) =>
        new Worker({
          queue: new JobQueue({ store: s, maxRunningPerPortal: cap }),
          id: `worker-${i}`,
          concurrency: 4,
          pollIntervalMs: 10,
          handlers: {
            sync: async ({ job }: { job: Job }) => {
              const now = (inFlight.get(job.memberId) ?? 0) + 1;
              inFlight.set(job.memberId, now);
              maxInFlight = Math.max(maxInFlight, now);
              runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
              await sleep(Math.floor(Math.random() * 3));
              inFlight.set(job.memberId, (inFlight.get(job.memberId) ?? 1) - 1);
              return { by: i };
            },
          },
        }),
    );
    const producer = new JobQueue({ store });
    try {
      for (const memberId of ['p1', 'p2', 'p3', 'p4']) await enqueueMany(producer, store, memberId, 50);
      await Promise.all(workers.map((w) => w.start()));
      const deadline = Date.now() + 60_000;
      while ((await producer.counts()).succeeded < 200 && Date.now() < deadline) await sleep(50);
      await Promise.all(workers.map((w) => w.stop()));

      const counts = await producer.counts();
      assert.deepEqual(counts, { queued: 0, running: 0, succeeded: 200, dead: 0 });
      assert.equal(runs.size, 200);
      assert.ok([...runs.values()].every((n) => n === 1), 'every handler ran exactly once');
      const rows = await store.all<{ attempts: number; n: number }>('SELECT attempts, COUNT(*) AS n FROM b24kit_jobs GROUP BY attempts');
      assert.deepEqual(rows.map((r) => [Number(r.attempts), Number(r.n)]), [[1, 200]]);
      const owners = await store.all<{ n: number }>("SELECT COUNT(DISTINCT result) AS n FROM b24kit_jobs WHERE state = 'succeeded'");
      assert.ok(Number(owners[0]?.n) >= 2, 'more than one worker did work');
      assert.ok(maxInFlight <= cap, `at most ${cap} jobs of a portal ran at once (saw ${maxInFlight})`);
    } finally {
      await Promise.all(workers.map((w) => w.stop({ graceful: false })));
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

function count(jobs: Job[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const job of jobs) out[job.memberId] = (out[job.memberId] ?? 0) + 1;
  return out;
}
