/** Which slot a scheduler tick fires: the pure decision, over a real cron (croner) and time zones. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { compileCron } from '../../src/scheduler/cron.js';
import { dueSlot } from '../../src/scheduler/slots.js';

const at = (iso: string) => Date.parse(iso);
const MINUTE = 60_000;
const hourly = compileCron('0 * * * *', 'UTC');

describe('due slot', () => {
  it('fires the latest slot at or before now, once', () => {
    const base = { cron: hourly, catchUp: 'skip' as const, graceMs: 5 * MINUTE };
    assert.deepEqual(dueSlot({ ...base, nowMs: at('2026-01-15T10:00:00Z'), lastFiredMs: at('2026-01-15T09:00:00Z') }), {
      fireTimeMs: at('2026-01-15T10:00:00Z'),
      missedSlots: 0,
    });
    assert.equal(dueSlot({ ...base, nowMs: at('2026-01-15T09:59:59.999Z'), lastFiredMs: at('2026-01-15T09:00:00Z') }), undefined);
    assert.equal(dueSlot({ ...base, nowMs: at('2026-01-15T10:03:00Z'), lastFiredMs: at('2026-01-15T10:00:00Z') }), undefined, 'already fired');
  });

  it('skip: only within the grace window; once: however late, counting the missed slots', () => {
    const late = { cron: hourly, nowMs: at('2026-01-15T15:30:00Z'), lastFiredMs: at('2026-01-15T10:00:00Z'), graceMs: 5 * MINUTE };
    assert.equal(dueSlot({ ...late, catchUp: 'skip' }), undefined);
    assert.deepEqual(dueSlot({ ...late, catchUp: 'once' }), { fireTimeMs: at('2026-01-15T15:00:00Z'), missedSlots: 4 });
    assert.deepEqual(dueSlot({ ...late, catchUp: 'skip', nowMs: at('2026-01-15T15:04:59Z') }), { fireTimeMs: at('2026-01-15T15:00:00Z'), missedSlots: 4 });
  });

  it('without history, fires only a slot within the grace window (both policies)', () => {
    for (const catchUp of ['skip', 'once'] as const) {
      const base = { cron: hourly, lastFiredMs: undefined, graceMs: 5 * MINUTE, catchUp };
      assert.equal(dueSlot({ ...base, nowMs: at('2026-01-15T10:30:00Z') }), undefined);
      assert.deepEqual(dueSlot({ ...base, nowMs: at('2026-01-15T10:04:00Z') }), { fireTimeMs: at('2026-01-15T10:00:00Z'), missedSlots: 0 });
    }
  });

  it('caps the count of missed slots', () => {
    const minutely = compileCron('* * * * *', 'UTC');
    const decision = dueSlot({ cron: minutely, nowMs: at('2026-03-01T00:00:00Z'), lastFiredMs: at('2026-01-01T00:00:00Z'), catchUp: 'once', graceMs: 0, maxCount: 100 });
    assert.deepEqual(decision, { fireTimeMs: at('2026-03-01T00:00:00Z'), missedSlots: 100 });
  });

  it('evaluates in the time zone, across daylight saving time', () => {
    const berlin = compileCron('30 2 * * *', 'Europe/Berlin');
    // 2026-03-29: Berlin skips 02:00–03:00; croner fires the non-existent 02:30 at the jump
    const spring = berlin.nextAfter(at('2026-03-28T12:00:00Z'));
    assert.ok(spring !== undefined && spring >= at('2026-03-29T00:00:00Z') && spring <= at('2026-03-29T01:30:00Z'), new Date(spring ?? 0).toISOString());
    assert.equal(berlin.latestAtOrBefore(at('2026-07-01T00:30:00Z')), at('2026-07-01T00:30:00Z'), '02:30 CEST is 00:30 UTC');
    assert.equal(compileCron('0 9 * * *', 'Asia/Tokyo').latestAtOrBefore(at('2026-01-15T00:00:00Z')), at('2026-01-15T00:00:00Z'));
  });

  it('refuses an invalid pattern or time zone with B24_ERR_SCHEDULE', () => {
    assert.throws(() => compileCron('61 * * * *', 'UTC'), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_SCHEDULE');
    assert.throws(() => compileCron('0 9 * * *', 'Nowhere/Zone'), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_SCHEDULE');
  });
});
