/**
 * The refresh storm: 4 real processes × 50 concurrent callers hit one portal whose access token
 * has expired. Exactly one refresh may reach the OAuth server (refresh tokens are single-use: a
 * second refresh would lock the portal out), the server refuses none (a refused one is a process
 * that raced past the lease), and every call must succeed. Runs on both dialects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { Store } from '../../src/store/types.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';
import { startChildWorker } from './helpers/child-worker.js';
import { EmulatorTime, installPortal, refreshCount, refusedRefreshCount, registry, TEST_SECRET_KEY_HEX } from './helpers/portal-fixture.js';

const PROCESSES = 4;
const CALLERS = 50;
const worker = fileURLToPath(new URL('./fixtures/refresh-storm-worker.ts', import.meta.url));

interface WorkerResult {
  ok: number;
  failed: number;
  errors: string[];
  tokens: string[];
  tokenEndpointCalls: number;
}

const startWorker = (env: Record<string, string>) => startChildWorker<WorkerResult>(worker, env);

describe(`refresh storm: ${PROCESSES} processes × ${CALLERS} callers at expiry`, () => {
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

  it('makes exactly one refresh at the OAuth server, none refused, and zero failed calls', { timeout: 120_000 }, async () => {
    const time = await EmulatorTime.read(emu);
    const portal = await installPortal(emu, registry(store, time));
    await time.advance(3700); // past expiry: every caller needs a new token now

    const env = {
      ...db.childEnv,
      EMULATOR_URL: emu.url,
      MEMBER_ID: portal.memberId,
      CALLERS: String(CALLERS),
      B24KIT_SECRET_KEY: TEST_SECRET_KEY_HEX,
      B24_CLIENT_ID: 'local.b24kit.demo',
      B24_CLIENT_SECRET: 'demo-secret',
      B24_APP_URL: 'http://127.0.0.1:1',
      LOG_LEVEL: 'silent',
    };
    const workers = Array.from({ length: PROCESSES }, () => startWorker(env));
    try {
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.child.stdin.write('go\n'); // all processes start their callers together
      const results = await Promise.all(workers.map((w) => w.result));

      const ok = results.reduce((sum, r) => sum + r.ok, 0);
      const failed = results.reduce((sum, r) => sum + r.failed, 0);
      assert.deepEqual(results.flatMap((r) => r.errors), [], 'no caller failed');
      assert.equal(failed, 0);
      assert.equal(ok, PROCESSES * CALLERS);
      assert.equal(await refreshCount(emu, portal.memberId), 1, 'exactly one refresh at the emulator');
      // a second process that skipped the lease spends the old refresh token again: the server refuses it
      assert.equal(await refusedRefreshCount(emu, portal.memberId), 0, 'no refresh refused at the emulator');
      assert.equal(results.reduce((sum, r) => sum + r.tokenEndpointCalls, 0), 1, 'exactly one call to the token endpoint');
      assert.equal(new Set(results.flatMap((r) => r.tokens)).size, 1, 'everyone got the same new token');
      const stored = await registry(store, time).get(portal.memberId);
      assert.equal(stored?.accessToken, results[0]!.tokens[0]);
      assert.notEqual(stored?.accessToken, portal.accessToken);
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill();
    }
  });
});
