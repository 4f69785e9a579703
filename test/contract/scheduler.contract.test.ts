/**
 * The scheduler's contract on both dialects: one job per (schedule, portal, fire time) however many
 * schedulers tick — in-process on separate connections, and as separate processes; fire times in
 * each portal's time zone; the catch-up policies. Ticks take the clock as an argument.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { B24Error } from '../../src/errors.js';
import { JobQueue } from '../../src/queue/index.js';
import { Scheduler, type ScheduledJobPayload, type SchedulePortal } from '../../src/scheduler/index.js';
import { fireSlot } from '../../src/scheduler/fire.js';
import type { Store } from '../../src/store/types.js';
import { resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ticker = fileURLToPath(new URL('./fixtures/scheduler-ticker.ts', import.meta.url));
const at = (iso: string) => Date.parse(iso);
const MINUTE = 60_000;

describe('scheduler contract', () => {
  let db: TestDatabase;
  let store: Store;
  let queue: JobQueue;

  const scheduler = (portals: SchedulePortal[], s: Store = store) => new Scheduler({ store: s, queue: new JobQueue({ store: s }), portals: () => portals });
  const jobs = async () =>
    (await queue.list({ limit: 1000 })).map((j) => ({ memberId: j.memberId, name: j.name, ...(j.payload as ScheduledJobPayload), key: j.key }));

  before(async () => {
    db = createTestDatabase();
    store = await db.open();
    queue = new JobQueue({ store });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  beforeEach(() => resetQueueTables(store));

  it('fires 09:00 in each portal’s own time zone at the right UTC instant', async () => {
    const portals = [
      { memberId: 'berlin', timeZone: 'Europe/Berlin' },
      { memberId: 'tokyo', timeZone: 'Asia/Tokyo' },
      { memberId: 'unknown-zone', timeZone: null },
    ];
    const s = scheduler(portals).schedule('morning', '0 9 * * *');
    const fired: Array<[string, string]> = [];
    // every 5 minutes over a winter day and a summer day
    for (const day of ['2026-01-14T22:00:00Z', '2026-07-14T22:00:00Z']) {
      for (let t = at(day); t <= at(day) + 13 * 60 * MINUTE; t += 5 * MINUTE) {
        for (const slot of (await s.tick(t)).fired) fired.push([slot.memberId, new Date(slot.fireTimeMs).toISOString()]);
      }
    }
    assert.deepEqual(fired.sort(), [
      ['berlin', '2026-01-15T08:00:00.000Z'], // CET, UTC+1
      ['berlin', '2026-07-15T07:00:00.000Z'], // CEST, UTC+2
      ['tokyo', '2026-01-15T00:00:00.000Z'], // JST, UTC+9, no DST
      ['tokyo', '2026-07-15T00:00:00.000Z'],
      ['unknown-zone', '2026-01-15T09:00:00.000Z'], // the default zone, UTC
      ['unknown-zone', '2026-07-15T09:00:00.000Z'],
    ]);
    const tokyo = (await jobs()).filter((j) => j.memberId === 'tokyo').sort((a, b) => a.fireTimeMs - b.fireTimeMs);
    assert.equal(tokyo[0]?.name, 'morning');
    assert.equal(tokyo[0]?.timeZone, 'Asia/Tokyo');
    assert.equal(tokyo[0]?.missedSlots, 0);
    assert.equal(tokyo[1]?.key, `schedule:morning:${at('2026-07-15T00:00:00Z')}`);
    assert.equal(tokyo[1]?.missedSlots, 180, 'the days between the two test days were never ticked');
  });

  it('a schedule’s own tz applies to every portal', async () => {
    const s = scheduler([{ memberId: 'tokyo', timeZone: 'Asia/Tokyo' }]).schedule('report', '0 9 * * *', { tz: 'Europe/Berlin', jobName: 'send-report' });
    assert.deepEqual((await s.tick(at('2026-01-15T00:00:30Z'))).fired, []);
    const [slot] = (await s.tick(at('2026-01-15T08:00:30Z'))).fired;
    assert.equal(slot?.fireTimeMs, at('2026-01-15T08:00:00Z'));
    assert.equal((await queue.get(slot.jobId))?.name, 'send-report');
  });

  it('catch-up skip: missed slots are dropped; a late slot fires only within the grace window', async () => {
    const s = scheduler([{ memberId: 'm1' }]).schedule('hourly', '0 * * * *', { catchUp: 'skip', graceMs: 5 * MINUTE });
    assert.equal((await s.tick(at('2026-01-15T10:01:00Z'))).fired.length, 1);
    // down from 10:01 to 15:30: 11:00 … 15:00 were missed, and 15:00 is now 30 minutes late
    assert.deepEqual((await s.tick(at('2026-01-15T15:30:00Z'))).fired, []);
    const [slot] = (await s.tick(at('2026-01-15T16:04:00Z'))).fired;
    assert.equal(slot?.fireTimeMs, at('2026-01-15T16:00:00Z'));
    assert.equal(slot?.missedSlots, 5, '11:00–15:00 never ran');
    assert.equal((await jobs()).length, 2);
  });

  it('catch-up once: one job stands for all the missed slots', async () => {
    const s = scheduler([{ memberId: 'm1' }]).schedule('hourly', '0 * * * *', { catchUp: 'once', graceMs: 5 * MINUTE });
    assert.equal((await s.tick(at('2026-01-15T10:01:00Z'))).fired.length, 1);
    const [slot] = (await s.tick(at('2026-01-15T15:30:00Z'))).fired;
    assert.equal(slot?.fireTimeMs, at('2026-01-15T15:00:00Z'));
    assert.equal(slot?.missedSlots, 4, '11:00–14:00');
    assert.deepEqual((await s.tick(at('2026-01-15T15:45:00Z'))).fired, [], 'nothing more until 16:00');
    const all = await jobs();
    assert.equal(all.length, 2);
    assert.deepEqual(all.map((j) => j.missedSlots).sort(), [0, 4]);
  });

  it('a new portal or schedule does not fire long-past slots (no history to catch up)', async () => {
    const s = scheduler([{ memberId: 'm1' }]).schedule('daily', '0 9 * * *', { catchUp: 'once', graceMs: 5 * MINUTE });
    assert.deepEqual((await s.tick(at('2026-01-15T12:00:00Z'))).fired, []);
    assert.equal((await s.tick(at('2026-01-16T09:00:10Z'))).fired.length, 1);
  });

  it('3 schedulers on separate connections ticking the same slots enqueue exactly one job per slot', async (t) => {
    const portals = Array.from({ length: 20 }, (_, i) => ({ memberId: `p${i}`, timeZone: i % 2 ? 'Asia/Tokyo' : 'Europe/Berlin' }));
    const stores = await Promise.all([1, 2, 3].map(() => db.open()));
    try {
      const schedulers = stores.map((s) => scheduler(portals, s).schedule('digest', '*/15 * * * *', { graceMs: 5 * MINUTE }));
      let fired = 0;
      let lost = 0;
      const start = at('2026-01-15T10:00:05Z');
      for (let k = 0; k < 5; k++) {
        const reports = await Promise.all(schedulers.map((s, i) => s.tick(start + k * 15 * MINUTE + i * 1000)));
        for (const report of reports) {
          fired += report.fired.length;
          lost += report.lost;
          assert.equal(report.errors, 0);
        }
      }
      assert.equal(fired, 5 * 20, 'one firing per slot per portal');
      // a scheduler that reads the last fired slots before another's commit races for the slot and
      // loses; one that reads after it sees the slot fired and does not try: how many races there
      // were depends on timing (a loaded run had 180 of 200), so it is reported, not asserted
      t.diagnostic(`races lost by the other two schedulers: ${lost} of at most ${2 * 5 * 20}`);
      const perSlot = await store.all<{ n: number }>('SELECT COUNT(*) AS n FROM b24kit_jobs GROUP BY member_id, idempotency_key');
      assert.equal(perSlot.length, 100);
      assert.ok(perSlot.every((r) => Number(r.n) === 1));
      const slots = await store.one<{ n: number; linked: number }>('SELECT COUNT(*) AS n, COUNT(job_id) AS linked FROM b24kit_schedule_slots');
      assert.deepEqual([Number(slots?.n), Number(slots?.linked)], [100, 100]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('3 scheduler processes ticking the same slots enqueue exactly one job per slot', async () => {
    const start = at('2026-01-15T10:00:05Z');
    const ticks = Array.from({ length: 4 }, (_, k) => start + k * 15 * MINUTE);
    const run = () =>
      execFileAsync(process.execPath, ['--import', 'tsx', ticker], {
        cwd: repoRoot,
        env: { ...process.env, ...db.childEnv, TICKS: JSON.stringify(ticks), PORTALS: '10' },
        timeout: 60_000,
      });
    const results = (await Promise.all([run(), run(), run()])).map((r) => JSON.parse(r.stdout) as { fired: number; lost: number; errors: number });
    assert.equal(results.reduce((sum, r) => sum + r.fired, 0), 4 * 10);
    assert.equal(results.reduce((sum, r) => sum + r.errors, 0), 0);
    assert.equal((await queue.counts()).queued, 40);
    const dupes = await store.all('SELECT member_id, idempotency_key FROM b24kit_jobs GROUP BY member_id, idempotency_key HAVING COUNT(*) > 1');
    assert.deepEqual(dupes, []);
  });

  it('a scheduler whose clock lags cannot fire a slot behind one already fired', async () => {
    const portals = [{ memberId: 'm1' }];
    const ahead = scheduler(portals).schedule('minutely', '* * * * *', { graceMs: 5 * MINUTE });
    const behind = scheduler(portals).schedule('minutely', '* * * * *', { graceMs: 5 * MINUTE });
    assert.equal((await ahead.tick(at('2026-01-15T10:01:01Z'))).fired.length, 1);
    const late = await behind.tick(at('2026-01-15T10:00:59Z'));
    assert.deepEqual(late.fired, [], '10:00 is older than the 10:01 slot already fired');
    assert.equal((await queue.counts()).queued, 1);
    // the same guard inside the slot transaction, for a scheduler that read the last slot before the newer one was fired
    const stale = { schedule: 'minutely', jobName: 'minutely', memberId: 'm1', timeZone: 'UTC', missedSlots: 0, maxAttempts: undefined };
    assert.equal(await fireSlot(store, queue, { ...stale, fireTimeMs: at('2026-01-15T10:00:00Z') }, at('2026-01-15T10:00:59Z')), undefined);
    assert.equal(await fireSlot(store, queue, { ...stale, fireTimeMs: at('2026-01-15T10:01:00Z') }, at('2026-01-15T10:01:02Z')), undefined);
    assert.equal((await queue.counts()).queued, 1);
  });

  it('refuses an invalid pattern or time zone, and skips a portal with an unknown zone', async () => {
    const s = scheduler([{ memberId: 'mars', timeZone: 'Mars/Olympus' }, { memberId: 'earth', timeZone: 'UTC' }]);
    assert.throws(() => s.schedule('bad', 'every monday'), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_SCHEDULE');
    assert.throws(() => s.schedule('bad', '0 9 * * *', { tz: 'Nowhere/Zone' }), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_SCHEDULE');
    s.schedule('ok', '0 9 * * *');
    const report = await s.tick(at('2026-01-15T09:00:30Z'));
    assert.deepEqual(report.fired.map((f) => f.memberId), ['earth']);
    assert.equal(report.errors, 1);
  });

  it('prunes old slots but keeps the latest of each schedule and portal', async () => {
    const s = scheduler([{ memberId: 'm1' }, { memberId: 'm2' }]).schedule('hourly', '0 * * * *', { graceMs: 5 * MINUTE });
    for (let h = 10; h <= 13; h++) await s.tick(at(`2026-01-15T${h}:00:30Z`));
    assert.equal(await s.pruneSlots(at('2026-01-16T00:00:00Z')), 6);
    const left = await store.all<{ member_id: string; fire_time_ms: number }>('SELECT member_id, fire_time_ms FROM b24kit_schedule_slots ORDER BY member_id');
    assert.deepEqual(left.map((r) => [r.member_id, Number(r.fire_time_ms)]), [
      ['m1', at('2026-01-15T13:00:00Z')],
      ['m2', at('2026-01-15T13:00:00Z')],
    ]);
    assert.deepEqual((await s.tick(at('2026-01-15T13:01:00Z'))).fired, [], 'the kept slot still guards against refiring');
  });
});
