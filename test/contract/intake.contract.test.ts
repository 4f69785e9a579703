/**
 * Idempotent intake on both dialects (src/app/intake.ts): the rule table — created, duplicate,
 * superseded (same job, new payload), revised (after the job started or finished), retried (after a
 * dead job) — and concurrent copies of one new item making exactly one job.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ingest, INTAKE_TABLE, payloadHash } from '../../src/app/intake.js';
import { B24Error } from '../../src/errors.js';
import type { JobQueue } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { makeQueue, ManualClock, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const MEMBER = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4';
const JOB = 'job:shop.order';

describe('intake contract', () => {
  let db: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let queue: JobQueue;
  const take = (externalId: string, payload: { total: number; currency: string }) =>
    ingest({ store, queue, nowMs: clock.nowMs }, { memberId: MEMBER, jobName: JOB, externalId, payload });
  /** Claims and finishes the item's job as a worker would. */
  const finish = async (jobId: number, outcome: 'succeed' | 'die'): Promise<void> => {
    const [claimed] = await queue.claim('w1', { limit: 1 });
    assert.equal(claimed?.id, jobId, 'the item’s job is the one claimed');
    if (outcome === 'succeed') await queue.complete(jobId, 'w1', { ok: true });
    else await queue.fail(jobId, 'w1', Object.assign(new Error('bad currency'), { code: 'B24_ERR_JOB_NON_RETRYABLE' }));
  };

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
    await store.run(`DELETE FROM ${INTAKE_TABLE}`);
    clock = new ManualClock();
    queue = makeQueue(store, clock, { defaults: { maxAttempts: 1 } });
  });

  it('with versions: an older version is stale and changes nothing, whatever the job state; an equal or newer one is judged as usual', async () => {
    const at = (version: number, total: number) =>
      ingest({ store, queue, nowMs: clock.nowMs }, { memberId: MEMBER, jobName: JOB, externalId: '1010', payload: { total, currency: 'EUR' }, version });
    const first = await at(2_000, 10);
    assert.equal(first.outcome, 'created');
    const older = await at(1_000, 99); // delivered out of order, or replayed
    assert.deepEqual([older.outcome, older.job.id, older.revision], ['stale', first.job.id, 1]);
    assert.deepEqual((await queue.get(first.job.id))?.payload, { total: 10, currency: 'EUR' }, 'the queued job kept its payload');
    const newer = await at(3_000, 12);
    assert.deepEqual([newer.outcome, newer.job.id, newer.revision], ['superseded', first.job.id, 2]);
    await finish(first.job.id, 'succeed');
    assert.equal((await at(2_500, 11)).outcome, 'stale', 'older than the newest seen (3000), after the job finished too');
    assert.equal((await at(3_000, 12)).outcome, 'duplicate');
    const equalChanged = await at(3_000, 13);
    assert.equal(equalChanged.outcome, 'revised', 'an equal version with another payload is a change');
    // a call without a version keeps the newest one seen
    const unversioned = await ingest({ store, queue, nowMs: clock.nowMs }, { memberId: MEMBER, jobName: JOB, externalId: '1010', payload: { total: 14, currency: 'EUR' } });
    assert.equal(unversioned.outcome, 'superseded');
    assert.equal((await at(2_999, 15)).outcome, 'stale');
    const row = await store.one<{ version: number | string }>(`SELECT version FROM ${INTAKE_TABLE} WHERE external_id = '1010'`);
    assert.equal(Number(row?.version), 3_000);
    // the same payload with a newer version changes no job, but raises the newest version seen
    const same = await ingest({ store, queue, nowMs: clock.nowMs }, { memberId: MEMBER, jobName: JOB, externalId: '1010', payload: { total: 14, currency: 'EUR' }, version: 5_000 });
    assert.equal(same.outcome, 'duplicate');
    assert.equal((await at(4_000, 16)).outcome, 'stale', 'older than the duplicate’s version');
    await assert.rejects(at(1.5, 1), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_INVALID_ARGUMENT');
  });

  it('a first item is created; the same payload again is a duplicate of the same job', async () => {
    const first = await take('1001', { total: 10, currency: 'EUR' });
    assert.equal(first.outcome, 'created');
    assert.equal(first.revision, 1);
    const again = await take('1001', { currency: 'EUR', total: 10 }); // key order does not matter
    assert.deepEqual([again.outcome, again.job.id, again.revision], ['duplicate', first.job.id, 1]);
    assert.equal((await queue.counts()).queued, 1);
  });

  it('a changed payload while the job is queued supersedes it: same job, new payload, next revision', async () => {
    const first = await take('1002', { total: 10, currency: 'EUR' });
    const changed = await take('1002', { total: 12, currency: 'EUR' });
    assert.deepEqual([changed.outcome, changed.job.id, changed.revision], ['superseded', first.job.id, 2]);
    assert.deepEqual((await queue.get(first.job.id))?.payload, { total: 12, currency: 'EUR' });
    assert.equal((await queue.counts()).queued, 1, 'still one job');
  });

  it('a changed payload after the job succeeded is a new revision with a new job; the same payload stays a duplicate', async () => {
    const first = await take('1003', { total: 10, currency: 'EUR' });
    await finish(first.job.id, 'succeed');
    assert.equal((await take('1003', { total: 10, currency: 'EUR' })).outcome, 'duplicate');
    const revised = await take('1003', { total: 11, currency: 'EUR' });
    assert.equal(revised.outcome, 'revised');
    assert.notEqual(revised.job.id, first.job.id);
    assert.equal(revised.revision, 2);
  });

  it('an item whose job went dead runs again when it arrives again — corrected or not', async () => {
    const bad = await take('1004', { total: 10, currency: 'XXX' });
    await finish(bad.job.id, 'die');
    assert.equal((await queue.get(bad.job.id))?.state, 'dead');
    const corrected = await take('1004', { total: 10, currency: 'EUR' });
    assert.equal(corrected.outcome, 'retried');
    assert.notEqual(corrected.job.id, bad.job.id);
    assert.equal(corrected.job.state, 'queued');
    assert.deepEqual(corrected.job.payload, { total: 10, currency: 'EUR' });
    await finish(corrected.job.id, 'die');
    const same = await take('1004', { total: 10, currency: 'EUR' });
    assert.equal(same.outcome, 'retried', 'the same payload after a dead job runs again too');
  });

  it('a running job is not changed under its handler: a changed payload makes a new job', async () => {
    const first = await take('1005', { total: 10, currency: 'EUR' });
    const [claimed] = await queue.claim('w1', { limit: 1 });
    assert.equal(claimed?.id, first.job.id);
    const revised = await take('1005', { total: 20, currency: 'EUR' });
    assert.equal(revised.outcome, 'revised');
    assert.deepEqual((await queue.get(first.job.id))?.payload, { total: 10, currency: 'EUR' }, 'the running job keeps its payload');
  });

  it('20 concurrent copies of a new item make one job', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => take('2001', { total: 5, currency: 'EUR' })));
    assert.equal(new Set(answers.map((answer) => answer.job.id)).size, 1);
    assert.equal(answers.filter((answer) => answer.outcome === 'created').length, 1);
    assert.equal((await queue.counts()).queued, 1);
    const row = await store.one<{ revision: number; payload_hash: string }>(`SELECT revision, payload_hash FROM ${INTAKE_TABLE} WHERE external_id = ?`, ['2001']);
    assert.deepEqual({ revision: Number(row?.revision), hash: row?.payload_hash }, { revision: 1, hash: payloadHash({ total: 5, currency: 'EUR' }) });
  });

  it('a malformed external id is refused before anything is stored', async () => {
    for (const externalId of ['', 'has space', 'x'.repeat(201), 'line\nbreak']) {
      await assert.rejects(take(externalId, { total: 1, currency: 'EUR' }), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_INVALID_ARGUMENT');
    }
    assert.equal((await store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${INTAKE_TABLE}`))?.n, 0);
  });
});
