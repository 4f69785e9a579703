/**
 * Three app instances in one process over one database and one portal, each with its own store
 * connection, worker and scheduler: a rule's slot runs once — one rule job, one to-do per deal —
 * however many ticks see it and whichever worker takes them. Judged by the emulator's timeline and
 * the jobs table. Three schedulers in one process also pins that nothing of the scheduler role is
 * process-wide (the keep-alive's croner job once had a process-wide name, and the second app's
 * start threw). schedules-three-processes.test.ts runs the same over three real processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type B24App } from '../../src/index.js';
import { startTestApp, emulatorControl, type TestApp } from '../../src/testing/index.js';
import { scheduledRulesPlugin } from '../../src/integrations/index.js';
import { signSchedulesRequest } from '../../src/integrations/schedules/route.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { createServerLogger } from '../../src/server/logging.js';
import { waitFor } from '../app/helpers.js';

describe('scheduled rules over three app instances in one process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'b24kit-schedules-'));
  const url = join(dir, 'app.db');
  const secretKey = randomBytes(32);
  const signingSecret = randomBytes(24).toString('base64url');
  let t: TestApp;
  const stores: Store[] = [];
  const others: B24App[] = [];
  const ticksBy = [0, 0, 0];
  const rulesBy = [0, 0, 0];

  const declare = (index: number) => (app: B24App) => {
    app.register(scheduledRulesPlugin, {});
    app.observe((signal) => {
      if (signal.type === 'handler' && signal.kind === 'schedule') ticksBy[index]! += 1;
      if (signal.type === 'handler' && signal.kind === 'job') rulesBy[index]! += 1;
    });
  };

  before(async () => {
    const open = async () => {
      const store = await openStore({ url });
      stores.push(store);
      return store;
    };
    t = await startTestApp(declare(0), { roles: { scheduler: true }, portal: { timeZone: 'UTC' }, config: { store: await open(), secretKey, scheduler: { intervalMs: 50 } } });
    for (const index of [1, 2]) {
      const app = createApp({
        store: await open(),
        secretKey,
        clientId: t.emulator.emulator.options.clientId,
        clientSecret: t.emulator.emulator.options.clientSecret,
        oauthUrl: t.emulator.url,
        logger: createServerLogger({ level: 'silent' }),
        nowMs: () => t.emulator.emulator.clock.nowMs(),
        worker: { pollIntervalMs: 20, shutdownTimeoutMs: 5000 },
        scheduler: { intervalMs: 50 },
      });
      declare(index)(app);
      await app.start({ web: false, worker: true, scheduler: true });
      others.push(app);
    }
  });
  after(async () => {
    for (const app of others) await app.stop();
    await t?.close();
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one rule job for the slot and one to-do per deal', async (test) => {
    const memberId = t.portal.memberId;
    await t.app.settings(memberId, 'schedules').set({ signingSecret });
    const nowS = (await emulatorControl<{ now: number }>(t.emulator, '/clock', undefined, 'GET')).now;
    const slot = new Date((Math.floor(nowS / 60) + 10) * 60_000);
    const body = JSON.stringify({ rules: [{ id: 'follow-up', cron: `${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *`, filter: { stageId: 'NEW', olderThanDays: 0 }, action: { kind: 'todo', title: 'Follow up', deadlineHours: 2 } }] });
    // signed at the app's clock, the emulator's
    const appNowMs = async (): Promise<number> => (await emulatorControl<{ now: number }>(t.emulator, '/clock', undefined, 'GET')).now * 1000;
    const put = await fetch(`${t.url}/api/v1/${memberId}/schedules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...signSchedulesRequest(signingSecret, body, await appNowMs()) },
      body,
    });
    assert.equal(put.status, 200);
    const b24 = t.app.client(memberId);
    const added = await b24.batch(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`d${i}`, ['crm.deal.add', { fields: { TITLE: `Deal ${i}`, STAGE_ID: 'NEW' } }] as [string, Record<string, unknown>]])));
    const ids = Object.values(added.result).map(Number).sort((a, b) => a - b);

    const before = ticksBy.reduce((a, b) => a + b, 0);
    await emulatorControl(t.emulator, '/clock', { advanceSeconds: slot.getTime() / 1000 - nowS + 5 });
    const store = stores[0]!;
    const ruleJobs = () => store.all<{ state: string; result: string | null }>("SELECT state, result FROM b24kit_jobs WHERE name LIKE '%schedules.rule'");
    await waitFor(async () => (await ruleJobs()).some((job) => job.state === 'succeeded'), 15_000, 'the rule job');
    // three more minutes of ticks (each looks back at the slot), in whichever process
    for (let minute = 1; minute <= 3; minute += 1) {
      const seen = ticksBy.reduce((a, b) => a + b, 0);
      await emulatorControl(t.emulator, '/clock', { advanceSeconds: 60 });
      await waitFor(() => ticksBy.reduce((a, b) => a + b, 0) > seen, 10_000, `the tick of minute ${minute}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));

    assert.ok(ticksBy.reduce((a, b) => a + b, 0) - before >= 4, `ticks ran: ${ticksBy.join(', ')}`);
    // which worker claims a tick is up to the race (the scheduler's own process often wins them
    // all): reported, not asserted — the guarantees below must hold whoever ran them
    test.diagnostic(`ticks by worker: ${ticksBy.join(', ')}`);
    const jobs = await ruleJobs();
    assert.equal(jobs.length, 1, 'one rule job for the slot');
    assert.deepEqual(JSON.parse(jobs[0]!.result!), { ruleId: 'follow-up', slot: slot.toISOString(), matched: 60, acted: 60, failed: 0 });
    const { activities } = await emulatorControl<{ activities: Array<{ ownerId: number }> }>(t.emulator, `/portals/${memberId}/crm/timeline`, undefined, 'GET');
    assert.deepEqual(activities.map((activity) => activity.ownerId).sort((a, b) => a - b), ids, 'one to-do per deal');
  });
});
