import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rawRequest, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

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
    // in the portal's offset (Europe/Berlin by default), as data-types.md#time shows it
    assert.match(String(time.date_start), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/);
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

describe('REST request forms (docs/protocol.md §4.1, §4.2)', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const echo = async (response: Response): Promise<Record<string, unknown>> => {
    assert.equal(response.status, 200);
    return ((await response.json()) as { result: Record<string, unknown> }).result;
  };
  before(async () => {
    emu = await startTestEmulator();
    emu.emulator.methods.define('test.echo', { scope: 'basic', handler: ({ params }) => ({ result: params }) });
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('reads nested PHP brackets from the query string', async () => {
    const result = await echo(
      await fetch(`${portal.clientEndpoint}test.echo?auth=${portal.accessToken}&fields[TITLE]=Deal&fields[EMAIL][0][VALUE]=a%40b.c&fields[EMAIL][0][VALUE_TYPE]=WORK&ids[]=1&ids[]=2`),
    );
    assert.deepEqual(result, { fields: { TITLE: 'Deal', EMAIL: [{ VALUE: 'a@b.c', VALUE_TYPE: 'WORK' }] }, ids: ['1', '2'] });
  });

  it('reads a form body and a multipart body with the same syntax', async () => {
    const form = await echo(
      await fetch(`${portal.clientEndpoint}test.echo.json`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `auth=${portal.accessToken}&fields[EMAIL][0][VALUE]=a%40b.c&note=a+b`,
      }),
    );
    assert.deepEqual(form, { fields: { EMAIL: [{ VALUE: 'a@b.c' }] }, note: 'a b' });
    const multipart = new FormData();
    multipart.append('auth', portal.accessToken);
    multipart.append('fields[TITLE]', 'Multi');
    assert.deepEqual(await echo(await fetch(`${portal.clientEndpoint}test.echo`, { method: 'POST', body: multipart })), { fields: { TITLE: 'Multi' } });
  });

  it('reads a JSON body, whose values override the query string', async () => {
    const result = await echo(
      await fetch(`${portal.clientEndpoint}test.echo?auth=${portal.accessToken}&x=query&y=query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ x: 'body', n: 5, nested: { a: [1, { b: true }] } }),
      }),
    );
    assert.deepEqual(result, { x: 'body', y: 'query', n: 5, nested: { a: [1, { b: true }] } });
  });

  it('consumes auth, access_token, auth_connector and state before the method sees them', async () => {
    const result = await echo(
      await fetch(`${portal.clientEndpoint}test.echo?access_token=${portal.accessToken}&auth_connector=c1&state=s&keep=1`),
    );
    assert.deepEqual(result, { keep: '1' });
  });

  it('routes by the Host header to /rest/ of the portal', async () => {
    const answer = await rawRequest(emu, { path: `/rest/profile.json?auth=${portal.accessToken}`, headers: { host: portal.domain } });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.text) as { result: { ID: string } }).result.ID, '1');
  });

  it('answers 403 insufficient_scope for a method outside the app scope', async () => {
    const narrow = await createInstalledPortal(emu, {}, { scope: ['crm'] });
    const answer = await rest(narrow, 'user.current');
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'insufficient_scope');
    assert.equal((await rest(narrow, 'profile')).status, 200, 'basic methods need no scope');
  });

  it('answers PORTAL_DELETED for a deleted portal', async () => {
    const doomed = await createInstalledPortal(emu);
    await control(emu, `/portals/${doomed.memberId}/delete`);
    const answer = await rest(doomed, 'profile');
    assert.equal(answer.status, 500);
    assert.equal(answer.body.error, 'PORTAL_DELETED');
  });
});

describe('https required (relax.allowHttp = false)', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator({ relax: { allowHttp: false } });
  });
  after(() => emu.close());

  it('answers 400 INVALID_REQUEST "Https required." to plain http', async () => {
    const portal = await createInstalledPortal(emu);
    const answer = await rest(portal, 'profile');
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, { error: 'INVALID_REQUEST', error_description: 'Https required.' });
  });
});
