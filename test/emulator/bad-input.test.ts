import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createInstalledPortal, rawRequest, startTestEmulator, type RawAnswer, type TestPortal } from '../helpers/emulator.js';

const BODY_LIMIT = 512 * 1024;

interface Case {
  name: string;
  send: () => Promise<RawAnswer>;
  status: number;
  /** The `error` code expected in a JSON envelope; omitted for documented HTML answers. */
  error?: string;
  html?: boolean;
}

describe('hostile input gets the documented envelope, never a crash, a hang or a stack', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  let base: string;
  before(async () => {
    emu = await startTestEmulator({ bodyLimitBytes: BODY_LIMIT });
    portal = await createInstalledPortal(emu);
    base = new URL(portal.clientEndpoint).pathname;
  });
  after(() => emu.close());

  const post = (path: string, type: string, body: string | Buffer) => rawRequest(emu, { method: 'POST', path, headers: { 'content-type': type }, body });
  const get = (path: string) => rawRequest(emu, { path });

  const cases = (): Case[] => {
    const auth = `auth=${portal.accessToken}`;
    return [
      { name: 'malformed JSON', send: () => post(`${base}profile?${auth}`, 'application/json', '{"a":'), status: 400, error: 'INVALID_REQUEST' },
      { name: 'JSON array body', send: () => post(`${base}profile?${auth}`, 'application/json', '[1,2,3]'), status: 400, error: 'INVALID_REQUEST' },
      { name: 'JSON string body', send: () => post(`${base}profile?${auth}`, 'application/json', '"x"'), status: 400, error: 'INVALID_REQUEST' },
      { name: 'body over the limit', send: () => post(`${base}profile?${auth}`, 'application/x-www-form-urlencoded', `a=${'x'.repeat(BODY_LIMIT + 10)}`), status: 413, error: 'INVALID_REQUEST' },
      { name: 'deeply nested JSON', send: () => post(`${base}profile?${auth}`, 'application/json', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`), status: 200 },
      { name: 'deeply nested brackets', send: () => get(`${base}profile?${auth}&${'a' + '[b]'.repeat(500)}=1`), status: 200 },
      { name: '20,000 params', send: () => post(`${base}profile?${auth}`, 'application/x-www-form-urlencoded', Array.from({ length: 20_000 }, (_, i) => `p${i}=${i}`).join('&')), status: 200 },
      { name: 'huge array index', send: () => get(`${base}profile?${auth}&a[999999999]=1&b[]=1&b[99999]=2`), status: 200 },
      { name: 'invalid percent-encoding in the query', send: () => get(`${base}profile?${auth}&x=%E0%A4%A&%ZZ=1`), status: 200 },
      { name: 'invalid percent-encoding in the path', send: () => get(`${base}%E0%A4%A?${auth}`), status: 400, error: 'INVALID_REQUEST' },
      { name: 'prototype keys', send: () => get(`${base}profile?${auth}&__proto__[admin]=1&constructor[prototype][x]=1`), status: 200 },
      { name: 'unknown content type (parsed as a form, as the core does)', send: () => post(`${base}profile`, 'application/x-unknown', auth), status: 200 },
      { name: 'binary body', send: () => post(`${base}profile?${auth}`, 'application/octet-stream', Buffer.from([0, 255, 1, 254, 37, 37])), status: 200 },
      { name: 'broken multipart', send: () => post(`${base}profile?${auth}`, 'multipart/form-data; boundary=x', 'not multipart'), status: 400, error: 'INVALID_REQUEST' },
      { name: 'auth as an array', send: () => get(`${base}profile?auth[]=x`), status: 401, error: 'NO_AUTH_FOUND' },
      { name: 'unknown token', send: () => get(`${base}profile?auth=${'f'.repeat(48)}`), status: 401, error: 'invalid_token' },
      { name: 'unknown method', send: () => get(`${base}no.such.method?${auth}`), status: 404, error: 'ERROR_METHOD_NOT_FOUND' },
      { name: 'too many path segments', send: () => get(`${base}a/b/c/d/e?${auth}`), status: 404, error: 'ERROR_METHOD_NOT_FOUND' },
      { name: '.xml format', send: () => get(`${base}profile.xml?${auth}`), status: 400, error: 'INVALID_REQUEST' },
      { name: 'batch with cmd as a string', send: () => post(`${base}batch?${auth}`, 'application/json', '{"cmd":"profile","halt":{"x":1}}'), status: 200 },
      { name: 'batch with non-string commands', send: () => post(`${base}batch?${auth}`, 'application/json', '{"cmd":{"a":5,"b":null,"c":{"d":1},"e":"profile?x[=1&y=%ZZ"}}'), status: 200 },
      { name: 'OPTIONS request', send: () => rawRequest(emu, { method: 'OPTIONS', path: `${base}profile` }), status: 404, error: 'ERROR_METHOD_NOT_FOUND' },
      { name: 'unknown portal', send: () => get(`/nowhere.bitrix24.test/rest/profile?${auth}`), status: 404, html: true },
      { name: 'token endpoint with a malformed JSON body', send: () => post('/oauth/token/', 'application/json', '{'), status: 400, error: 'invalid_request' },
      { name: 'control API: wrong types', send: () => post('/_emulator/portals', 'application/json', '{"burst":"many","plan":7}'), status: 400, error: 'CONTROL_BAD_REQUEST' },
      { name: 'control API: unknown key', send: () => post('/_emulator/portals', 'application/json', '{"nope":1}'), status: 400, error: 'CONTROL_BAD_REQUEST' },
      { name: 'control API: malformed JSON', send: () => post('/_emulator/clock', 'application/json', '{'), status: 400, error: 'CONTROL_BAD_REQUEST' },
      { name: 'control API: negative clock', send: () => post('/_emulator/clock', 'application/json', '{"advanceSeconds":-5}'), status: 400, error: 'CONTROL_BAD_REQUEST' },
      { name: 'control API: absurd clock', send: () => post('/_emulator/clock', 'application/json', '{"advanceSeconds":1e300}'), status: 400, error: 'CONTROL_BAD_REQUEST' },
      { name: 'control API: unknown portal', send: () => get('/_emulator/portals/nope/stats'), status: 404, error: 'CONTROL_PORTAL_NOT_FOUND' },
      { name: 'control API: unknown route', send: () => get('/_emulator/nothing/here'), status: 404, error: 'CONTROL_ROUTE_NOT_FOUND' },
    ];
  };

  it('answers every hostile request correctly', async () => {
    for (const testCase of cases()) {
      const answer = await testCase.send();
      assert.equal(answer.status, testCase.status, `${testCase.name}: status (${answer.text.slice(0, 200)})`);
      assert.ok(!answer.text.includes('    at '), `${testCase.name}: a stack trace leaked`);
      const type = String(answer.headers['content-type'] ?? '');
      if (testCase.html) {
        assert.match(type, /text\/html/, `${testCase.name}: content type`);
        continue;
      }
      assert.match(type, /application\/json/, `${testCase.name}: content type`);
      const body = JSON.parse(answer.text) as Record<string, unknown>;
      if (testCase.error !== undefined) {
        assert.equal(body.error, testCase.error, `${testCase.name}: error code`);
        assert.equal(typeof (body.error_description ?? body.message), 'string', `${testCase.name}: description`);
      } else {
        assert.ok('result' in body, `${testCase.name}: result`);
      }
    }
  });

  it('is still healthy afterwards', async () => {
    const answer = await get(`${base}profile?auth=${portal.accessToken}`);
    assert.equal(answer.status, 200);
    const probe: Record<string, unknown> = {};
    assert.equal(probe.admin, undefined, 'Object.prototype was not polluted');
  });
});
