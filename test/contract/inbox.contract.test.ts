/**
 * The event inbox on both dialects (src/events/inbox.ts): an inbox row and its job commit
 * together; a duplicate key enqueues nothing; group commit keeps each delivery's own outcome; a
 * failing transaction leaves neither row.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InboxWriter, recordDelivery, INBOX_TABLE } from '../../src/events/inbox.js';
import { JobQueue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

describe('event inbox contract', () => {
  let db: TestDatabase;
  let store: Store;
  let queue: JobQueue;
  before(async () => {
    db = createTestDatabase();
    store = await db.open();
    queue = new JobQueue({ store });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  beforeEach(async () => {
    await store.run(`DELETE FROM ${INBOX_TABLE}`);
    await store.run('DELETE FROM b24kit_jobs');
  });
  const count = async (table: string): Promise<number> => Number((await store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))?.n ?? 0);
  const entry = (key: string, handled = true) => ({ memberId: 'm1', dedupeKey: key, event: 'ONCRMDEALADD', ...(handled ? { job: { name: 'event:ONCRMDEALADD', payload: { key } } } : {}) });

  it('records the row and the job together; a duplicate key enqueues nothing', async () => {
    const first = await recordDelivery(store, queue, entry('k1'), 1);
    assert.equal(first.status, 'queued');
    const job = await queue.get(first.jobId!);
    assert.deepEqual([job?.key, job?.name, job?.payload], ['k1', 'event:ONCRMDEALADD', { key: 'k1' }]);
    assert.deepEqual(await recordDelivery(store, queue, entry('k1'), 2), { status: 'duplicate' });
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [1, 1]);
  });

  it('an unhandled event is recorded as ignored, without a job', async () => {
    assert.deepEqual(await recordDelivery(store, queue, entry('k2', false), 1), { status: 'ignored' });
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [1, 0]);
  });

  it('group commit: 300 deliveries at once (100 keys × 3 copies) → 100 queued, 200 duplicates, 100 jobs', async () => {
    const writer = new InboxWriter({ store, queue, nowMs: () => 1, maxBatch: 64 });
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => writer.record(entry(`g${i % 100}`))));
    assert.equal(outcomes.filter((o) => o.status === 'queued').length, 100);
    assert.equal(outcomes.filter((o) => o.status === 'duplicate').length, 200);
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [100, 100]);
  });

  it('group commit with batches in flight at once: copies in opposite orders → one job per key, no deadlock', async () => {
    const writer = new InboxWriter({ store, queue, nowMs: () => 1, maxBatch: 16, concurrency: 3 });
    const keys = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const order = [...keys, ...[...keys].reverse(), ...keys];
    const outcomes: Array<Promise<{ status: string }>> = [];
    for (const [i, key] of order.entries()) {
      outcomes.push(writer.record(entry(key)));
      if (i % 7 === 6) await new Promise((resolve) => setImmediate(resolve)); // spread over turns: several batches start
    }
    const settled = await Promise.all(outcomes);
    assert.equal(settled.filter((o) => o.status === 'queued').length, 60);
    assert.equal(settled.filter((o) => o.status === 'duplicate').length, 120);
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [60, 60]);
  });

  it('group commit: each delivery gets the job of its own key, in one batch', async () => {
    const writer = new InboxWriter({ store, queue, nowMs: () => 1 });
    const keys = Array.from({ length: 150 }, (_, i) => `j${i}`);
    const outcomes = await Promise.all(keys.map((key, i) => writer.record(entry(key, i % 10 !== 0))));
    const jobs = await Promise.all(outcomes.map((o) => (o.jobId === undefined ? undefined : queue.get(o.jobId))));
    keys.forEach((key, i) => {
      if (i % 10 === 0) assert.deepEqual(outcomes[i], { status: 'ignored' });
      else assert.deepEqual([outcomes[i]!.status, jobs[i]?.key, jobs[i]?.payload], ['queued', key, { key }]);
    });
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [150, 135]);
  });

  it('group commit: a failing delivery fails alone; its neighbours commit, nothing of it is stored', async () => {
    const writer = new InboxWriter({ store, queue, nowMs: () => 1 });
    // a payload JSON cannot serialise fails the batch's job INSERT; the batch is retried one by one
    const bad = { memberId: 'm1', dedupeKey: 'bad', event: 'ONCRMDEALADD', job: { name: 'event:ONCRMDEALADD', payload: { n: 1n } as never } };
    const settled = await Promise.allSettled([writer.record(entry('f1')), writer.record(bad), writer.record(entry('f2')), writer.record(entry('f1'))]);
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.status : 'rejected')),
      ['queued', 'rejected', 'queued', 'duplicate'],
    );
    const keys = (await store.all<{ dedupe_key: string }>(`SELECT dedupe_key FROM ${INBOX_TABLE} ORDER BY dedupe_key`)).map((r) => r.dedupe_key);
    assert.deepEqual(keys, ['f1', 'f2']);
    assert.deepEqual([await count('b24kit_jobs')], [2]);
  });

  it('fan-out: a delivery with a job per owner → one row, every job, in one batch; a copy enqueues none; a failing job fails the whole delivery', async () => {
    const writer = new InboxWriter({ store, queue, nowMs: () => 1 });
    const fanned = (key: string, payload: unknown = { key }) => ({
      memberId: 'm1',
      dedupeKey: key,
      event: 'ONCRMDEALADD',
      jobs: [
        { name: 'event:ONCRMDEALADD', payload: { key } },
        { name: 'event:ONCRMDEALADD@shop', payload: payload as never },
      ],
    });
    const settled = await Promise.allSettled([writer.record(fanned('o1')), writer.record(fanned('o2')), writer.record(fanned('o1')), writer.record(fanned('bad', { n: 1n }))]);
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.status : 'rejected')),
      ['queued', 'queued', 'duplicate', 'rejected'],
    );
    const first = (settled[0] as PromiseFulfilledResult<{ jobId?: number; jobIds?: number[] }>).value;
    assert.equal(first.jobIds?.length, 2);
    assert.equal(first.jobId, first.jobIds?.[0]);
    const jobs = await Promise.all(first.jobIds!.map((id) => queue.get(id)));
    assert.deepEqual(jobs.map((job) => [job?.name, job?.key]), [['event:ONCRMDEALADD', 'o1'], ['event:ONCRMDEALADD@shop', 'o1']]);
    // the bad delivery's first job was fine, its second not: neither it nor its row is stored
    const keys = (await store.all<{ dedupe_key: string }>(`SELECT dedupe_key FROM ${INBOX_TABLE} ORDER BY dedupe_key`)).map((r) => r.dedupe_key);
    assert.deepEqual(keys, ['o1', 'o2']);
    assert.deepEqual([await count('b24kit_jobs')], [4]);
  });

  it('a transaction that fails after recording leaves neither the row nor the job', async () => {
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.run(`INSERT INTO ${INBOX_TABLE} (member_id, dedupe_key, event, status, received_at_ms) VALUES ('m1', 'k3', 'E', 'queued', 1)`);
        await queue.enqueue(tx, { memberId: 'm1', name: 'event:E', payload: {}, key: 'k3' });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual([await count(INBOX_TABLE), await count('b24kit_jobs')], [0, 0]);
  });
});
