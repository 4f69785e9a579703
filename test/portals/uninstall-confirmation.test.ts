/**
 * ONAPPUNINSTALL carries only the portal's application_token, which every event and robot call
 * carries too; so the app asks the OAuth server (app.info with the stored tokens, refreshed when due)
 * before it gives a portal up. Against the emulator, whose OAuth server sits behind a TCP proxy the
 * test can cut:
 * - the app still installed (the token expired, or not) → 403, nothing changed;
 * - the portal really uninstalled the app (its tokens revoked, expired or not) → uninstalled, CLEAN
 *   purges;
 * - it cannot be told (the OAuth server unreachable, a needs_reauth portal) → 503, nothing changed;
 * - a repeat for a portal already uninstalled changes nothing, CLEAN included.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { advanceClock, control, startTestEmulator } from '../helpers/emulator.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { emulatorInstall, installForm, postForm, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from './helpers.js';

interface LogLine {
  level: number;
  msg: string;
  memberId?: string;
  check?: string;
  err?: { message?: string };
}

describe('ONAPPUNINSTALL is confirmed with the OAuth server', () => {
  let emu: RunningEmulator;
  let proxy: TcpProxy;
  let app: AppUnderTest;

  before(async () => {
    emu = await startTestEmulator();
    proxy = await startProxy({ host: '127.0.0.1', port: Number(new URL(emu.url).port) });
    app = await startAppUnderTest({ emu, oauthUrl: `http://127.0.0.1:${proxy.port}` });
  });
  after(async () => {
    await app?.close();
    await proxy?.close();
    await emu?.close();
  });

  const install = async (): Promise<EmulatorInstall> => {
    const portal = await emulatorInstall(emu, null);
    const answer = await postForm(`${app.url}/install`, installForm(portal));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return portal;
  };
  const uninstallEvent = (portal: EmulatorInstall, clean: boolean) =>
    postForm(`${app.url}/webhooks/${portal.memberId}/event`, {
      event: 'ONAPPUNINSTALL',
      data: { LANGUAGE_ID: 'en', CLEAN: clean ? '1' : '0' },
      ts: String(Math.floor(Date.now() / 1000)),
      auth: { domain: portal.domain, member_id: portal.memberId, application_token: portal.application_token },
    });
  const logs = (): LogLine[] => app.logs.map((line) => JSON.parse(line) as LogLine);
  const refreshes = async (memberId: string): Promise<number> => (await control<{ refreshes: number }>(emu, `/portals/${memberId}/stats`, undefined, 'GET')).refreshes;

  it('the app still installed, its access token expired: refreshed, vouched for by app.info → 403, nothing changed', async () => {
    const portal = await install();
    await advanceClock(emu, 3700);
    const answer = await uninstallEvent(portal, true);
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN'], JSON.stringify(answer.body));
    const stored = await app.runtime.portals.require(portal.memberId);
    assert.equal(stored.state, 'active');
    assert.equal(stored.applicationToken, portal.application_token);
    assert.equal(await refreshes(portal.memberId), 2, 'the install redeemed the offered token, the check refreshed the expired one');
    const refused = logs().find((line) => line.msg.startsWith('ONAPPUNINSTALL refused') && line.memberId === portal.memberId);
    assert.ok(refused && refused.level === 40, 'a warning names the refused uninstall');
    // the refreshed pair was stored: the app goes on working
    const client = app.runtime.client(portal.memberId);
    assert.equal((await client.call<{ ID: string }>('user.current')).result.ID, '1');
    await client.close();
  });

  it('the app still installed, its stored token dead though the app thinks it valid (clock skew, a refresh elsewhere): app.info refuses it, the refreshed pair is vouched for → 403', async () => {
    const portal = await install();
    // the app believes its access token lives on; the OAuth server has expired it
    await app.store.run('UPDATE portals SET expires_at_ms = ? WHERE member_id = ?', [emu.emulator.clock.nowMs() + 10 * 3_600_000, portal.memberId]);
    await advanceClock(emu, 3700);
    const answer = await uninstallEvent(portal, true);
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN'], JSON.stringify(answer.body));
    const stored = await app.runtime.portals.require(portal.memberId);
    assert.equal(stored.state, 'active');
    assert.equal(await refreshes(portal.memberId), 2, 'refreshed once after app.info refused the old token');
  });

  it('really uninstalled, its access token expired: the refresh is refused → uninstalled, CLEAN purges', async () => {
    const portal = await install();
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    await advanceClock(emu, 3700);
    assert.deepEqual(await uninstallEvent(portal, true), { status: 200, body: { status: 'success' } });
    assert.equal(await app.runtime.portals.info(portal.memberId), undefined, 'everything stored for it is gone');
    // the refused refresh was the check's answer, not a portal needing re-authorization (no alert on every uninstall)
    assert.equal(logs().filter((line) => line.memberId === portal.memberId && /needs re-authorization/.test(line.msg)).length, 0);
  });

  it('really uninstalled, its token still valid: app.info refuses it → uninstalled, CLEAN purges', async () => {
    const portal = await install();
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    assert.deepEqual(await uninstallEvent(portal, true), { status: 200, body: { status: 'success' } });
    assert.equal(await app.runtime.portals.info(portal.memberId), undefined);
    const done = logs().find((line) => line.msg === 'app uninstalled' && line.memberId === portal.memberId);
    assert.equal(done?.check, 'confirmed');
  });

  it('the OAuth server cannot be asked: 503, nothing changed, an error line says so; once it answers, the same event uninstalls and purges', async () => {
    const portal = await install();
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    const before = await app.runtime.portals.require(portal.memberId);
    proxy.set('cut');
    let answer: Awaited<ReturnType<typeof uninstallEvent>>;
    try {
      answer = await uninstallEvent(portal, true);
    } finally {
      proxy.set('open');
    }
    assert.deepEqual([answer.status, answer.body.error], [503, 'B24_ERR_OAUTH_UNAVAILABLE'], JSON.stringify(answer.body));
    const after = await app.runtime.portals.require(portal.memberId);
    assert.deepEqual({ ...after, lastUsedAtMs: undefined }, { ...before, lastUsedAtMs: undefined }, 'the portal row is unchanged: state, tokens, application_token');
    const mine = logs().filter((line) => line.memberId === portal.memberId);
    const unreachable = mine.find((line) => line.msg.startsWith('ONAPPUNINSTALL: the OAuth server could not be asked'));
    assert.ok(unreachable?.err?.message, 'the failure is logged as an Error');
    const unconfirmed = mine.find((line) => line.msg.startsWith('ONAPPUNINSTALL could not be confirmed'));
    assert.ok(unconfirmed && unconfirmed.level === 50 && unconfirmed.err?.message);
    assert.match(unconfirmed.msg, /b24kit portals purge/);
    assert.deepEqual(await uninstallEvent(portal, true), { status: 200, body: { status: 'success' } });
    assert.equal(await app.runtime.portals.info(portal.memberId), undefined);
  });

  it('a portal in needs_reauth (its refresh token refused before) cannot prove anything: a CLEAN uninstall is 503, nothing changed', async () => {
    const portal = await install();
    // the app is still installed at the portal; only the app's refresh token failed once (e.g. it aged out)
    await app.store.run(`UPDATE portals SET state = 'needs_reauth' WHERE member_id = ?`, [portal.memberId]);
    const answer = await uninstallEvent(portal, true);
    assert.deepEqual([answer.status, answer.body.error], [503, 'B24_ERR_OAUTH_UNAVAILABLE'], JSON.stringify(answer.body));
    const after = await app.runtime.portals.require(portal.memberId);
    assert.equal(after.state, 'needs_reauth');
    assert.equal(after.applicationToken, portal.application_token);
  });

  it('a repeat for a portal already uninstalled changes nothing, CLEAN included (nothing left to prove it with)', async () => {
    const portal = await install();
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    assert.deepEqual(await uninstallEvent(portal, false), { status: 200, body: { status: 'success' } });
    assert.equal((await app.runtime.portals.require(portal.memberId)).state, 'uninstalled');
    assert.deepEqual(await uninstallEvent(portal, true), { status: 200, body: { status: 'success' } });
    const kept = await app.runtime.portals.require(portal.memberId);
    assert.equal(kept.state, 'uninstalled', 'the row is still there: a second event cannot purge what the first kept');
  });
});
