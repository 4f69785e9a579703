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
