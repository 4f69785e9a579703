/**
 * The shared budget: 4 real processes, each with its own B24Client from `runtime.client()`, hammer
 * one portal whose bucket drains 10 req/s with a burst of 10. The portal counts them as ONE
 * client (docs/protocol.md §5.1: per portal and source IP), so with the store-backed limiter it must never
 * answer 503, and every call must succeed. The control run gives each process a limiter of its
 * own: the portal then refuses requests — proof that this test can fail. Runs on both dialects.
 * The combined rate is reported, not asserted (timing goals belong in benchmarks).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Store } from '../../src/store/types.js';
import { control, portalStats, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';
import { startChildWorker } from './helpers/child-worker.js';
import { EmulatorTime, installPortal, registry, TEST_SECRET_KEY_HEX } from './helpers/portal-fixture.js';

const PROCESSES = 4;
const CONCURRENCY = 8;
const LIMITS = { drainPerSecond: 10, burst: 10 };
const worker = fileURLToPath(new URL('./fixtures/shared-rate-limit-worker.ts', import.meta.url));

interface WorkerResult {
  ok: number;
  failed: number;
  errors: string[];
  limitExceeded: number;
  startedAtMs: number;
  finishedAtMs: number;
}

const startWorker = (env: Record<string, string>) => startChildWorker<WorkerResult>(worker, env);

describe(`shared rate limit: ${PROCESSES} processes, one portal at ${LIMITS.drainPerSecond}/s, burst ${LIMITS.burst}`, () => {
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

  /** A stored portal with the test's bucket, its stats zeroed. */
  async function portalWithLimits(): Promise<TestPortal> {
    const time = await EmulatorTime.read(emu);
    const portal = await installPortal(emu, registry(store, time));
    await control(emu, `/portals/${portal.memberId}/limits`, LIMITS, 'PUT');
    await control(emu, `/portals/${portal.memberId}/stats/reset`);
    return portal;
  }

  async function hammer(portal: TestPortal, limiter: 'store' | 'memory', callsPerProcess: number, more: Record<string, string> = {}): Promise<WorkerResult[]> {
    const env = {
      ...more,
      ...db.childEnv,
      EMULATOR_URL: emu.url,
      MEMBER_ID: portal.memberId,
      CALLS: String(callsPerProcess),
      CONCURRENCY: String(CONCURRENCY),
      DRAIN_PER_SECOND: String(LIMITS.drainPerSecond),
      BURST: String(LIMITS.burst),
      LIMITER: limiter,
      B24KIT_SECRET_KEY: TEST_SECRET_KEY_HEX,
      LOG_LEVEL: 'silent',
    };
    const workers = Array.from({ length: PROCESSES }, () => startWorker(env));
    try {
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.child.stdin.write('go\n'); // all processes start together
      return await Promise.all(workers.map((w) => w.result));
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill();
    }
  }

  it('store-backed limiter: zero 503 and every call succeeds', { timeout: 120_000 }, async (t) => {
    const callsPerProcess = 40;
    const portal = await portalWithLimits();
    const results = await hammer(portal, 'store', callsPerProcess);
    const stats = await portalStats(emu, portal.memberId);

    assert.deepEqual(results.flatMap((r) => r.errors), [], 'no call failed');
    assert.equal(results.reduce((sum, r) => sum + r.ok, 0), PROCESSES * callsPerProcess);
    assert.equal(stats.rateLimitRejections, 0, 'the portal refused nothing');
    assert.equal(results.reduce((sum, r) => sum + r.limitExceeded, 0), 0, 'no client saw a 503');
    assert.equal(stats.requests, PROCESSES * callsPerProcess);

    // reported, not asserted: after the burst, the portal drains LIMITS.drainPerSecond
    const spanS = (Math.max(...results.map((r) => r.finishedAtMs)) - Math.min(...results.map((r) => r.startedAtMs))) / 1000;
    const calls = PROCESSES * callsPerProcess;
    const idealS = (calls - LIMITS.burst) / LIMITS.drainPerSecond;
    t.diagnostic(`${db.dialect}: ${calls} calls in ${spanS.toFixed(2)} s = ${(calls / spanS).toFixed(2)} req/s; ideal ${idealS.toFixed(2)} s; ratio ${(idealS / spanS).toFixed(3)}`);
  });

  it('control: a limiter per process lets the portal refuse requests (503)', { timeout: 120_000 }, async (t) => {
    const portal = await portalWithLimits();
    const results = await hammer(portal, 'memory', 10, { MAX_ATTEMPTS: '1' });
    const stats = await portalStats(emu, portal.memberId);
    assert.ok(Number(stats.rateLimitRejections) > 0, `expected 503s without a shared budget, got ${String(stats.rateLimitRejections)}`);
    t.diagnostic(
      `${db.dialect}: control: ${String(stats.rateLimitRejections)} refused of ${String(stats.requests)} requests; ${results.reduce((sum, r) => sum + r.failed, 0)} calls failed`,
    );
  });
});
