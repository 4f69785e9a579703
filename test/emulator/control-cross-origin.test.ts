/**
 * The control API refuses web pages (docs/emulator.md, Control API): it has no authentication, a page in
 * the developer's browser can reach 127.0.0.1, and a form POST crosses origins without a preflight.
 * Browsers send `Origin` (and `Sec-Fetch-Site`); programs send neither. A DNS-rebinding page is
 * same-origin to the browser, but its requests name the attacker's host in `Host`: refused with
 * CONTROL_HOST unless the name is an IP, has no dot, or is the emulator's own or a listed one. The
 * Mailchimp emulator's control API is guarded the same way.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, startTestEmulator, UNLIMITED_PORTAL } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

async function send(emu: RunningEmulator, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: Row }> {
  const response = await fetch(`${emu.url}/_emulator${path}`, { method, headers, body });
  return { status: response.status, body: (await response.json()) as Row };
}

/** A request with a `Host` of our choosing (fetch does not let a caller set it; a browser on a rebound name sends that name). */
function sendAs(url: string, method: string, path: string, host: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number; body: Row }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: target.hostname, port: target.port, method, path, headers: { ...headers, host, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: (text ? JSON.parse(text) : {}) as Row }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const PAGE = { ...FORM, origin: 'http://evil.example' };

describe('control API and web pages', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('refuses a form POST from another origin: no portal is created, renamed or uninstalled', async () => {
    const before = (await control<Row[]>(emu, '/portals', undefined, 'GET')).length;
    const created = await send(emu, 'POST', '/portals', PAGE, 'domain=planted.bitrix24.com&memberId=planted');
    assert.deepEqual([created.status, created.body.error], [403, 'CONTROL_CROSS_ORIGIN']);
    assert.equal((await control<Row[]>(emu, '/portals', undefined, 'GET')).length, before);

    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    const renamed = await send(emu, 'POST', `/portals/${portal.memberId}/rename`, PAGE, 'domain=taken.bitrix24.com');
    assert.deepEqual([renamed.status, renamed.body.error], [403, 'CONTROL_CROSS_ORIGIN']);
    const uninstalled = await send(emu, 'POST', `/portals/${portal.memberId}/uninstall`, { origin: 'null' });
    assert.deepEqual([uninstalled.status, uninstalled.body.error], [403, 'CONTROL_CROSS_ORIGIN'], 'a sandboxed page sends Origin: null');
    const limits = await send(emu, 'PUT', `/portals/${portal.memberId}/limits`, { 'content-type': 'application/json', origin: 'http://evil.example' }, '{"countRefusedRequests":false}');
    assert.equal(limits.status, 403);

    const after = await control<Row & { limits: Row }>(emu, `/portals/${portal.memberId}`, undefined, 'GET');
    assert.deepEqual([after.domain, after.installed, after.limits.countRefusedRequests], [portal.domain, true, true]);
  });

  it('refuses a cross-site read that carries no Origin but Sec-Fetch-Site', async () => {
    const read = await send(emu, 'GET', '/portals', { 'sec-fetch-site': 'cross-site' });
    assert.deepEqual([read.status, read.body.error], [403, 'CONTROL_CROSS_ORIGIN']);
  });

  it('answers programs (no Origin) and the emulator own origin as before', async () => {
    const program = await send(emu, 'POST', '/portals', FORM, 'domain=program.bitrix24.com');
    assert.equal(program.status, 201);
    const own = await send(emu, 'POST', '/portals', { 'content-type': 'application/json', origin: emu.url, 'sec-fetch-site': 'same-origin' }, '{"domain":"own.bitrix24.com"}');
    assert.equal(own.status, 201);
  });

  it('leaves the portals REST and OAuth paths alone (the portal accepts browser calls: BX24.js runs in its frames)', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    const response = await fetch(`${portal.clientEndpoint}profile`, { method: 'POST', headers: { ...PAGE, authorization: `Bearer ${portal.accessToken}` }, body: '' });
    assert.equal(response.status, 200);
  });

  it('refuses a DNS-rebinding page: same origin to the browser, but Host names the attacker', async () => {
    const port = new URL(emu.url).port;
    const rebound = `attacker.example:${port}`;
    const before = (await control<Row[]>(emu, '/portals', undefined, 'GET')).length;
    const created = await sendAs(emu.url, 'POST', '/_emulator/portals', rebound, { ...FORM, origin: `http://${rebound}` }, 'domain=rebound.bitrix24.com');
    assert.deepEqual([created.status, created.body.error], [403, 'CONTROL_HOST']);
    const read = await sendAs(emu.url, 'GET', '/_emulator/portals', rebound);
    assert.deepEqual([read.status, read.body.error], [403, 'CONTROL_HOST'], 'a rebound read is refused too: it would show the portals and their webhooks');
    assert.equal((await control<Row[]>(emu, '/portals', undefined, 'GET')).length, before);
  });

  it('judges the path as the router decodes it: a percent-encoded /_emulator is the control API too', async () => {
    const port = new URL(emu.url).port;
    const before = (await control<Row[]>(emu, '/portals', undefined, 'GET')).length;
    const own = `127.0.0.1:${port}`;
    for (const path of ['/%5Femulator/portals', '/_%65mulator/portals', '/%5f%65mulator/portals']) {
      const page = await sendAs(emu.url, 'POST', path, own, { ...FORM, origin: 'http://evil.example' }, 'domain=encoded.bitrix24.com');
      assert.deepEqual([page.status, page.body.error], [403, 'CONTROL_CROSS_ORIGIN'], path);
      const rebound = await sendAs(emu.url, 'GET', path, `attacker.example:${port}`);
      assert.deepEqual([rebound.status, rebound.body.error], [403, 'CONTROL_HOST'], path);
    }
    assert.equal((await control<Row[]>(emu, '/portals', undefined, 'GET')).length, before, 'no portal created');
  });

  it('answers at an IP address, localhost, a name without a dot, and listed names', async () => {
    const port = new URL(emu.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `emulator:${port}`, `dev.localhost:${port}`]) {
      assert.equal((await sendAs(emu.url, 'GET', '/_emulator/portals', host)).status, 200, host);
    }
    const listed = await startTestEmulator({ controlHosts: ['Emu.Internal.:4100'] }); // written with a port, a trailing dot, capitals
    try {
      const listedPort = new URL(listed.url).port;
      assert.equal((await sendAs(listed.url, 'GET', '/_emulator/portals', `emu.internal:${listedPort}`)).status, 200);
      assert.equal((await sendAs(listed.url, 'GET', '/_emulator/portals', `other.internal:${listedPort}`)).status, 403);
    } finally {
      await listed.close();
    }
  });

  it('guards the Mailchimp emulator control API the same way', async () => {
    const mc = await startMailchimpEmulator({ port: 0 });
    try {
      const port = new URL(mc.url).port;
      for (const path of ['/_emulator/mailchimp/stats', '/%5Femulator/mailchimp/stats', '/_%65mulator/mailchimp/stats']) {
        const rebound = await sendAs(mc.url, 'GET', path, `attacker.example:${port}`);
        assert.deepEqual([rebound.status, rebound.body.error], [403, 'CONTROL_HOST'], path);
      }
      const page = await sendAs(mc.url, 'GET', '/_emulator/mailchimp/stats', `127.0.0.1:${port}`, { 'sec-fetch-site': 'cross-site' });
      assert.deepEqual([page.status, page.body.error], [403, 'CONTROL_CROSS_ORIGIN']);
      assert.equal((await sendAs(mc.url, 'GET', '/_emulator/mailchimp/stats', `127.0.0.1:${port}`)).status, 200);
    } finally {
      await mc.close();
    }
  });
});
