/**
 * Secrets never reach the logs: every log line the app writes while it installs, refreshes,
 * updates, runs the code flow and refuses bad input is captured and searched for every token,
 * application_token, code, state and the client_secret it handled.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServerLogger, redactUrl } from '../../src/server/logging.js';
import { advanceClock, control } from '../helpers/emulator.js';
import { emulatorInstall, installForm, postForm, startAppUnderTest, type AppUnderTest } from './helpers.js';

describe('log redaction', () => {
  let app: AppUnderTest;
  const secrets = new Set<string>();
  const remember = (...values: Array<string | null | undefined>): void => {
    for (const value of values) if (value) secrets.add(value);
  };

  before(async () => {
    app = await startAppUnderTest();
    remember(app.emu.emulator.options.clientSecret);
  });
  after(async () => {
    await app?.close();
  });

  it('install, refresh, update, the code flow and refused requests log no secret', async () => {
    const install = await emulatorInstall(app.emu, app.url);
    remember(install.access_token, install.refresh_token, install.application_token);
    // the pair the app redeemed at install
    const redeemed = await app.runtime.portals.require(install.memberId);
    remember(redeemed.accessToken, redeemed.refreshToken);
    const hook = `${app.url}/webhooks/${install.memberId}/event`;

    // refresh
    await advanceClock(app.emu, 3700);
    const client = app.runtime.client(install.memberId);
    try {
      await client.call('user.current');
      await client.call('event.bind', { event: 'ONAPPUPDATE', handler: hook });
    } finally {
      await client.close();
    }
    const refreshed = await app.runtime.portals.require(install.memberId);
    remember(refreshed.accessToken, refreshed.refreshToken);

    // update (new application_token and tokens)
    const update = await control<{ access_token: string; refresh_token: string; application_token: string }>(app.emu, `/portals/${install.memberId}/update`);
    remember(update.access_token, update.refresh_token, update.application_token);
    const updated = await app.runtime.portals.require(install.memberId);
    remember(updated.accessToken, updated.refreshToken);

    // the code flow: code and state travel in query strings
    const start = await fetch(`${app.url}/oauth/start?domain=${install.domain}`, { redirect: 'manual' });
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(authorize.headers.get('location')!);
    remember(callback.searchParams.get('code'), callback.searchParams.get('state'));
    assert.equal((await fetch(callback, { redirect: 'manual' })).status, 200);
    assert.equal((await fetch(callback, { redirect: 'manual' })).status, 400); // replay
    const afterCode = await app.runtime.portals.require(install.memberId);
    remember(afterCode.accessToken, afterCode.refreshToken);

    // refused requests that carry secrets
    const other = await emulatorInstall(app.emu, null);
    remember(other.access_token, other.refresh_token, other.application_token);
    const forged = randomBytes(16).toString('hex');
    remember(forged);
    assert.equal((await postForm(`${app.url}/install`, installForm(other, { access_token: forged }))).status, 403);
    assert.equal((await postForm(`${app.url}/install`, installForm(other, { refresh_token: undefined }))).status, 400);
    assert.equal((await postForm(hook, { event: 'ONAPPUNINSTALL', data: { CLEAN: '1' }, auth: { member_id: install.memberId, application_token: forged } })).status, 403);
    assert.equal((await postForm(`${app.url}/webhooks/${other.memberId}/event`, { event: 'ONAPPUNINSTALL', auth: { member_id: install.memberId, application_token: update.application_token } })).status, 403);
    const badJson = await fetch(`${app.url}/install`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"auth":{"access_token":"${other.access_token}"` });
    assert.equal(badJson.status, 400);

    const output = app.logs.join('');
    assert.ok(app.logs.length > 20, 'the app logged its work');
    assert.ok(output.includes('request refused'), 'refusals are logged with their reason');
    assert.ok(output.includes('B24_ERR_FORBIDDEN') && output.includes('B24_ERR_MEMBER_MISMATCH'));
    assert.ok(output.includes('/oauth/callback?code=%5Bredacted%5D'), 'the callback URL is logged with code and state redacted');
    for (const secret of secrets) {
      assert.ok(!output.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the log`);
    }
  });

  it('the logger redacts secret keys wherever a caller puts them, and secret query values', () => {
    const lines: string[] = [];
    const logger = createServerLogger({ destination: { write: (line: string) => void lines.push(line) } });
    logger.info({ access_token: 'AAA1', auth: { refresh_token: 'RRR1' }, body: { auth: { application_token: 'TTT1' }, AUTH_ID: 'III1' }, clientSecret: 'SSS1' }, 'x');
    logger.info({ nested: { REFRESH_ID: 'RRR2', APPLICATION_TOKEN: 'TTT2' } }, 'y');
    const text = lines.join('');
    for (const value of ['AAA1', 'RRR1', 'TTT1', 'III1', 'SSS1', 'RRR2', 'TTT2']) assert.ok(!text.includes(value), value);
    assert.equal(redactUrl('/oauth/callback?code=c0de&state=s7&domain=a.b'), '/oauth/callback?code=%5Bredacted%5D&state=%5Bredacted%5D&domain=a.b');
    assert.equal(redactUrl('/install?auth%5Baccess_token%5D=zzz&DOMAIN=a.b'), '/install?auth%5Baccess_token%5D=%5Bredacted%5D&DOMAIN=a.b');
    assert.equal(redactUrl('/health'), '/health');
  });
});
