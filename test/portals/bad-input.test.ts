/**
 * Bad input on /install and /webhooks/:memberId/event: a clear 4xx with a stable code, nothing
 * stored or changed, and the reason logged (secrets redacted: log-redaction.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { trustedServerEndpoint } from '../../src/oauth/oauth-server.js';
import { control } from '../helpers/emulator.js';
import { emulatorInstall, installForm, postForm, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from './helpers.js';

async function portalCount(app: AppUnderTest): Promise<number> {
  const row = await app.store.one<{ n: number }>('SELECT COUNT(*) AS n FROM portals');
  return Number(row?.n ?? 0);
}

async function raw(url: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('install: missing or forged fields are refused and nothing is stored', () => {
  let app: AppUnderTest;
  let tokens: EmulatorInstall; // a real install the app has not seen (no POST to us)
  before(async () => {
    app = await startAppUnderTest();
    tokens = await emulatorInstall(app.emu, null);
  });
  after(async () => {
    await app?.close();
  });

  it('a POST that is no install → 400 B24_ERR_BAD_REQUEST', async () => {
    const answer = await postForm(`${app.url}/install`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '1' } } });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'B24_ERR_BAD_REQUEST');
    assert.equal(await portalCount(app), 0);
  });

  it('missing auth fields → 400 naming them (never their values)', async () => {
    const answer = await postForm(`${app.url}/install`, installForm(tokens, { refresh_token: undefined, application_token: undefined }));
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'B24_ERR_BAD_REQUEST');
    assert.match(String(answer.body.message), /missing refresh_token, application_token/);
    assert.ok(!String(answer.body.message).includes(tokens.access_token));
    assert.equal(await portalCount(app), 0);
  });

  it('a malformed member_id → 400', async () => {
    const answer = await postForm(`${app.url}/install`, installForm(tokens, { member_id: '../../etc' }));
    assert.equal(answer.status, 400);
    assert.match(String(answer.body.message), /invalid member_id/);
    assert.equal(await portalCount(app), 0);
  });

  it('a forged access_token → app.info refuses → 403 B24_ERR_FORBIDDEN', async () => {
    const answer = await postForm(`${app.url}/install`, installForm(tokens, { access_token: randomBytes(16).toString('hex') }));
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'B24_ERR_FORBIDDEN');
    assert.equal(await portalCount(app), 0);
  });

  it("real tokens claimed for another portal's member_id → 403 (app.info names the real portal)", async () => {
    const other = await emulatorInstall(app.emu, null);
    const answer = await postForm(`${app.url}/install`, installForm(tokens, { member_id: other.memberId, domain: other.domain }));
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'B24_ERR_FORBIDDEN');
    assert.match(String(answer.body.message), /another portal/);
    assert.equal(await portalCount(app), 0);
  });

  it('tokens of another application (client_id differs) → 403', async () => {
    const stranger = await startAppUnderTest({ emu: app.emu, clientId: 'local.someone.else' });
    try {
      const answer = await postForm(`${stranger.url}/install`, installForm(tokens));
      assert.equal(answer.status, 403);
      assert.match(String(answer.body.message), /another application/);
      assert.equal(await portalCount(stranger), 0);
    } finally {
      await stranger.close();
    }
  });

  it('an untrusted server_endpoint is refused before any request is sent to it', () => {
    const policy = { oauthUrl: 'https://oauth.bitrix.info', oauthUrlOverride: false };
    assert.throws(() => trustedServerEndpoint('https://evil.example.com/rest/', policy), { code: 'B24_ERR_FORBIDDEN' });
    assert.throws(() => trustedServerEndpoint('http://oauth.bitrix.info/rest/', policy), { code: 'B24_ERR_FORBIDDEN' });
    assert.equal(trustedServerEndpoint('https://oauth.bitrix24.tech/rest/', policy), 'https://oauth.bitrix24.tech/rest/');
    assert.equal(trustedServerEndpoint(undefined, policy), 'https://oauth.bitrix.info/rest/');
    // with B24_OAUTH_URL set explicitly it is the only server, whatever the payload says
    assert.equal(trustedServerEndpoint('https://evil.example.com/rest/', { oauthUrl: 'http://127.0.0.1:9', oauthUrlOverride: true }), 'http://127.0.0.1:9/rest/');
  });

  it('the UI install POST (AUTH_ID, REFRESH_ID, AUTH_EXPIRES in seconds, DOMAIN in the query) is verified and stored', async () => {
    const ui = await emulatorInstall(app.emu, null);
    const now = app.emu.emulator.clock.nowMs();
    const answer = await postForm(`${app.url}/install?DOMAIN=${ui.domain}&PROTOCOL=0&LANG=en&APP_SID=abc`, {
      AUTH_ID: ui.access_token,
      AUTH_EXPIRES: '3600',
      REFRESH_ID: ui.refresh_token,
      SERVER_ENDPOINT: ui.server_endpoint,
      member_id: ui.memberId,
      status: 'L',
      PLACEMENT: 'DEFAULT',
      PLACEMENT_OPTIONS: '{}',
      APPLICATION_TOKEN: ui.application_token,
    });
    assert.deepEqual(answer, { status: 200, body: { status: 'success' } });
    const portal = await app.runtime.portals.require(ui.memberId);
    assert.equal(portal.applicationToken, ui.application_token);
    assert.equal(portal.clientEndpoint, ui.client_endpoint); // from app.info, not guessed from DOMAIN
    // AUTH_EXPIRES is a lifetime: about an hour from now, not 1970
    assert.ok(Math.abs(portal.expiresAtMs - (now + 3600_000)) < 60_000, String(portal.expiresAtMs - now));
    await app.runtime.portals.purge(ui.memberId);
  });

  it('over-limit bodies: too deep, too many keys, too large, wrong content type → 400/413/415 JSON without a stack', async () => {
    const deep = await raw(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a${'[x]'.repeat(12)}=1` });
    assert.equal(deep.status, 400);
    assert.equal(deep.body.error, 'B24_ERR_BAD_REQUEST');
    const many = Array.from({ length: 1100 }, (_, i) => `k${i}=1`).join('&');
    const wide = await raw(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: many });
    assert.equal(wide.status, 400);
    const large = await raw(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `a=${'x'.repeat(1_100_000)}` });
    assert.deepEqual([large.status, large.body.error], [413, 'B24_ERR_PAYLOAD_TOO_LARGE']);
    const text = await raw(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.deepEqual([text.status, text.body.error], [415, 'B24_ERR_UNSUPPORTED_MEDIA_TYPE']);
    const json = await raw(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"access_token":"${tokens.access_token}"` });
    assert.deepEqual([json.status, json.body.error, json.body.message], [400, 'B24_ERR_BAD_REQUEST', 'Malformed JSON body']);
    const missing = await raw(`${app.url}/nope`, { method: 'GET' });
    assert.deepEqual([missing.status, missing.body.error], [404, 'B24_ERR_ROUTE_NOT_FOUND']);
    for (const answer of [deep, wide, large, text, json, missing]) {
      assert.deepEqual(Object.keys(answer.body).sort(), ['error', 'message']);
    }
    assert.equal(await portalCount(app), 0);
  });
});

describe('lifecycle events: wrong application_token, member_id mismatch, unknown portal, forged update', () => {
  let app: AppUnderTest;
  let install: EmulatorInstall;
  let hook: string;
  let storedAccessToken: string | null;
  before(async () => {
    app = await startAppUnderTest();
    install = await emulatorInstall(app.emu, app.url);
    hook = `${app.url}/webhooks/${install.memberId}/event`;
    storedAccessToken = (await app.runtime.portals.require(install.memberId)).accessToken;
  });
  after(async () => {
    await app?.close();
  });

  const uninstallForm = (memberId: string, applicationToken: string): Record<string, unknown> => ({
    event: 'ONAPPUNINSTALL',
    data: { LANGUAGE_ID: 'en', CLEAN: '1' },
    ts: '1',
    auth: { domain: install.domain, member_id: memberId, application_token: applicationToken },
  });

  async function unchanged(): Promise<void> {
    const portal = await app.runtime.portals.require(install.memberId);
    assert.equal(portal.state, 'active');
    assert.ok(storedAccessToken);
    assert.equal(portal.accessToken, storedAccessToken);
    assert.equal(portal.applicationToken, install.application_token);
  }

  it('ONAPPUNINSTALL with a wrong application_token → 403 B24_ERR_FORBIDDEN, nothing changed', async () => {
    const answer = await postForm(hook, uninstallForm(install.memberId, randomBytes(16).toString('hex')));
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN']);
    await unchanged();
    assert.ok(app.logs.some((line) => line.includes('B24_ERR_FORBIDDEN') && line.includes('request refused')), 'the reason is logged');
  });

  it('ONAPPUNINSTALL without an application_token → 400', async () => {
    const answer = await postForm(hook, { event: 'ONAPPUNINSTALL', data: { CLEAN: '1' }, auth: { member_id: install.memberId, domain: install.domain } });
    assert.deepEqual([answer.status, answer.body.error], [400, 'B24_ERR_BAD_REQUEST']);
    await unchanged();
  });

  it('a member_id in the URL that does not match the payload → 403 B24_ERR_MEMBER_MISMATCH, nothing changed', async () => {
    const other = await emulatorInstall(app.emu, app.url);
    // the right token for the payload's portal, sent to another portal's URL: refused before any lookup
    const answer = await postForm(`${app.url}/webhooks/${other.memberId}/event`, uninstallForm(install.memberId, install.application_token));
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_MEMBER_MISMATCH']);
    await unchanged();
    assert.equal((await app.runtime.portals.require(other.memberId)).state, 'active');
  });

  it('ONAPPUNINSTALL for an unknown portal → 403 B24_ERR_FORBIDDEN, the same answer as a wrong token (no oracle of installed portals)', async () => {
    const stranger = 'f'.repeat(32);
    const answer = await postForm(`${app.url}/webhooks/${stranger}/event`, uninstallForm(stranger, install.application_token));
    assert.deepEqual([answer.status, answer.body.error, answer.body.message], [403, 'B24_ERR_FORBIDDEN', 'application_token does not match the stored one']);
    const wrong = await postForm(hook, uninstallForm(install.memberId, randomBytes(16).toString('hex')));
    assert.deepEqual([wrong.status, wrong.body.error, wrong.body.message], [answer.status, answer.body.error, answer.body.message]);
    await unchanged();
  });

  it('ONAPPUPDATE with forged tokens → 403, application_token and tokens unchanged', async () => {
    const answer = await postForm(hook, {
      event: 'ONAPPUPDATE',
      data: { VERSION: '2', PREVIOUS_VERSION: '1' },
      auth: {
        access_token: randomBytes(16).toString('hex'),
        refresh_token: randomBytes(16).toString('hex'),
        application_token: randomBytes(16).toString('hex'),
        member_id: install.memberId,
        domain: install.domain,
        server_endpoint: install.server_endpoint,
        client_endpoint: install.client_endpoint,
        expires_in: '3600',
      },
    });
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN']);
    await unchanged();
  });

  it('ONAPPUPDATE for a portal that never installed here → 404, nothing stored', async () => {
    const foreign = await emulatorInstall(app.emu, null);
    const answer = await postForm(`${app.url}/webhooks/${foreign.memberId}/event`, {
      event: 'ONAPPUPDATE',
      auth: { access_token: foreign.access_token, refresh_token: foreign.refresh_token, application_token: foreign.application_token, member_id: foreign.memberId, domain: foreign.domain },
    });
    assert.deepEqual([answer.status, answer.body.error], [404, 'B24_ERR_PORTAL_NOT_FOUND']);
    assert.equal(await app.runtime.portals.info(foreign.memberId), undefined);
  });

  it('other events are authenticated, then answered 501 B24_ERR_EVENT_NOT_HANDLED by a portal server without an app (no event inbox)', async () => {
    const event = { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '7' } }, auth: { member_id: install.memberId, domain: install.domain, application_token: install.application_token } };
    const answer = await postForm(hook, event);
    assert.deepEqual([answer.status, answer.body.error], [501, 'B24_ERR_EVENT_NOT_HANDLED']);
    const forged = await postForm(hook, { ...event, auth: { ...event.auth, application_token: 'nope' } });
    assert.deepEqual([forged.status, forged.body.error], [403, 'B24_ERR_FORBIDDEN']);
  });

  it('ONAPPUNINSTALL with the right application_token while the app is still installed → 403, nothing changed (the OAuth server still vouches for the tokens)', async () => {
    const form = { ...uninstallForm(install.memberId, install.application_token), data: { LANGUAGE_ID: 'en', CLEAN: '1' } };
    // reading the tokens to ask the OAuth server marks the portal as used: all else stays
    const row = async () => ({ ...(await app.runtime.portals.require(install.memberId)), lastUsedAtMs: undefined });
    const before = await row();
    const answer = await postForm(hook, form);
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN'], JSON.stringify(answer.body));
    assert.equal(before.state, 'active');
    assert.deepEqual(await row(), before, 'the portal row is untouched');
  });

  it('ONAPPUNINSTALL without CLEAN: the portal is uninstalled, its tokens wiped, the row kept; a repeat is accepted', async () => {
    // the portal uninstalls the app (its tokens are revoked), then its ONAPPUNINSTALL arrives
    await control(app.emu, `/portals/${install.memberId}/uninstall`, {});
    const form = { ...uninstallForm(install.memberId, install.application_token), data: { LANGUAGE_ID: 'en', CLEAN: '0' } };
    assert.deepEqual(await postForm(hook, form), { status: 200, body: { status: 'success' } });
    const portal = await app.runtime.portals.require(install.memberId);
    assert.equal(portal.state, 'uninstalled');
    assert.equal(portal.accessToken, null);
    assert.equal(portal.refreshToken, null);
    assert.deepEqual(await postForm(hook, form), { status: 200, body: { status: 'success' } });
  });
});
