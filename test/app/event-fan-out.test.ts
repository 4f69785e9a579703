/**
 * Fan-out: the app and a plugin both handle ONCRMDEALADD. The event is bound once; a delivery is
 * one inbox row and two jobs (`event:ONCRMDEALADD`, the app's as before, and
 * `event:ONCRMDEALADD@shop`), committed together; each handler runs once, and a plugin handler that
 * fails is retried on its own, without running the app's again. A repeated delivery enqueues
 * nothing. The offline drain's path (`deliverEvent`) fans out the same way. A plugin's event job
 * queued under the old name (`event:NAME`, before fan-out) still finds its handler, and ends dead,
 * saying why, when two plugins handle the event now.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { offlineDelivery } from '../../src/app/builtins/offline-events.js';
import { appInternals } from '../../src/app/internals.js';
import { definePlugin } from '../../src/app/plugin.js';
import { createApp } from '../../src/index.js';
import { B24Error } from '../../src/errors.js';
import { control } from '../helpers/emulator.js';
import { postForm, type EmulatorInstall } from '../portals/helpers.js';
import { countRows, eventForm, fireAndFlush, startTestApp, waitFor, type TestApp } from './helpers.js';

const SETTLE_MS = 300;
const dealId = (data: unknown): string => String((data as { FIELDS: { ID: string } }).FIELDS.ID);

describe('an event handled by the app and a plugin: one job per owner', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  const appRuns: string[] = [];
  const shopAttempts: Array<{ deal: string; attempt: number }> = [];
  const leadRuns: string[] = [];
  const shopPlugin = definePlugin({
    name: 'shop',
    setup(kit) {
      kit.on('ONCRMDEALADD', (ctx) => {
        shopAttempts.push({ deal: dealId(ctx.event.data), attempt: ctx.job.attempt });
        if (ctx.job.attempt === 1) throw new Error('the shop is down');
      });
      // handled by this plugin alone
      kit.on('ONCRMLEADADD', (ctx) => void leadRuns.push(dealId(ctx.event.data)));
    },
  });
  const jobs = () => t.store.all<{ name: string; state: string; attempts: number }>('SELECT name, state, attempts FROM b24kit_jobs WHERE member_id = ? ORDER BY name, id', [portal.memberId]);

  before(async () => {
    t = await startTestApp((app) => {
      app.on('ONCRMDEALADD', (ctx) => void appRuns.push(dealId(ctx.event.data)));
      app.register(shopPlugin);
    });
    portal = await t.install();
  });
  after(() => t.close());

  it('install binds ONCRMDEALADD once', async () => {
    const bindings = await control<Array<{ event: string }>>(t.emu, `/portals/${portal.memberId}/events/bindings`, undefined, 'GET');
    assert.equal(bindings.filter((binding) => binding.event === 'ONCRMDEALADD').length, 1);
  });

  it('one delivery → one inbox row, two jobs; the plugin\'s failure retries its job only: the app\'s handler ran once', async () => {
    await fireAndFlush(t.emu, portal.memberId, 'ONCRMDEALADD', { FIELDS: { ID: '7' } });
    await waitFor(async () => (await jobs()).every((job) => job.state === 'succeeded') && (await jobs()).length === 2, 10_000, 'both jobs succeeded');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS)); // a stray run would have happened by now
    assert.equal(await countRows(t.store, 'b24kit_event_inbox', portal.memberId), 1);
    assert.deepEqual(await jobs(), [
      { name: 'event:ONCRMDEALADD', state: 'succeeded', attempts: 1 },
      { name: 'event:ONCRMDEALADD@shop', state: 'succeeded', attempts: 2 },
    ]);
    assert.deepEqual(appRuns, ['7'], 'the app\'s handler ran once, not again with the plugin\'s retry');
    assert.deepEqual(shopAttempts, [
      { deal: '7', attempt: 1 },
      { deal: '7', attempt: 2 },
    ]);
  });

  it('the same form again is a duplicate: no job for either owner', async () => {
    const form = eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '8' } });
    const first = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, form);
    const again = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, form);
    assert.deepEqual([first.body, again.body], [{ status: 'queued' }, { status: 'duplicate' }]);
    await waitFor(() => appRuns.includes('8') && shopAttempts.filter((run) => run.deal === '8').length === 2, 10_000, 'the runs of deal 8');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    assert.deepEqual(appRuns, ['7', '8']);
    assert.equal(await countRows(t.store, 'b24kit_event_inbox', portal.memberId), 2);
    assert.equal(await countRows(t.store, 'b24kit_jobs', portal.memberId), 4);
    // the filter of `b24kit jobs list --name` and the admin pages takes a plugin's event job name
    const { queue } = await appInternals(t.app).services();
    const shopJobs = await queue.list({ name: 'event:ONCRMDEALADD@shop' });
    assert.deepEqual(shopJobs.map((job) => [job.name, (job.payload as { data: unknown }).data]), [
      ['event:ONCRMDEALADD@shop', { FIELDS: { ID: '8' } }],
      ['event:ONCRMDEALADD@shop', { FIELDS: { ID: '7' } }],
    ]);
  });

  it('an event only the plugin handles runs as the plugin\'s job', async () => {
    await fireAndFlush(t.emu, portal.memberId, 'ONCRMLEADADD', { FIELDS: { ID: '3' } });
    await waitFor(() => leadRuns.includes('3'), 10_000, 'the lead handler');
    const names = (await jobs()).map((job) => job.name);
    assert.ok(names.includes('event:ONCRMLEADADD@shop'), names.join());
    assert.ok(!names.includes('event:ONCRMLEADADD'));
  });

  it('app.receive waits for every handler\'s job and answers them all', async () => {
    const outcome = await t.app.receive(eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '10' } }));
    assert.equal(outcome.status, 'queued');
    assert.deepEqual(outcome.jobs?.map((job) => job.name), ['event:ONCRMDEALADD', 'event:ONCRMDEALADD@shop']);
    assert.equal(outcome.job, outcome.jobs?.[0]);
    // the app's ran once and succeeded; the shop's failed its first attempt (then queued again, or already retried)
    assert.equal(outcome.jobs?.[0]?.state, 'succeeded');
    assert.ok(outcome.jobs![1]!.history.length >= 1 && outcome.jobs![1]!.history[0]!.error !== null);
    await waitFor(() => shopAttempts.filter((run) => run.deal === '10').length === 2, 10_000, 'the shop\'s retry');
  });

  it('deliverEvent (the offline drain\'s path) enqueues a job per owner, once', async () => {
    const delivery = offlineDelivery(
      { id: 1, event: 'ONCRMDEALADD', data: { FIELDS: { ID: 9 } }, timestamp: '2026-12-03T10:00:00+00:00', additional: { user_id: 1 }, messageId: 'c'.repeat(32) },
      { memberId: portal.memberId, domain: portal.domain, status: 'L', clientEndpoint: portal.client_endpoint } as never,
    );
    const outcome = await t.app.deliverEvent(portal.memberId, delivery, { dedupeKey: 'offline:test-9' });
    assert.equal(outcome.status, 'queued');
    assert.equal(outcome.jobIds?.length, 2);
    assert.equal(outcome.jobId, outcome.jobIds?.[0]);
    assert.deepEqual(await t.app.deliverEvent(portal.memberId, delivery, { dedupeKey: 'offline:test-9' }), { status: 'duplicate' });
    await waitFor(() => appRuns.includes('9') && shopAttempts.filter((run) => run.deal === '9').length === 2, 10_000, 'the runs of deal 9');
  });

  it('a plugin\'s event job queued under the name before fan-out (event:NAME) still runs the plugin\'s handler', async () => {
    const { queue } = await appInternals(t.app).services();
    const form = eventForm(portal, 'ONCRMLEADADD', { FIELDS: { ID: '4' } });
    const { job } = await queue.enqueue(t.store, { memberId: portal.memberId, name: 'event:ONCRMLEADADD', payload: { event: 'ONCRMLEADADD', data: form.data, auth: { memberId: portal.memberId } } });
    await waitFor(async () => (await queue.get(job.id))?.state === 'succeeded', 10_000, 'the old-named job');
    assert.ok(leadRuns.includes('4'));
  });
});

describe('an event job queued under the name before fan-out, when two plugins handle the event now', () => {
  it('ends dead at once with a message saying why, instead of waiting forever for a handler', async () => {
    const runs: string[] = [];
    const plugin = (name: string) => definePlugin({ name, setup: (kit) => void kit.on('ONCRMLEADADD', () => void runs.push(name)) });
    const t = await startTestApp((app) => {
      app.register(plugin('crm-a'));
      app.register(plugin('crm-b'));
    });
    try {
      const portal = await t.install();
      const { queue } = await appInternals(t.app).services();
      const form = eventForm(portal, 'ONCRMLEADADD', { FIELDS: { ID: '5' } });
      const { job } = await queue.enqueue(t.store, { memberId: portal.memberId, name: 'event:ONCRMLEADADD', payload: { event: 'ONCRMLEADADD', data: form.data, auth: { memberId: portal.memberId } } });
      const dead = await waitFor(async () => ((await queue.get(job.id))?.state === 'dead' ? queue.get(job.id) : undefined), 10_000, 'the old-named job to end');
      assert.equal(dead?.attempts, 1, 'not retried: no retry can tell whose it was');
      assert.match(String(dead?.lastError), /crm-a, crm-b all handle ONCRMLEADADD now/);
      assert.deepEqual(runs, [], 'neither plugin ran it');
    } finally {
      await t.close();
    }
  });
});

describe('fan-out definitions', () => {
  const refused = (pattern: RegExp) => (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_APP_DEFINITION' && pattern.test(error.message);
  const handlerOf = (event: string, options: { offline?: boolean } = {}) =>
    definePlugin({
      name: 'crm-mirror',
      setup(kit) {
        kit.on(event, () => undefined, options);
      },
    });

  it('the same owner handling an event twice is refused (the app, a plugin)', () => {
    const app = createApp().on('ONCRMDEALADD', () => undefined);
    assert.throws(() => app.on('oncrmdealadd', () => undefined), refused(/ONCRMDEALADD is already registered by the app/));
    const twice = definePlugin({
      name: 'twice',
      setup(kit) {
        kit.on('ONCRMDEALADD', () => undefined);
        kit.on('ONCRMDEALADD', () => undefined);
      },
    });
    assert.throws(() => createApp().register(twice), refused(/ONCRMDEALADD is already registered by plugin twice/));
  });

  it('owners that disagree on offline are refused, naming both', () => {
    const online = createApp().on('ONCRMDEALUPDATE', () => undefined);
    assert.throws(() => online.register(handlerOf('ONCRMDEALUPDATE', { offline: true })), refused(/ONCRMDEALUPDATE is bound online by the app but offline by plugin crm-mirror/));
    const offline = createApp().register(handlerOf('ONCRMDEALUPDATE', { offline: true }));
    assert.throws(() => offline.on('ONCRMDEALUPDATE', () => undefined), refused(/ONCRMDEALUPDATE is bound offline by plugin crm-mirror but online by the app/));
  });

  it('owners that agree share the event: two handlers, one binding', () => {
    const app = createApp().on('ONCRMDEALUPDATE', () => undefined, { offline: true });
    app.register(handlerOf('ONCRMDEALUPDATE', { offline: true }));
    const definitions = appInternals(app).definitions;
    assert.deepEqual(definitions.jobNamesForEvent('oncrmdealupdate'), ['event:ONCRMDEALUPDATE', 'event:ONCRMDEALUPDATE@crm-mirror']);
    assert.deepEqual([...definitions.offlineEvents], ['ONCRMDEALUPDATE']);
    assert.deepEqual(definitions.onlineEvents(), []);
  });
});
