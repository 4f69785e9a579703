/**
 * Portal takeover through re-install, ONAPPUPDATE or the code flow, tried the way an ordinary
 * (non-admin) employee could: every employee who opens an app's page gets a valid access and
 * refresh token of the portal (docs/protocol.md §2.3), and every event they trigger carries their access
 * token. Before the fix, `POST /install` with such a token and an application_token of the
 * attacker's choice replaced the portal's credentials (200). Now each replacement needs an
 * administrator (user.admin) and a refresh token the OAuth server redeems; otherwise 403 with a
 * stable code and the portal's credentials unchanged.
 *
 * Runs on SQLite (`npm test`) and PostgreSQL (`npm run test:pg` runs test/security too).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { control, portalStats } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { emulatorInstall, installForm, postForm, rawPortal, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from '../portals/helpers.js';

interface Frame {
  query: Record<string, string>;
  form: Record<string, string>;
}

describe('no portal takeover with an ordinary user token', () => {
  let app: AppUnderTest;
  let hooks: HandlerServer;
  let portal: EmulatorInstall;
  let sealedBefore: Record<string, unknown>;
  let userToken: string;

  before(async () => {
    app = await startAppUnderTest();
    hooks = await startHandlerServer();
    portal = await emulatorInstall(app.emu, app.url);
    assert.equal(portal.delivery?.status, 200, 'the genuine install is accepted');
    // a handler of ours on the portal, so that an event triggered by user 2 shows us what it carries
    const stored = await app.runtime.portals.require(portal.memberId);
    const bind = await fetch(`${portal.client_endpoint}event.bind.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: stored.accessToken, event: 'ONCRMDEALADD', handler: `${hooks.url}/spy` }),
    });
    assert.equal(bind.status, 200);
    await control(app.emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '1' } }, userId: 2 });
    await control(app.emu, `/portals/${portal.memberId}/events/flush`);
    const delivery = hooks.at('/spy')[0];
    assert.ok(delivery, 'the event reached the spy handler');
    const auth = delivery.body.auth as Record<string, string>;
    assert.equal(auth.user_id, '2');
    userToken = auth.access_token!;
    assert.ok(userToken);
    sealedBefore = (await rawPortal(app.store, portal.memberId))!;
  });

  after(async () => {
    await hooks?.close();
    await app?.close();
  });

  async function assertCredentialsUnchanged(): Promise<void> {
    const now = await rawPortal(app.store, portal.memberId);
    assert.ok(now);
    for (const column of ['access_token', 'refresh_token', 'application_token', 'installed_by_user_id', 'state', 'version']) {
      assert.equal(String(now[column]), String(sealedBefore[column]), `${column} changed`);
    }
    assert.equal(await app.runtime.portals.verifyApplicationToken(portal.memberId, portal.application_token), true, 'the genuine application_token still validates');
  }

  it("the issue's reproduction: POST /install with user 2's event token, a garbage refresh token and the attacker's application_token → 403, nothing changed", async () => {
    const attackerToken = randomBytes(16).toString('hex');
    const answer = await postForm(`${app.url}/install?DOMAIN=${portal.domain}&PROTOCOL=0`, {
      AUTH_ID: userToken,
      REFRESH_ID: 'garbage',
      APPLICATION_TOKEN: attackerToken,
      member_id: portal.memberId,
      AUTH_EXPIRES: '3600',
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'B24_ERR_NOT_ADMIN');
    await assertCredentialsUnchanged();
    assert.equal(await app.runtime.portals.verifyApplicationToken(portal.memberId, attackerToken), false);
    // the genuine portal's events are still accepted, the attacker's uninstall is not
    const uninstall = await postForm(`${app.url}/webhooks/${portal.memberId}/event`, {
      event: 'ONAPPUNINSTALL',
      data: { CLEAN: '1' },
      auth: { member_id: portal.memberId, domain: portal.domain, application_token: attackerToken },
    });
    assert.equal(uninstall.status, 403);
    assert.equal((await app.runtime.portals.require(portal.memberId)).state, 'active');
    const line = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.audit === 'portal_credentials_refused');
    assert.ok(line, 'the refusal is an audit line');
    assert.equal(line.code, 'B24_ERR_NOT_ADMIN');
    assert.equal(line.route, 'install');
    assert.ok(!app.logs.some((l) => l.includes(userToken) || l.includes(attackerToken)), 'no token in the logs');
  });

  it("user 2's own live pair (opening the app's page) with the attacker's application_token → 403 B24_ERR_NOT_ADMIN; their refresh token is not spent", async () => {
    const frame = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const refreshes = Number((await portalStats(app.emu, portal.memberId)).refreshes);
    const query = new URLSearchParams(frame.query).toString();
    const answer = await postForm(`${app.url}/install?${query}`, { ...frame.form, APPLICATION_TOKEN: randomBytes(16).toString('hex') });
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_NOT_ADMIN']);
    await assertCredentialsUnchanged();
    assert.equal((await portalStats(app.emu, portal.memberId)).refreshes, refreshes, 'refused before the refresh token was redeemed');
  });

  it("ONAPPUPDATE with user 2's live pair → 403, nothing changed", async () => {
    const frame = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const answer = await postForm(`${app.url}/webhooks/${portal.memberId}/event`, {
      event: 'ONAPPUPDATE',
      data: { VERSION: '2', PREVIOUS_VERSION: '1' },
      auth: {
        access_token: frame.form.AUTH_ID,
        refresh_token: frame.form.REFRESH_ID,
        application_token: randomBytes(16).toString('hex'),
        member_id: portal.memberId,
        domain: portal.domain,
        expires_in: '3600',
        user_id: '2',
      },
    });
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_NOT_ADMIN']);
    await assertCredentialsUnchanged();
  });

  it("an admin's access token with a garbage refresh token → 403 B24_ERR_CREDENTIALS_UNPROVEN, nothing changed", async () => {
    const frame = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 1 });
    const answer = await postForm(`${app.url}/install`, installForm(portal, { access_token: frame.form.AUTH_ID, refresh_token: 'garbage', application_token: randomBytes(16).toString('hex') }));
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_CREDENTIALS_UNPROVEN']);
    await assertCredentialsUnchanged();
  });

  it("an admin's access token with user 2's live refresh token → 403 B24_ERR_CREDENTIALS_UNPROVEN (the pair belongs to another user)", async () => {
    const admin = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 1 });
    const user = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const answer = await postForm(
      `${app.url}/install`,
      installForm(portal, { access_token: admin.form.AUTH_ID, refresh_token: user.form.REFRESH_ID, application_token: randomBytes(16).toString('hex') }),
    );
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_CREDENTIALS_UNPROVEN']);
    await assertCredentialsUnchanged();
  });

  it("a refresh token of another portal (the attacker's own install) → 403, nothing changed", async () => {
    const own = await emulatorInstall(app.emu, null);
    const admin = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 1 });
    const answer = await postForm(
      `${app.url}/install`,
      installForm(portal, { access_token: admin.form.AUTH_ID, refresh_token: own.refresh_token, application_token: randomBytes(16).toString('hex') }),
    );
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_CREDENTIALS_UNPROVEN']);
    await assertCredentialsUnchanged();
  });

  it('the code flow started by user 2 (logged in after opening the app) → 403 B24_ERR_NOT_ADMIN, nothing changed', async () => {
    await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const start = await fetch(`${app.url}/oauth/start?domain=${portal.domain}`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    assert.equal(authorize.status, 302);
    const callback = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    const body = (await callback.json()) as Record<string, unknown>;
    assert.deepEqual([callback.status, body.error], [403, 'B24_ERR_NOT_ADMIN']);
    await assertCredentialsUnchanged();
    await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 1 }); // the admin is the browser's user again
  });

  it('a genuine re-install by an administrator is accepted: the redeemed pair is stored, the new application_token validates, an audit line names the route and user', async () => {
    const admin = await control<Frame>(app.emu, `/portals/${portal.memberId}/frame`, { userId: 1 });
    const applicationToken = randomBytes(16).toString('hex');
    const refreshes = Number((await portalStats(app.emu, portal.memberId)).refreshes);
    const answer = await postForm(`${app.url}/install?${new URLSearchParams(admin.query).toString()}`, { ...admin.form, APPLICATION_TOKEN: applicationToken });
    assert.deepEqual(answer, { status: 200, body: { status: 'success' } });
    assert.equal((await portalStats(app.emu, portal.memberId)).refreshes, refreshes + 1, 'the offered refresh token was redeemed once');
    const stored = await app.runtime.portals.require(portal.memberId);
    assert.equal(stored.applicationToken, applicationToken);
    assert.notEqual(stored.refreshToken, admin.form.REFRESH_ID, 'the redeemed pair is stored, not the offered (now dead) one');
    assert.equal(stored.installedByUserId, 1);
    const line = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).findLast((l) => l.audit === 'portal_credentials_stored');
    assert.ok(line);
    assert.deepEqual([line.route, line.userId, line.memberId, line.created], ['install', 1, portal.memberId, false]);
    // the stored pair works
    const call = await fetch(`${portal.client_endpoint}user.admin.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: stored.accessToken }),
    });
    assert.deepEqual(await call.json().then((b) => (b as { result: unknown }).result), true);
  });
});
