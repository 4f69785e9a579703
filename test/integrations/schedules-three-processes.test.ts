/**
 * A schedule over three real processes: three child processes (fixtures/schedules-process.ts, the
 * public API only), each running the worker and the scheduler roles of an app with the
 * scheduled-rules plugin, over one database (a SQLite file, or a PostgreSQL schema with
 * DATABASE_URL) and one portal in Asia/Kathmandu (UTC+05:45). The rule is "at :07 past 09, 10 and
 * 11 portal time, deals in NEW for at least a day → a to-do". The test moves the emulator's clock
 * (which the children read) through the three slots and the next tick after each (which looks back
 * at it), then through 12:07, which is no slot. Asserted: one rule job per slot, at the Kathmandu times
 * (03:22, 04:22, 05:22 UTC); one to-do per old deal per slot and none for young deals (the
 * emulator's timeline). Which process ran what is reported, not asserted: it is a race.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Cron } from 'croner';
import { scheduledRulesPlugin } from '../../src/integrations/index.js';
import { signSchedulesRequest } from '../../src/integrations/schedules/route.js';
import { emulatorControl, startTestApp, type TestApp } from '../../src/testing/index.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase } from '../contract/helpers/store.js';
import { waitFor } from '../app/helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ZONE = 'Asia/Kathmandu';
const RULE = { id: 'stale-deals', cron: '7 9-11 * * *', filter: { stageId: 'NEW', olderThanDays: 1 }, action: { kind: 'todo', title: 'Stale deal: call the customer', deadlineHours: 2 } } as const;
const OLD_DEALS = 30;
const YOUNG_DEALS = 5;

interface Child {
  process: ChildProcess;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

type JobRow = { state: string; payload: unknown; result: unknown };
const json = (value: unknown): Record<string, unknown> => (typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : (value as Record<string, unknown>));

describe('a schedule over three processes', () => {
  const db = createTestDatabase();
  const secretKey = randomBytes(32);
  const signingSecret = randomBytes(24).toString('base64url');
  let store: Store;
  let t: TestApp;
  const children: Child[] = [];

  before(async () => {
    store = await db.open();
    // this process: the web role only (install, the signed rules route); the work happens in the children
    t = await startTestApp((app) => void app.register(scheduledRulesPlugin, {}), { roles: { worker: false, scheduler: false }, portal: { timeZone: ZONE }, config: { store, secretKey } });
  });
  after(async () => {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await t?.close();
    await store?.close();
    await db.drop();
  });

  const startChild = async (): Promise<Child> => {
    const child: Child = {
      process: spawn(process.execPath, ['--import', 'tsx', 'test/integrations/fixtures/schedules-process.ts'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...db.childEnv,
          SECRET_KEY_HEX: secretKey.toString('hex'),
          EMULATOR_URL: t.emulator.url,
          CLIENT_ID: t.emulator.emulator.options.clientId,
          CLIENT_SECRET: t.emulator.emulator.options.clientSecret,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
      stderr: '',
      lines: [],
    };
    children.push(child);
    child.process.stderr!.on('data', (chunk: Buffer) => (child.stderr += chunk.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.process.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        child.lines.push(entry);
        if (entry.ready) resolve();
      });
      child.process.once('exit', (code) => reject(new Error(`a schedules process exited early (${code}): ${child.stderr}`)));
    });
    await ready;
    return child;
  };

  it('runs the rule once per slot in the portal’s time zone, one to-do per deal per slot', async (test) => {
    const memberId = t.portal.memberId;
    await t.app.settings(memberId, 'schedules').set({ signingSecret });
    const body = JSON.stringify({ rules: [RULE] });
    // signed at the app's clock, the emulator's
    const appNowMs = async (): Promise<number> => (await emulatorControl<{ now: number }>(t.emulator, '/clock', undefined, 'GET')).now * 1000;
    const put = await fetch(`${t.url}/api/v1/${memberId}/schedules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...signSchedulesRequest(signingSecret, body, await appNowMs()) },
      body,
    });
    assert.equal(put.status, 200, await put.text());
    const b24 = t.app.client(memberId);
    const addDeals = async (count: number, label: string): Promise<number[]> => {
      const added = await b24.batch(Object.fromEntries(Array.from({ length: count }, (_, i) => [`d${i}`, ['crm.deal.add', { fields: { TITLE: `${label} ${i}`, STAGE_ID: 'NEW' } }] as [string, Record<string, unknown>]])));
      return Object.values(added.result).map(Number).sort((a, b) => a - b);
    };
    const oldIds = await addDeals(OLD_DEALS, 'Old deal');

    const spawnedAt = Date.now();
    await Promise.all([startChild(), startChild(), startChild()]);
    test.diagnostic(`three processes ready in ${Date.now() - spawnedAt} ms`);

    const clock = async (): Promise<number> => (await emulatorControl<{ now: number }>(t.emulator, '/clock', undefined, 'GET')).now * 1000;
    const moveTo = async (ms: number): Promise<void> => {
      const now = await clock();
      assert.ok(ms > now, 'the clock only moves forward');
      await emulatorControl(t.emulator, '/clock', { advanceSeconds: (ms - now) / 1000 });
    };
    const jobs = (name: string) => store.all<JobRow>('SELECT state, payload, result FROM b24kit_jobs WHERE name = ?', [name]);
    const ruleJobs = () => jobs('job:schedules.rule');
    /** Until the tick of minute `minuteMs` ran and nothing is left to run. */
    const settle = (minuteMs: number, what: string) =>
      waitFor(async () => {
        const ticked = (await jobs('schedule:schedules.tick')).some((job) => job.state === 'succeeded' && json(job.payload).fireTimeMs === minuteMs);
        const busy = await store.all<{ id: number }>("SELECT id FROM b24kit_jobs WHERE state IN ('queued', 'running')");
        return ticked && busy.length === 0;
      }, 20_000, what);

    // a day on, at 08:50 in Kathmandu: the old deals are a day old by then, the young ones are new
    const startMs = new Cron('50 8 * * *', { timezone: ZONE, paused: true }).nextRun(new Date((await clock()) + 86_400_000))!.getTime();
    await moveTo(startMs + 20_000);
    await settle(startMs, 'the tick at 08:50');
    const youngIds = await addDeals(YOUNG_DEALS, 'Young deal');

    const slots = new Cron(RULE.cron, { timezone: ZONE, paused: true }).nextRuns(3, new Date(startMs)).map((date) => date.getTime());
    // 09:07, 10:07, 11:07 at UTC+05:45
    assert.deepEqual(slots.map((ms) => new Date(ms).toISOString().slice(11, 16)), ['03:22', '04:22', '05:22']);
    for (const slotMs of slots) {
      // the slot's tick, then the next minute's, which looks back at the same slot
      for (const minute of [0, 1]) {
        await moveTo(slotMs + minute * 60_000 + 20_000);
        await settle(slotMs + minute * 60_000, `the tick ${minute} min after ${new Date(slotMs).toISOString()}`);
      }
    }
    // 12:07 portal time is no slot
    const noSlotMs = slots[2]! + 3_600_000;
    await moveTo(noSlotMs + 20_000);
    await settle(noSlotMs, 'the tick at 12:07');

    for (const child of children) child.process.kill('SIGTERM');
    const codes = await Promise.all(children.map(async (child) => (child.process.exitCode ?? ((await once(child.process, 'exit')) as [number | null])[0])));
    assert.deepEqual(codes, [0, 0, 0], children.map((child) => child.stderr).join('\n'));
    const ran = children.map((child) => child.lines.find((line) => line.ran)?.ran as { schedule: number; job: number } | undefined);
    test.diagnostic(`ticks run by process: ${ran.map((r) => r?.schedule ?? '?').join(', ')}; rule jobs run by process: ${ran.map((r) => r?.job ?? '?').join(', ')}`);

    const rules = (await ruleJobs()).map((job) => ({ state: job.state, result: json(job.result) })).sort((a, b) => String(a.result.slot).localeCompare(String(b.result.slot)));
    assert.deepEqual(
      rules,
      slots.map((slotMs) => ({ state: 'succeeded', result: { ruleId: RULE.id, slot: new Date(slotMs).toISOString(), matched: OLD_DEALS, acted: OLD_DEALS, failed: 0 } })),
      'one rule job per slot, each acting on the old deals',
    );

    const { activities } = await emulatorControl<{ activities: Array<{ ownerTypeId: number; ownerId: number; title: string; deadline: string }> }>(t.emulator, `/portals/${memberId}/crm/timeline`, undefined, 'GET');
    const bySlot = new Map<number, number[]>();
    for (const activity of activities) {
      assert.deepEqual([activity.ownerTypeId, activity.title], [2, RULE.action.title]);
      const slotMs = Date.parse(activity.deadline) - RULE.action.deadlineHours * 3_600_000;
      bySlot.set(slotMs, [...(bySlot.get(slotMs) ?? []), activity.ownerId]);
    }
    assert.deepEqual([...bySlot.keys()].sort(), slots, 'to-dos at the three slots only');
    for (const slotMs of slots) assert.deepEqual(bySlot.get(slotMs)!.sort((a, b) => a - b), oldIds, `one to-do per old deal at ${new Date(slotMs).toISOString()}`);
    for (const id of youngIds) assert.ok(!activities.some((activity) => activity.ownerId === id), `young deal ${id} left alone`);
  });
});
