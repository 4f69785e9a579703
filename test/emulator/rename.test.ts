import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rawRequest, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

describe('portal rename (docs/protocol.md §4.5)', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, { domain: 'old-name.bitrix24.test' });
  });
  after(() => emu.close());

  it('moves the portal: 302 from the old address with the same path, member_id and tokens unchanged', async () => {
    const renamed = await control<{ domain: string; member_id: string; previous_domain: string; client_endpoint: string }>(
      emu,
      `/portals/${portal.memberId}/rename`,
      { domain: 'new-name.bitrix24.test' },
    );
    assert.equal(renamed.member_id, portal.memberId);
    assert.equal(renamed.previous_domain, 'old-name.bitrix24.test');

    const old = await fetch(`${emu.url}/old-name.bitrix24.test/rest/profile.json?auth=${portal.accessToken}&x=1`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(old.status, 302);
    assert.equal(old.headers.get('location'), `${emu.url}/new-name.bitrix24.test/rest/profile.json?auth=${portal.accessToken}&x=1`);

    const moved: TestPortal = { ...portal, domain: renamed.domain, clientEndpoint: renamed.client_endpoint };
    const answer = await rest(moved, 'profile');
    assert.equal(answer.status, 200, 'the access token keeps working on the new domain');

    const described = await control<{ member_id: string; domain: string }>(emu, `/portals/${portal.memberId}`, undefined, 'GET');
    assert.equal(described.domain, 'new-name.bitrix24.test');
  });

  it('answers 302 for the old Host header too, and routes the new one', async () => {
    const port = new URL(emu.url).port;
    const old = await rawRequest(emu, { path: `/rest/profile.json?auth=${portal.accessToken}`, headers: { host: `old-name.bitrix24.test:${port}` } });
    assert.equal(old.status, 302);
    assert.equal(old.headers.location, `http://new-name.bitrix24.test:${port}/rest/profile.json?auth=${portal.accessToken}`);
    const current = await rawRequest(emu, { path: `/rest/profile.json?auth=${portal.accessToken}`, headers: { host: `new-name.bitrix24.test:${port}` } });
    assert.equal(current.status, 200);
  });

  it('reports the new client_endpoint after a refresh', async () => {
    const response = await fetch(`${emu.url}/oauth/token/?grant_type=refresh_token&client_id=local.b24kit.demo&client_secret=demo-secret&refresh_token=${portal.refreshToken}`);
    const body = (await response.json()) as { client_endpoint: string; member_id: string };
    assert.equal(body.client_endpoint, `${emu.url}/new-name.bitrix24.test/rest/`);
    assert.equal(body.member_id, portal.memberId);
  });

  it('refuses a rename onto a domain in use', async () => {
    const other = await control<{ domain: string }>(emu, '/portals', {});
    const response = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/rename`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ domain: other.domain }),
    });
    assert.equal(response.status, 409);
  });
});
