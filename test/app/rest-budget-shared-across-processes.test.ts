/**
 * Two app processes (two stores opened on one database) calling one portal with a tiny bucket
 * share its budget: `ctx.b24` / `app.client()` use the runtime's store-backed limiter, so the
 * portal refuses nothing (with a limiter per process, each would spend the whole burst).
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, type B24App } from '../../src/app/create-app.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createServerLogger } from '../../src/server/logging.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import { portalStats, startTestEmulator } from '../helpers/emulator.js';
import { emulatorInstall, type EmulatorInstall } from '../portals/helpers.js';

const BUCKET = { drainPerSecond: 5, burst: 5 };
const CALLS_PER_PROCESS = 12;

describe('the REST budget of a portal is shared by the app processes', () => {
  let emu: RunningEmulator;
  let db: TestDatabase;
  const stores: Store[] = [];
  const apps: B24App[] = [];
  let portal: EmulatorInstall;

  before(async () => {
    emu = await startTestEmulator();
    db = createTestDatabase();
    const secretKey = randomBytes(32);
    for (let i = 0; i < 2; i++) {
      const store = await db.open();
      stores.push(store);
      apps.push(
        createApp({
          store,
          secretKey,
          clientId: emu.emulator.options.clientId,
          clientSecret: emu.emulator.options.clientSecret,
          oauthUrl: emu.url,
          logger: createServerLogger({ level: 'silent' }),
          port: 0,
          host: '127.0.0.1',
          // the portal's bucket as configuration knows it; the retries would hide a 503 from the caller, not from the emulator's stats
          rest: { limits: BUCKET, retry: { maxAttempts: 3, baseMs: 20, capMs: 100 }, timeoutMs: 20_000 },
        }),
      );
    }
    await apps[0]!.start({ web: true, worker: false, scheduler: false });
    await apps[1]!.init();
    portal = await emulatorInstall(emu, apps[0]!.url!, BUCKET);
    assert.equal(portal.delivery?.status, 200, 'installed through process 1');
  });

  after(async () => {
    for (const app of apps) await app.stop();
    for (const store of stores) await store.close();
    await db.drop();
    await emu.close();
  });

  it(`2 processes × ${CALLS_PER_PROCESS} concurrent calls → no 503 at the portal`, async () => {
    const before = await portalStats(emu, portal.memberId);
    const calls = apps.flatMap((app) => Array.from({ length: CALLS_PER_PROCESS }, () => app.client(portal.memberId).call('user.current')));
    const results = await Promise.all(calls);
    assert.equal(results.length, 2 * CALLS_PER_PROCESS);
    const stats = await portalStats(emu, portal.memberId);
    assert.equal(stats.rateLimitRejections, before.rateLimitRejections, 'the portal refused nothing');
    assert.equal(stats.rateLimitRejections, 0);
  });
});
