/**
 * Batch job types on both dialects: a claim gathers due jobs of one name and portal into one run
 * (claim-batch.ts), each job keeps its own lease, attempt and history, and the handler's per-job
 * outcomes are recorded one by one (done, retry, dead), so one bad job does not fail its neighbours.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { JobQueue, Worker, type BatchJobContext, type BatchJobOutcome } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, fixedRandom, resetQueueTables, waitFor } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

describe('queue batch contract', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let queue: JobQueue;
  let workers: Worker[] = [];

  const enqueue = async (memberId: string, name: string, n: number, runAtMs?: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const { job } = await queue.enqueue(store, { memberId, name, payload: { i }, ...(runAtMs !== undefined ? { runAtMs } : {}) });
      ids.push(job.id);
      clock.advance(1); // oldest first is observable
    }
    return ids;
  };

  before(async () => {
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop({ graceful: false })));
    await store.close();
    await db.drop();
  });
  beforeEach(async () => {
    await Promise.all(workers.map((w) => w.stop({ graceful: false })));
    workers = [];
    await resetQueueTables(store);
    clock = new ManualClock();
    queue = new JobQueue({ store, nowMs: clock.nowMs, random: fixedRandom(0.5), maxRunningPerPortal: 2, jobTypes: { sync: { maxAttempts: 3, baseDelayMs: 1000 } } });
  });

  it('claims a run per portal: the fair pick’s job and its followers of the same name and portal, oldest first, each leased', async () => {
    const a = await enqueue('a', 'sync', 7);
    const b = await enqueue('b', 'sync', 2);
    const otherName = await enqueue('a', 'other', 1);
    const later = await enqueue('a', 'sync', 1, clock.now + 60_000);
    const runs = await queue.claimGroups('w1', { limit: 4, names: ['sync', 'other'], batchSizes: { sync: 5 } });
    const byPortal = new Map(runs.map((run) => [`${run[0]!.memberId}:${run[0]!.name}`, run.map((job) => job.id)]));
    // portal a's cap (2) let two of its jobs through the fair pick: they share one run, filled to 5
    assert.deepEqual(byPortal.get('a:sync'), a.slice(0, 5));
    assert.deepEqual(byPortal.get('b:sync'), b);
    assert.equal(byPortal.has('a:other'), false, 'portal a had no room left for its other job in this claim');
    for (const run of runs) {
      for (const job of run) {
        assert.equal(job.state, 'running');
        assert.equal(job.attempts, 1);
        assert.equal(job.leaseOwner, 'w1');
        assert.ok(job.leaseExpiresAtMs !== null && job.leaseExpiresAtMs > clock.now);
      }
    }
    assert.equal((await queue.get(a[5]!))?.state, 'queued');
    assert.equal((await queue.get(otherName[0]!))?.state, 'queued');
    assert.equal((await queue.get(later[0]!))?.state, 'queued', 'a job not yet due is not a follower');
  });

  it('starts no batch for a portal at its cap; claim() without batch sizes takes single jobs as before', async () => {
    await enqueue('a', 'sync', 6);
    const singles = await queue.claim('w1', { limit: 1, names: ['sync'] });
    assert.equal(singles.length, 1);
    assert.equal((await queue.counts()).running, 1, 'claim() gathers no followers');
    const runs = await queue.claimGroups('w2', { limit: 2, names: ['sync'], batchSizes: { sync: 3 } });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.length, 3);
    // a: 4 running now, cap 2: nothing more until the batch ends
    assert.deepEqual(await queue.claimGroups('w3', { limit: 2, names: ['sync'], batchSizes: { sync: 3 } }), []);
  });

  it('a worker records each job’s own outcome: done, retry with its error, dead — the neighbours of a bad job succeed', async () => {
    const seen: number[][] = [];
    const worker = new Worker({
      queue,
      handlers: {},
      batchHandlers: {
        sync: {
          size: 10,
          handler: (ctx: BatchJobContext<{ i: number }>): BatchJobOutcome[] => {
            seen.push(ctx.jobs.map((job) => job.payload.i));
            return ctx.jobs.map((job) => {
              if (job.payload.i === 1) return { status: 'retry', error: new Error('order 1: try later') };
              if (job.payload.i === 2) return { status: 'dead', error: new Error('order 2: never') };
              if (job.payload.i === 3) return { status: 'retry', error: new B24Error('B24_ERR_RATE_LIMITED', 'slow down') };
              return { status: 'done', result: { i: job.payload.i } };
            });
          },
        },
      },
      pollIntervalMs: 10,
    });
    workers.push(worker);
    const ids = await enqueue('a', 'sync', 5);
    await worker.start();
    await waitFor(async () => (await queue.counts()).running === 0 && (await queue.counts()).succeeded === 2, 10_000, 'the batch to be recorded');
    assert.deepEqual(seen, [[0, 1, 2, 3, 4]], 'one handler call for the five jobs');
    const [j0, j1, j2, j3, j4] = await Promise.all(ids.map((id) => queue.get(id)));
    assert.equal(j0?.state, 'succeeded');
    assert.deepEqual(j0?.result, { i: 0 });
    assert.equal(j4?.state, 'succeeded');
    assert.equal(j1?.state, 'queued');
    assert.equal(j1?.lastError, 'Error: order 1: try later');
    assert.equal(j1?.history.length, 1);
    assert.equal(j1?.runAtMs, clock.now + 500, 'retried after the backoff (jitter 0.5 of 1000 ms)');
    assert.equal(j2?.state, 'dead');
    assert.match(j2?.lastError ?? '', /order 2: never/);
    assert.equal(j3?.state, 'queued');
    assert.equal(j3?.attempts, 0, 'a rate-limited job is postponed: its attempt is given back');
    assert.equal(j3?.postpones, 1);
  });

  it('a handler that throws gives every job of the batch its error', async () => {
    const worker = new Worker({
      queue,
      handlers: {},
      batchHandlers: { sync: { size: 10, handler: () => Promise.reject(new Error('portal gone')) } },
      pollIntervalMs: 10,
    });
    workers.push(worker);
    const ids = await enqueue('a', 'sync', 3);
    await worker.start();
    const jobs = await waitFor(async () => {
      const all = await Promise.all(ids.map((id) => queue.get(id)));
      return all.every((job) => job?.state === 'queued' && job.attempts === 1) ? all : undefined;
    }, 10_000, 'every job to be failed once');
    for (const job of jobs) assert.equal(job?.lastError, 'Error: portal gone');
  });

  it('a stop without grace releases every job of a running batch, attempts given back', async () => {
    let release: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker({
      queue,
      handlers: {},
      batchHandlers: {
        sync: {
          size: 10,
          handler: (ctx) =>
            new Promise((resolve) => {
              release();
              ctx.signal.addEventListener('abort', () => resolve([]));
            }),
        },
      },
      pollIntervalMs: 10,
    });
    workers.push(worker);
    const ids = await enqueue('a', 'sync', 4);
    await worker.start();
    await started;
    await worker.stop({ graceful: false });
    for (const id of ids) {
      const job = await queue.get(id);
      assert.equal(job?.state, 'queued');
      assert.equal(job?.attempts, 0);
    }
  });
});
