/**
 * Retention on both dialects (src/app/retention.ts): each kind of row is purged after its own
 * window — succeeded jobs before dead ones, queued and running jobs never — in batches; the latest
 * slot of a schedule stays; a recent event's repeat is still a duplicate after its job row is gone
 * (the inbox row is what remembers it); one run per fire time across schedulers.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { INBOX_TABLE, recordDelivery } from '../../src/events/inbox.js';
import { ONCE_TABLE } from '../../src/app/once.js';
import { claimRetentionRun, DAY_MS, purgeExpired, resolveRetention, RETENTION_SLOT, RetentionRunner } from '../../src/app/retention.js';
import type { RetentionConfig } from '../../src/app/settings.js';
import type { JobQueue } from '../../src/queue/index.js';
import { SLOTS_TABLE } from '../../src/scheduler/fire.js';
import type { Store } from '../../src/store/types.js';
import { makeQueue, ManualClock, resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const HOUR = 3_600_000;

describe('retention contract', () => {
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
    await store.run(`DELETE FROM ${INBOX_TABLE}`);
    await store.run(`DELETE FROM ${ONCE_TABLE}`);
    clock = new ManualClock();
    // a year-long lease: the running job stays running whatever the clock does
    queue = makeQueue(store, clock, { leaseMs: 365 * DAY_MS, maxRunningPerPortal: 100 });
  });

  const count = async (table: string, where = '1 = 1', params: Array<string | number> = []): Promise<number> =>
    Number((await store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, params))?.n ?? 0);
  const exists = async (id: number): Promise<boolean> => (await queue.get(id)) !== undefined;

  /** Enqueues a job and runs it to `state` now (claimed alone: `name` is unique). */
  const finished = async (name: string, state: 'succeeded' | 'dead', memberId = 'm1'): Promise<number> => {
    const { job } = await queue.enqueue(store, { memberId, name, payload: {}, maxAttempts: 1 });
    const [claimed] = await queue.claim('w1', { names: [name] });
    assert.equal(claimed?.id, job.id);
    if (state === 'succeeded') await queue.complete(job.id, 'w1', null);
    else assert.equal((await queue.fail(job.id, 'w1', new Error('boom'))).state, 'dead');
    return job.id;
  };
  const event = (key: string) => ({ memberId: 'm1', dedupeKey: key, event: 'ONCRMDEALADD', job: { name: `event:${key}`, payload: { key } } });
  /** Records an event and runs its job to success now. */
  const handledEvent = async (key: string): Promise<number> => {
    const outcome = await recordDelivery(store, queue, event(key), clock.now);
    assert.equal(outcome.status, 'queued');
    const [claimed] = await queue.claim('w1', { names: [`event:${key}`] });
    await queue.complete(claimed!.id, 'w1', null);
    return claimed!.id;
  };
  const slot = (name: string, fireTimeMs: number) =>
    store.run(`INSERT INTO ${SLOTS_TABLE} (name, member_id, fire_time_ms, missed_slots, created_at_ms) VALUES (?, 'm1', ?, 0, ?)`, [name, fireTimeMs, fireTimeMs]);
  const slotTimes = async (name: string): Promise<number[]> =>
    (await store.all<{ t: number }>(`SELECT fire_time_ms AS t FROM ${SLOTS_TABLE} WHERE name = ? ORDER BY fire_time_ms`, [name])).map((row) => Number(row.t));

  it('defaults (as docs/app.md states them): dead jobs kept 30 days, succeeded ones and the rest 7; bad settings → B24_ERR_CONFIG', () => {
    assert.deepEqual(resolveRetention(), { succeededJobsDays: 7, deadJobsDays: 30, inboxDays: 7, scheduleSlotsDays: 7, cron: '37 * * * *', batchSize: 1000 });
    assert.deepEqual(resolveRetention({ cron: false, inboxDays: 14, deadJobsDays: Infinity }), {
      succeededJobsDays: 7,
      deadJobsDays: Infinity,
      inboxDays: 14,
      scheduleSlotsDays: 7,
      cron: false,
      batchSize: 1000,
    });
    const bad: Array<[RetentionConfig, RegExp]> = [
      [{ inboxDays: 0 }, /retention\.inboxDays must be a positive number of days/],
      [{ deadJobsDays: -1 }, /retention\.deadJobsDays/],
      [{ succeededJobsDays: Number.NaN }, /retention\.succeededJobsDays/],
      [{ scheduleSlotsDays: 0 }, /retention\.scheduleSlotsDays/],
      [{ batchSize: 0 }, /retention\.batchSize must be an integer in 1\.\.10000/],
      [{ batchSize: 10_001 }, /retention\.batchSize/],
      [{ batchSize: 2.5 }, /retention\.batchSize/],
      // a bad cron is a mistake in the app's configuration, refused at startup like the others
      [{ cron: 'not a cron' }, /retention\.cron must be a cron pattern \(UTC\) or false/],
      [{ cron: '61 * * * *' }, /retention\.cron/],
    ];
    for (const [config, message] of bad) {
      assert.throws(() => resolveRetention(config), { name: 'B24Error', code: 'B24_ERR_CONFIG', message }, JSON.stringify(config));
    }
  });

  it('purges each kind of row after its own window; recent rows and queued/running jobs stay; a recent duplicate is still caught', async () => {
    const t0 = clock.now;
    // day 0: a running job (m2) and a queued one not due for a year — old, but not finished
    const { job: running } = await queue.enqueue(store, { memberId: 'm2', name: 'long', payload: {} });
    assert.equal((await queue.claim('w1', { names: ['long'] }))[0]?.id, running.id);
    const { job: queued } = await queue.enqueue(store, { memberId: 'm1', name: 'later', payload: {}, runAtMs: t0 + 365 * DAY_MS });
    const oldSucceeded = await finished('old-ok', 'succeeded');
    await store.run(`INSERT INTO ${ONCE_TABLE} (job_id, once_key, member_id, result, created_at_ms) VALUES (?, 'k', 'm1', 'null', ?)`, [oldSucceeded, t0]);
    const oldDead = await finished('old-dead', 'dead');
    const oldEventJob = await handledEvent('old-evt');
    assert.equal((await recordDelivery(store, queue, { memberId: 'm1', dedupeKey: 'old-ignored', event: 'ONX' }, clock.now)).status, 'ignored');
    await slot('s', t0);
    await slot('s', t0 + HOUR);
    await slot('s', t0 + 9 * DAY_MS);
    await slot('lonely', t0); // the only slot of its schedule: kept however old

    // day 7: an event handled, a job dead
    clock.advance(7 * DAY_MS);
    const recentEventJob = await handledEvent('recent-evt');
    const recentDead = await finished('recent-dead', 'dead');
    // day 9.5: a job succeeded
    clock.advance(2.5 * DAY_MS);
    const recentSucceeded = await finished('recent-ok', 'succeeded');

    // day 10: succeeded jobs live 2 days here, shorter than the inbox's 7, so the 3-day-old event's job is gone
    clock.advance(0.5 * DAY_MS);
    const retention = resolveRetention({ succeededJobsDays: 2, batchSize: 2 });
    const report = await purgeExpired(store, retention, { nowMs: clock.now });
    assert.deepEqual(
      { succeededJobs: report.succeededJobs, deadJobs: report.deadJobs, inbox: report.inbox, scheduleSlots: report.scheduleSlots },
      { succeededJobs: 3, deadJobs: 0, inbox: 2, scheduleSlots: 2 },
    );
    assert.ok(report.batches >= 6, `batched: ${report.batches} statements`);
    assert.deepEqual(
      await Promise.all([oldSucceeded, oldEventJob, recentEventJob, recentSucceeded, oldDead, recentDead, queued.id, running.id].map(exists)),
      [false, false, false, true, true, true, true, true],
    );
    assert.equal((await queue.get(running.id))?.state, 'running');
    assert.equal((await queue.get(queued.id))?.state, 'queued');
    assert.equal(await count(ONCE_TABLE), 0, "the purged job's ctx.once memo went with it");
    assert.deepEqual(
      (await store.all<{ k: string }>(`SELECT dedupe_key AS k FROM ${INBOX_TABLE} ORDER BY dedupe_key`)).map((row) => row.k),
      ['recent-evt'],
    );
    assert.deepEqual(await slotTimes('s'), [t0 + 9 * DAY_MS]);
    assert.deepEqual(await slotTimes('lonely'), [t0]);

    // the repeat of the recent event: its job row is gone, its inbox row still says "seen"
    assert.deepEqual(await recordDelivery(store, queue, event('recent-evt'), clock.now), { status: 'duplicate' });
    // an event past the inbox window is new again (why inboxDays must cover the latest possible repeat)
    assert.equal((await recordDelivery(store, queue, event('old-evt'), clock.now)).status, 'queued');

    // idempotent: nothing more to delete now
    const again = await purgeExpired(store, retention, { nowMs: clock.now });
    assert.equal(again.succeededJobs + again.deadJobs + again.inbox + again.scheduleSlots, 0);

    // day 31: the 31-day-old dead job goes, the 24-day-old one stays
    clock.advance(21 * DAY_MS);
    const late = await purgeExpired(store, retention, { nowMs: clock.now });
    assert.equal(late.deadJobs, 1);
    assert.deepEqual(await Promise.all([oldDead, recentDead, queued.id, running.id].map(exists)), [false, true, true, true]);
  });

  it('a backlog larger than a batch is deleted in several statements; concurrent purges are harmless', async () => {
    for (let i = 0; i < 7; i++) await finished(`bulk-${i}`, 'succeeded');
    clock.advance(8 * DAY_MS);
    const retention = resolveRetention({ batchSize: 3 });
    const report = await purgeExpired(store, retention, { nowMs: clock.now });
    assert.equal(report.succeededJobs, 7);
    assert.ok(report.batches >= 3 + 1 + 1 + 1, `three job batches, then one per other kind: ${report.batches}`);
    for (let i = 0; i < 5; i++) await finished(`more-${i}`, 'succeeded');
    clock.advance(8 * DAY_MS);
    const reports = await Promise.all([purgeExpired(store, retention, { nowMs: clock.now }), purgeExpired(store, retention, { nowMs: clock.now })]);
    assert.equal(reports[0].succeededJobs + reports[1].succeededJobs, 5);
    assert.equal(await count('b24kit_jobs'), 0);
  });

  it('one run per fire time across three schedulers, each on its own connection', async () => {
    const stores = [store, await db.open(), await db.open()];
    try {
      await finished('stale', 'succeeded');
      clock.advance(8 * DAY_MS);
      const runners = stores.map((s) => new RetentionRunner({ store: s, retention: resolveRetention({ cron: '37 * * * *' }), nowMs: clock.nowMs }));
      const reports = await Promise.all(runners.map((runner) => runner.tick(clock.now)));
      assert.equal(reports.filter((r) => r !== undefined).length, 1);
      assert.equal(reports.find((r) => r !== undefined)?.succeededJobs, 1);
      // the same fire time again: nobody; the next one: exactly one again
      assert.deepEqual(await Promise.all(runners.map((runner) => runner.tick(clock.now + 10_000))), [undefined, undefined, undefined]);
      clock.advance(HOUR);
      assert.equal((await Promise.all(runners.map((runner) => runner.tick(clock.now)))).filter((r) => r !== undefined).length, 1);
      // a lagging clock cannot claim a fire time older than one already run
      assert.equal(await claimRetentionRun(store, clock.now - 5 * HOUR, clock.now), false);
      assert.equal(await count(SLOTS_TABLE, 'name = ?', [RETENTION_SLOT]), 2);
    } finally {
      await Promise.all(stores.slice(1).map((s) => s.close()));
    }
  });
});
