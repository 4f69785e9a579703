/**
 * Offline events with the emulator: `app.on('ONCRMDEALUPDATE', h, {offline: true})` binds the
 * event offline and ONOFFLINEEVENT online at install; changes made through a webhook queue records
 * on the portal (the latest state per deal) and ping the app; the pings of one window collapse into
 * one drain job, which records each record in the inbox with its `event:` job; the handler runs once
 * per deal and sees the latest state; the portal's queue ends empty. A handler that fails is
 * retried like any event job — the record, cleared once durable in the store, is not lost.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventDelivery } from '../../src/events/event-payload.js';
import { control } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { countRows, startTestApp, waitFor, type TestApp } from './helpers.js';

// one coalescing window; 5 s, so the five updates fit in one however loaded the machine (they take ~0.1 s)
const COALESCE_MS = 5000;

describe('offline events: ping → one drain → the handler once per object', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let webhook: string;
  const runs: Array<{ id: string; title: string; attempt: number; event: EventDelivery }> = [];
  let failDeal: string | undefined;

  const update = async (id: number | string, title: string): Promise<void> => {
    const response = await fetch(`${webhook}crm.deal.update.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, fields: { TITLE: title } }),
    });
    assert.equal(response.status, 200, await response.text());
  };
  const portalQueue = () => control<Array<{ ID: string }>>(t.emu, `/portals/${portal.memberId}/events/offline`, undefined, 'GET');
  const drainJobs = () => t.store.all<{ id: number; state: string }>("SELECT id, state FROM b24kit_jobs WHERE name IN ('job:b24kit.offline-drain', 'schedule:b24kit.offline-drain') ORDER BY id");

  before(async () => {
    t = await startTestApp(
      (app) =>
        app.on(
          'ONCRMDEALUPDATE',
          async (ctx) => {
            const id = (ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID;
            const { result } = await ctx.b24.call<{ TITLE: string }>('crm.deal.get', { id });
            runs.push({ id, title: result.TITLE, attempt: ctx.job.attempt, event: ctx.event });
            if (id === failDeal && ctx.job.attempt === 1) throw new Error('the CRM sync is down');
          },
          { offline: true },
        ),
      { config: { offlineEvents: { notifyMinTimeoutSeconds: 0, coalesceMs: COALESCE_MS, drainCron: false } } },
    );
    portal = await t.install();
    webhook = (await control<{ url: string }>(t.emu, `/portals/${portal.memberId}/webhooks`, { userId: 1, scope: ['crm'] })).url;
    await control(t.emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'deal', count: 3 });
  });
  after(() => t.close());

  it('install binds the event offline and ONOFFLINEEVENT online', async () => {
    const bindings = await control<Array<{ event: string; offline: number | string; handler: string }>>(t.emu, `/portals/${portal.memberId}/events/bindings`, undefined, 'GET');
    const offline = bindings.filter((b) => Number(b.offline) === 1).map((b) => b.event);
    const online = bindings.filter((b) => Number(b.offline) !== 1).map((b) => b.event);
    assert.deepEqual(offline, ['ONCRMDEALUPDATE']);
    assert.ok(online.includes('ONOFFLINEEVENT'));
    assert.ok(!online.includes('ONCRMDEALUPDATE'), 'not bound online as well');
  });

  it('5 updates of 2 deals → pings → one drain per window → one run per deal with its latest state; the portal queue ends empty', async () => {
    // start at the beginning of a coalescing window, so the updates all land in one
    while (Date.now() % COALESCE_MS > 100) await new Promise((resolve) => setTimeout(resolve, 5));
    await update(1, 'one-a');
    await update(2, 'two-a');
    await update(1, 'one-b');
    await update(2, 'two-b');
    await update(1, 'one-c');
    await control(t.emu, `/portals/${portal.memberId}/events/flush`, {});
    const log = await control<unknown>(t.emu, `/portals/${portal.memberId}/events/log?limit=100`, undefined, 'GET');
    const entries = (Array.isArray(log) ? log : ((log as { entries?: unknown[] }).entries ?? [])) as Array<{ event: string; http_status: number }>;
    const pings = entries.filter((entry) => entry.event === 'ONOFFLINEEVENT');
    assert.ok(pings.length >= 2, `several pings (${pings.length})`);
    assert.ok(pings.every((ping) => ping.http_status === 200));
    assert.ok(!entries.some((entry) => entry.event === 'ONCRMDEALUPDATE'), 'nothing delivered online');

    await waitFor(async () => runs.length >= 2 && (await portalQueue()).length === 0, 15_000, 'the drain and both runs');
    await new Promise((resolve) => setTimeout(resolve, COALESCE_MS + 300)); // a late drain would have run by now
    assert.deepEqual(
      runs.map((run) => [run.id, run.title]).sort(),
      [
        ['1', 'one-c'],
        ['2', 'two-b'],
      ],
    );
    const jobs = await drainJobs();
    assert.ok(jobs.length >= 1 && jobs.length < pings.length, `${pings.length} pings collapsed into ${jobs.length} drain job(s)`);
    assert.ok(jobs.every((job) => job.state === 'succeeded'));

    // what a handler sees of an offline event
    const event = runs[0]!.event;
    assert.equal(event.event, 'ONCRMDEALUPDATE');
    assert.equal(event.eventHandlerId, null);
    assert.equal(event.auth.memberId, portal.memberId);
    assert.ok(event.offline && event.offline.id > 0 && event.offline.messageId.length === 32 && event.offline.timestamp !== '');
    assert.match(event.ts ?? '', /^\d+$/);

    const { result } = await t.app.client(portal.memberId).call<unknown[]>('event.offline.list', {});
    assert.deepEqual(result, [], 'event.offline.list is empty');
    const inbox = await t.store.all<{ dedupe_key: string }>("SELECT dedupe_key FROM b24kit_event_inbox WHERE event = 'ONCRMDEALUPDATE'");
    assert.equal(inbox.length, 2);
    assert.ok(inbox.every((row) => row.dedupe_key.startsWith(`offline:${portal.memberId}:`)));
  });

  it('a failing handler: the record is cleared once durable, the event job is retried and completes', async () => {
    runs.length = 0;
    failDeal = '3';
    await update(3, 'three-a');
    await control(t.emu, `/portals/${portal.memberId}/events/flush`, {});
    await waitFor(() => runs.filter((run) => run.id === '3').length >= 2, 15_000, 'the retried run');
    assert.deepEqual(
      runs.map((run) => [run.id, run.title, run.attempt]),
      [
        ['3', 'three-a', 1],
        ['3', 'three-a', 2],
      ],
    );
    await waitFor(async () => (await portalQueue()).length === 0, 10_000, 'nothing left on the portal, nothing marked errored');
    const job = await t.store.one<{ state: string; attempts: number }>(
      "SELECT state, attempts FROM b24kit_jobs WHERE name = 'event:ONCRMDEALUPDATE' ORDER BY id DESC LIMIT 1",
    );
    assert.deepEqual({ ...job, attempts: Number(job?.attempts) }, { state: 'succeeded', attempts: 2 });
    assert.equal(await countRows(t.store, 'b24kit_event_inbox', portal.memberId) >= 3, true);
  });
});

describe('offline events: the schedule drains without pings', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  const seen: string[] = [];
  before(async () => {
    t = await startTestApp((app) => app.on('ONCRMDEALUPDATE', (ctx) => void seen.push((ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID), { offline: true }), {
      config: { offlineEvents: { notifyMinTimeoutSeconds: false, drainCron: '* * * * * *' }, scheduler: { intervalMs: 200 } },
      roles: { scheduler: true },
    });
    portal = await t.install();
  });
  after(() => t.close());

  it('no ONOFFLINEEVENT binding; a queued record is drained by the next slot', async () => {
    const bindings = await control<Array<{ event: string }>>(t.emu, `/portals/${portal.memberId}/events/bindings`, undefined, 'GET');
    assert.ok(!bindings.some((b) => b.event === 'ONOFFLINEEVENT'));
    await control(t.emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '42' } } });
    await waitFor(() => seen.includes('42'), 10_000, 'the scheduled drain');
    // the handler's job may run before the drain cleared the record: wait for the clear
    await waitFor(async () => (await control<unknown[]>(t.emu, `/portals/${portal.memberId}/events/offline`, undefined, 'GET')).length === 0, 10_000, 'the clear');
    const keys = await t.store.all<{ idempotency_key: string }>("SELECT idempotency_key FROM b24kit_jobs WHERE name IN ('job:b24kit.offline-drain', 'schedule:b24kit.offline-drain')");
    assert.ok(keys.length > 0 && keys.every((row) => row.idempotency_key.startsWith('schedule:b24kit.offline-drain:')), JSON.stringify(keys));
  });
});
