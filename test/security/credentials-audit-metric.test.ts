/**
 * Through createApp, as a user runs it: every attempt to store a portal's credentials is counted in
 * /metrics by route and outcome (a refused one under its error code), and `/oauth/start` redirects
 * to the hosts the app's `portalDomains` (B24KIT_PORTAL_DOMAINS) allow and to no others.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import { postForm, type EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, type TestApp } from '../app/helpers.js';

describe('createApp: credential audit in /metrics, portal domains from the config', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  before(async () => {
    t = await startTestApp(() => {}, { config: { portalDomains: ['crm.example.com', '*.bitrix24.test'] } });
    portal = await t.install();
  });
  after(async () => {
    await t?.close();
  });

  it('a stored install and a refused one are counted by route and outcome', async () => {
    const frame = await control<{ query: Record<string, string>; form: Record<string, string> }>(t.emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const refused = await postForm(`${t.url}/install?${new URLSearchParams(frame.query).toString()}`, frame.form);
    assert.equal(refused.status, 403);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^b24kit_portal_credentials_total\{route="install",outcome="stored"\} 1$/m);
    assert.match(metrics, /^b24kit_portal_credentials_total\{route="install",outcome="B24_ERR_NOT_ADMIN"\} 1$/m);
  });

  it('/oauth/start follows portalDomains: an allowed host gets a redirect, others do not', async () => {
    const allowed = await fetch(`${t.url}/oauth/start?domain=crm.example.com`, { redirect: 'manual' });
    assert.equal(allowed.status, 302);
    assert.match(allowed.headers.get('location') ?? '', /^https:\/\/crm\.example\.com\/oauth\/authorize\//);
    const other = await fetch(`${t.url}/oauth/start?domain=crm.example.net`, { redirect: 'manual' });
    assert.equal(other.status, 400);
    assert.equal(((await other.json()) as { error: string }).error, 'B24_ERR_DOMAIN_NOT_ALLOWED');
  });
});
