import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

describe('online event delivery', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  const fire = (body: Record<string, unknown>) => control(emu, `/portals/${portal.memberId}/events`, body);
  const flush = () => control(emu, `/portals/${portal.memberId}/events/flush`);

  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });
  beforeEach(async () => {
    portal = await createInstalledPortal(emu);
    hooks.received.length = 0;
  });

  it('POSTs the documented form body with tokens of the triggering user and no refresh_token', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/deal` });
    await fire({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '5' } }, userId: 1 });
    await flush();
    const [post] = hooks.at('/deal');
    assert.ok(post);
    assert.equal(hooks.at('/deal').length, 1);
    assert.match(String(post.headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.match(post.raw, /^event=ONCRMDEALUPDATE&event_handler_id=\d+&data%5BFIELDS%5D%5BID%5D=5&ts=\d+&auth%5B/);
    const body = post.body as { event: string; event_handler_id: string; data: unknown; ts: string; auth: Record<string, string> };
    assert.equal(body.event, 'ONCRMDEALUPDATE');
    assert.deepEqual(body.data, { FIELDS: { ID: '5' } });
    assert.match(body.ts, /^\d{10}$/);
    assert.deepEqual(Object.keys(body.auth).sort(), [
      'access_token', 'application_token', 'client_endpoint', 'domain', 'expires', 'expires_in',
      'member_id', 'scope', 'server_endpoint', 'status', 'user_id',
    ]);
    assert.equal(body.auth.application_token, portal.applicationToken);
    assert.equal(body.auth.member_id, portal.memberId);
    assert.equal(body.auth.domain, portal.domain);
    assert.equal(body.auth.client_endpoint, portal.clientEndpoint);
    assert.equal(body.auth.user_id, '1');
    // the event's token is a working token of that user
    const me = await rest(portal, 'user.current', {}, body.auth.access_token);
    assert.equal((me.body.result as { ID: string }).ID, '1');
    const bindings = await control<Array<{ id: number }>>(emu, `/portals/${portal.memberId}/events/bindings`, undefined, 'GET');
    assert.equal(body.event_handler_id, String(bindings[0]?.id));
  });

  it('sends no token keys when no user is known', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: `${hooks.url}/add` });
    await fire({ event: 'ONCRMDEALADD', data: { FIELDS: { ID: '7' } } });
    await flush();
    const auth = (hooks.at('/add')[0]?.body as { auth: Record<string, string> }).auth;
    assert.deepEqual(Object.keys(auth).sort(), ['application_token', 'client_endpoint', 'domain', 'member_id', 'scope', 'server_endpoint', 'status']);
  });

  it('issues tokens for auth_type even without a triggering user', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: `${hooks.url}/as2`, auth_type: 2 });
    await fire({ event: 'ONCRMDEALADD', data: { FIELDS: { ID: '8' } } });
    await flush();
    const auth = (hooks.at('/as2')[0]?.body as { auth: Record<string, string> }).auth;
    assert.equal(auth.user_id, '2');
    assert.ok(auth.access_token);
    assert.equal(auth.refresh_token, undefined);
  });

  it('answers the fire request before the handler has finished (asynchronous delivery)', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMLEADADD', handler: `${hooks.url}/slow` });
    // the handler answers only when the test opens the gate: a fire that waited for it would never return
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let answered = false;
    hooks.onPost('/slow', async () => {
      await gate;
      answered = true;
    });
    const queued = await fire({ event: 'ONCRMLEADADD', data: { FIELDS: { ID: '1' } } });
    assert.equal(answered, false, 'fire returned while the handler was still busy');
    assert.equal((queued.queued as unknown[]).length, 1);
    openGate();
    await flush();
    assert.equal(answered, true);
    assert.equal(hooks.at('/slow').length, 1);
  });

  it('does not redeliver a failed event and counts it', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMCONTACTADD', handler: `${hooks.url}/broken` });
    hooks.respond('/broken', 500);
    await fire({ event: 'ONCRMCONTACTADD', data: { FIELDS: { ID: '3' } } });
    await fire({ event: 'ONCRMCONTACTADD', data: { FIELDS: { ID: '4' } } });
    const flushed = await flush();
    assert.equal(flushed.eventsFailed, 2);
    assert.equal(hooks.at('/broken').length, 2);
    const log = await control<Array<{ status: string; http_status: number }>>(emu, `/portals/${portal.memberId}/events/log`, undefined, 'GET');
    assert.deepEqual(log.map((e) => [e.status, e.http_status]), [['failed', 500], ['failed', 500]]);
    const stats = await control<{ eventsFailed: number; eventsDelivered: number }>(emu, `/portals/${portal.memberId}/stats`, undefined, 'GET');
    assert.deepEqual([stats.eventsFailed, stats.eventsDelivered], [2, 0]);
  });

  it('delivers once and in order by default', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/ordered` });
    for (let id = 1; id <= 10; id++) await fire({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: String(id) } } });
    await flush();
    const ids = hooks.at('/ordered').map((p) => (p.body as { data: { FIELDS: { ID: string } } }).data.FIELDS.ID);
    assert.deepEqual(ids, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  });

  it('delivers duplicates and out of order when the delivery switch says so', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/chaos` });
    const settings = await control(emu, `/portals/${portal.memberId}/delivery`, { duplicateRate: 1, duplicateCount: 3 }, 'PUT');
    assert.equal(settings.duplicateCount, 3);
    await fire({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '42' } } });
    await flush();
    const copies = hooks.at('/chaos');
    assert.equal(copies.length, 3);
    assert.equal(new Set(copies.map((c) => c.raw)).size, 1, 'copies are byte-identical');

    hooks.received.length = 0;
    await control(emu, `/portals/${portal.memberId}/delivery`, { duplicateRate: 0, reorder: true, reorderWindowMs: 3000 }, 'PUT');
    const fired = Array.from({ length: 30 }, (_, index) => index + 1);
    for (const id of fired) await fire({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: String(id) } } });
    await flush();
    const ids = hooks.at('/chaos').map((p) => Number((p.body as { data: { FIELDS: { ID: string } } }).data.FIELDS.ID));
    assert.deepEqual([...ids].sort((a, b) => a - b), fired);
    // each event waits a random 0–3 s: in 200,000 simulated runs with the fires even 0.3 s apart,
    // all 30 never arrived in order
    assert.notDeepEqual(ids, fired);
  });

  it('delivers ONCRMDEALADD after crm.deal.add, with the caller’s tokens', async () => {
    const bound = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: `${hooks.url}/crm` });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    const added = await rest(portal, 'crm.deal.add', { fields: { TITLE: 'From the API' } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.ok(Number.isInteger(added.body.result) && (added.body.result as number) > 0, `a new deal ID: ${JSON.stringify(added.body)}`);
    await flush();
    const body = hooks.at('/crm')[0]?.body as { event: string; data: { FIELDS: { ID: string } }; auth: Record<string, string> };
    assert.equal(body.event, 'ONCRMDEALADD');
    assert.deepEqual(body.data, { FIELDS: { ID: String(added.body.result) } });
    assert.equal(body.auth.user_id, '1');
    assert.equal(body.auth.refresh_token, undefined);
  });

  it('rejects bad control input with CONTROL_BAD_REQUEST and unknown portals with 404', async () => {
    const bad = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/delivery`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ duplicateRate: 2 }),
    });
    assert.equal(bad.status, 400);
    const badEvent = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'no spaces please' }),
    });
    assert.equal(badEvent.status, 400);
    const missing = await fetch(`${emu.url}/_emulator/portals/nope/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'ONCRMDEALADD' }),
    });
    assert.equal(missing.status, 404);
  });
});
