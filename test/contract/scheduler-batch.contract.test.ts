/**
 * A tick fires its slots in batches (src/scheduler/fire.ts, FIRE_BATCH portals per transaction):
 * over more portals than one batch, two schedulers ticking at once still fire every slot once, each
 * slot's row names its job, and the next tick fires nothing again.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue } from '../../src/queue/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import { FIRE_BATCH } from '../../src/scheduler/fire.js';
import type { Store } from '../../src/store/types.js';
import { resetQueueTables } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

describe('scheduler batches contract', () => {
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

  it(`two schedulers over ${FIRE_BATCH * 2 + 7} portals in 3 zones fire each portal's slot once, its job recorded on the slot`, async () => {
    const zones = ['UTC', 'Europe/Berlin', 'Asia/Tokyo'];
    const portals = Array.from({ length: FIRE_BATCH * 2 + 7 }, (_, i) => ({ memberId: `p${i}`, timeZone: zones[i % 3]! }));
    const other = await db.open();
    try {
      const schedulers = [store, other].map((s) => new Scheduler({ store: s, queue: new JobQueue({ store: s }), portals: () => portals }).schedule('hourly', '0 * * * *'));
      const now = Date.UTC(2026, 0, 15, 9, 0, 20);
      const [first, second] = await Promise.all(schedulers.map((s) => s.tick(now)));
      const fired = [...first!.fired, ...second!.fired];
      assert.equal(fired.length, portals.length, 'every portal fired once across both');
      assert.equal(new Set(fired.map((f) => f.memberId)).size, portals.length);
      assert.equal(first!.lost + second!.lost, portals.length, 'the other scheduler lost each of them');
      assert.equal(first!.errors + second!.errors, 0);
      const queue = new JobQueue({ store });
      assert.equal((await queue.counts()).queued, portals.length);
      const unlinked = await store.one<{ n: number }>(
        `SELECT COUNT(*) AS n FROM b24kit_schedule_slots s WHERE s.job_id IS NULL OR NOT EXISTS (SELECT 1 FROM b24kit_jobs j WHERE j.id = s.job_id AND j.member_id = s.member_id)`,
      );
      assert.equal(Number(unlinked?.n), 0, "every slot row names its portal's job");
      const again = await schedulers[0]!.tick(now + 10_000);
      assert.deepEqual([again.fired.length, again.errors], [0, 0], 'nothing fires twice');
    } finally {
      await other.close();
    }
  });
});
