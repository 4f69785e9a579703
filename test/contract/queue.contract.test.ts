/**
 * The job queue's contract on both dialects: idempotent enqueue (also inside a transaction),
 * leases, retries with backoff, dead letters, replay, postpone/release, lease-holder checks.
 * Time is a manual clock: no test sleeps for a backoff or a lease.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { NonRetryableError, type JobQueue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, makeQueue, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const isCode = (code: string) => (error: unknown) => error instanceof B24Error && error.code === code;

describe('queue contract', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let queue: JobQueue;

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
    queue = makeQueue(store, clock, { jobTypes: { flaky: { maxAttempts: 3, baseDelayMs: 1000, capDelayMs: 60_000 } } });
  });

  it('enqueues idempotently: the same key twice gives one job', async () => {
    const first = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: { order: 42 }, key: 'order-42' });
    const second = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: { order: 'other' }, key: 'order-42' });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.job.id, first.job.id);
    assert.deepEqual(second.job.payload, { order: 42 }, 'the first payload stays');
    // the key is scoped by portal and job type
    assert.equal((await queue.enqueue(store, { memberId: 'm2', name: 'sync', payload: {}, key: 'order-42' })).created, true);
    assert.equal((await queue.enqueue(store, { memberId: 'm1', name: 'other', payload: {}, key: 'order-42' })).created, true);
    // no key: never deduplicated
    await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: {} });
    await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: {} });
    assert.equal((await queue.counts()).queued, 5);
  });

  it('enqueues inside a caller transaction: committed with it, gone with its rollback', async () => {
    await store.exec('CREATE TABLE IF NOT EXISTS test_inbox (k TEXT PRIMARY KEY)');
    await store.transaction(async (tx) => {
      await tx.run('INSERT INTO test_inbox (k) VALUES (?)', ['evt-1']);
      await queue.enqueue(tx, { memberId: 'm1', name: 'event', payload: { n: 1 }, key: 'evt-1' });
    });
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.run('INSERT INTO test_inbox (k) VALUES (?)', ['evt-2']);
        await queue.enqueue(tx, { memberId: 'm1', name: 'event', payload: { n: 2 }, key: 'evt-2' });
        throw new Error('the receiver failed after enqueuing');
      }),
      /receiver failed/,
    );
    const jobs = await queue.list({ name: 'event' });
    assert.deepEqual(jobs.map((j) => j.key), ['evt-1']);
    assert.equal((await store.all('SELECT k FROM test_inbox WHERE k = ?', ['evt-2'])).length, 0);
    // the rolled-back key is free: enqueuing it now creates the job
    assert.equal((await queue.enqueue(store, { memberId: 'm1', name: 'event', payload: {}, key: 'evt-2' })).created, true);
  });

  it('claims a due job, leases it, and completes it once', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: { a: 1 } });
    await queue.enqueue(store, { memberId: 'm1', name: 'later', payload: {}, runAtMs: clock.now + 60_000 });
    const claimed = await queue.claim('w1', 10);
    assert.deepEqual(claimed.map((j) => j.id), [job.id], 'the future job is not due');
    const [running] = claimed;
    assert.ok(running);
    assert.equal(running.state, 'running');
    assert.equal(running.attempts, 1);
    assert.equal(running.leaseOwner, 'w1');
    assert.equal(running.leaseExpiresAtMs, clock.now + queue.leaseMs);
    assert.deepEqual(await queue.claim('w2', 10), [], 'a leased job is not claimed twice');

    clock.advance(250);
    const done = await queue.complete(job.id, 'w1', { dealId: 7 });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { dealId: 7 });
    assert.equal(done.leaseOwner, null);
    assert.deepEqual(done.history, [{ attempt: 1, at: clock.now, error: null, durationMs: 250 }]);
    await assert.rejects(queue.complete(job.id, 'w1', {}), isCode('B24_ERR_LEASE_LOST'), 'a second completion is refused');
    assert.deepEqual((await queue.get(job.id))?.result, { dealId: 7 });
  });

  it('retries a failed job after exponential backoff with jitter, then dead-letters it with its history', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} });
    // random() = 0.5: the delay after attempt n is 0.5 × min(cap, 1000 × 2^(n−1))
    const [first] = await queue.claim('w1');
    const r1 = await queue.fail(first!.id, 'w1', new Error('portal answered 500'));
    assert.equal(r1.state, 'queued');
    assert.equal(r1.job.runAtMs, clock.now + 500);
    assert.equal(r1.job.lastError, 'Error: portal answered 500');

    assert.deepEqual(await queue.claim('w1'), [], 'not before its backoff');
    clock.advance(499);
    assert.deepEqual(await queue.claim('w1'), []);
    clock.advance(1);
    const [second] = await queue.claim('w1');
    assert.equal(second?.attempts, 2);
    const r2 = await queue.fail(job.id, 'w1', new Error('again'));
    assert.equal(r2.job.runAtMs, clock.now + 1000);

    clock.advance(1000);
    const [third] = await queue.claim('w1');
    assert.equal(third?.attempts, 3);
    clock.advance(10);
    const r3 = await queue.fail(job.id, 'w1', new B24Error('B24_ERR_SERVER', 'still down'));
    assert.equal(r3.state, 'dead', 'maxAttempts 3 reached');
    const dead = await queue.get(job.id);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.lastError, 'B24_ERR_SERVER: still down');
    assert.equal(dead?.finishedAtMs, clock.now);
    assert.deepEqual(
      dead?.history.map((h) => [h.attempt, h.error]),
      [
        [1, 'Error: portal answered 500'],
        [2, 'Error: again'],
        [3, 'B24_ERR_SERVER: still down'],
      ],
    );
    assert.equal(dead?.history[2]?.durationMs, 10);
    clock.advance(10 * 60_000);
    assert.deepEqual(await queue.claim('w1'), [], 'a dead job is never claimed');
  });

  it('dead-letters a non-retryable error at once', async () => {
    const a = (await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} })).job;
    const b = (await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} })).job;
    await queue.claim('w1', 2);
    assert.equal((await queue.fail(a.id, 'w1', new NonRetryableError('the order no longer exists'))).state, 'dead');
    // a B24 code that a retry cannot fix counts too
    assert.equal((await queue.fail(b.id, 'w1', new B24Error('B24_ERR_ACCESS_DENIED'))).state, 'dead');
    const job = await queue.get(a.id);
    assert.equal(job?.attempts, 1);
    assert.equal(job?.lastError, 'B24_ERR_JOB_NON_RETRYABLE: the order no longer exists');
    assert.equal(job?.history.length, 1);
  });

  it('replays a dead job (attempts reset, history kept) and replays dead letters in bulk by filter', async () => {
    const ids: number[] = [];
    for (const [memberId, name] of [
      ['m1', 'flaky'],
      ['m1', 'sync'],
      ['m2', 'flaky'],
    ] as const) {
      const { job } = await queue.enqueue(store, { memberId, name, payload: {} });
      ids.push(job.id);
    }
    for (const job of await queue.claim('w1', 3)) await queue.fail(job.id, 'w1', new NonRetryableError('boom'));
    assert.equal((await queue.counts()).dead, 3);

    const replayed = await queue.replay(ids[0]!);
    assert.equal(replayed.state, 'queued');
    assert.equal(replayed.attempts, 0);
    assert.equal(replayed.history.length, 1, 'the history of the dead run is kept');
    await assert.rejects(queue.replay(ids[0]!).then(() => queue.claim('w1', 1)).then(([j]) => queue.replay(j!.id)), isCode('B24_ERR_JOB_STATE'));
    await assert.rejects(queue.replay(999_999), isCode('B24_ERR_JOB_NOT_FOUND'));

    assert.equal(await queue.replayDead({ memberId: 'm2' }), 1);
    assert.equal(await queue.replayDead({ name: 'flaky' }), 0, 'm1/flaky is running, m2/flaky already replayed');
    assert.equal(await queue.replayDead(), 1);
    assert.equal((await queue.counts()).dead, 0);
  });

  it('discards a dead job for good, one or in bulk by filter, running the caller\'s step in the same transaction', async () => {
    const ids: number[] = [];
    for (const [memberId, name] of [
      ['m1', 'flaky'],
      ['m1', 'sync'],
      ['m2', 'flaky'],
      ['m2', 'sync'],
    ] as const) {
      ids.push((await queue.enqueue(store, { memberId, name, payload: {} })).job.id);
    }
    for (const job of await queue.claim('w1', 4)) await queue.fail(job.id, 'w1', new NonRetryableError('boom'));
    const live = (await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: { live: true } })).job;
    const seen: number[][] = [];
    const before = async (_tx: unknown, jobIds: readonly number[]): Promise<void> => void seen.push([...jobIds].sort((a, b) => a - b));

    const discarded = await queue.discard(ids[0]!, before);
    assert.equal(discarded.id, ids[0]);
    assert.equal(discarded.state, 'dead', 'answers the job as it was');
    assert.equal(await queue.get(ids[0]!), undefined, 'the row is gone');
    assert.deepEqual(seen, [[ids[0]]]);
    await assert.rejects(queue.discard(live.id), isCode('B24_ERR_JOB_STATE'), 'a queued job is not a dead letter');
    await assert.rejects(queue.discard(ids[0]!), isCode('B24_ERR_JOB_NOT_FOUND'));

    assert.equal(await queue.discardDead({ memberId: 'm2', name: 'sync' }, before), 1);
    assert.deepEqual(seen.at(-1), [ids[3]]);
    assert.equal(await queue.discardDead({ memberId: 'm1' }, before), 1, "m1's other dead job; its queued one stays");
    assert.deepEqual(seen.at(-1), [ids[1]]);
    assert.equal(await queue.discardDead({}, before), 1);
    assert.deepEqual(seen.at(-1), [ids[2]]);
    assert.equal(await queue.discardDead(), 0);
    assert.deepEqual(await queue.counts(), { queued: 1, running: 0, succeeded: 0, dead: 0 });

    // a step that throws rolls the discard back
    const [again] = await queue.claim('w1', 1);
    await queue.fail(again!.id, 'w1', new NonRetryableError('boom'));
    await assert.rejects(queue.discard(again!.id, async () => { throw new Error('memo delete failed'); }), /memo delete failed/);
    assert.equal((await queue.get(again!.id))?.state, 'dead', 'still there after the rollback');
  });

  it('postpone puts a job back without burning its attempt', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} });
    for (let i = 0; i < 5; i++) {
      const [claimed] = await queue.claim('w1');
      assert.equal(claimed?.attempts, 1, 'every claim is still the first attempt');
      const postponed = await queue.postpone(job.id, 'w1', clock.now + 30_000, { reason: 'B24_ERR_RATE_LIMITED: QUERY_LIMIT_EXCEEDED' });
      assert.equal(postponed.state, 'queued');
      assert.equal(postponed.attempts, 0);
      assert.equal(postponed.postpones, i + 1);
      assert.equal(postponed.runAtMs, clock.now + 30_000);
      assert.deepEqual(await queue.claim('w1'), [], 'waits until the postponement ends');
      clock.advance(30_000);
    }
    // far more postpones than maxAttempts (3), and the job is still alive with all its attempts
    const [claimed] = await queue.claim('w1');
    assert.equal(claimed?.attempts, 1);
    const done = await queue.complete(job.id, 'w1', 'ok');
    assert.equal(done.state, 'succeeded');
    assert.equal(done.postpones, 5);
    assert.equal(done.lastError, 'B24_ERR_RATE_LIMITED: QUERY_LIMIT_EXCEEDED');
    assert.equal(done.history.length, 1, 'postpones are not attempts');
  });

  it('release gives a job back at once without burning its attempt', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: {} });
    await queue.claim('w1');
    const released = await queue.release(job.id, 'w1');
    assert.equal(released.state, 'queued');
    assert.equal(released.attempts, 0);
    const [again] = await queue.claim('w2');
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempts, 1);
  });

  it('only the lease holder may complete, fail, extend or postpone; an expired lease is reaped and recorded', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'flaky', payload: {} });
    await queue.claim('w1');
    await assert.rejects(queue.complete(job.id, 'w2', 'not mine'), isCode('B24_ERR_LEASE_LOST'));
    await assert.rejects(queue.fail(job.id, 'w2', new Error('x')), isCode('B24_ERR_LEASE_LOST'));
    await assert.rejects(queue.extendLease(job.id, 'w2'), isCode('B24_ERR_LEASE_LOST'));
    await assert.rejects(queue.postpone(job.id, 'w2', clock.now), isCode('B24_ERR_LEASE_LOST'));
    await assert.rejects(queue.complete(job.id, 'w1', 'stale attempt', { attempt: 2 }), isCode('B24_ERR_LEASE_LOST'));

    // the heartbeat keeps the lease alive past its first expiry
    clock.advance(queue.leaseMs - 1);
    assert.equal(await queue.extendLease(job.id, 'w1'), clock.now + queue.leaseMs);
    clock.advance(queue.leaseMs - 1);
    assert.deepEqual(await queue.claim('w2'), [], 'still leased to w1');

    // w1 stops heartbeating: after expiry the job is claimable again, and w1's outcome no longer counts
    clock.advance(2);
    const [taken] = await queue.claim('w2');
    assert.equal(taken?.id, job.id);
    assert.equal(taken?.attempts, 2);
    assert.equal(taken?.leaseOwner, 'w2');
    await assert.rejects(queue.complete(job.id, 'w1', 'late result'), isCode('B24_ERR_LEASE_LOST'));
    await assert.rejects(queue.extendLease(job.id, 'w1'), isCode('B24_ERR_LEASE_LOST'));
    const done = await queue.complete(job.id, 'w2', 'the result');
    assert.equal(done.result, 'the result');
    assert.deepEqual(
      done.history.map((h) => [h.attempt, h.error]),
      [
        [1, 'lease expired: worker w1 stopped heartbeating'],
        [2, null],
      ],
    );
  });

  it('a lease lost on the last attempt dead-letters the job', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'poison', payload: {}, maxAttempts: 1 });
    await queue.claim('w1');
    clock.advance(queue.leaseMs);
    assert.equal(await queue.reapExpired(), 1);
    const dead = await queue.get(job.id);
    assert.equal(dead?.state, 'dead');
    assert.match(dead?.lastError ?? '', /lease expired/);
  });

  it('saves an intermediate result under the lease', async () => {
    const { job } = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: {} });
    await queue.claim('w1');
    await queue.saveResult(job.id, 'w1', { once: { 'create-deal': 17 } });
    await assert.rejects(queue.saveResult(job.id, 'w2', {}), isCode('B24_ERR_LEASE_LOST'));
    assert.deepEqual((await queue.get(job.id))?.result, { once: { 'create-deal': 17 } });
  });

  it('lists jobs newest first by state, portal and type, and purges old finished ones', async () => {
    for (let i = 0; i < 4; i++) await queue.enqueue(store, { memberId: i % 2 === 0 ? 'm1' : 'm2', name: 'sync', payload: { i } });
    const [first] = await queue.claim('w1');
    await queue.complete(first!.id, 'w1');
    assert.deepEqual((await queue.list({ memberId: 'm1' })).map((j) => (j.payload as { i: number }).i), [2, 0]);
    assert.equal((await queue.list({ state: 'succeeded' })).length, 1);
    assert.equal((await queue.list({ limit: 2 })).length, 2);
    const all = await queue.list();
    assert.deepEqual((await queue.list({ beforeId: all[1]!.id })).map((j) => j.id), all.slice(2).map((j) => j.id));
    assert.equal(await queue.get(123_456), undefined);
    clock.advance(1);
    assert.equal(await queue.purge({ finishedBeforeMs: clock.now }), 1);
    assert.deepEqual(await queue.counts(), { queued: 3, running: 0, succeeded: 0, dead: 0 });
  });

  it('refuses an enqueue without a portal or a type', async () => {
    await assert.rejects(queue.enqueue(store, { memberId: '', name: 'x', payload: {} }), isCode('B24_ERR_INVALID_ARGUMENT'));
    await assert.rejects(queue.enqueue(store, { memberId: 'm1', name: '', payload: {} }), isCode('B24_ERR_INVALID_ARGUMENT'));
  });
});
