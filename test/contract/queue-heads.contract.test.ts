/**
 * The claim's per-portal heads (b24kit_job_heads, src/queue/fairness.ts): each portal's bound on its
 * queued jobs' run_at_ms must never be above a queued job's, or that job would never be claimed. The
 * triggers lower it on every path that queues a job; the claim raises it only when it finds no due job.
 * On PostgreSQL the producers and claimers below really run at once, on separate connections.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue } from '../../src/queue/index.js';
import { deletePortalJobs } from '../../src/queue/job-row.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, makeQueue, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

/** Queued jobs whose portal's head would not let a claim find them. */
async function hiddenJobs(store: Store): Promise<number> {
  const row = await store.one<{ n: number }>(
    `SELECT COUNT(*) AS n FROM b24kit_jobs j WHERE j.state = 'queued'
     AND NOT EXISTS (SELECT 1 FROM b24kit_job_heads h WHERE h.member_id = j.member_id AND h.due_at_ms <= j.run_at_ms)`,
  );
  return Number(row?.n ?? 0);
}

describe('queue heads contract', () => {
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  beforeEach(() => resetQueueTables(store));

  it('a portal visited with no due job is claimed again once a delayed job, a retry or a replay becomes due', async () => {
    const clock = new ManualClock();
    const queue = makeQueue(store, clock, { defaults: { maxAttempts: 2, baseDelayMs: 60_000 } });
    await queue.enqueue(store, { memberId: 'a', name: 'sync', payload: 1 });
    const [first] = await queue.claim('w', 1);
    await queue.complete(first!.id, 'w');
    await queue.enqueue(store, { memberId: 'a', name: 'sync', payload: 2, runAtMs: clock.now + 60_000 });
    assert.deepEqual(await queue.claim('w', 1), [], 'not due yet (the visit raises the head to it)');
    assert.equal(await hiddenJobs(store), 0);
    clock.advance(60_000);
    const [delayed] = await queue.claim('w', 1);
    assert.equal(delayed?.payload, 2);

    await queue.fail(delayed!.id, 'w', new Error('try again'));
    assert.deepEqual(await queue.claim('w', 1), [], 'backing off');
    assert.equal(await hiddenJobs(store), 0);
    clock.advance(10 * 60_000);
    const [retry] = await queue.claim('w', 1);
    assert.equal(retry?.id, delayed!.id);
    const outcome = await queue.fail(retry!.id, 'w', new Error('for good'));
    assert.equal(outcome.state, 'dead');
    assert.deepEqual(await queue.claim('w', 1), []);
    await queue.replay(retry!.id);
    assert.equal((await queue.claim('w', 1))[0]?.id, retry!.id, 'a replayed dead job is claimed');
  });

  it('4 producers and 3 claimers at once: every job is claimed exactly once and no queued job is ever hidden', async () => {
    const stores = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => db.open()));
    try {
      const queues = stores.map((s) => new JobQueue({ store: s, maxRunningPerPortal: 2 }));
      const producers = queues.slice(0, 4);
      const claimers = queues.slice(4);
      const total = 4 * 60;
      const seen = new Map<number, number>();
      let produced = 0;
      const produce = async (queue: JobQueue, p: number): Promise<void> => {
        for (let i = 0; i < 60; i++) {
          // 6 portals, so producers and claimers meet on the same heads; some jobs a few ms in the future
          await queue.enqueue(queue.store, { memberId: `m${(p + i) % 6}`, name: 'sync', payload: { p, i }, runAtMs: Date.now() + (i % 5 === 0 ? 20 : 0) });
          produced += 1;
        }
      };
      const claim = async (queue: JobQueue, w: number): Promise<void> => {
        const deadline = Date.now() + 60_000;
        while (seen.size < total && Date.now() < deadline) {
          const jobs = await queue.claim(`w${w}`, 3);
          for (const job of jobs) {
            seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
            await queue.complete(job.id, `w${w}`);
          }
          if (jobs.length === 0) {
            if (produced === total) assert.equal(await hiddenJobs(store), 0, 'a queued job hidden from the claim');
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
      };
      await Promise.all([...producers.map((q, p) => produce(q, p)), ...claimers.map((q, w) => claim(q, w))]);
      assert.equal(seen.size, total, `claimed ${seen.size} of ${total}`);
      assert.ok([...seen.values()].every((n) => n === 1), 'no job claimed twice');
      assert.deepEqual(await producers[0]!.counts(), { queued: 0, running: 0, succeeded: total, dead: 0 });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("a portal's purge (uninstall with CLEAN) deletes its queue head with its jobs", async () => {
    const queue = makeQueue(store, new ManualClock());
    await queue.enqueue(store, { memberId: 'gone', name: 'sync', payload: 1 });
    await queue.enqueue(store, { memberId: 'kept', name: 'sync', payload: 1 });
    await store.transaction((tx) => deletePortalJobs(tx, 'gone'));
    const heads = await store.all<{ member_id: string }>('SELECT member_id FROM b24kit_job_heads ORDER BY member_id');
    assert.deepEqual(heads.map((row) => row.member_id), ['kept']);
  });
});
