/**
 * Schedules run in the portal's time zone when known: the app reads the installing admin's
 * TIME_ZONE (`profile`) at install and stores it (b24kit_portal_settings); the scheduler fires a
 * portal's `0 9 * * *` at 09:00 in that zone — 00:00Z for Asia/Tokyo — and at 09:00 in the app's
 * default zone (UTC) for a portal that did not say. The app's clock is injected and moved.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ScheduledJobPayload } from '../../src/scheduler/fire.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

const DAY = Date.parse('2020-01-15T12:00:00Z');
const TOKYO_NINE = Date.parse('2020-01-16T00:00:00Z');
const UTC_NINE = Date.parse('2020-01-16T09:00:00Z');

describe('a schedule fires in the portal time zone', () => {
  let t: TestApp;
  let tokyo: EmulatorInstall;
  let unknown: EmulatorInstall;
  const fired: Array<{ memberId: string; schedule: ScheduledJobPayload }> = [];
  // the app's clock: moves with real time from `base`, and jumps forward when the test says so
  let base = DAY;
  const started = Date.now();
  const clock = (): number => base + (Date.now() - started);
  const jumpTo = (ms: number): void => void (base = ms - (Date.now() - started));

  before(async () => {
    t = await startTestApp((app) => app.schedule('morning', '0 9 * * *', (ctx) => void fired.push({ memberId: ctx.portal.memberId, schedule: ctx.schedule })), {
      config: { nowMs: clock, scheduler: { intervalMs: 100 } },
      roles: { scheduler: true },
    });
    tokyo = await t.install({ timeZone: 'Asia/Tokyo' });
    unknown = await t.install({ timeZone: '' });
  });
  after(() => t.close());

  it('install stores the admin time zone (NULL when the portal does not say)', async () => {
    const rows = await t.store.all<{ member_id: string; time_zone: string | null }>('SELECT member_id, time_zone FROM b24kit_portal_settings');
    const zones = new Map(rows.map((row) => [row.member_id, row.time_zone]));
    assert.equal(zones.get(tokyo.memberId), 'Asia/Tokyo');
    assert.equal(zones.get(unknown.memberId), null);
    assert.deepEqual(fired, [], 'nothing due at noon UTC');
  });

  it('00:00Z: the Tokyo portal gets its 09:00; the other does not', async () => {
    jumpTo(TOKYO_NINE + 2000);
    await waitFor(() => fired.length >= 1, 10_000, 'the Tokyo slot');
    await new Promise((resolve) => setTimeout(resolve, 400)); // more ticks: nothing else is due
    assert.deepEqual(fired, [{ memberId: tokyo.memberId, schedule: { schedule: 'morning', fireTimeMs: TOKYO_NINE, timeZone: 'Asia/Tokyo', missedSlots: 0 } }]);
  });

  it("09:00Z: the portal without a zone gets its 09:00 in the app's default (UTC)", async () => {
    jumpTo(UTC_NINE + 2000);
    await waitFor(() => fired.length >= 2, 10_000, 'the UTC slot');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(fired[1], { memberId: unknown.memberId, schedule: { schedule: 'morning', fireTimeMs: UTC_NINE, timeZone: 'UTC', missedSlots: 0 } });
    assert.equal(fired.length, 2);
  });
});
