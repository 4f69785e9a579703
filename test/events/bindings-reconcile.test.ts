import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { eventHandlerUrl, reconcileBindings, robotHandlerUrl, type BindingsReport } from '../../src/events/bindings.js';
import type { RobotDefinition } from '../../src/robots/definition.js';
import { control, createInstalledPortal, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { appClient, bindingsOf, quietLogger, resetStats, statsOf } from '../helpers/app-client.js';
import { B24Client, type CallOptions, type CallResult } from '../../src/rest/client.js';
import { StaticTokenProvider } from '../../src/rest/providers.js';

/** A real client whose event.get answers an earlier real answer: a process that read before the others wrote. */
function staleReadClient(portal: TestPortal, eventGetResult: unknown): B24Client {
  class StaleRead extends B24Client {
    override async call<T = unknown>(method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<CallResult<T>> {
      if (method === 'event.get') return { result: eventGetResult as T };
      return super.call<T>(method, params, options);
    }
  }
  return new StaleRead({
    provider: new StaticTokenProvider({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }),
    logger: quietLogger,
  });
}

const sorted = (values: string[]): string[] => [...values].sort();
const events = (report: BindingsReport, key: 'bound' | 'unbound' | 'kept'): string[] => sorted(report[key].map((b) => (b.mode === 'online' ? b.event : `${b.event}/offline`)));

const SMS_ROBOT: RobotDefinition = {
  code: 'send_sms',
  name: 'Send SMS',
  properties: { phone: { name: 'Phone', required: true }, text: { name: 'Text', type: 'text', default: 'Hello' } },
  returnProperties: { status: { name: 'Status' } },
  documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'],
};

describe('reconcileBindings against the emulator', () => {
  let emu: RunningEmulator;
  let app: HandlerServer;
  let portal: TestPortal;
  let client: B24Client;
  let ourUrl: string;

  before(async () => {
    emu = await startTestEmulator();
    app = await startHandlerServer();
  });
  after(async () => {
    await app.close();
    await emu.close();
  });
  beforeEach(async () => {
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    client = appClient(portal);
    ourUrl = eventHandlerUrl(app.url, portal.memberId);
  });
  afterEach(() => client.close());

  it('binds the declared events and the lifecycle events to the receiver URL, in one read and one write', async () => {
    await resetStats(emu, portal);
    const report = await reconcileBindings({ client, appUrl: `${app.url}/`, memberId: portal.memberId, events: ['ONCRMDEALADD', 'oncrmdealupdate'] });

    assert.deepEqual(events(report, 'bound'), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD', 'ONCRMDEALUPDATE']);
    assert.deepEqual(report.unbound, []);
    assert.deepEqual(report.failures, []);
    const bindings = await bindingsOf(emu, portal);
    assert.deepEqual(sorted(bindings.map((b) => b.event)), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD', 'ONCRMDEALUPDATE']);
    for (const binding of bindings) {
      assert.equal(binding.handler, ourUrl);
      assert.equal(Number(binding.auth_type), 0);
    }
    assert.equal((await statsOf(emu, portal)).requests, 2, 'event.get + one batch of binds');

    // the portal now delivers to the receiver URL
    await control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '7' } } });
    await control(emu, `/portals/${portal.memberId}/events/flush`);
    const delivered = app.at(`/webhooks/${portal.memberId}/event`).filter((post) => post.body.event === 'ONCRMDEALADD');
    assert.equal(delivered.length, 1);
  });

  it('is a no-op the second time: one event.get, no writes', async () => {
    const declaration = { client, appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD', 'ONCRMCONTACTADD'] };
    await reconcileBindings(declaration);
    const before = await bindingsOf(emu, portal);
    await resetStats(emu, portal);

    const report = await reconcileBindings(declaration);

    const stats = await statsOf(emu, portal);
    assert.equal(stats.requests, 1);
    assert.deepEqual(stats.byMethod, { 'event.get': 1 });
    assert.deepEqual(report.bound, []);
    assert.deepEqual(report.unbound, []);
    assert.equal(report.kept.length, 4);
    assert.deepEqual(await bindingsOf(emu, portal), before, 'the same binding rows, ids included');
  });

  it('re-binds everything after an app update dropped the bindings', async () => {
    const declaration = { client, appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD'], offlineEvents: ['ONCRMDEALUPDATE'] };
    await reconcileBindings(declaration);
    const update = await control<{ dropped: { bindings: number } }>(emu, `/portals/${portal.memberId}/update`);
    assert.equal(update.dropped.bindings, 4);
    assert.deepEqual(await bindingsOf(emu, portal), []);

    const report = await reconcileBindings(declaration);

    assert.deepEqual(events(report, 'bound'), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD', 'ONCRMDEALUPDATE/offline']);
    const bindings = await bindingsOf(emu, portal);
    assert.equal(bindings.length, 4);
    assert.ok(bindings.some((b) => b.event === 'ONCRMDEALUPDATE' && Boolean(b.offline)));
  });

  it('re-binds from inside the ONAPPUPDATE delivery, with the tokens it carries (the onUpdated hook path)', async () => {
    const declaration = { appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD'] };
    await reconcileBindings({ ...declaration, client });
    const reports: BindingsReport[] = [];
    app.onPost(`/webhooks/${portal.memberId}/event`, async (post) => {
      if (post.body.event !== 'ONAPPUPDATE') return;
      const auth = post.body.auth as Record<string, string>;
      const fresh = appClient({ ...portal, accessToken: auth.access_token!, clientEndpoint: auth.client_endpoint! });
      try {
        reports.push(await reconcileBindings({ ...declaration, client: fresh }));
      } finally {
        await fresh.close();
      }
    });
    try {
      await control(emu, `/portals/${portal.memberId}/update`);
    } finally {
      app.onPost(`/webhooks/${portal.memberId}/event`, () => {});
    }
    assert.equal(reports.length, 1);
    assert.deepEqual(events(reports[0]!, 'bound'), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD']);
    assert.equal((await bindingsOf(emu, portal)).length, 3);
  });

  it('unbinds stale handlers of ours and keeps other users’ and other URLs’ handlers', async () => {
    const foreignUrl = 'https://other-service.example.com/hooks/b24';
    const formerUrl = 'https://old-host.example.com';
    const setup: Array<Record<string, unknown>> = [
      { event: 'ONCRMDEALADD', handler: ourUrl }, // declared: kept
      { event: 'ONCRMLEADADD', handler: ourUrl }, // ours, no longer declared: unbound
      { event: 'ONCRMDEALADD', handler: `${app.url}/webhooks/${portal.memberId}/old-path` }, // our namespace, old path: unbound
      { event: 'ONCRMDEALADD', handler: `${formerUrl}/webhooks/${portal.memberId}/event` }, // our former host: unbound
      { event: 'ONCRMLEADADD', handler: foreignUrl }, // another endpoint: kept
      { event: 'ONCRMCONTACTADD', handler: ourUrl, auth_type: 7 }, // bound for user 7: not ours, kept
      { event: 'ONCRMCOMPANYADD', event_type: 'offline' }, // offline, our (empty) connector, not declared: unbound
      { event: 'ONCRMCOMPANYADD', event_type: 'offline', auth_connector: 'crm-sync' }, // another connector: kept
    ];
    for (const params of setup) assert.equal((await rest(portal, 'event.bind', params)).status, 200, JSON.stringify(params));

    const report = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD'], formerAppUrls: [formerUrl] });

    assert.deepEqual(events(report, 'unbound'), ['ONCRMCOMPANYADD/offline', 'ONCRMDEALADD', 'ONCRMDEALADD', 'ONCRMLEADADD']);
    assert.deepEqual(events(report, 'bound'), ['ONAPPUNINSTALL', 'ONAPPUPDATE']);
    assert.deepEqual(events(report, 'kept'), ['ONCRMDEALADD']);
    const left = (await bindingsOf(emu, portal)).map((b) => `${b.event} ${b.offline ? `offline:${b.connector_id}` : `${b.handler} user:${b.auth_type}`}`);
    assert.deepEqual(sorted(left), [
      `ONAPPUNINSTALL ${ourUrl} user:0`,
      `ONAPPUPDATE ${ourUrl} user:0`,
      `ONCRMCOMPANYADD offline:crm-sync`,
      `ONCRMCONTACTADD ${ourUrl} user:7`,
      `ONCRMDEALADD ${ourUrl} user:0`,
      `ONCRMLEADADD ${foreignUrl} user:0`,
    ]);
  });

  it('ends with exactly one binding per event when several processes reconcile at once', async () => {
    const clients = [client, appClient(portal), appClient(portal)];
    try {
      const declaration = { appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD', 'ONCRMDEALUPDATE', 'ONCRMLEADADD'], robots: [SMS_ROBOT] };
      const reports = await Promise.all(clients.map((c) => reconcileBindings({ ...declaration, client: c })));

      const bindings = await bindingsOf(emu, portal);
      assert.deepEqual(sorted(bindings.map((b) => b.event)), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD', 'ONCRMDEALUPDATE', 'ONCRMLEADADD']);
      // every event was bound by exactly one of them; the others saw it there or were refused as duplicates
      const boundCount = new Map<string, number>();
      for (const report of reports) for (const b of report.bound) boundCount.set(b.event, (boundCount.get(b.event) ?? 0) + 1);
      assert.deepEqual([...boundCount.values()], [1, 1, 1, 1, 1]);
      for (const report of reports) assert.equal(report.bound.length + report.kept.length, 5);
      // one robot, added once; the others updated it
      assert.equal(reports.reduce((sum, r) => sum + r.robotsAdded.length, 0), 1);
      assert.equal(reports.reduce((sum, r) => sum + r.robotsUpdated.length, 0), 2);
      const robots = await control<Array<{ CODE: string }>>(emu, `/portals/${portal.memberId}/robots`, undefined, 'GET');
      assert.deepEqual(robots.map((r) => r.CODE), ['send_sms']);
    } finally {
      await Promise.all(clients.slice(1).map((c) => c.close()));
    }
  });

  it('counts a duplicate-bind refusal as success (both processes read event.get before either bound)', async () => {
    // process B's read is taken first and replayed: the race, made deterministic
    const snapshot = (await client.call('event.get')).result;
    const processB = staleReadClient(portal, snapshot);
    try {
      const a = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD'] });
      assert.equal(a.bound.length, 3);
      await resetStats(emu, portal);

      const b = await reconcileBindings({ client: processB, appUrl: app.url, memberId: portal.memberId, events: ['ONCRMDEALADD'] });

      assert.deepEqual(b.bound, [], 'B bound nothing: the portal refused every bind as a duplicate');
      assert.deepEqual(events(b, 'kept'), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD']);
      assert.equal((await statsOf(emu, portal)).byMethod['event.bind'], 3, 'B did send the binds');
      assert.equal((await bindingsOf(emu, portal)).length, 3);
    } finally {
      await processB.close();
    }
  });

  it('adds robots with their handler URL, then updates them on the next run', async () => {
    const first = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [SMS_ROBOT] });
    assert.deepEqual(first.robotsAdded, ['send_sms']);
    assert.deepEqual(first.robotsUpdated, []);
    type RobotRow = { CODE: string; HANDLER: string; NAME: unknown; USE_SUBSCRIPTION: string; PROPERTIES: Record<string, Record<string, unknown>>; DOCUMENT_TYPE: string[] };
    let [robot] = await control<RobotRow[]>(emu, `/portals/${portal.memberId}/robots`, undefined, 'GET');
    assert.equal(robot?.HANDLER, robotHandlerUrl(app.url, portal.memberId, 'send_sms'));
    assert.equal(robot?.HANDLER, `${app.url}/robots/${portal.memberId}/send_sms`);
    assert.equal(robot?.USE_SUBSCRIPTION, 'Y');
    assert.deepEqual(robot?.DOCUMENT_TYPE, ['crm', 'CCrmDocumentDeal', 'DEAL']);
    assert.equal(robot?.PROPERTIES.phone?.Required, 'Y');
    assert.equal(robot?.PROPERTIES.text?.Default, 'Hello');

    const second = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [{ ...SMS_ROBOT, name: { en: 'Send an SMS', de: 'SMS senden' } }] });
    assert.deepEqual(second.robotsAdded, []);
    assert.deepEqual(second.robotsUpdated, ['send_sms']);
    [robot] = await control<RobotRow[]>(emu, `/portals/${portal.memberId}/robots`, undefined, 'GET');
    assert.deepEqual(robot?.NAME, { en: 'Send an SMS', de: 'SMS senden' });
  });

  it('removes undeclared robots only when asked to', async () => {
    await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [SMS_ROBOT, { code: 'old.robot', name: 'Old' }] });
    const keep = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [SMS_ROBOT] });
    assert.equal(keep.robotsRemoved, undefined);
    assert.equal((await control<unknown[]>(emu, `/portals/${portal.memberId}/robots`, undefined, 'GET')).length, 2);

    const removed = await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [SMS_ROBOT], removeStaleRobots: true });
    assert.deepEqual(removed.robotsRemoved, ['old.robot']);
    const codes = (await control<Array<{ CODE: string }>>(emu, `/portals/${portal.memberId}/robots`, undefined, 'GET')).map((r) => r.CODE);
    assert.deepEqual(codes, ['send_sms']);
  });

  it('binds ONOFFLINEEVENT online with minTimeout when asked, and the portal pings the receiver', async () => {
    await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], offlineEvents: ['ONCRMDEALUPDATE'], offlineNotify: { minTimeoutSeconds: 0 } });
    const ping = (await bindingsOf(emu, portal)).find((b) => b.event === 'ONOFFLINEEVENT');
    assert.equal(ping?.handler, ourUrl);
    assert.deepEqual(ping?.options, { minTimeout: 0 });

    await control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '3' } } });
    await control(emu, `/portals/${portal.memberId}/events/flush`);
    const pings = app.at(`/webhooks/${portal.memberId}/event`).filter((post) => post.body.event === 'ONOFFLINEEVENT' && (post.body.auth as Record<string, string>).member_id === portal.memberId);
    assert.equal(pings.length, 1);
  });

  it('reports what failed, applies the rest, and throws B24_ERR_BINDINGS_INCOMPLETE', async () => {
    const scoped = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm'] });
    const scopedClient = appClient(scoped);
    try {
      await assert.rejects(
        reconcileBindings({ client: scopedClient, appUrl: app.url, memberId: scoped.memberId, events: ['ONCRMDEALADD', 'ONTASKADD'] }),
        (error: Error & { code?: string; report?: BindingsReport }) => {
          assert.equal(error.code, 'B24_ERR_BINDINGS_INCOMPLETE');
          assert.deepEqual(error.report?.failures.map((f) => `${f.action} ${f.target} ${f.error.bitrixCode}`), ['bind ONTASKADD ERROR_EVENT_NOT_FOUND']);
          assert.deepEqual(events(error.report!, 'bound'), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMDEALADD']);
          return true;
        },
      );
    } finally {
      await scopedClient.close();
    }
  });

  it('refuses a bad declaration before sending anything', async () => {
    await resetStats(emu, portal);
    const base = { client, appUrl: app.url, memberId: portal.memberId, events: [] as string[] };
    const refusals: Array<[string, Parameters<typeof reconcileBindings>[0]]> = [
      ['event name', { ...base, events: ['ONCRM DEAL'] }],
      ['robot code', { ...base, robots: [{ code: 'send sms', name: 'x' }] }],
      ['dot-only code', { ...base, robots: [{ code: '..', name: 'x' }] }],
      ['property key', { ...base, robots: [{ code: 'a', name: 'x', properties: { '1st': { name: 'First' } } }] }],
      ['duplicate code', { ...base, robots: [{ code: 'a', name: 'x' }, { code: 'a', name: 'y' }] }],
      ['offline ONOFFLINEEVENT', { ...base, offlineEvents: ['ONOFFLINEEVENT'] }],
      ['app URL', { ...base, appUrl: 'ftp://example.com' }],
    ];
    for (const [label, declaration] of refusals) {
      await assert.rejects(reconcileBindings(declaration), { code: 'B24_ERR_INVALID_ARGUMENT' }, label);
    }
    assert.equal((await statsOf(emu, portal)).requests, 0);
  });
});
