/**
 * The dashboard's credentials (src/app/builtins/admin/session.ts, request-checks.ts): the admin
 * token's comparison, the signed stateless session (valid across processes with the same token,
 * dead after its expiry, after tampering, or once the token changes), the CSRF token bound to one
 * session, and the HTTPS and same-origin checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearerToken, cookieValue, createAdminAuth, SESSION_TTL_MS } from '../../src/app/builtins/admin/session.js';
import { cameOverHttps, sameOrigin } from '../../src/app/builtins/admin/request-checks.js';

const TOKEN = 'the-admin-token-0123456789abcdef';
const NOW = 1_800_000_000_000;

describe('admin session', () => {
  it('matches the token only exactly (not a prefix, a longer string, another type or the empty string)', () => {
    const auth = createAdminAuth(TOKEN);
    assert.equal(auth.tokenMatches(TOKEN), true);
    for (const candidate of [TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), '', undefined, 42, [TOKEN]]) {
      assert.equal(auth.tokenMatches(candidate), false, String(candidate));
    }
  });

  it('a session issued by one process is read by another with the same token, until it expires', () => {
    const cookie = createAdminAuth(TOKEN).issue(NOW);
    const other = createAdminAuth(TOKEN);
    const session = other.read(cookie, NOW + 1000);
    assert.ok(session);
    assert.equal(session.expiresAtMs, NOW + SESSION_TTL_MS);
    assert.equal(other.read(cookie, NOW + SESSION_TTL_MS), undefined, 'expired');
  });

  it('dies when the token changes, and when any part of it is altered', () => {
    const auth = createAdminAuth(TOKEN);
    const cookie = auth.issue(NOW);
    assert.equal(createAdminAuth(`${TOKEN}-rotated`).read(cookie, NOW), undefined);
    const [expires, nonce, signature] = cookie.split('.') as [string, string, string];
    for (const forged of [`${Number(expires) + SESSION_TTL_MS}.${nonce}.${signature}`, `${expires}.x${nonce}.${signature}`, `${expires}.${nonce}.${signature.slice(1)}A`, `${expires}.${nonce}`, '', 'a.b.c.d']) {
      assert.equal(auth.read(forged, NOW), undefined, forged);
    }
  });

  it('binds the CSRF token to its session', () => {
    const auth = createAdminAuth(TOKEN);
    const one = auth.read(auth.issue(NOW), NOW)!;
    const two = auth.read(auth.issue(NOW), NOW)!;
    assert.equal(auth.csrfMatches(one, auth.csrfToken(one)), true);
    assert.equal(auth.csrfMatches(one, auth.csrfToken(two)), false, "another session's token");
    assert.equal(auth.csrfMatches(one, undefined), false);
    assert.equal(auth.csrfMatches(one, ''), false);
  });

  it('binds a status message to its session and its text', () => {
    const auth = createAdminAuth(TOKEN);
    const one = auth.read(auth.issue(NOW), NOW)!;
    const two = auth.read(auth.issue(NOW), NOW)!;
    const signature = auth.flashSignature(one, 'Job 7 replayed');
    assert.equal(auth.flashMatches(one, 'Job 7 replayed', signature), true);
    assert.equal(auth.flashMatches(one, 'Job 8 replayed', signature), false, 'another text');
    assert.equal(auth.flashMatches(two, 'Job 7 replayed', signature), false, 'another session');
    assert.equal(auth.flashMatches(one, 'Job 7 replayed', undefined), false);
  });

  it('reads cookies and bearer tokens from headers', () => {
    assert.equal(cookieValue('a=1; b24kit_admin=x.y.z; c=3', 'b24kit_admin'), 'x.y.z');
    assert.equal(cookieValue('xb24kit_admin=1', 'b24kit_admin'), undefined);
    assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`Basic ${TOKEN}`), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});

describe('admin request checks', () => {
  it('believes X-Forwarded-Proto only behind a trusted proxy', () => {
    assert.equal(cameOverHttps({ 'x-forwarded-proto': 'https' }, true), true);
    assert.equal(cameOverHttps({ 'x-forwarded-proto': 'https' }, false), false);
    assert.equal(cameOverHttps({ 'x-forwarded-proto': 'http' }, true), false);
  });

  it('accepts our own Origin (else Referer) only, and refuses a request with neither', () => {
    const host = { host: 'app.example.com:3000' };
    assert.equal(sameOrigin({ ...host, origin: 'http://app.example.com:3000' }, false), true);
    assert.equal(sameOrigin({ ...host, referer: 'http://app.example.com:3000/admin/queue' }, false), true);
    assert.equal(sameOrigin({ ...host, origin: 'http://evil.example' }, false), false);
    assert.equal(sameOrigin({ ...host, origin: 'null' }, false), false);
    assert.equal(sameOrigin({ ...host, origin: 'http://app.example.com:3000.evil.example' }, false), false);
    assert.equal(sameOrigin(host, false), false);
    // behind a proxy the browser addressed the forwarded host
    assert.equal(sameOrigin({ host: '10.0.0.5:3000', 'x-forwarded-host': 'admin.example.com', origin: 'https://admin.example.com' }, true), true);
    assert.equal(sameOrigin({ host: '10.0.0.5:3000', 'x-forwarded-host': 'admin.example.com', origin: 'https://admin.example.com' }, false), false);
  });
});
