/**
 * The Worker runner on both dialects: handler context, outcomes (complete, retry, dead, postpone),
 * heartbeats, lost leases, graceful and hard stops, and wake-ups (in-process, and LISTEN/NOTIFY on
 * PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { JobQueue, NonRetryableError, Worker, type JobContext } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, fixedRandom, resetQueueTables, waitFor } from './helpers/queue.js';
import { createTestDatabase, databaseUrl, onPostgres, type TestDatabase } from './helpers/store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('worker contract', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let queue: JobQueue;
  let workers: Worker[] = [];

  const startWorker = async (handlers: Record<string, (ctx: JobContext) => unknown>, options: Partial<ConstructorParameters<typeof Worker>[0]> = {}) => {
    const worker = new Worker({ queue, handlers, pollIntervalMs: 10, ...options });
    workers.push(worker);
    await worker.start();
    return worker;
  };
  const settled = (id: number, state = 'succeeded') =>
    waitFor(async () => {
      const job = await queue.get(id);
      return job?.state === state ? job : undefined;
    }, 10_000, `job ${id} to be ${state}`);

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
    queue = new JobQueue({ store, nowMs: clock.nowMs, random: fixedRandom(0.5), jobTypes: { flaky: { maxAttempts: 2, baseDelayMs: 1000 } } });
  });

  it('runs the handler of the job’s name with its context and records the result', async () => {
    const seen: Array<{ payload: unknown; attempt: number; aborted: boolean }> = [];
    await startWorker({
      greet: (ctx) => {
        seen.push({ payload: ctx.job.payload, attempt: ctx.attempt, aborted: ctx.signal.aborted });
        return { hello: (ctx.job.payload as { who: string }).who };
      },
    });
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'greet', payload: { who: 'portal' } });
    const done = await settled(job.id);
    assert.deepEqual(done.result, { hello: 'portal' });
    assert.deepEqual(seen, [{ payload: { who: 'portal' }, attempt: 1, aborted: false }]);
  });

  it('claims only the job types it has handlers for', async () => {
    await startWorker({ mine: () => 'ok' });
    const other = (await queue.enqueue(store, { memberId: 'm1', name: 'theirs', payload: {} })).job;
    const mine = (await queue.enqueue(store, { memberId: 'm1', name: 'mine', payload: {} })).job;
    await settled(mine.id);
    assert.equal((await queue.get(other.id))?.state, 'queued');
  });

  it('retries a thrown error with backoff, and dead-letters a NonRetryableError at once', async () => {
    let calls = 0;
    await startWorker({
      flaky: () => {
        calls += 1;
        throw new Error(`failure ${calls}`);
      },
      doomed: () => {
        throw new NonRetryableError('invalid order');
      },
    });
    const flaky = (await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} })).job;
    const doomed = (await queue.enqueue(store, { memberId: 'm1', name: 'doomed', payload: {} })).job;
    const dead = await settled(doomed.id, 'dead');
    assert.equal(dead.attempts, 1);
    const retrying = await waitFor(async () => {
      const job = await queue.get(flaky.id);
      return job?.state === 'queued' && job.attempts === 1 ? job : undefined;
    });
    assert.equal(retrying.runAtMs, clock.now + 500);
    clock.advance(500);
    const final = await settled(flaky.id, 'dead');
    assert.deepEqual(final.history.map((h) => h.error), ['Error: failure 1', 'Error: failure 2']);
  });

  it('postpones a job whose portal is rate-limited, without burning attempts', async () => {
    let calls = 0;
    await startWorker({
      flaky: () => {
        calls += 1;
        if (calls <= 3) throw new B24Error('B24_ERR_RATE_LIMITED');
        return 'done';
      },
    });
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} });
    for (let i = 1; i <= 3; i++) {
      await waitFor(async () => (await queue.get(job.id))?.postpones === i || undefined, 10_000, `postpone ${i}`);
      clock.advance(10 * 60_000);
    }
    const done = await settled(job.id);
    assert.equal(done.attempts, 1, 'maxAttempts is 2, yet after 3 rate-limit refusals the job is on its first attempt');
    assert.equal(done.postpones, 3);
  });

  it('heartbeats keep a long job leased; nobody else can claim it meanwhile', async () => {
    const realQueue = new JobQueue({ store, leaseMs: 800 });
    queue = realQueue;
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'slow', payload: {} });
    await startWorker({ slow: () => sleep(2000).then(() => 'slow done') }, { heartbeatMs: 100 });
    await waitFor(async () => (await queue.get(job.id))?.state === 'running');
    const other = new JobQueue({ store, leaseMs: 800 });
    for (let i = 0; i < 4; i++) {
      await sleep(400);
      assert.deepEqual(await other.claim('intruder', 5), [], 'the lease is alive');
    }
    const done = await settled(job.id);
    assert.equal(done.attempts, 1);
    assert.equal(done.result, 'slow done');
  });

  it('a run that lost its lease is aborted and its outcome discarded', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let heartbeatError: unknown;
    let abortedAfter = false;
    await startWorker(
      {
        slow: async (ctx) => {
          await gate;
          await ctx.heartbeat().catch((error: unknown) => (heartbeatError = error));
          abortedAfter = ctx.signal.aborted;
          return 'stale result';
        },
      },
      // concurrency 1: busy with the job, this worker cannot reclaim it after its lease expires
      { heartbeatMs: 60_000, concurrency: 1 },
    );
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'slow', payload: {} });
    await waitFor(async () => (await queue.get(job.id))?.state === 'running');
    clock.advance(queue.leaseMs + 1);
    const [stolen] = await queue.claim('other-worker');
    assert.equal(stolen?.id, job.id);
    await queue.complete(job.id, 'other-worker', 'fresh result');
    release();
    await waitFor(() => abortedAfter || undefined);
    assert.ok(heartbeatError instanceof B24Error && heartbeatError.code === 'B24_ERR_LEASE_LOST');
    await sleep(50);
    assert.equal((await queue.get(job.id))?.result, 'fresh result', 'the stale run did not overwrite the outcome');
  });

  it('stop({ graceful: true }) lets running jobs finish; stop({ graceful: false }) releases them', async () => {
    const started: number[] = [];
    const worker = await startWorker({ slow: async ({ job }) => (started.push(job.id), sleep(300).then(() => 'finished')) });
    const a = (await queue.enqueue(store, { memberId: 'm1', name: 'slow', payload: {} })).job;
    await waitFor(() => started.includes(a.id) || undefined);
    await worker.stop({ graceful: true });
    assert.equal((await queue.get(a.id))?.state, 'succeeded');

    let signal: AbortSignal | undefined;
    const hard = await startWorker({ slow: async (ctx) => ((signal = ctx.signal), sleep(500).then(() => 'too late')) });
    const b = (await queue.enqueue(store, { memberId: 'm1', name: 'slow', payload: {} })).job;
    await waitFor(() => signal ?? undefined);
    await hard.stop({ graceful: false });
    assert.equal(signal?.aborted, true);
    const released = await queue.get(b.id);
    assert.equal(released?.state, 'queued');
    assert.equal(released?.attempts, 0, 'releasing does not burn the attempt');
    await sleep(600);
    assert.equal((await queue.get(b.id))?.state, 'queued', 'the late outcome was discarded');
  });

  it('an enqueue in this process wakes an idle worker at once (no poll wait)', async () => {
    await startWorker({ ping: () => 'pong' }, { pollIntervalMs: 60_000 });
    await sleep(50); // the worker is idle now, for a minute
    const started = Date.now();
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'ping', payload: {} });
    await settled(job.id);
    assert.ok(Date.now() - started < 5_000);
  });

  it('PostgreSQL: NOTIFY on enqueue from another process wakes a LISTENing worker', { skip: !onPostgres && 'PostgreSQL only' }, async () => {
    const worker = new Worker({
      queue,
      handlers: { ping: () => 'pong' },
      pollIntervalMs: 60_000,
      listen: { url: databaseUrl, ...(db.storeOptions.schema !== undefined ? { schema: db.storeOptions.schema } : {}) },
    });
    workers.push(worker);
    await worker.start();
    await sleep(100);
    // another store and queue object: no in-process signal reaches the worker
    const otherStore = await db.open();
    try {
      const otherQueue = new JobQueue({ store: otherStore, nowMs: clock.nowMs });
      // inside a transaction: the notification is sent at commit
      const { job } = await otherStore.transaction((tx) => otherQueue.enqueue(tx, { memberId: 'm1', name: 'ping', payload: {} }));
      await settled(job.id);
    } finally {
      await otherStore.close();
    }
  });

  it('PostgreSQL: stop() during a pending start() leaves no LISTEN connection open', { skip: !onPostgres && 'PostgreSQL only' }, async () => {
    // an open listener connection keeps the process alive after the last test
    const applicationName = `b24kit_listen_${randomBytes(4).toString('hex')}`;
    const url = new URL(databaseUrl);
    url.searchParams.set('application_name', applicationName);
    const worker = new Worker({ queue, handlers: { ping: () => 'pong' }, listen: { url: url.toString() } });
    workers.push(worker);
    const starting = worker.start();
    await worker.stop({ graceful: false });
    await starting;
    await waitFor(async () => {
      const row = await store.one<{ n: number }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ?', [applicationName]);
      return row?.n === 0 || undefined;
    }, 5_000, 'the listener connection to be closed');
  });
});
