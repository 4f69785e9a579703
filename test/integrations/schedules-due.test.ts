/**
 * dueRules, the policy of when a rule runs: at its latest fire time in the portal's zone, when the
 * tick is less than `lookbackMs` after it; slotId names the slot for ingest.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dueRules, slotId } from '../../src/integrations/schedules/due.js';
import type { Rule } from '../../src/integrations/schedules/rules.js';

const rule = (id: string, cron: string): Rule => ({ id, cron, filter: { stageId: 'NEW', olderThanDays: 0 }, action: { kind: 'moveStage', stageId: 'WON' } });
const FIVE_MIN = 300_000;
const at = (iso: string): number => Date.parse(iso);

describe('dueRules', () => {
  const rules = [rule('weekday-nine', '0 9 * * 1-5'), rule('hourly', '0 * * * *')];

  it("fires at 09:00 in the portal's zone: 00:00Z for Tokyo, on weekdays only", () => {
    // Tuesday 2026-12-08 00:00Z = 09:00 in Tokyo
    assert.deepEqual(dueRules(rules, at('2026-12-08T00:00:00Z'), 'Asia/Tokyo', FIVE_MIN).map((due) => [due.rule.id, due.slotMs]), [
      ['weekday-nine', at('2026-12-08T00:00:00Z')],
      ['hourly', at('2026-12-08T00:00:00Z')],
    ]);
    assert.deepEqual(dueRules(rules, at('2026-12-08T00:00:00Z'), 'UTC', FIVE_MIN).map((due) => due.rule.id), ['hourly']);
    // Saturday 2026-12-12 09:00 Tokyo: not a weekday
    assert.deepEqual(dueRules(rules, at('2026-12-12T00:00:00Z'), 'Asia/Tokyo', FIVE_MIN).map((due) => due.rule.id), ['hourly']);
  });

  it('a later tick within the lookback stands for the same slot; past it, nothing is due', () => {
    const later = dueRules(rules, at('2026-12-08T00:04:59Z'), 'Asia/Tokyo', FIVE_MIN);
    assert.deepEqual(later.map((due) => [due.rule.id, due.slotMs]), [
      ['weekday-nine', at('2026-12-08T00:00:00Z')],
      ['hourly', at('2026-12-08T00:00:00Z')],
    ]);
    assert.deepEqual(dueRules(rules, at('2026-12-08T00:05:00Z'), 'Asia/Tokyo', FIVE_MIN), []);
    assert.deepEqual(dueRules(rules, at('2026-12-07T23:59:59Z'), 'Asia/Tokyo', FIVE_MIN), []);
  });

  it('names the slot by rule and fire time', () => {
    assert.equal(slotId('weekday-nine', at('2026-12-08T00:00:00Z')), 'weekday-nine:2026-12-08T00:00:00.000Z');
  });
});
