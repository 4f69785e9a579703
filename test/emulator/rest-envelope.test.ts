import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

describe('REST envelope and auth', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('answers result and the documented time object', async () => {
    const { status, body } = await rest(portal, 'user.current');
    assert.equal(status, 200);
    assert.equal((body.result as { ID: string }).ID, '1');
    const time = body.time as Record<string, unknown>;
    for (const key of ['start', 'finish', 'duration', 'processing', 'date_start', 'date_finish', 'operating', 'operating_reset_at']) {
      assert.ok(key in time, `time.${key}`);
    }
    assert.match(String(time.date_start), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  });

  it('accepts the token as Bearer header, auth or access_token, with or without .json and with //', async () => {
    const bearer = await fetch(`${portal.clientEndpoint}/profile`, { headers: { authorization: `Bearer ${portal.accessToken}` } });
    assert.equal(bearer.status, 200);
    const query = await fetch(`${portal.clientEndpoint}profile.json?access_token=${portal.accessToken}`);
    assert.equal(query.status, 200);
  });

  it('answers 401 NO_AUTH_FOUND without a token and invalid_token with a wrong one', async () => {
    const none = await fetch(`${portal.clientEndpoint}profile.json`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: string }).error, 'NO_AUTH_FOUND');
    const wrong = await rest(portal, 'profile', {}, 'not-a-token');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_token');
  });

  it('answers 404 ERROR_METHOD_NOT_FOUND for an unknown method', async () => {
    const { status, body } = await rest(portal, 'no.such.method');
    assert.equal(status, 404);
    assert.deepEqual(body, { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
  });

  it('answers 400 with the envelope for a malformed JSON body', async () => {
    const response = await fetch(`${portal.clientEndpoint}profile.json?auth=${portal.accessToken}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"broken',
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'INVALID_REQUEST');
  });
});
