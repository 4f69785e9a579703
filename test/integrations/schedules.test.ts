/**
 * The built-in scheduled-rules plugin (src/integrations/schedules/) end to end against the
 * emulator, with the scheduler running on the emulator's clock in a Tokyo portal: rules stored
 * through the signed route, each action kind judged by the emulator's state (workflows started,
 * stages moved, triggers executed, to-dos added), once per rule and slot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { signSchedulesRequest } from '../../src/integrations/schedules/route.js';
import { startTestApp, emulatorControl, type TestApp } from '../../src/testing/index.js';
import { scheduledRulesPlugin } from '../../src/integrations/index.js';
import { waitFor } from '../app/helpers.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

const UNAUTHORIZED = '{"error":"B24_ERR_UNAUTHORIZED","message":"The request is not signed or authorized for this portal"}';
const DAY_S = 86_400;
const WEEKDAY_NINE = '0 9 * * 1-5';

const RULES = [
  { id: 'approve', cron: WEEKDAY_NINE, filter: { stageId: 'NEW', olderThanDays: 3 }, action: { kind: 'startWorkflow', templateId: 1 } },
  { id: 'escalate', cron: WEEKDAY_NINE, filter: { stageId: 'PREPARATION', olderThanDays: 3 }, action: { kind: 'moveStage', stageId: 'EXECUTING' } },
  { id: 'nudge', cron: WEEKDAY_NINE, filter: { stageId: 'PREPAYMENT_INVOICE', olderThanDays: 3 }, action: { kind: 'trigger', code: 'stale_deal', name: 'Deal went stale' } },
  { id: 'call', cron: WEEKDAY_NINE, filter: { stageId: 'FINAL_INVOICE', olderThanDays: 3 }, action: { kind: 'todo', title: 'Call the customer', deadlineHours: 24 } },
];

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

describe('scheduled rules plugin: robots on a schedule', () => {
  let t: TestApp;
  let memberId: string;
  const signingSecret = randomBytes(24).toString('base64url');

  /** Signed at the app's clock (the emulator's), or with the headers given. */
  const send = async (method: 'PUT' | 'GET', body: string, key = signingSecret, signed?: Record<string, string>): Promise<Answer> => {
    const response = await fetch(`${t.url}/api/v1/${memberId}/schedules`, {
      method,
      headers: { ...(method === 'PUT' ? { 'content-type': 'application/json' } : {}), ...(signed ?? signSchedulesRequest(key, body, (await nowS()) * 1000)) },
      ...(method === 'PUT' ? { body } : {}),
    });
    const text = await response.text();
    return { status: response.status, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const nowS = async (): Promise<number> => (await emulatorControl<{ now: number }>(t.emulator, '/clock', undefined, 'GET')).now;
  const advanceTo = async (targetS: number): Promise<void> => {
    const now = await nowS();
    if (targetS > now) await emulatorControl(t.emulator, '/clock', { advanceSeconds: targetS - now });
  };
  const b24 = () => t.app.client(memberId);
  const deal = async (stageId: string): Promise<number> => (await b24().call<number>('crm.deal.add', { fields: { TITLE: `Deal in ${stageId}`, STAGE_ID: stageId } })).result;
  const stageOf = async (id: number): Promise<string> => (await b24().call<{ STAGE_ID: string }>('crm.deal.get', { id })).result.STAGE_ID;
  const workflows = async (): Promise<string[]> =>
    (await emulatorControl<Array<{ document_id: string[] }>>(t.emulator, `/portals/${memberId}/workflows`, undefined, 'GET')).map((w) => w.document_id[2]!).sort();
  const triggers = () => emulatorControl<{ triggers: Array<{ CODE: string; NAME: string }>; executions: Array<{ code: string; owner_id: number }> }>(t.emulator, `/portals/${memberId}/automation/triggers`, undefined, 'GET');
  const todos = async (): Promise<Array<{ ownerId: number; title: string; deadline: string }>> =>
    (await emulatorControl<{ activities: Array<{ ownerId: number; title: string; deadline: string }> }>(t.emulator, `/portals/${memberId}/crm/timeline`, undefined, 'GET')).activities;
  const sorted = (ids: number[]): number[] => [...ids].sort((a, b) => a - b);

  let old: Record<string, number[]>;
  let young: Record<string, number>;
  let other: number;
  let slotS: number;
  let tickRuns = 0;
  let store: Store;
  const ruleJobs = async () => store.all<{ state: string; payload: string; result: string | null; last_error: string | null }>("SELECT state, payload, result, last_error FROM b24kit_jobs WHERE name LIKE '%schedules.rule' ORDER BY id");

  before(async () => {
    store = await openStore({ url: ':memory:' });
    t = await startTestApp((app) => {
      app.register(scheduledRulesPlugin, {});
      app.observe((signal) => void (signal.type === 'handler' && signal.kind === 'schedule' && (tickRuns += 1)));
    }, {
      roles: { scheduler: true },
      config: { store, scheduler: { intervalMs: 100 } },
      portal: { timeZone: 'Asia/Tokyo' },
    });
    memberId = t.portal.memberId;
    await t.app.settings(memberId, 'schedules').set({ signingSecret });
  });
  after(async () => {
    await t?.close();
    await store?.close();
  });

  it('PUT refuses a bad signature (401, nothing stored) and a bad rule (400 naming the field)', async () => {
    const body = JSON.stringify({ rules: RULES });
    const forged = await send('PUT', body, randomBytes(24).toString('base64url'));
    assert.deepEqual([forged.status, forged.text], [401, UNAUTHORIZED]);
    const badCron = await send('PUT', JSON.stringify({ rules: [{ ...RULES[0], cron: 'every monday' }] }));
    assert.deepEqual([badCron.status, badCron.json.error, badCron.json.field], [400, 'B24_ERR_BAD_REQUEST', 'rules.0.cron']);
    const badAction = await send('PUT', JSON.stringify({ rules: [RULES[0], { ...RULES[1], action: { kind: 'todo', title: 'x', deadlineHours: -1 } }] }));
    assert.deepEqual([badAction.status, badAction.json.field], [400, 'rules.1.action.deadlineHours']);
    const duplicate = await send('PUT', JSON.stringify({ rules: [RULES[0], RULES[0]] }));
    assert.deepEqual([duplicate.status, duplicate.json.field], [400, 'rules.1.id']);
    assert.deepEqual((await send('GET', '')).json, { rules: [] }, 'nothing was stored');
  });

  it('a signed request is good for 5 minutes: replayed later, or signed without a timestamp, it is the uniform 401', async () => {
    const body = JSON.stringify({ rules: [RULES[0]] });
    const stamped = signSchedulesRequest(signingSecret, body, (await nowS()) * 1000);
    const unstamped = { 'x-schedules-signature': `sha256=${createHmac('sha256', signingSecret).update(body).digest('hex')}` };
    assert.deepEqual([(await send('PUT', body, signingSecret, unstamped)).status], [401], 'the body alone is not what is signed');
    const stale = signSchedulesRequest(signingSecret, body, ((await nowS()) - 301) * 1000);
    assert.deepEqual([(await send('PUT', body, signingSecret, stale)).text], [UNAUTHORIZED]);
    const readNow = signSchedulesRequest(signingSecret, '', (await nowS()) * 1000);
    assert.equal((await send('GET', '', signingSecret, readNow)).status, 200);
    await advanceTo((await nowS()) + 301);
    assert.deepEqual([(await send('PUT', body, signingSecret, stamped)).status], [401], 'a captured PUT, replayed 5 minutes on');
    assert.deepEqual([(await send('GET', '', signingSecret, readNow)).status], [401], 'a captured GET, replayed 5 minutes on');
    assert.deepEqual((await send('GET', '')).json, { rules: [] }, 'nothing was stored');
  });

  it('PUT stores the rules (GET returns them) and registers the trigger with the portal', async () => {
    const stored = await send('PUT', JSON.stringify({ rules: RULES }));
    assert.equal(stored.status, 200, stored.text);
    assert.deepEqual((await send('GET', '')).json, { rules: RULES });
    await waitFor(async () => (await triggers()).triggers.length > 0, 10_000, 'the trigger registered');
    assert.deepEqual((await triggers()).triggers, [{ CODE: 'stale_deal', NAME: 'Deal went stale' }]);
  });

  it('at the slot, deals older than N days in the stage get the action; younger ones and other stages do not', async () => {
    old = {};
    for (const stage of ['NEW', 'PREPARATION', 'PREPAYMENT_INVOICE', 'FINAL_INVOICE']) old[stage] = [await deal(stage), await deal(stage)];
    other = await deal('EXECUTING');
    // the first weekday 09:00 in Tokyo (00:00Z) at least 4 days on
    const start = await nowS();
    slotS = (Math.floor(start / DAY_S) + 5) * DAY_S;
    // …followed by another weekday, so that the next slot is one day on (the young deals stay young)
    while ([0, 5, 6].includes(new Date(slotS * 1000).getUTCDay())) slotS += DAY_S;
    await advanceTo(slotS - DAY_S + 2 * 3600); // 11:00 the day before: no slot in reach
    young = {};
    for (const stage of Object.keys(old)) young[stage] = await deal(stage);
    assert.deepEqual(await workflows(), [], 'nothing before the slot');
    await advanceTo(slotS + 5);

    // the rule jobs' states too: the effects land before the worker records each job's outcome
    const allSucceeded = async (count: number) => {
      const jobs = await ruleJobs();
      return jobs.length === count && jobs.every((job) => job.state === 'succeeded');
    };
    await waitFor(async () => (await workflows()).length >= 2 && (await triggers()).executions.length >= 2 && (await todos()).length >= 2 && (await stageOf(old.PREPARATION![1]!)) === 'EXECUTING' && (await allSucceeded(RULES.length)), 15_000, 'the slot ran');
    assert.deepEqual(await workflows(), old.NEW!.map((id) => `DEAL_${id}`).sort());
    for (const id of old.PREPARATION!) assert.equal(await stageOf(id), 'EXECUTING');
    assert.deepEqual(sorted((await triggers()).executions.map((run) => run.owner_id)), sorted(old.PREPAYMENT_INVOICE!));
    assert.deepEqual((await triggers()).executions.map((run) => run.code), ['stale_deal', 'stale_deal']);
    const added = await todos();
    assert.deepEqual(sorted(added.map((todo) => todo.ownerId)), sorted(old.FINAL_INVOICE!));
    assert.deepEqual([...new Set(added.map((todo) => todo.title))], ['Call the customer']);
    // due 24 hours after the slot: 09:00 Tokyo the next day
    assert.equal(new Date(added[0]!.deadline).getTime(), (slotS + DAY_S) * 1000);
    // one job per rule for the slot, each acting on its two deals
    assert.deepEqual((await ruleJobs()).map((job) => [job.state, JSON.parse(job.result ?? 'null')]), RULES.map((rule) => ['succeeded', { ruleId: rule.id, slot: new Date(slotS * 1000).toISOString(), matched: 2, acted: 2, failed: 0 }]));
    // the younger deals and the deal in another stage: untouched
    assert.equal(await stageOf(young.PREPARATION!), 'PREPARATION');
    assert.equal(await stageOf(other), 'EXECUTING');
  });

  it('re-running the slot acts on nobody twice: later ticks see the same slot, a re-ingest is a duplicate', async () => {
    const runs = tickRuns;
    await advanceTo(slotS + 2 * 60 + 5); // the tick of 09:02 looks back at 09:00
    await waitFor(() => tickRuns > runs, 10_000, 'a later tick');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await t.app.ingest(memberId, 'schedules.rule', `call:${new Date(slotS * 1000).toISOString()}`, { ruleId: 'call', slotMs: slotS * 1000 });
    assert.equal(again.outcome, 'duplicate');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await workflows()).length, 2);
    assert.equal((await triggers()).executions.length, 2);
    assert.equal((await todos()).length, 2);
    assert.equal((await ruleJobs()).length, RULES.length, 'no second job for the slot');
  });

  it('the next slot fires again, once: the deals still matching get the action a second time, the moved ones do not', async () => {
    const next = slotS + DAY_S;
    await advanceTo(next + 5);
    const allSucceeded = async () => {
      const jobs = await ruleJobs();
      return jobs.length === 2 * RULES.length && jobs.every((job) => job.state === 'succeeded');
    };
    // every rule job of the second slot done (the one that matches nothing has no effect to wait for)
    await waitFor(async () => (await todos()).length >= 4 && (await workflows()).length >= 4 && (await triggers()).executions.length >= 4 && (await allSucceeded()), 15_000, 'the next slot ran');
    const added = await todos();
    // the old deals twice (one per slot); the young one is 2 days in its stage: not yet
    assert.deepEqual(sorted(added.map((todo) => todo.ownerId)), sorted([...old.FINAL_INVOICE!, ...old.FINAL_INVOICE!]));
    assert.equal((await workflows()).length, 4);
    assert.deepEqual(sorted((await triggers()).executions.map((run) => run.owner_id)), sorted([...old.PREPAYMENT_INVOICE!, ...old.PREPAYMENT_INVOICE!]));
    assert.equal(await stageOf(young.PREPARATION!), 'PREPARATION');
    const escalate = (await ruleJobs()).filter((job) => job.payload.includes('"escalate"')).map((job) => (JSON.parse(job.result ?? 'null') as { matched: number }).matched);
    assert.deepEqual(escalate, [2, 0], 'the moved deals left the stage: nothing matches the second time');
  });

  it('a re-install registers the trigger again from the kept rules (onInstall)', async () => {
    await emulatorControl(t.emulator, `/portals/${memberId}/uninstall`, {});
    assert.deepEqual((await triggers()).triggers, [], "the portal dropped the app's triggers");
    await emulatorControl(t.emulator, `/portals/${memberId}/install`, { appUrl: t.url });
    await waitFor(async () => (await triggers()).triggers.length > 0, 10_000, 'the trigger registered at install');
    assert.deepEqual((await triggers()).triggers, [{ CODE: 'stale_deal', NAME: 'Deal went stale' }]);
  });
});
