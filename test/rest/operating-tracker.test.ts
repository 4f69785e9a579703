import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperatingTracker, RESET_MARGIN_MS, blockOperating, observeOperating, operatingDelayMs, type OperatingState } from '../../src/rest/operating.js';

const LIMITS = { limitSeconds: 480, slowdownAt: 0.8 };

/** A `time` object as the portal sends it, at portal time `serverSeconds`. */
function time(serverSeconds: number, operating: number, resetAt: number, processing = 1) {
  return { start: serverSeconds, finish: serverSeconds + processing, processing, operating, operating_reset_at: resetAt };
}

describe('operating tracker (pure)', () => {
  it('converts operating_reset_at to the local clock through the answer time (clock skew does not matter)', () => {
    // the portal's clock is 1 hour ahead of ours
    const local = 1_000_000;
    const server = local / 1000 + 3600;
    const state = observeOperating(undefined, time(server, 100, server + 42), local);
    assert.equal(state.resetAtMs, local + 42_000);
    assert.equal(state.operatingSeconds, 100);
    assert.equal(state.costSeconds, 1);
  });

  it('ignores an observation older than the one it has', () => {
    const first = observeOperating(undefined, time(2000, 300, 2060), 0);
    const late = observeOperating(first, time(1990, 100, 2050), 10);
    assert.equal(late.operatingSeconds, 300);
  });

  it('does not hold a method back below the slowdown threshold', () => {
    const state = observeOperating(undefined, time(1000, 100, 1300), 0);
    assert.equal(operatingDelayMs(state, 0, LIMITS), 0);
    assert.equal(operatingDelayMs(undefined, 0, LIMITS), 0);
  });

  it('spreads the rest of the budget over the time to the reset above the threshold', () => {
    // 400 of 480 s used, 1 s per call, reset in 80 s: 80 calls left → one per ~1 s
    const state = observeOperating(undefined, time(1000, 400, 1080), 0);
    const delay = operatingDelayMs(state, 0, LIMITS);
    assert.ok(delay > 900 && delay < 1100, `delay ${delay}`);
    // the closer to the limit, the slower
    const closer = observeOperating(undefined, time(1000, 470, 1080), 0);
    assert.ok(operatingDelayMs(closer, 0, LIMITS) > delay);
  });

  it('waits until the reset when the next call (plus those in flight) would use the budget up', () => {
    const state = observeOperating(undefined, time(1000, 479, 1030, 1), 0);
    assert.equal(operatingDelayMs(state, 0, LIMITS, 1, 0), 30_000 + RESET_MARGIN_MS, '479 + 1 reaches 480');
    const roomy = observeOperating(undefined, time(1000, 470, 1030, 1), 0);
    assert.ok(operatingDelayMs(roomy, 0, LIMITS, 1, 0) < 30_000);
    assert.equal(operatingDelayMs(roomy, 0, LIMITS, 5, 5), 30_000 + RESET_MARGIN_MS, 'a batch of 5 with 5 in flight would cross it');
  });

  it('after the reset lets one probe through while others wait for fresh numbers', () => {
    const state = observeOperating(undefined, time(1000, 479, 1030, 1), 0);
    assert.equal(operatingDelayMs(state, 31_000, LIMITS, 1, 0), 0);
    assert.ok(operatingDelayMs(state, 31_000, LIMITS, 1, 1) > 0);
  });

  it('after a 429 blocks until the known reset, or a fallback when none is known', () => {
    const known = observeOperating(undefined, time(1000, 480, 1030), 0);
    assert.equal(blockOperating(known, 0, 10_000).blockedUntilMs, 30_000 + RESET_MARGIN_MS);
    assert.equal(blockOperating(undefined, 5_000, 10_000).blockedUntilMs, 15_000);
    const blocked: OperatingState = blockOperating(undefined, 0, 10_000);
    assert.equal(operatingDelayMs(blocked, 4_000, LIMITS), 6_000);
  });

  it('keeps methods apart and counts calls in flight', () => {
    const tracker = new OperatingTracker({ limitSeconds: 10, slowdownAt: 0.8 });
    tracker.observe('p', 'crm.deal.add', time(1000, 9.7, 1060, 0.4), 0);
    const deals = new Map([['crm.deal.add', 1]]);
    assert.equal(tracker.delayMs('p', deals, 0), 60_000 + RESET_MARGIN_MS, '9.7 + 0.4 ≥ 10 → wait for the reset');
    assert.equal(tracker.delayMs('p', new Map([['crm.contact.add', 1]]), 0), 0, 'other methods go on');
    assert.equal(tracker.delayMs('other-portal', deals, 0), 0);
    tracker.observe('p', 'user.current', time(1000, 7, 1060, 1), 0);
    const users = new Map([['USER.CURRENT', 1]]);
    const alone = tracker.delayMs('p', users, 0);
    tracker.begin('p', users);
    tracker.begin('p', users);
    assert.equal(tracker.delayMs('p', users, 0), 60_000 + RESET_MARGIN_MS, '7 + 2 in flight + 1 ≥ 10');
    tracker.end('p', users);
    tracker.end('p', users);
    assert.equal(tracker.delayMs('p', users, 0), alone);
  });
});
