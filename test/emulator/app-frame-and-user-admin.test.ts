/**
 * `user.admin` (b24restdocs api-reference/common/users/user-admin.md: scope basic, any user, a
 * boolean result) and the app frame a user opens (docs/protocol.md §2.3: the frame POST carries tokens of
 * the user who opened it), which also logs that user in for `/oauth/authorize/`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

interface Frame {
  query: Record<string, string>;
  form: Record<string, string>;
}

describe('emulator: user.admin and the app frame', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(async () => {
    await emu?.close();
  });

  it('user.admin answers true for the installing admin and false for an ordinary user', async () => {
    const admin = await rest(portal, 'user.admin');
    assert.deepEqual([admin.status, admin.body.result], [200, true]);
    const frame = await control<Frame>(emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const user = await rest(portal, 'user.admin', {}, frame.form.AUTH_ID);
    assert.deepEqual([user.status, user.body.result], [200, false]);
    const anonymous = await rest(portal, 'user.admin', {}, 'not-a-token');
    assert.equal(anonymous.status, 401);
  });

  it('the frame carries the fields of docs/protocol.md §2.3, with tokens of the user who opened it', async () => {
    const frame = await control<Frame>(emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    assert.deepEqual(Object.keys(frame.query).sort(), ['APP_SID', 'DOMAIN', 'LANG', 'PROTOCOL']);
    assert.equal(frame.query.DOMAIN, portal.domain);
    assert.equal(frame.form.member_id, portal.memberId);
    assert.equal(frame.form.APPLICATION_TOKEN, portal.applicationToken);
    assert.equal(frame.form.AUTH_EXPIRES, '3600');
    const current = await rest(portal, 'user.current', {}, frame.form.AUTH_ID);
    assert.equal(String((current.body.result as { ID: string }).ID), '2');
    // the refresh token is a live one of that user
    const token = await fetch(`${emu.url}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: emu.emulator.options.clientId,
        client_secret: emu.emulator.options.clientSecret,
        refresh_token: frame.form.REFRESH_ID!,
      }).toString(),
    });
    const pair = (await token.json()) as Record<string, unknown>;
    assert.deepEqual([token.status, pair.user_id, pair.member_id], [200, 2, portal.memberId]);
  });

  it('after opening the frame, /oauth/authorize/ issues its code for that user; an unknown user is refused', async () => {
    // an install with an app URL (nothing listens there: the ONAPPINSTALL POST fails, which is fine here)
    const withApp = await createInstalledPortal(emu, {}, { appUrl: 'http://127.0.0.1:9' });
    await control<Frame>(emu, `/portals/${withApp.memberId}/frame`, { userId: 2 });
    const described = await control<{ authorize_url: string }>(emu, `/portals/${withApp.memberId}`, undefined, 'GET');
    const authorize = await fetch(`${described.authorize_url}?client_id=${emu.emulator.options.clientId}&state=s`, { redirect: 'manual' });
    assert.equal(authorize.status, 302);
    const code = new URL(authorize.headers.get('location')!).searchParams.get('code');
    assert.ok(code);
    const token = await fetch(`${emu.url}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: emu.emulator.options.clientId,
        client_secret: emu.emulator.options.clientSecret,
        code,
      }).toString(),
    });
    assert.equal(((await token.json()) as Record<string, unknown>).user_id, 2);
    const bad = await fetch(`${emu.url}/_emulator/portals/${withApp.memberId}/frame`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 99 }),
    });
    assert.equal(bad.status, 400);
  });
});
