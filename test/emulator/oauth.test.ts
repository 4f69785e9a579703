import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { advanceClock, control, createInstalledPortal, portalStats, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

const CLIENT_ID = 'local.b24kit.demo';
const CLIENT_SECRET = 'demo-secret';
const REDIRECT = 'https://app.example.test/oauth/callback';

interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function tokenGet(emu: RunningEmulator, params: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(`${emu.url}/oauth/token/?${new URLSearchParams(params)}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function tokenPost(emu: RunningEmulator, params: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(`${emu.url}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function authorize(emu: RunningEmulator, portal: TestPortal, state = 'st-1'): Promise<URL> {
  const response = await fetch(`${emu.url}/${portal.domain}/oauth/authorize/?client_id=${CLIENT_ID}&state=${state}`, { redirect: 'manual' });
  assert.equal(response.status, 302);
  return new URL(response.headers.get('location') ?? '');
}

describe('OAuth', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator({ redirectUri: REDIRECT });
    portal = await createInstalledPortal(emu, {}, { scope: ['crm', 'user_brief'] });
  });
  after(() => emu.close());

  it('redirects authorize to the app with code, state, domain, member_id, scope and server_domain', async () => {
    const location = await authorize(emu, portal, 'opaque-42');
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    const query = Object.fromEntries(location.searchParams);
    assert.deepEqual(Object.keys(query).sort(), ['code', 'domain', 'member_id', 'scope', 'server_domain', 'state']);
    assert.equal(query.state, 'opaque-42');
    assert.equal(query.domain, portal.domain);
    assert.equal(query.member_id, portal.memberId);
    assert.equal(query.scope, 'crm,user_brief');
    assert.equal(query.server_domain, new URL(emu.url).host);
  });

  it('shows its own error page and no redirect for an unknown client', async () => {
    const response = await fetch(`${emu.url}/${portal.domain}/oauth/authorize/?client_id=app.unknown`, { redirect: 'manual' });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
  });

  it('exchanges a code once (GET) for the documented token fields', async () => {
    const code = (await authorize(emu, portal)).searchParams.get('code') ?? '';
    const { now } = await control<{ now: number }>(emu, '/clock', undefined, 'GET');
    const { status, body } = await tokenGet(emu, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code });
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token', 'client_endpoint', 'domain', 'expires', 'expires_in', 'member_id', 'refresh_token', 'scope', 'server_endpoint', 'status', 'user_id',
    ]);
    assert.equal(body.expires_in, 3600);
    assert.ok(Math.abs(Number(body.expires) - (now + 3600)) <= 2);
    assert.equal(body.domain, new URL(emu.url).host, 'domain is the OAuth server, not the portal');
    assert.equal(body.client_endpoint, portal.clientEndpoint);
    assert.equal(body.server_endpoint, `${emu.url}/rest/`);
    assert.equal(body.member_id, portal.memberId);
    assert.equal(body.scope, 'crm,user_brief');
    assert.equal(body.user_id, 1);
    assert.equal((await rest(portal, 'profile', {}, String(body.access_token))).status, 200);

    const again = await tokenGet(emu, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  it('exchanges a code by form POST, and a code older than 30 s is refused', async () => {
    const fresh = (await authorize(emu, portal)).searchParams.get('code') ?? '';
    const ok = await tokenPost(emu, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code: fresh });
    assert.equal(ok.status, 200);
    assert.equal(typeof ok.body.access_token, 'string');

    const stale = (await authorize(emu, portal)).searchParams.get('code') ?? '';
    await advanceClock(emu, 31);
    const late = await tokenPost(emu, { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code: stale });
    assert.equal(late.status, 400);
    assert.equal(late.body.error, 'invalid_grant');
  });

  it('rotates refresh tokens: the used pair dies, the new pair works, reuse is invalid_grant', async () => {
    const own = await createInstalledPortal(emu);
    const refreshed = await tokenPost(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: own.refreshToken });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, own.refreshToken);
    assert.equal(refreshed.body.member_id, own.memberId);

    const oldAccess = await rest(own, 'profile');
    assert.equal(oldAccess.status, 401);
    assert.equal(oldAccess.body.error, 'invalid_token');
    assert.equal((await rest(own, 'profile', {}, String(refreshed.body.access_token))).status, 200);

    const reuse = await tokenGet(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: own.refreshToken });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');

    const next = await tokenGet(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: String(refreshed.body.refresh_token) });
    assert.equal(next.status, 200);
    const stats = await portalStats(emu, own.memberId);
    assert.equal(stats.refreshes, 2);
    assert.equal(stats.refreshesRefused, 1, 'the reused refresh token counts as refused');
  });

  it('expires access tokens after 3600 s with expired_token, and a refresh still works', async () => {
    const own = await createInstalledPortal(emu);
    await advanceClock(emu, 3601);
    const expired = await rest(own, 'profile');
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error, 'expired_token');
    const refreshed = await tokenGet(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: own.refreshToken });
    assert.equal(refreshed.status, 200);
    assert.equal((await rest(own, 'profile', {}, String(refreshed.body.access_token))).status, 200);
  });

  it('answers the documented errors: invalid_client, wrong_client with HTTP 200, invalid_request', async () => {
    const own = await createInstalledPortal(emu);
    const wrongSecret = await tokenGet(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: 'nope', refresh_token: own.refreshToken });
    assert.equal(wrongSecret.status, 400);
    assert.equal(wrongSecret.body.error, 'invalid_client');

    const wrongClient = await tokenGet(emu, { grant_type: 'refresh_token', client_id: 'app.unknown', client_secret: CLIENT_SECRET, refresh_token: own.refreshToken });
    assert.equal(wrongClient.status, 200);
    assert.equal(wrongClient.body.error, 'wrong_client');

    const incomplete: Array<Record<string, string>> = [
      { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
      { grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: own.refreshToken },
      { grant_type: 'refresh_token', client_secret: CLIENT_SECRET, refresh_token: own.refreshToken },
    ];
    for (const params of incomplete) {
      const answer = await tokenPost(emu, params);
      assert.equal(answer.status, 400, JSON.stringify(params));
      assert.equal(answer.body.error, 'invalid_request', JSON.stringify(params));
      assert.equal(typeof answer.body.error_description, 'string');
    }
    // none of the failures above used up the refresh token
    const ok = await tokenGet(emu, { grant_type: 'refresh_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: own.refreshToken });
    assert.equal(ok.status, 200);
  });

  it('verifies a token with app.info on the OAuth server', async () => {
    const own = await createInstalledPortal(emu, {}, { scope: ['crm'] });
    const response = await fetch(`${emu.url}/rest/app.info?auth=${own.accessToken}`);
    assert.equal(response.status, 200);
    const { result } = (await response.json()) as { result: Record<string, unknown> & { install: Record<string, unknown> } };
    assert.equal(result.client_id, CLIENT_ID);
    assert.equal(result.scope, 'crm');
    assert.equal(result.install.member_id, own.memberId);
    assert.equal(result.install.domain, own.domain);
    assert.equal(result.install.client_endpoint, own.clientEndpoint);
    assert.equal(result.install.installed, true);

    const bad = await fetch(`${emu.url}/rest/app.info.json?auth=not-a-token`);
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_token');
  });
});
