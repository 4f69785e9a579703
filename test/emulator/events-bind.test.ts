import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { checkHandlerUrl } from '../../src/emulator/events/handler-url.js';
import type { RestError } from '../../src/emulator/rest-error.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

describe('event.bind / event.unbind / event.get / events', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('binds case-insensitively, stores upper case, lists and unbinds with a count', async () => {
    const bound = await rest(portal, 'event.bind', { event: 'onCrmDealAdd', handler: 'https://app.example.com/h' });
    assert.deepEqual([bound.status, bound.body.result], [200, true]);
    const upperKeys = await rest(portal, 'event.bind', { EVENT: 'ONCRMDEALUPDATE', HANDLER: 'https://app.example.com/h', AUTH_TYPE: 2 });
    assert.equal(upperKeys.status, 200);
    const got = await rest(portal, 'event.get');
    assert.deepEqual(got.body.result, [
      { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h', auth_type: '0', offline: 0 },
      { event: 'ONCRMDEALUPDATE', handler: 'https://app.example.com/h', auth_type: '2', offline: 0 },
    ]);
    const unbound = await rest(portal, 'event.unbind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h' });
    assert.deepEqual(unbound.body.result, { count: 1 });
    const again = await rest(portal, 'event.unbind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h' });
    assert.deepEqual(again.body.result, { count: 0 });
    // auth_type=0 removes only handlers bound with an empty auth_type
    const zero = await rest(portal, 'event.unbind', { event: 'ONCRMDEALUPDATE', handler: 'https://app.example.com/h', auth_type: 0 });
    assert.deepEqual(zero.body.result, { count: 0 });
    const two = await rest(portal, 'event.unbind', { event: 'ONCRMDEALUPDATE', handler: 'https://app.example.com/h', auth_type: 2 });
    assert.deepEqual(two.body.result, { count: 1 });
  });

  it('lists offline bindings with connector_id', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMCONTACTADD', event_type: 'offline', auth_connector: 'sync' });
    const got = await rest(portal, 'event.get');
    assert.deepEqual(got.body.result, [{ event: 'ONCRMCONTACTADD', connector_id: 'sync', offline: 1 }]);
    const wrongConnector = await rest(portal, 'event.unbind', { event: 'ONCRMCONTACTADD', event_type: 'offline' });
    assert.deepEqual(wrongConnector.body.result, { count: 0 });
    const unbound = await rest(portal, 'event.unbind', { event: 'ONCRMCONTACTADD', event_type: 'offline', auth_connector: 'sync' });
    assert.deepEqual(unbound.body.result, { count: 1 });
  });

  it('refuses a duplicate registration', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMLEADADD', handler: 'https://app.example.com/lead' });
    const dup = await rest(portal, 'event.bind', { event: 'oncrmleadadd', handler: 'https://app.example.com/lead' });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error, 'ERROR_HANDLER_ALREADY_EXIST');
    // another user is not a duplicate
    const otherUser = await rest(portal, 'event.bind', { event: 'ONCRMLEADADD', handler: 'https://app.example.com/lead', auth_type: 2 });
    assert.equal(otherUser.status, 200);
  });

  it('validates handler URLs as the core does', async () => {
    const cases: Array<[string, string]> = [
      ['not a url', 'ERROR_WRONG_HANDLER_URL'],
      ['https://nodot/handler', 'ERROR_WRONG_HANDLER_URL'],
      ['ftp://app.example.com/handler', 'ERROR_UNSUPPORTED_PROTOCOL'],
    ];
    for (const [handler, code] of cases) {
      const answer = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler });
      assert.equal(answer.status, 400, handler);
      assert.equal(answer.body.error, code, handler);
    }
    // loopback and plain http are accepted by default (relaxations)
    const loopback = await rest(portal, 'event.bind', { event: 'ONCRMDEALDELETE', handler: 'http://127.0.0.1:9/h' });
    assert.equal(loopback.status, 200);
    const localhost = await rest(portal, 'event.bind', { event: 'ONCRMDEALDELETE', handler: 'http://localhost:9/h' });
    assert.equal(localhost.status, 200);
  });

  it('answers the documented errors for missing params, unknown events and bad event_type', async () => {
    const noEvent = await rest(portal, 'event.bind', { handler: 'https://app.example.com/h' });
    assert.deepEqual([noEvent.status, noEvent.body.error], [400, 'ERROR_ARGUMENT']);
    const noHandler = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD' });
    assert.deepEqual([noHandler.status, noHandler.body.error], [400, 'ERROR_ARGUMENT']);
    const unknown = await rest(portal, 'event.bind', { event: 'ONCRMDEAIDELETED', handler: 'https://app.example.com/h' });
    assert.deepEqual(unknown.body, { error: 'ERROR_EVENT_NOT_FOUND', error_description: 'Event not found' });
    assert.equal(unknown.status, 400);
    const badType = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h', event_type: 'sometimes' });
    assert.deepEqual([badType.status, badType.body.error, badType.body.argument], [400, 'ERROR_ARGUMENT', 'EVENT_TYPE']);
    const offlinePing = await rest(portal, 'event.bind', { event: 'ONOFFLINEEVENT', event_type: 'offline' });
    assert.deepEqual([offlinePing.status, offlinePing.body.error], [400, 'ERROR_ARGUMENT']);
    const wrongShape = await rest(portal, 'event.bind', { event: ['x'], handler: { a: 1 } });
    assert.equal(wrongShape.status, 400);
  });

  it('lists upper-case event names within the app scopes', async () => {
    const { body } = await rest(portal, 'events');
    const names = body.result as string[];
    assert.ok(names.includes('ONCRMDEALUPDATE'));
    assert.ok(names.includes('ONAPPUNINSTALL'));
    assert.ok(names.every((name) => name === name.toUpperCase()));
    const crmOnly = await rest(portal, 'events', { SCOPE: 'crm' });
    assert.ok(!(crmOnly.body.result as string[]).includes('ONAPPUNINSTALL'));
  });

  it('hides events of scopes the app lacks', async () => {
    const narrow = await createInstalledPortal(emu, {}, { scope: ['user_brief'] });
    const { body } = await rest(narrow, 'events');
    assert.ok(!(body.result as string[]).includes('ONCRMDEALADD'));
    const bind = await rest(narrow, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h' });
    assert.equal(bind.body.error, 'ERROR_EVENT_NOT_FOUND');
  });

  it('refuses webhooks and non-admin offline or foreign auth_type bindings', async () => {
    const hook = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1 });
    const viaHook = await fetch(`${hook.url}event.bind.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'ONCRMDEALADD', handler: 'https://app.example.com/h' }),
    });
    assert.equal(viaHook.status, 403);
    assert.equal(((await viaHook.json()) as { error: string }).error, 'WRONG_AUTH_TYPE');

    const userToken = emu.emulator.tokens.issue(portal.memberId, 2, ['crm', 'bizproc', 'user_brief', 'placement']).accessToken;
    const offline = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', event_type: 'offline' }, userToken);
    assert.deepEqual([offline.status, offline.body.error], [403, 'ACCESS_DENIED']);
    const foreign = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/u', auth_type: 1 }, userToken);
    assert.deepEqual([foreign.status, foreign.body.error], [403, 'ACCESS_DENIED']);
    // a non-admin binding is stored under their own user and is all they see
    const own = await rest(portal, 'event.bind', { event: 'ONCRMCOMPANYADD', handler: 'https://app.example.com/u' }, userToken);
    assert.equal(own.status, 200);
    const mine = await rest(portal, 'event.get', {}, userToken);
    assert.ok((mine.body.result as Array<{ auth_type: string }>).every((b) => b.auth_type === '2'));
  });
});

describe('handler URL rules without relaxations', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator({ relax: { allowLoopbackHandlers: false } });
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('refuses loopback hosts like the cloud', async () => {
    const loopback = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://127.0.0.1/h' });
    assert.equal(loopback.body.error, 'ERROR_WRONG_HANDLER_URL');
    const local = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://localhost/h' });
    assert.equal(local.body.error, 'ERROR_WRONG_HANDLER_URL');
    const ok = await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://app.example.com/h' });
    assert.equal(ok.status, 200);
  });

  it('refuses plain http handlers when allowHttp is off (REST itself then needs https, so checked in-process)', () => {
    const strict = { allowLoopbackHandlers: false, allowHttp: false };
    assert.throws(() => checkHandlerUrl('http://app.example.com/h', strict), (e: RestError) => e.code === 'ERROR_UNSUPPORTED_PROTOCOL');
    assert.doesNotThrow(() => checkHandlerUrl('https://app.example.com/h', strict));
  });
});
