/**
 * The authorization-code flow against the emulator's authorize page and token server: a
 * server-side state that works once and for 10 minutes, the code exchanged once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advanceClock } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { emulatorInstall, getManual as get, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from './helpers.js';

describe('OAuth code flow', () => {
  let app: AppUnderTest;
  let install: EmulatorInstall;
  let elsewhere: HandlerServer;
  before(async () => {
    app = await startAppUnderTest();
    install = await emulatorInstall(app.emu, app.url);
    elsewhere = await startHandlerServer();
  });
  after(async () => {
    await app?.close();
    await elsewhere?.close();
  });

  /** /oauth/start → the portal's authorize page → the redirect to our callback (not followed). */
  async function authorize(domain = install.domain): Promise<string> {
    const start = await get(`${app.url}/oauth/start?domain=${domain}`);
    assert.equal(start.status, 302);
    const authorizeAt = await get(start.location!);
    assert.equal(authorizeAt.status, 302, 'the emulator authorizes and redirects');
    return authorizeAt.location!;
  }

  it('start → authorize page of the stored portal (derived from its client_endpoint) with client_id and a state', async () => {
    const start = await get(`${app.url}/oauth/start?domain=${install.domain}`);
    assert.equal(start.status, 302);
    const location = new URL(start.location!);
    assert.equal(`${location.origin}${location.pathname}`, `${app.emu.url}/${install.domain}/oauth/authorize/`);
    assert.equal(location.searchParams.get('client_id'), app.emu.emulator.options.clientId);
    assert.ok((location.searchParams.get('state') ?? '').length >= 40);
    // the state is stored hashed, never as given
    const rows = await app.store.all<{ state_hash: string }>('SELECT state_hash FROM oauth_states');
    assert.ok(rows.every((row) => row.state_hash !== location.searchParams.get('state')));
  });

  it('an unknown domain → https://{domain}/oauth/authorize/ for a cloud portal or an allowed host; any other host → 400; a malformed one → 400', async () => {
    const start = await get(`${app.url}/oauth/start?domain=acme.bitrix24.com`);
    assert.match(start.location!, /^https:\/\/acme\.bitrix24\.com\/oauth\/authorize\/\?client_id=/);
    const br = await get(`${app.url}/oauth/start?domain=acme.bitrix24.com.br`);
    assert.equal(br.status, 302);
    for (const foreign of ['evil.example.com', 'bitrix24.com.evil.example', 'a.b.bitrix24.com', 'acme.bitrix24.com.evil']) {
      const answer = await get(`${app.url}/oauth/start?domain=${foreign}`);
      assert.deepEqual([answer.status, answer.body?.error, answer.location], [400, 'B24_ERR_DOMAIN_NOT_ALLOWED', null], foreign);
    }
    for (const bad of ['', 'localhost', 'evil.com/path', 'a%20b.com']) {
      const answer = await get(`${app.url}/oauth/start?domain=${bad}`);
      assert.deepEqual([answer.status, answer.body?.error], [400, 'B24_ERR_BAD_REQUEST'], bad);
    }
  });

  it('callback: the code is exchanged, verified and stored; the application_token is kept; a replay → 400 B24_ERR_STATE_INVALID', async () => {
    const before = await app.runtime.portals.require(install.memberId);
    const callback = await authorize();
    assert.ok(callback.startsWith(`${app.url}/oauth/callback?`));
    const done = await get(callback);
    assert.deepEqual([done.status, done.body?.status, done.body?.member_id, done.body?.created], [200, 'success', install.memberId, false]);
    const after = await app.runtime.portals.require(install.memberId);
    assert.notEqual(after.accessToken, before.accessToken);
    assert.equal(after.applicationToken, install.application_token);
    assert.equal(after.version, before.version + 1);

    const replay = await get(callback);
    assert.deepEqual([replay.status, replay.body?.error], [400, 'B24_ERR_STATE_INVALID']);
    assert.equal((await app.runtime.portals.require(install.memberId)).version, after.version);
  });

  it('an unknown state, or no code → 400, nothing stored', async () => {
    const unknown = await get(`${app.url}/oauth/callback?code=abc&state=made-up&domain=${install.domain}&member_id=${install.memberId}`);
    assert.deepEqual([unknown.status, unknown.body?.error], [400, 'B24_ERR_STATE_INVALID']);
    const noCode = await get(`${app.url}/oauth/callback?state=x`);
    assert.deepEqual([noCode.status, noCode.body?.error], [400, 'B24_ERR_BAD_REQUEST']);
  });

  it('a state older than 10 minutes → 400 B24_ERR_STATE_INVALID', async () => {
    const callback = await authorize();
    const version = (await app.runtime.portals.require(install.memberId)).version;
    await advanceClock(app.emu, 601);
    const late = await get(callback);
    assert.deepEqual([late.status, late.body?.error, late.body?.message], [400, 'B24_ERR_STATE_INVALID', 'OAuth state refused: expired']);
    assert.equal((await app.runtime.portals.require(install.memberId)).version, version);
  });

  it('a state issued for another portal → 400', async () => {
    const start = await get(`${app.url}/oauth/start?domain=other.bitrix24.test`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const answer = await get(`${app.url}/oauth/callback?code=abc&state=${state}&domain=${install.domain}&member_id=${install.memberId}`);
    assert.deepEqual([answer.status, answer.body?.error], [400, 'B24_ERR_STATE_INVALID']);
  });

  it('a reused code (fresh state) → the token server says invalid_grant → 400 B24_ERR_CODE_EXCHANGE, nothing stored', async () => {
    // a portal this app has never seen: its install POST went elsewhere
    const fresh = await emulatorInstall(app.emu, elsewhere.url);
    const start = await get(`${app.url}/oauth/start?domain=${fresh.domain}`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const authorizeAt = await get(`${app.emu.url}/${fresh.domain}/oauth/authorize/?client_id=${app.emu.emulator.options.clientId}&state=${state}`);
    const redirect = new URL(authorizeAt.location!);
    const code = redirect.searchParams.get('code')!;
    // someone else redeems the code first (codes are single-use, docs/protocol.md §1.2)
    const stolen = await fetch(`${app.emu.url}/oauth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: app.emu.emulator.options.clientId, client_secret: app.emu.emulator.options.clientSecret, code }),
    });
    assert.equal(stolen.status, 200);
    const answer = await get(`${app.url}/oauth/callback${redirect.search}`);
    assert.deepEqual([answer.status, answer.body?.error], [400, 'B24_ERR_CODE_EXCHANGE']);
    assert.equal(await app.runtime.portals.info(fresh.memberId), undefined);
  });

  it('a first code exchange for a portal never installed here stores it (no application_token yet)', async () => {
    const fresh = await emulatorInstall(app.emu, elsewhere.url);
    const start = await get(`${app.url}/oauth/start?domain=${fresh.domain}`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const authorizeAt = await get(`${app.emu.url}/${fresh.domain}/oauth/authorize/?client_id=${app.emu.emulator.options.clientId}&state=${state}`);
    const answer = await get(`${app.url}/oauth/callback${new URL(authorizeAt.location!).search}`);
    assert.deepEqual([answer.status, answer.body?.created], [200, true]);
    const portal = await app.runtime.portals.require(fresh.memberId);
    assert.equal(portal.applicationToken, null);
    assert.equal(portal.clientEndpoint, fresh.client_endpoint);
  });
});
