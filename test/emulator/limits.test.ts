import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { drainedLevel, secondsUntilFits, tryAdd, type BucketState } from '../../src/emulator/limits/leaky-bucket.js';
import { OperatingBudget } from '../../src/emulator/limits/operating.js';
import { advanceClock, control, createInstalledPortal, portalStats, rest, startTestEmulator } from '../helpers/emulator.js';

describe('leaky bucket (unit)', () => {
  const limits = { drainPerSecond: 2, burst: 50 };

  it('accepts up to the burst and refuses the next request', () => {
    const state: BucketState = { level: 0, updatedAtMs: 0 };
    for (let i = 0; i < 50; i += 1) assert.equal(tryAdd(state, 0, limits), true, `request ${i + 1}`);
    assert.equal(tryAdd(state, 0, limits), false);
  });

  it('drains at drainPerSecond: one more request after half a second at 2/s', () => {
    const state: BucketState = { level: 50, updatedAtMs: 0 };
    assert.equal(tryAdd(state, 499, limits, 1, false), false);
    assert.equal(tryAdd(state, 500, limits, 1, false), true);
    assert.equal(tryAdd(state, 500, limits, 1, false), false);
  });

  it('does not drift: 100 ms steps add up to whole requests', () => {
    const state: BucketState = { level: 50, updatedAtMs: 0 };
    let accepted = 0;
    // 10 s in 100 ms steps at 2/s frees exactly 20 requests; ask for one every step
    for (let t = 100; t <= 10_000; t += 100) if (tryAdd(state, t, limits, 1, false)) accepted += 1;
    assert.equal(accepted, 20);
    assert.equal(drainedLevel(state, 10_000, 2), 50);
  });

  it('counts refused requests by default, so hammering keeps the bucket full', () => {
    const counted: BucketState = { level: 50, updatedAtMs: 0 };
    assert.equal(tryAdd(counted, 0, limits), false);
    assert.equal(tryAdd(counted, 500, limits), false, 'the refused request still has to drain');
    assert.equal(tryAdd(counted, 1000, limits), false, 'and so has this one');
    assert.equal(tryAdd(counted, 2000, limits), true);

    const lenient: BucketState = { level: 50, updatedAtMs: 0 };
    assert.equal(tryAdd(lenient, 0, limits, 1, false), false);
    assert.equal(tryAdd(lenient, 500, limits, 1, false), true);
  });

  it('bills a cost of several requests at once and reports the wait', () => {
    const state: BucketState = { level: 45, updatedAtMs: 0 };
    assert.equal(secondsUntilFits(state, 0, limits, 10), 2.5);
    assert.equal(tryAdd(state, 0, limits, 10, false), false);
    assert.equal(tryAdd(state, 0, limits, 5, false), true);
    assert.equal(drainedLevel(state, 0, 2), 50);
  });
});

describe('operating budget (unit)', () => {
  const MINUTE = 60_000;

  it('sums per method and refuses only above the limit', () => {
    const budget = new OperatingBudget(() => 600);
    for (let i = 0; i < 3; i += 1) budget.add('crm.deal.list', 10 * MINUTE, 0.1);
    assert.equal(budget.used('crm.deal.list', 10 * MINUTE), 0.3);
    assert.equal(budget.exhausted('crm.deal.list', 10 * MINUTE, 0.3), false, 'exactly at the limit is not above it');
    budget.add('crm.deal.list', 10 * MINUTE, 0.000001);
    assert.equal(budget.exhausted('crm.deal.list', 10 * MINUTE, 0.3), true);
    assert.equal(budget.exhausted('crm.deal.add', 10 * MINUTE, 0.3), false);
  });

  it('drops a one-minute bucket when it leaves the window and reports when that happens', () => {
    const budget = new OperatingBudget(() => 600);
    budget.add('m', 10 * MINUTE + 30_000, 2); // minute 10
    budget.add('m', 12 * MINUTE + 5_000, 3); // minute 12
    assert.equal(budget.resetAt('m', 13 * MINUTE), (10 * MINUTE) / 1000 + 600);
    assert.equal(budget.used('m', 20 * MINUTE - 1), 5);
    assert.equal(budget.used('m', 20 * MINUTE), 3, 'minute 10 left the window at 10 min + 600 s');
    assert.equal(budget.resetAt('m', 20 * MINUTE), (12 * MINUTE) / 1000 + 600);
    assert.equal(budget.used('m', 22 * MINUTE), 0);
  });
});

describe('limits over HTTP', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('uses 2/s burst 50 by default and 5/s burst 250 on the enterprise plan', async () => {
    const normal = await control<{ limits: Record<string, number> }>(emu, '/portals', {});
    assert.deepEqual(normal.limits, { drainPerSecond: 2, burst: 50, operatingLimitSeconds: 480, operatingWindowSeconds: 600, countRefusedRequests: true });
    const enterprise = await control<{ limits: Record<string, number> }>(emu, '/portals', { plan: 'enterprise' });
    assert.equal(enterprise.limits.drainPerSecond, 5);
    assert.equal(enterprise.limits.burst, 250);
  });

  it('answers 503 QUERY_LIMIT_EXCEEDED beyond the burst until the clock drains the bucket', async () => {
    // one slot per 100 s of the emulator clock: nothing drains in real time, however slow the machine
    const portal = await createInstalledPortal(emu, { burst: 3, drainPerSecond: 0.01 });
    for (let i = 0; i < 3; i += 1) assert.equal((await rest(portal, 'profile')).status, 200);
    const refused = await rest(portal, 'profile');
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    await advanceClock(emu, 1000);
    assert.equal((await rest(portal, 'profile')).status, 200);
    const stats = await portalStats(emu, portal.memberId);
    assert.equal(stats.requests, 5);
    assert.equal(stats.rateLimitRejections, 1);
    assert.deepEqual(stats.byStatus, { 200: 4, 503: 1 });
  });

  it('blocks one spent method with 429 while other methods work, and frees it as the window moves', async () => {
    const portal = await createInstalledPortal(emu, { operatingLimitSeconds: 0.05, cost: { readMs: 20 } });
    const first = await rest(portal, 'user.current');
    const firstTime = first.body.time as { start: number; operating: number; operating_reset_at: number };
    assert.equal(firstTime.operating, 0.02);
    assert.equal(firstTime.operating_reset_at, Math.floor(firstTime.start / 60) * 60 + 600);
    await rest(portal, 'user.current');
    const third = await rest(portal, 'user.current');
    assert.equal(third.status, 200, 'the call that crosses the limit still runs');
    assert.equal((third.body.time as { operating: number }).operating, 0.06);

    const blocked = await rest(portal, 'user.current');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.body.error, 'OPERATION_TIME_LIMIT');
    const other = await rest(portal, 'profile');
    assert.equal(other.status, 200);
    assert.equal((other.body.time as { operating: number }).operating, 0.02);

    const stats = await portalStats(emu, portal.memberId);
    assert.equal(stats.operatingRejections, 1);

    await advanceClock(emu, 660);
    const again = await rest(portal, 'user.current');
    assert.equal(again.status, 200);
    assert.equal((again.body.time as { operating: number }).operating, 0.02);
  });

  it('changes limits and cost of a live portal with PUT …/limits', async () => {
    const portal = await createInstalledPortal(emu);
    const changed = await control<{ limits: { burst: number }; cost: { readMs: number } }>(
      emu,
      `/portals/${portal.memberId}/limits`,
      { burst: 1, cost: { readMs: 5 } },
      'PUT',
    );
    assert.equal(changed.limits.burst, 1);
    assert.equal(changed.cost.readMs, 5);
    const first = await rest(portal, 'profile');
    assert.equal((first.body.time as { operating: number }).operating, 0.005);
    assert.equal((await rest(portal, 'profile')).status, 503);
  });
});
