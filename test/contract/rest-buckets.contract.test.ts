/**
 * The store-backed leaky buckets and plan cache (src/rest/store-bucket.ts, src/rest/plans.ts) on
 * both dialects: one atomic read-modify-write per `modify` across connections, one budget for
 * limiters in different "processes" (stores), the plan read from app.info once and shared, and
 * a portal's rows gone on purge.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Store } from '../../src/store/types.js';
import { B24Client } from '../../src/rest/client.js';
import { ENTERPRISE_BUCKET, STANDARD_BUCKET, type BucketState } from '../../src/rest/limiter.js';
import { StoreBucketStateStore, createStoreRateLimiter, deletePortalBuckets } from '../../src/rest/store-bucket.js';
import { createInstalledPortal, startTestEmulator } from '../helpers/emulator.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const DAY_MS = 86_400_000;
const silentLogger = { warn: () => undefined, debug: () => undefined };

describe('store-backed rate-limit state', () => {
  let db: TestDatabase;
  let one: Store;
  let two: Store;

  before(async () => {
    db = createTestDatabase();
    one = await db.open();
    two = await db.open(); // a second connection (pool): another process, as far as locks go
  });
  after(async () => {
    await Promise.all([one.close(), two.close()]);
    await db.drop();
  });

  it('modify sees no state at first, then the last one written, from any connection', async () => {
    const a = new StoreBucketStateStore({ store: one, now: () => 1_000 });
    const b = new StoreBucketStateStore({ store: two, now: () => 2_000 });
    const seen: Array<BucketState | undefined> = [];
    await a.modify('first', (current, nowMs) => {
      seen.push(current);
      return { next: { level: 1.25, atMs: nowMs + 0.5, pausedUntilMs: 0, epoch: 0 }, result: undefined };
    });
    const nowSeen = await b.modify('first', (current, nowMs) => ({ next: { level: 2, atMs: nowMs, pausedUntilMs: 3_000.5, epoch: 1 }, result: [current, nowMs] as const }));
    assert.deepEqual(seen, [undefined]);
    assert.deepEqual(nowSeen, [{ level: 1.25, atMs: 1_000.5, pausedUntilMs: 0, epoch: 0 }, 2_000], 'fractional times survive; nowMs is the caller clock');
    assert.deepEqual(await a.peek('first'), { level: 2, atMs: 2_000, pausedUntilMs: 3_000.5, epoch: 1 });
  });

  it('is one atomic read-modify-write: 2 connections × 60 concurrent increments lose none', { timeout: 60_000 }, async () => {
    const stores = [new StoreBucketStateStore({ store: one }), new StoreBucketStateStore({ store: two })];
    const increment = (store: StoreBucketStateStore): Promise<number> =>
      store.modify('counted', (current) => {
        const level = (current?.level ?? 0) + 1;
        return { next: { level, atMs: 0, pausedUntilMs: 0, epoch: 0 }, result: level };
      });
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => increment(stores[i % 2]!)));
    assert.equal(new Set(results).size, 120, 'every caller saw a different count');
    assert.equal((await stores[0]!.peek('counted'))?.level, 120);
  });

  it('limiters over different connections draw from one budget', async () => {
    let now = 0;
    const options = { now: () => now, safetyMs: 0, headroom: 0, planAware: false, defaultLimits: { drainPerSecond: 10, burst: 5 } };
    const a = createStoreRateLimiter({ ...options, store: one });
    const b = createStoreRateLimiter({ ...options, store: two });
    const waits: number[] = [];
    for (let i = 0; i < 4; i += 1) waits.push((await a.reserve('shared')).waitMs, (await b.reserve('shared')).waitMs);
    assert.deepEqual(waits, [0, 0, 0, 0, 0, 100, 200, 300]);
    await a.resync('shared', 1_000);
    now = 10_000;
    assert.equal((await b.reserve('shared')).waitMs, 0, 'drained while idle');
  });

  it('reads the plan once, shares it through the store, reads it again after a day', async () => {
    let now = 5 * DAY_MS;
    const reads: string[] = [];
    const license = (family: string) => async (): Promise<string> => {
      reads.push(family);
      return family;
    };
    const a = createStoreRateLimiter({ store: one, now: () => now, logger: silentLogger });
    await Promise.all(Array.from({ length: 5 }, () => a.preparePortal('planned', license('enterprise'))));
    assert.deepEqual(reads, ['enterprise'], 'concurrent first uses read app.info once');
    assert.deepEqual(a.limitsFor('planned'), ENTERPRISE_BUCKET);
    await a.reserve('planned');

    const b = createStoreRateLimiter({ store: two, now: () => now, logger: silentLogger });
    await b.preparePortal('planned', license('professional'));
    assert.deepEqual(reads, ['enterprise'], 'another process takes the stored plan');
    assert.deepEqual(b.limitsFor('planned'), ENTERPRISE_BUCKET);

    now += DAY_MS + 1;
    await b.preparePortal('planned', license('professional'));
    assert.deepEqual(reads, ['enterprise', 'professional'], 'a day later the plan is read again');
    assert.deepEqual(b.limitsFor('planned'), STANDARD_BUCKET);
    assert.equal((await new StoreBucketStateStore({ store: one }).peek('planned'))?.level, 1, 'storing a plan leaves the bucket alone');
  });

  it('configured limits win over the plan; a failed app.info keeps the default and is retried later', async () => {
    let now = 0;
    let reads = 0;
    const failing = async (): Promise<string> => {
      reads += 1;
      throw new Error('portal down');
    };
    const limiter = createStoreRateLimiter({ store: one, now: () => now, logger: silentLogger, portalLimits: { configured: { drainPerSecond: 1, burst: 3 } } });
    await limiter.preparePortal('configured', failing);
    assert.equal(reads, 0, 'fully configured: no app.info');
    assert.deepEqual(limiter.limitsFor('configured'), { drainPerSecond: 1, burst: 3 });

    await limiter.preparePortal('unreachable', failing);
    await limiter.preparePortal('unreachable', failing);
    assert.equal(reads, 1);
    assert.deepEqual(limiter.limitsFor('unreachable'), STANDARD_BUCKET);
    now += 600_001;
    await limiter.preparePortal('unreachable', failing);
    assert.equal(reads, 2, 'tried again after retryAfterMs');
  });

  it("a portal's bucket and plan go with it", async () => {
    const buckets = new StoreBucketStateStore({ store: one });
    await buckets.writePlan('leaving', { licenseFamily: 'basic', checkedAtMs: 1 });
    await buckets.modify('leaving', () => ({ next: { level: 1, atMs: 1, pausedUntilMs: 0, epoch: 0 }, result: undefined }));
    await one.transaction((tx) => deletePortalBuckets(tx, 'leaving'));
    assert.equal(await buckets.peek('leaving'), undefined);
    assert.equal(await buckets.readPlan('leaving'), undefined);
  });
});

describe('B24Client with the store-backed limiter', () => {
  let emu: RunningEmulator;
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    emu = await startTestEmulator();
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
    await emu.close();
  });

  it('learns an Enterprise plan from app.info on first use, once for all processes', async () => {
    const portal = await createInstalledPortal(emu, { plan: 'enterprise' });
    const appInfoCalls = async (): Promise<number> => {
      const stats = (await (await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/stats`)).json()) as { byMethod: Record<string, number> };
      return stats.byMethod['app.info'] ?? 0;
    };
    const clients = [0, 1].map(() => {
      const limiter = createStoreRateLimiter({ store, logger: silentLogger }); // one per "process"
      return B24Client.fromToken({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { limiter, logger: silentLogger });
    });
    await Promise.all([clients[0]!.call('profile'), clients[0]!.call('profile')]);
    assert.equal(await appInfoCalls(), 1);
    assert.deepEqual(clients[0]!.limiter.limitsFor(portal.memberId), ENTERPRISE_BUCKET);
    await clients[1]!.call('profile');
    assert.equal(await appInfoCalls(), 1, 'the second process read the stored plan');
    assert.deepEqual(clients[1]!.limiter.limitsFor(portal.memberId), ENTERPRISE_BUCKET);
    await Promise.all(clients.map((client) => client.close()));
  });
});
