/**
 * Failed admin authentications are counted per client address (src/app/builtins/admin/login-throttle.ts):
 * after 10 within 15 minutes, that address gets 429 B24_ERR_ADMIN_THROTTLED with Retry-After, even
 * with the right token, on the login form and the JSON API alike; another address is not affected;
 * a success forgets the failures. The app runs behind one trusted proxy (`trustProxy: 1`): the client
 * is the address that proxy appended to X-Forwarded-For, so an entry the client writes itself in
 * front of it changes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../src/app/builtins/admin/login-throttle.js';
import { startTestApp, type TestApp } from '../app/helpers.js';

const TOKEN = 'admin-token-for-tests-0123456789';
const WRONG = 'wrong-token-wrong-token-wrong';

describe('admin authentication: failures throttled per client address', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(() => {}, { config: { adminToken: TOKEN, server: { trustProxy: 1 } } });
  });
  after(() => t?.close());

  const api = (token: string, client: string) =>
    fetch(`${t.url}/admin/api/portals`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } });
  const login = (token: string, client: string) =>
    fetch(`${t.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.url, 'x-forwarded-for': client },
      body: `token=${encodeURIComponent(token)}`,
    });

  it('10 failures from an address: the 11th try is refused with 429 and Retry-After, even with the right token', async () => {
    const attacker = '198.51.100.7';
    for (let n = 0; n < 5; n++) assert.equal((await api(WRONG, attacker)).status, 401);
    for (let n = 0; n < 5; n++) assert.equal((await login(WRONG, attacker)).headers.get('location'), '/admin/login?failed');

    const apiAnswer = await api(TOKEN, attacker);
    assert.equal(apiAnswer.status, 429);
    assert.deepEqual(await apiAnswer.json(), { error: 'B24_ERR_ADMIN_THROTTLED', message: 'Too many failed admin logins from this address: try again after Retry-After seconds' });
    const retryAfter = Number(apiAnswer.headers.get('retry-after'));
    assert.ok(retryAfter > 14 * 60 && retryAfter <= 15 * 60, `Retry-After ${retryAfter} s: until the oldest failure is 15 min old`);

    // writing another address in front of the one the proxy appended does not help
    assert.equal((await api(TOKEN, `203.0.113.77, ${attacker}`)).status, 429);

    const form = await login(TOKEN, attacker);
    assert.equal(form.status, 429);
    assert.ok(Number(form.headers.get('retry-after')) > 0);
    assert.equal(form.headers.get('set-cookie'), null, 'no session');
    assert.match(await form.text(), /Too many failed logins from this address\. Try again in 15 min\./);

    const refusals = t.logs.map((line) => JSON.parse(line) as { msg: string; ip?: string; err?: { code?: string } }).filter((line) => line.ip === attacker);
    assert.equal(refusals.filter((line) => line.err?.code === 'B24_ERR_ADMIN_UNAUTHORIZED').length, 10, 'each failure logged with the address');
    const throttled = refusals.filter((line) => line.err?.code === 'B24_ERR_ADMIN_THROTTLED');
    assert.equal(throttled.length, 1, 'the throttling logged once, not once per refused try (3 here)');
    assert.match(throttled[0]!.msg, /too many failures/);
    assert.ok(!t.logs.some((line) => line.includes(TOKEN) || line.includes(WRONG)), 'no token in the log');
  });

  it('another address is not affected: the operator is not locked out by someone else', async () => {
    assert.equal((await api(TOKEN, '203.0.113.9')).status, 200);
    assert.equal((await login(TOKEN, '203.0.113.9')).headers.get('location'), '/admin/portals');
  });

  it('a success forgets the failures before it', async () => {
    const operator = '192.0.2.44';
    for (let n = 0; n < 9; n++) assert.equal((await api(WRONG, operator)).status, 401);
    assert.equal((await api(TOKEN, operator)).status, 200);
    for (let n = 0; n < 9; n++) assert.equal((await api(WRONG, operator)).status, 401);
    assert.equal((await api(TOKEN, operator)).status, 200, '9 + 9 failures with a success between: not throttled');
  });
});

describe('LoginThrottle', () => {
  it('lets an address try again once its oldest counted failure leaves the window', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 60_000, nowMs: () => now });
    throttle.failed('a');
    now += 10_000;
    throttle.failed('a');
    throttle.failed('a');
    assert.equal(throttle.waitMs('a'), 50_000, 'until the first failure is 60 s old');
    now += 50_000;
    assert.equal(throttle.waitMs('a'), 0);
    throttle.failed('a');
    assert.equal(throttle.waitMs('a'), 10_000, 'the second failure is the oldest counted now');
  });

  it('counts an IPv6 client by its /64: changing the low bits does not reset its failures; another /64 is another client', () => {
    const throttle = new LoginThrottle({ maxFailures: 3, windowMs: 60_000 });
    for (const address of ['2001:db8:0:1::1', '2001:db8:0:1::2', '2001:db8:0:1:aaaa::9']) throttle.failed(address);
    assert.ok(throttle.check('2001:db8:0:1:ffff::1').waitMs > 0, 'a fourth address of the same /64 is refused');
    assert.equal(throttle.check('2001:db8:0:2::1').waitMs, 0);
    throttle.failed('::ffff:192.0.2.1');
    throttle.failed('192.0.2.1');
    throttle.failed('192.0.2.1');
    assert.ok(throttle.waitMs('192.0.2.1') > 0, 'an IPv4-mapped address is that IPv4 address');
    assert.equal(throttle.waitMs('192.0.2.2'), 0);
    throttle.succeeded('2001:db8:0:1::77');
    assert.equal(throttle.check('2001:db8:0:1::1').waitMs, 0, 'a success from the /64 forgets its failures');
  });

  it('remembers at most maxAddresses addresses, forgetting the least recently failed', () => {
    const throttle = new LoginThrottle({ maxFailures: 1, maxAddresses: 2 });
    throttle.failed('a');
    throttle.failed('b');
    throttle.failed('a');
    throttle.failed('c');
    assert.ok(throttle.waitMs('a') > 0);
    assert.equal(throttle.waitMs('b'), 0, 'b was forgotten');
    assert.ok(throttle.waitMs('c') > 0);
  });
});
