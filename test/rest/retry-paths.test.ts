/**
 * Every retry path of the client against the emulator over HTTP: what the portal saw (its stats)
 * is the evidence, not what the client believes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { B24Error } from '../../src/errors.js';
import { B24Client } from '../../src/rest/client.js';
import { control, createInstalledPortal, rest, startTestEmulator } from '../helpers/emulator.js';
import { emulatorClock, oauthClient, setFaults, silentLogger, stats } from './helpers.js';

const isCode = (code: string) => (error: unknown) => {
  assert.ok(error instanceof B24Error, `a B24Error, got ${String(error)}`);
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  return true;
};

describe('retry paths against the emulator', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('expired token → one single-flight refresh → the calls are retried once', async () => {
    const portal = await createInstalledPortal(emu);
    const clock = emulatorClock(emu);
    const client = oauthClient(emu, portal, { clock });
    await clock.sleep(3_700_000); // the access token lives 3600 s
    const results = await Promise.all(Array.from({ length: 5 }, () => client.call<{ ID: string }>('user.current')));
    assert.ok(results.every((r) => r.result.ID === '1'));
    const seen = await stats(emu, portal);
    assert.equal(seen.refreshes, 1, 'concurrent rejections refresh once (refresh tokens are single-use)');
    assert.equal(seen.refreshesRefused, 0, 'no second refresh spent the used refresh token');
    assert.equal(seen.byStatus['401'], 5);
    assert.equal(client.events.filter((e) => e.type === 'refresh').length, 5);
    await client.close();
  });

  it('a token the provider cannot refresh → B24_ERR_AUTH after one try', async () => {
    const portal = await createInstalledPortal(emu);
    const client = B24Client.fromToken({ accessToken: 'not-a-valid-token-at-all', clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { logger: silentLogger });
    await assert.rejects(client.call('user.current'), isCode('B24_ERR_AUTH'));
    assert.equal((await stats(emu, portal)).requests, 1);
    await client.close();
  });

  it('503 QUERY_LIMIT_EXCEEDED (a client bypassing the limiter drained the bucket) → resync, counted, recovered', async () => {
    // the bucket drains one request per 20 s of the emulator clock, so the three direct calls keep
    // it full however slow the machine; the client's waits move that clock instead of sleeping
    const portal = await createInstalledPortal(emu, { drainPerSecond: 0.05, burst: 3 });
    const client = oauthClient(emu, portal, { clock: emulatorClock(emu), limits: { drainPerSecond: 0.05, burst: 3 }, retry: { baseMs: 50 } });
    for (let i = 0; i < 3; i += 1) assert.equal((await rest(portal, 'user.current')).status, 200);
    const { result } = await client.call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
    const seen = await stats(emu, portal);
    assert.equal(seen.rateLimitRejections, 1);
    assert.equal(seen.byStatus['503'], 1);
    assert.deepEqual(
      client.events.filter((e) => e.type === 'limit-exceeded').map((e) => (e as { status: number }).status),
      [503],
    );
    await client.close();
  });

  it('429 OPERATION_TIME_LIMIT → waits for operating_reset_at of that method only, then succeeds', async () => {
    const portal = await createInstalledPortal(emu, { operatingLimitSeconds: 2, operatingWindowSeconds: 60, cost: { readMs: 1000 } });
    const clock = emulatorClock(emu);
    const client = oauthClient(emu, portal, { clock });
    for (let i = 0; i < 3; i += 1) await client.call('user.current'); // 1 s each; the portal refuses above 2 s
    const { result } = await client.call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
    const seen = await stats(emu, portal);
    assert.equal(seen.operatingRejections, 1);
    const waits = client.events.filter((e) => e.type === 'limiter-wait' && e.reason === 'operating');
    assert.equal(waits.length, 1);
    const waitMs = (waits[0] as { waitMs: number }).waitMs;
    assert.ok(waitMs > 0 && waitMs <= 61_000, `waited until the reset (${waitMs} ms), not a fixed fallback`);
    // other methods were never held back
    assert.equal((await client.call('profile')).result !== undefined, true);
    await client.close();
  });

  it('paces a method by time.operating so that the portal never answers 429', async () => {
    const portal = await createInstalledPortal(emu, { operatingLimitSeconds: 2, operatingWindowSeconds: 60, cost: { readMs: 1000 } });
    const clock = emulatorClock(emu);
    const client = oauthClient(emu, portal, { clock, operating: { limitSeconds: 2 } });
    for (let i = 0; i < 6; i += 1) await client.call('user.current');
    const seen = await stats(emu, portal);
    assert.equal(seen.operatingRejections, 0);
    assert.ok(client.events.some((e) => e.type === 'limiter-wait' && e.reason === 'operating'));
    await client.close();
  });

  it('500 on a read → retried with backoff and succeeds', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { errorRate: 1, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' });
    const clock = emulatorClock(emu, () => setFaults(emu, portal, { errorRate: 0 }));
    const client = oauthClient(emu, portal, { clock });
    const { result } = await client.call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
    assert.equal((await stats(emu, portal)).requests, 2);
    assert.equal(client.events.filter((e) => e.type === 'retry').length, 1);
    await client.close();
  });

  it('500 on a read gives up after maxAttempts with B24_ERR_SERVER; 500 on an add is not retried', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { errorRate: 1, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' });
    const client = oauthClient(emu, portal, { clock: emulatorClock(emu), retry: { maxAttempts: 3 } });
    await assert.rejects(client.call('crm.deal.get', { id: 1 }), isCode('B24_ERR_SERVER'));
    assert.equal((await stats(emu, portal)).requests, 3);
    await assert.rejects(client.call('crm.deal.add', { fields: { TITLE: 'x' } }), isCode('B24_ERR_SERVER'));
    assert.equal((await stats(emu, portal)).requests, 4);
    await client.close();
  });

  it('a write is not retried after a timeout: B24_ERR_OUTCOME_UNKNOWN and exactly one request', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { hangRate: 1 });
    const client = oauthClient(emu, portal, { timeoutMs: 300 });
    await assert.rejects(client.call('crm.deal.add', { fields: { TITLE: 'order 42' } }), (error) => {
      isCode('B24_ERR_OUTCOME_UNKNOWN')(error);
      assert.equal((error as B24Error).method, 'crm.deal.add');
      assert.equal((error as B24Error).memberId, portal.memberId);
      return true;
    });
    assert.equal((await stats(emu, portal)).requests, 1);
    assert.equal(client.events.filter((e) => e.type === 'retry').length, 0);
    await client.close();
  });

  it('a dropped connection on a write → B24_ERR_OUTCOME_UNKNOWN, one request; on a read → retried, then B24_ERR_NETWORK', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { resetRate: 1 });
    const client = oauthClient(emu, portal, { clock: emulatorClock(emu), retry: { maxAttempts: 2 } });
    await assert.rejects(client.call('crm.contact.add', { fields: {} }), isCode('B24_ERR_OUTCOME_UNKNOWN'));
    assert.equal((await stats(emu, portal)).requests, 1);
    await assert.rejects(client.call('crm.contact.list'), isCode('B24_ERR_NETWORK'));
    assert.equal((await stats(emu, portal)).requests, 3);
    await client.close();
  });

  it('a hanging portal → B24_ERR_TIMEOUT within timeoutMs per attempt, and within the overall deadline', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { hangRate: 1 });
    const client = oauthClient(emu, portal, { timeoutMs: 200, retry: { maxAttempts: 2, baseMs: 1 } });
    await assert.rejects(client.call('user.current'), isCode('B24_ERR_TIMEOUT'));
    assert.equal((await stats(emu, portal)).requests, 2, 'a read is retried after a timeout');
    await assert.rejects(client.call('user.current', {}, { timeoutMs: 60_000, deadlineMs: 300 }), isCode('B24_ERR_TIMEOUT'));
    const aborted = new AbortController();
    const call = client.call('user.current', {}, { timeoutMs: 60_000, signal: aborted.signal });
    setTimeout(() => aborted.abort(new Error('stop')), 50);
    await assert.rejects(call, /stop/);
    await client.close();
  });

  it('302 after a rename → the same body is re-POSTed to the new address and the endpoint updated', async () => {
    const portal = await createInstalledPortal(emu);
    const client = oauthClient(emu, portal);
    await control(emu, `/portals/${portal.memberId}/rename`, { domain: `renamed-${portal.memberId.slice(0, 6)}.bitrix24.test` });
    const { result } = await client.call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
    const grant = await client.provider.getGrant();
    assert.match(grant.clientEndpoint, /\/renamed-[^/]+\.bitrix24\.test\/rest\/$/);
    assert.equal(client.events.filter((e) => e.type === 'redirect').length, 1);
    await client.call('user.current');
    assert.equal(client.events.filter((e) => e.type === 'redirect').length, 1, 'later calls go to the new address');
    // a write follows the redirect too: it never reached the portal at the old address
    const { result: id } = await client.call('crm.deal.add', { fields: { TITLE: 'after rename' } });
    assert.ok(Number(id) > 0);
    await client.close();
  });

  it('an HTML error page → B24_ERR_BAD_RESPONSE (a read after retries, a write at once)', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { downForSeconds: 3600 });
    const client = oauthClient(emu, portal, { clock: emulatorClock(emu), retry: { maxAttempts: 2 } });
    await assert.rejects(client.call('user.current'), (error) => {
      isCode('B24_ERR_BAD_RESPONSE')(error);
      assert.equal((error as B24Error).status, 503);
      assert.match((error as B24Error).message, /HTML/);
      return true;
    });
    assert.equal((await stats(emu, portal)).requests, 2);
    await assert.rejects(client.call('crm.deal.add', { fields: {} }), isCode('B24_ERR_BAD_RESPONSE'));
    assert.equal((await stats(emu, portal)).requests, 3);
    await client.close();
  });

  it('an unknown portal → B24_ERR_PORTAL_NOT_FOUND', async () => {
    const client = B24Client.fromToken({ accessToken: 'x'.repeat(40), clientEndpoint: `${emu.url}/nowhere.bitrix24.test/rest/` }, { logger: silentLogger });
    await assert.rejects(client.call('user.current'), isCode('B24_ERR_PORTAL_NOT_FOUND'));
    await client.close();
  });
});

describe('bodies the emulator cannot send', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  before(async () => {
    server = createServer((request, response) => {
      hits += 1;
      request.resume();
      if (request.url?.includes('/truncated/')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"result":{"ID":"1","TITLE":"cut off');
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"unexpected":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('truncated JSON → B24_ERR_BAD_RESPONSE for a read (retried), B24_ERR_OUTCOME_UNKNOWN for a write (not retried)', async () => {
    const client = B24Client.fromWebhook(`${base}/truncated/rest/1/secretcode123/`, { logger: silentLogger, retry: { maxAttempts: 2, baseMs: 1 } });
    hits = 0;
    await assert.rejects(client.call('crm.deal.get', { id: 1 }), isCode('B24_ERR_BAD_RESPONSE'));
    assert.equal(hits, 2);
    hits = 0;
    await assert.rejects(client.call('crm.deal.add', { fields: {} }), isCode('B24_ERR_OUTCOME_UNKNOWN'));
    assert.equal(hits, 1);
    await client.close();
  });

  it('JSON that is not an envelope → B24_ERR_BAD_RESPONSE', async () => {
    const client = B24Client.fromWebhook(`${base}/other/rest/1/secretcode123/`, { logger: silentLogger, retry: { maxAttempts: 1 } });
    await assert.rejects(client.call('user.current'), isCode('B24_ERR_BAD_RESPONSE'));
    await client.close();
  });
});
