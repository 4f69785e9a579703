import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperatingTracker, PROBE_WAIT_MS, RESET_MARGIN_MS, blockOperating, observeOperating, operatingDelayMs, type OperatingState } from '../../src/rest/operating.js';
import {
  EMPTY_SHARED_OPERATING,
  foldShared,
  mergeOperating,
  releaseOperating,
  reserveOperating,
  type OperatingStateStore,
  type SharedOperatingState,
} from '../../src/rest/operating-share.js';

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

/** A store of shared states in memory: what two trackers over one database see, without the database. */
class MemoryOperatingStore implements OperatingStateStore {
  readonly states = new Map<string, SharedOperatingState>();
  async modify<R>(key: string, step: (current: SharedOperatingState | undefined, nowMs: number) => { next: SharedOperatingState; result: R }): Promise<R> {
    const { next, result } = step(this.states.get(key), 0);
    this.states.set(key, next);
    return result;
  }
}

describe('operating budget shared between processes (pure)', () => {
  const figure = (operatingSeconds: number, resetAtServerSeconds: number, costSeconds = 1): SharedOperatingState => ({
    ...EMPTY_SHARED_OPERATING,
    operatingSeconds,
    resetAtServerSeconds,
    resetAtMs: 60_000,
    costSeconds,
  });

  it("counts the other processes' granted calls as in flight", () => {
    let shared = figure(20, 1060);
    for (let i = 0; i < 9; i += 1) shared = reserveOperating(shared, 0, { limitSeconds: 30, slowdownAt: 0.9 }, 1, `other.${i}`, 120_000).next;
    assert.equal(shared.reservations.length, 9);
    const { next, result } = reserveOperating(shared, 0, { limitSeconds: 30, slowdownAt: 0.9 }, 1, 'mine', 120_000);
    assert.equal(result.waitMs, 60_000 + RESET_MARGIN_MS, '20 + 9 in flight + 1 reaches 30: wait for the reset');
    assert.equal(next.reservations.length, 9, 'a call told to wait holds nothing');
    const released = releaseOperating(shared, 'other.0');
    assert.equal(reserveOperating(released, 0, { limitSeconds: 30, slowdownAt: 0.9 }, 1, 'mine', 120_000).result.waitMs, 0, 'one answered: room for one');
  });

  it('without any figure lets one call go at a time; expired grants no longer count', () => {
    const first = reserveOperating(EMPTY_SHARED_OPERATING, 0, LIMITS, 1, 'a', 1_000);
    assert.equal(first.result.waitMs, 0);
    assert.equal(reserveOperating(first.next, 10, LIMITS, 1, 'b', 1_000).result.waitMs, PROBE_WAIT_MS);
    const later = reserveOperating(first.next, 1_000, LIMITS, 1, 'b', 1_000);
    assert.equal(later.result.waitMs, 0, "a's grant expired (its process died)");
    assert.deepEqual(later.next.reservations.map((r) => r.id), ['b']);
  });

  it('keeps the freshest figure: the larger sum of one window position, or the later reset', () => {
    const local = (operatingSeconds: number, resetAtServerSeconds: number): OperatingState => ({
      operatingSeconds,
      resetAtMs: resetAtServerSeconds * 1000,
      observedServerMs: 0,
      costSeconds: 2,
      blockedUntilMs: 0,
      resetAtServerSeconds,
    });
    const shared = figure(100, 1060);
    assert.equal(mergeOperating(shared, local(90, 1060)).operatingSeconds, 100, 'an older figure of the same window');
    assert.equal(mergeOperating(shared, local(110, 1060)).operatingSeconds, 110);
    assert.equal(mergeOperating(shared, local(40, 1120)).operatingSeconds, 40, 'the oldest minute left the window');
    assert.equal(mergeOperating(shared, local(40, 1120)).costSeconds, 2);
    assert.equal(foldShared(local(90, 1060), shared)?.operatingSeconds, 100);
    assert.equal(foldShared(local(40, 1120), shared)?.operatingSeconds, 40);
    assert.equal(foldShared(undefined, EMPTY_SHARED_OPERATING), undefined, 'nothing known: no state');
  });
});

describe('operating trackers over one store', () => {
  const limits = { limitSeconds: 30, slowdownAt: 0.8 };
  const deals = new Map([['crm.deal.add', 1]]);

  it('a process that never called the method learns its figure from the store before sending', async () => {
    const store = new MemoryOperatingStore();
    const a = new OperatingTracker(limits, { store });
    const b = new OperatingTracker(limits, { store });
    const grant = await a.acquire('p', deals, 0);
    assert.equal(grant.waitMs, 0);
    a.observe('p', 'crm.deal.add', time(1000, 29.5, 1060, 0.5), 0);
    grant.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(store.states.get('p\u0000crm.deal.add')?.operatingSeconds, 29.5, 'the release published the figure');
    assert.equal(store.states.get('p\u0000crm.deal.add')?.reservations.length, 0, 'and dropped the grant');
    assert.equal((await b.acquire('p', deals, 0)).waitMs, 60_000 + RESET_MARGIN_MS, '29.5 + 0.5 reaches 30');
    assert.equal(b.get('p', 'crm.deal.add')?.operatingSeconds, 29.5);
  });

  it("a grant counts in every process until it is released; a process's 429 blocks the others", async () => {
    const store = new MemoryOperatingStore();
    const a = new OperatingTracker(limits, { store });
    const b = new OperatingTracker(limits, { store });
    const seed = await a.acquire('p', deals, 0);
    a.observe('p', 'crm.deal.add', time(1000, 20, 1060, 2), 0);
    seed.release();
    await new Promise((resolve) => setImmediate(resolve));
    // 20 of 30 s used, 2 s a call: 4 calls in flight leave room for no fifth
    const held = [];
    for (let i = 0; i < 4; i += 1) held.push(await a.acquire('p', deals, 0));
    assert.deepEqual(held.map((g) => g.waitMs), [0, 0, 0, 0]);
    assert.equal((await b.acquire('p', deals, 0)).waitMs, 60_000 + RESET_MARGIN_MS, "b counts a's 4 calls in flight: 20 + 2 × 5 reaches 30");
    for (const grant of held) grant.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await b.acquire('p', deals, 0)).waitMs, 0, 'released (no new figure): room again');
    b.block('p', 'crm.deal.add', 0, 10_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok((await a.acquire('p', deals, 1)).waitMs > 10_000, "a waits out b's 429 until the reset");
  });

  it('without a store, acquire is the local delay and in-flight count', async () => {
    const tracker = new OperatingTracker({ limitSeconds: 10, slowdownAt: 0.8 });
    tracker.observe('p', 'crm.deal.add', time(1000, 7, 1060, 1), 0);
    const grant = await tracker.acquire('p', deals, 0);
    assert.equal(grant.waitMs, 0);
    const second = await tracker.acquire('p', deals, 0);
    assert.equal(second.waitMs, 0);
    assert.equal((await tracker.acquire('p', deals, 0)).waitMs, 60_000 + RESET_MARGIN_MS, '7 + 3 in flight reaches 10');
    grant.release();
    grant.release();
    assert.equal(tracker.delayMs('p', deals, 0), 0, 'a release counts once');
  });
});

describe('operating trackers over one store: a method without a figure', () => {
  it('holds the first calls to one at a time, but not after one ended without a figure', async () => {
    const store = new MemoryOperatingStore();
    const tracker = new OperatingTracker({ limitSeconds: 30, slowdownAt: 0.8 }, { store });
    const method = new Map([['crm.item.add', 1]]);
    const probe = await tracker.acquire('p', method, 0);
    assert.equal(probe.waitMs, 0);
    assert.equal((await tracker.acquire('p', method, 0)).waitMs, PROBE_WAIT_MS, 'the first call is on its way');
    probe.release(); // it failed: no `time` to observe
    await new Promise((resolve) => setImmediate(resolve));
    const grants = [await tracker.acquire('p', method, 0), await tracker.acquire('p', method, 0)];
    assert.deepEqual(grants.map((g) => g.waitMs), [0, 0], 'answers without a figure do not serialize the method');
  });
});
