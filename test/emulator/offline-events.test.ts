import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface OfflineEvent {
  ID: string;
  TIMESTAMP_X: string;
  EVENT_NAME: string;
  EVENT_DATA: { FIELDS: { ID: string } };
  EVENT_ADDITIONAL: unknown;
  MESSAGE_ID: string;
}
interface GetResult {
  process_id: string | null;
  events: OfflineEvent[];
}

describe('offline events', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const fire = (id: string, extra: Record<string, unknown> = {}) =>
    control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: id } }, ...extra });
  const get = async (params: Record<string, unknown> = {}) => (await rest(portal, 'event.offline.get', params)).body.result as GetResult;

  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());
  beforeEach(async () => {
    portal = await createInstalledPortal(emu);
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', event_type: 'offline' });
  });

  it('keeps the latest state per object, with a 32-char MESSAGE_ID', async () => {
    await fire('5', { userId: 1 });
    await control(emu, '/clock', { advanceSeconds: 5 });
    await fire('5', { userId: 1 });
    await fire('6');
    const list = await rest(portal, 'event.offline.list');
    assert.equal(list.body.total, 2);
    const [deal5, deal6] = list.body.result as Array<OfflineEvent & { PROCESS_ID: string; ERROR: string }>;
    assert.deepEqual(deal5?.EVENT_DATA, { FIELDS: { ID: '5' } });
    assert.equal(deal5?.EVENT_NAME, 'ONCRMDEALUPDATE');
    assert.match(deal5?.MESSAGE_ID ?? '', /^[0-9a-f]{32}$/);
    assert.match(deal5?.TIMESTAMP_X ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.deepEqual(deal5?.EVENT_ADDITIONAL, { user_id: 1 });
    assert.deepEqual([deal5?.PROCESS_ID, deal5?.ERROR], ['', '0']);
    // deal 5 carries its second fire's time, not the first's (5 s earlier); TIMESTAMP_X has whole seconds,
    // so a second ending between the last two fires leaves deal 5 exactly 1000 ms behind deal 6
    assert.ok(Date.parse(deal5!.TIMESTAMP_X) >= Date.parse(deal6!.TIMESTAMP_X) - 1000);
  });

  it('returns and deletes with the default clear=1', async () => {
    await fire('1');
    await fire('2');
    const result = await get();
    assert.equal(result.process_id, null);
    assert.deepEqual(result.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['1', '2']);
    assert.deepEqual((await get()).events, []);
  });

  it('reserves with clear=0, re-reads by process_id, hides the batch from others, and clears', async () => {
    for (const id of ['1', '2', '3']) await fire(id);
    const first = await get({ clear: 0, limit: 2 });
    assert.match(first.process_id ?? '', /^[a-z0-9]{32}$/);
    assert.equal(first.events.length, 2);
    const second = await get({ clear: 0 });
    assert.deepEqual(second.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['3']);
    const again = await get({ clear: 0, process_id: first.process_id });
    assert.equal(again.process_id, first.process_id);
    assert.deepEqual(again.events.map((e) => e.ID), first.events.map((e) => e.ID));
    // a change to a reserved object becomes a new free record
    await fire('1');
    const fresh = await get({ clear: 0 });
    assert.deepEqual(fresh.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['1']);
    assert.notEqual(fresh.events[0]?.ID, first.events[0]?.ID);

    const cleared = await rest(portal, 'event.offline.clear', { process_id: first.process_id, id: [Number(first.events[0]!.ID)] });
    assert.equal(cleared.body.result, true);
    const rest1 = await get({ clear: 0, process_id: first.process_id });
    assert.deepEqual(rest1.events.map((e) => e.ID), [first.events[1]!.ID]);
    await rest(portal, 'event.offline.clear', { process_id: first.process_id, message_id: [first.events[1]!.MESSAGE_ID] });
    assert.deepEqual((await get({ clear: 0, process_id: first.process_id })).events, []);
    await rest(portal, 'event.offline.clear', { process_id: second.process_id });
    const listed = await rest(portal, 'event.offline.list');
    assert.equal(listed.body.total, 1);
  });

  it('gives parallel readers disjoint sets', async () => {
    for (let id = 1; id <= 12; id++) await fire(String(id));
    const results = await Promise.all(Array.from({ length: 5 }, () => get({ clear: 0, limit: 3 })));
    const ids = results.flatMap((r) => r.events.map((e) => e.ID));
    assert.equal(ids.length, 12);
    assert.equal(new Set(ids).size, 12);
    assert.equal(new Set(results.map((r) => r.process_id)).size, 5);
  });

  it('marks errors, which only error=1 returns', async () => {
    await fire('9');
    const reserved = await get({ clear: 0 });
    const messageId = reserved.events[0]!.MESSAGE_ID;
    const marked = await rest(portal, 'event.offline.error', { process_id: reserved.process_id, message_id: [messageId] });
    assert.equal(marked.body.result, true);
    assert.deepEqual((await get({ clear: 0 })).events, []);
    const errored = await get({ error: 1 });
    assert.deepEqual(errored.events.map((e) => e.MESSAGE_ID), [messageId]);
  });

  it('filters and orders by the documented fields', async () => {
    for (const id of ['1', '2', '3']) await fire(id);
    const listed = (await rest(portal, 'event.offline.list', { order: { ID: 'DESC' } })).body.result as OfflineEvent[];
    assert.deepEqual(listed.map((e) => e.EVENT_DATA.FIELDS.ID), ['3', '2', '1']);
    const filtered = await get({ filter: { '>=ID': Number(listed[1]!.ID) }, clear: 0 });
    assert.deepEqual(filtered.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['2', '3']);
    const bad = await rest(portal, 'event.offline.get', { filter: { PASSWORD: 1 } });
    assert.deepEqual([bad.status, bad.body.error], [400, 'ERROR_ARGUMENT']);
  });

  it('pages event.offline.list by 50 with total and next', async () => {
    for (let id = 1; id <= 55; id++) await fire(String(id));
    const page1 = await rest(portal, 'event.offline.list');
    assert.equal((page1.body.result as unknown[]).length, 50);
    assert.deepEqual([page1.body.total, page1.body.next], [55, 50]);
    const page2 = await rest(portal, 'event.offline.list', { start: 50 });
    assert.equal((page2.body.result as unknown[]).length, 5);
    assert.equal(page2.body.next, undefined);
  });

  it('keeps separate queues per auth_connector and skips the connector’s own changes', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', event_type: 'offline', auth_connector: 'sync' });
    await fire('1', { authConnector: 'sync' }); // made by the app through connector "sync"
    await fire('2'); // made in the UI
    const forSync = (await rest(portal, 'event.offline.get', { auth_connector: 'sync', clear: 0 })).body.result as GetResult;
    assert.deepEqual(forSync.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['2']);
    const plain = await get({ clear: 0 });
    assert.deepEqual(plain.events.map((e) => e.EVENT_DATA.FIELDS.ID), ['1', '2']);
  });

  it('answers the documented errors', async () => {
    const limit = await rest(portal, 'event.offline.get', { limit: 0 });
    assert.deepEqual([limit.status, limit.body.error], [400, 'ERROR_ARGUMENT']);
    const noProcess = await rest(portal, 'event.offline.clear', {});
    assert.deepEqual([noProcess.status, noProcess.body.error], [400, 'ERROR_ARGUMENT']);
    const shortId = await rest(portal, 'event.offline.clear', { process_id: 'x', message_id: ['short'] });
    assert.deepEqual([shortId.status, shortId.body.error], [400, 'ERROR_ARGUMENT']);
    const noList = await rest(portal, 'event.offline.error', { process_id: 'x' });
    assert.deepEqual([noList.status, noList.body.error], [400, 'ERROR_ARGUMENT']);
    const userToken = emu.emulator.tokens.issue(portal.memberId, 2, ['crm']).accessToken;
    const nonAdmin = await rest(portal, 'event.offline.get', {}, userToken);
    assert.deepEqual([nonAdmin.status, nonAdmin.body.error], [403, 'ACCESS_DENIED']);
  });
});

describe('ONOFFLINEEVENT', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
    portal = await createInstalledPortal(emu);
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });

  it('pings at most once per minTimeout, with refresh_token', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', event_type: 'offline' });
    await rest(portal, 'event.bind', { event: 'ONOFFLINEEVENT', handler: `${hooks.url}/ping`, options: { minTimeout: 60 } });
    for (const id of ['1', '2', '3']) await control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: id } }, userId: 1 });
    await control(emu, `/portals/${portal.memberId}/events/flush`);
    assert.equal(hooks.at('/ping').length, 1);
    const body = hooks.at('/ping')[0]!.body as { event: string; auth: Record<string, string> };
    assert.equal(body.event, 'ONOFFLINEEVENT');
    assert.ok(body.auth.refresh_token);
    assert.equal(body.auth.application_token, portal.applicationToken);
    await control(emu, '/clock', { advanceSeconds: 61 });
    await control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '4' } } });
    await control(emu, `/portals/${portal.memberId}/events/flush`);
    assert.equal(hooks.at('/ping').length, 2);
  });
});
