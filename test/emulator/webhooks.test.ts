import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

async function hook(url: string, method: string, params: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('incoming webhooks /rest/{user}/{code}/{method}', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  let url: string;
  before(async () => {
    emu = await startTestEmulator();
    emu.emulator.methods.define('test.app.only', { scope: 'basic', appContextOnly: true, handler: () => ({ result: true }) });
    portal = await createInstalledPortal(emu);
    ({ url } = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1, scope: ['user_brief'] }));
  });
  after(() => emu.close());

  it('calls methods as the webhook user, with and without .json', async () => {
    const plain = await hook(url, 'user.current');
    assert.equal(plain.status, 200);
    assert.equal((plain.body.result as { ID: string }).ID, '1');
    assert.equal((await hook(url, 'user.current.json')).status, 200);
    const batch = await hook(url, 'batch', { cmd: { me: 'user.current' } });
    assert.equal(((batch.body.result as { result: Record<string, { ID: string }> }).result.me)?.ID, '1');
  });

  it('refuses a wrong code or user with NO_AUTH_FOUND', async () => {
    const wrongCode = await hook(url.replace(/\/[0-9a-f]+\/$/, '/0000000000000000/'), 'user.current');
    assert.equal(wrongCode.status, 401);
    assert.equal(wrongCode.body.error, 'NO_AUTH_FOUND');
    const wrongUser = await hook(url.replace('/rest/1/', '/rest/2/'), 'user.current');
    assert.equal(wrongUser.status, 401);
  });

  it('answers insufficient_scope outside the webhook scope', async () => {
    const { url: crmOnly } = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { scope: ['crm'] });
    const answer = await hook(crmOnly, 'user.current');
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'insufficient_scope');
  });

  it('answers WRONG_AUTH_TYPE for an app-context-only method, which an OAuth app may call', async () => {
    const answer = await hook(url, 'test.app.only');
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body, { error: 'WRONG_AUTH_TYPE', error_description: 'Current authorization type is denied for this method' });
    assert.equal((await rest(portal, 'test.app.only')).status, 200);
  });

  it('answers WRONG_AUTH_TYPE for event.bind (an app-context-only method)', async () => {
    const answer = await hook(url, 'event.bind', { event: 'ONCRMDEALADD', handler: 'https://app.example.test/h' });
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body, { error: 'WRONG_AUTH_TYPE', error_description: 'Current authorization type is denied for this method' });
  });

  it('answers app.info with the webhook scope and license, as the core does for webhooks', async () => {
    const answer = await hook(url, 'app.info');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.result, { SCOPE: ['user_brief'], LICENSE: 'en_pro' });
    const app = await rest(portal, 'app.info');
    assert.equal((app.body.result as { CODE: string; LICENSE_FAMILY: string }).LICENSE_FAMILY, 'pro');
  });

  it('validates the control body', async () => {
    const response = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 99 }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'CONTROL_BAD_REQUEST');
  });
});
