import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface LifecycleBody {
  event: string;
  event_handler_id?: string;
  data: Record<string, string>;
  ts: string;
  auth: Record<string, string>;
}

describe('app update and uninstall', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
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

  it('update: new application_token and tokens, ONAPPUPDATE with refresh_token, bindings dropped', async () => {
    await rest(portal, 'event.bind', { event: 'ONAPPUPDATE', handler: `${hooks.url}/update` });
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: `${hooks.url}/deal` });
    const updated = await control<{
      application_token: string;
      access_token: string;
      refresh_token: string;
      version: number;
      previous_version: number;
      deliveries: Array<{ status: string }>;
      dropped: { bindings: number };
    }>(emu, `/portals/${portal.memberId}/update`, { version: 3 });
    assert.notEqual(updated.application_token, portal.applicationToken);
    assert.deepEqual([updated.version, updated.previous_version, updated.dropped.bindings], [3, 1, 2]);
    assert.deepEqual(updated.deliveries.map((d) => d.status), ['delivered']);

    const body = hooks.at('/update')[0]!.body as unknown as LifecycleBody;
    assert.equal(body.event, 'ONAPPUPDATE');
    assert.deepEqual(body.data, { VERSION: '3', PREVIOUS_VERSION: '1', LANGUAGE_ID: 'en' });
    assert.equal(body.auth.application_token, updated.application_token);
    assert.equal(body.auth.access_token, updated.access_token);
    assert.equal(body.auth.refresh_token, updated.refresh_token);

    // the new tokens work, the bindings are gone, app.info reports the new version
    const fresh = { ...portal, accessToken: updated.access_token };
    assert.deepEqual((await rest(fresh, 'event.get')).body.result, []);
    assert.equal(((await rest(fresh, 'app.info')).body.result as { VERSION: number }).VERSION, 3);
    await control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '1' } } });
    await control(emu, `/portals/${portal.memberId}/events/flush`);
    assert.equal(hooks.at('/deal').length, 0);
  });

  it('update keeps bindings with dropBindingsOnUpdate=false', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', handler: `${hooks.url}/deal` });
    const updated = await control<{ dropped: { bindings: number } }>(emu, `/portals/${portal.memberId}/update`, { dropBindingsOnUpdate: false });
    assert.equal(updated.dropped.bindings, 0);
    assert.equal(((await rest(portal, 'event.get')).body.result as unknown[]).length, 1);
  });

  it('uninstall: ONAPPUNINSTALL without tokens, then 401 on the API and invalid_grant on refresh', async () => {
    await rest(portal, 'event.bind', { event: 'ONAPPUNINSTALL', handler: `${hooks.url}/uninstall` });
    await rest(portal, 'event.bind', { event: 'ONCRMDEALADD', event_type: 'offline' });
    await rest(portal, 'bizproc.robot.add', { CODE: 'r', HANDLER: `${hooks.url}/r`, NAME: 'R' });
    const answer = await control<{ application_token: string; deliveries: Array<{ status: string }>; removed: { bindings: number; robots: number } }>(
      emu,
      `/portals/${portal.memberId}/uninstall`,
      { clean: true },
    );
    assert.equal(answer.application_token, portal.applicationToken);
    assert.deepEqual(answer.removed, { bindings: 2, robots: 1 });
    const body = hooks.at('/uninstall')[0]!.body as unknown as LifecycleBody;
    assert.equal(body.event, 'ONAPPUNINSTALL');
    assert.deepEqual(body.data, { LANGUAGE_ID: 'en', CLEAN: '1' });
    assert.deepEqual(Object.keys(body.auth).sort(), ['application_token', 'client_endpoint', 'domain', 'member_id', 'server_endpoint']);
    assert.equal(body.auth.application_token, portal.applicationToken);

    const api = await rest(portal, 'profile');
    assert.equal(api.status, 401);
    const refresh = await fetch(`${emu.url}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: emu.emulator.options.clientId,
        client_secret: emu.emulator.options.clientSecret,
        refresh_token: portal.refreshToken,
      }),
    });
    assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
    const stats = await control<{ refreshes: number; refreshesRefused: number }>(emu, `/portals/${portal.memberId}/stats`, undefined, 'GET');
    assert.equal(stats.refreshesRefused, 1, 'a revoked refresh token counts as refused');
    const portalState = await control<{ installed: boolean }>(emu, `/portals/${portal.memberId}`, undefined, 'GET');
    assert.equal(portalState.installed, false);
    const twice = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/uninstall`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(twice.status, 409);
  });

  it('uninstall delivers to an explicit handlerUrl without a binding, CLEAN 0 by default', async () => {
    await control(emu, `/portals/${portal.memberId}/uninstall`, { handlerUrl: `${hooks.url}/gone` });
    const body = hooks.at('/gone')[0]!.body as unknown as LifecycleBody;
    assert.deepEqual([body.event, body.data.CLEAN, body.event_handler_id], ['ONAPPUNINSTALL', '0', undefined]);
    assert.equal(body.auth.access_token, undefined);
  });

  it('a handler calling back during ONAPPUNINSTALL already gets 401', async () => {
    await rest(portal, 'event.bind', { event: 'ONAPPUNINSTALL', handler: `${hooks.url}/callback` });
    let status = 0;
    hooks.onPost('/callback', async () => {
      status = (await rest(portal, 'profile')).status;
    });
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    assert.equal(status, 401);
  });
});
