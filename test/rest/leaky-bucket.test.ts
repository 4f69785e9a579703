import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EMPTY_BUCKET,
  InMemoryBucketStore,
  RateLimiter,
  bucketLimitsForLicense,
  levelAt,
  reserveSlot,
  resyncFull,
  type BucketLimits,
  type BucketState,
} from '../../src/rest/limiter.js';

const LIMITS: BucketLimits = { drainPerSecond: 2, burst: 50 };

/** The portal's rule (docs/protocol.md §5.1): a request that would lift the drained level above burst is refused. */
function portalAccepts(sendTimesMs: number[], limits: BucketLimits): number {
  let level = 0;
  let at = 0;
  let refused = 0;
  for (const t of [...sendTimesMs].sort((a, b) => a - b)) {
    level = Math.max(0, level - ((t - at) / 1000) * limits.drainPerSecond);
    at = t;
    if (level + 1 > limits.burst + 1e-9) refused += 1;
    else level += 1;
  }
  return refused;
}

describe('leaky bucket (pure)', () => {
  it('lets a burst through at once, then spaces requests at the drain rate', () => {
    let state: BucketState = EMPTY_BUCKET;
    const waits: number[] = [];
    for (let i = 0; i < 54; i += 1) {
      const { next, reservation } = reserveSlot(state, 1_000, LIMITS);
      state = next;
      waits.push(reservation.waitMs);
    }
    assert.deepEqual(waits.slice(0, 50), Array(50).fill(0));
    assert.deepEqual(waits.slice(50), [500, 1000, 1500, 2000]);
  });

  it('drains while idle', () => {
    const state: BucketState = { level: 50, atMs: 0, pausedUntilMs: 0 };
    assert.equal(levelAt(state, 10_000, LIMITS), 30);
    assert.equal(levelAt(state, 60_000, LIMITS), 0);
    assert.equal(reserveSlot(state, 10_000, LIMITS).reservation.waitMs, 0);
  });

  it('never lets the portal refuse a request, for any arrival pattern of callers', () => {
    const limits: BucketLimits = { drainPerSecond: 5, burst: 10 };
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let state: BucketState = EMPTY_BUCKET;
    let now = 0;
    const sends: number[] = [];
    for (let i = 0; i < 500; i += 1) {
      now += Math.floor(random() * 300);
      const { next, reservation } = reserveSlot(state, now, limits);
      state = next;
      sends.push(now + reservation.waitMs);
    }
    assert.equal(portalAccepts(sends, limits), 0);
  });

  it('refuses a reservation that would wait past maxWaitMs and leaves the state alone', () => {
    const full: BucketState = { level: 50, atMs: 0, pausedUntilMs: 0 };
    const { next, reservation } = reserveSlot(full, 0, LIMITS, 1, 100);
    assert.equal(reservation.granted, false);
    assert.equal(reservation.waitMs, 500);
    assert.equal(next, full);
  });

  it('after a 503 assumes a full bucket and pauses', () => {
    const state = resyncFull({ level: 3, atMs: 0, pausedUntilMs: 0 }, 1_000, LIMITS, 2_000);
    assert.equal(state.level, 51, 'full, plus the refused request (the docs count every incoming request)');
    assert.equal(state.pausedUntilMs, 3_000);
    // nothing before the pause ends; the bucket drains meanwhile (4 slots in 2 s at 2/s)
    assert.equal(reserveSlot(state, 1_000, LIMITS).reservation.waitMs, 2_000);
    const noPause = resyncFull({ level: 3, atMs: 0, pausedUntilMs: 0 }, 1_000, LIMITS, 0);
    assert.equal(reserveSlot(noPause, 1_000, LIMITS).reservation.waitMs, 1_000, 'two drain intervals to get below burst');
  });

  it('maps LICENSE_FAMILY to the plan limits', () => {
    assert.deepEqual(bucketLimitsForLicense('ent'), { drainPerSecond: 5, burst: 250 });
    assert.deepEqual(bucketLimitsForLicense('en_ent250'), { drainPerSecond: 5, burst: 250 });
    assert.deepEqual(bucketLimitsForLicense('pro'), { drainPerSecond: 2, burst: 50 });
    assert.deepEqual(bucketLimitsForLicense(undefined), { drainPerSecond: 2, burst: 50 });
  });
});

describe('RateLimiter over a BucketStateStore', () => {
  it('shares one budget between limiters over one store (as processes over a shared store would)', async () => {
    let now = 0;
    const store = new InMemoryBucketStore(() => now);
    const a = new RateLimiter({ store, defaultLimits: { drainPerSecond: 10, burst: 5 }, safetyMs: 0, headroom: 0 });
    const b = new RateLimiter({ store, defaultLimits: { drainPerSecond: 10, burst: 5 }, safetyMs: 0, headroom: 0 });
    const waits: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      waits.push((await a.reserve('portal')).waitMs, (await b.reserve('portal')).waitMs);
    }
    assert.deepEqual(waits, [0, 0, 0, 0, 0, 100, 200, 300]);
    now = 10_000;
    assert.equal((await a.reserve('portal')).waitMs, 0);
    assert.equal((await a.reserve('other')).waitMs, 0);
  });

  it('takes per-portal limits', async () => {
    const limiter = new RateLimiter({ store: new InMemoryBucketStore(() => 0), safetyMs: 0, headroom: 0 });
    limiter.setLimits('big', { burst: 250, drainPerSecond: 5 });
    for (let i = 0; i < 250; i += 1) assert.equal((await limiter.reserve('big')).waitMs, 0);
    assert.equal((await limiter.reserve('big')).waitMs, 200);
    assert.deepEqual(limiter.limitsFor('small'), { drainPerSecond: 2, burst: 50 });
  });

  it('keeps a slot of headroom for latency jitter: the burst is one smaller, the steady rate unchanged', async () => {
    const limiter = new RateLimiter({ store: new InMemoryBucketStore(() => 0), safetyMs: 0, headroom: 1, defaultLimits: { drainPerSecond: 10, burst: 5 } });
    const waits: number[] = [];
    for (let i = 0; i < 7; i += 1) waits.push((await limiter.reserve('p')).waitMs);
    assert.deepEqual(waits, [0, 0, 0, 0, 100, 200, 300]);
  });

  it('by default keeps the slots the drain frees in 250 ms: 1 at 2/s, 3 at 10/s', async () => {
    const burstWithoutWait = async (drainPerSecond: number): Promise<number> => {
      const limiter = new RateLimiter({ store: new InMemoryBucketStore(() => 0), safetyMs: 0, defaultLimits: { drainPerSecond, burst: 50 } });
      let free = 0;
      while ((await limiter.reserve('p')).waitMs === 0) free += 1;
      return free;
    };
    assert.equal(await burstWithoutWait(2), 49);
    assert.equal(await burstWithoutWait(10), 47);
  });

  it('tells a waiting caller that the portal refused a request since its slot was granted', async () => {
    const limiter = new RateLimiter({ store: new InMemoryBucketStore(() => 0) });
    const slot = await limiter.reserve('p');
    assert.equal(limiter.isCurrent('p', slot.epoch), true);
    await limiter.resync('p', 100);
    assert.equal(limiter.isCurrent('p', slot.epoch), false);
    assert.equal(limiter.isCurrent('p', (await limiter.reserve('p')).epoch), true);
  });
});
