/**
 * `queue.enqueueMany` on both dialects: multi-row INSERTs with the idempotency rule of `enqueue`,
 * results in input order, atomic inside a caller's transaction, nothing written for a bad input.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import type { JobQueue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { ManualClock, makeQueue, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

describe('queue contract: enqueueMany', () => {
  let db: TestDatabase;
  let store: Store;
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
    queue = makeQueue(store, new ManualClock());
  });

  it('enqueues each input once, in order, with the ids of the jobs that hold the keys', async () => {
    const existing = await queue.enqueue(store, { memberId: 'm1', name: 'sync', payload: { n: 'old' }, key: 'k2' });
    const results = await store.transaction((tx) =>
      queue.enqueueMany(tx, [
        { memberId: 'm1', name: 'sync', payload: { n: 1 }, key: 'k1' },
        { memberId: 'm1', name: 'sync', payload: { n: 2 }, key: 'k2' }, // already held by `existing`
        { memberId: 'm1', name: 'sync', payload: { n: 3 } }, // no key: always new
        { memberId: 'm1', name: 'sync', payload: { n: 4 }, key: 'k1' }, // repeats the first input
        { memberId: 'm2', name: 'sync', payload: { n: 5 }, key: 'k1' }, // another portal: another job
        { memberId: 'm1', name: 'sync', payload: { n: 6 } },
        { memberId: 'm1', name: 'sync', payload: { n: 7 }, key: 'k3', runAtMs: 5_000 },
      ]),
    );
    assert.deepEqual(
      results.map((r) => r.created),
      [true, false, true, false, true, true, true],
    );
    assert.equal(results[1]!.id, existing.job.id);
    assert.equal(results[3]!.id, results[0]!.id);
    const jobs = await Promise.all(results.map((r) => queue.get(r.id)));
    assert.deepEqual(
      jobs.map((job) => [job?.memberId, job?.key, job?.payload]),
      [
        ['m1', 'k1', { n: 1 }],
        ['m1', 'k2', { n: 'old' }],
        ['m1', null, { n: 3 }],
        ['m1', 'k1', { n: 1 }],
        ['m2', 'k1', { n: 5 }],
        ['m1', null, { n: 6 }],
        ['m1', 'k3', { n: 7 }],
      ],
    );
    assert.equal(jobs[6]?.runAtMs, 5_000);
    assert.equal(jobs[0]?.state, 'queued');
    assert.equal((await queue.counts()).queued, 6);
    assert.deepEqual(await queue.enqueueMany(store, []), []);
  });

  it('many rows in one call (past the chunk sizes) keep their order', async () => {
    const inputs = Array.from({ length: 777 }, (_, i) => ({ memberId: 'm1', name: 'bulk', payload: { i }, ...(i % 3 === 0 ? {} : { key: `b${i % 500}` }) }));
    const results = await store.transaction((tx) => queue.enqueueMany(tx, inputs));
    const jobs = await Promise.all(results.map((r) => queue.get(r.id)));
    inputs.forEach((input, i) => {
      if (results[i]!.created) assert.deepEqual(jobs[i]?.payload, { i }, `input ${i}`);
      assert.equal(jobs[i]?.key ?? undefined, input.key, `input ${i}`);
    });
    assert.equal((await queue.counts()).queued, new Set(results.map((r) => r.id)).size);
  });

  it('is atomic with the caller transaction, and writes nothing for an invalid input', async () => {
    await assert.rejects(
      store.transaction(async (tx) => {
        await queue.enqueueMany(tx, [{ memberId: 'm1', name: 'sync', payload: {}, key: 'a' }]);
        throw new Error('boom');
      }),
      /boom/,
    );
    await assert.rejects(
      queue.enqueueMany(store, [
        { memberId: 'm1', name: 'sync', payload: {}, key: 'b' },
        { memberId: '', name: 'sync', payload: {} },
      ]),
      (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_INVALID_ARGUMENT',
    );
    assert.equal((await queue.counts()).queued, 0);
  });
});
