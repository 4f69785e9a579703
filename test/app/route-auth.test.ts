/**
 * Route authentications (src/app/route-auth.ts) on their own: HMAC in hex and base64, with a prefix,
 * sha1, with a timestamp and its replay window; the API key in a bearer header or another one. And
 * the declaration rules that go with routes (src/app/definitions.ts): a path with :memberId must
 * declare an auth, whose secret must be a key of the owner's settings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { createApp } from '../../src/app/create-app.js';
import { AppDefinitions } from '../../src/app/definitions.js';
import { definePlugin } from '../../src/app/plugin.js';
import { auth } from '../../src/app/route-auth.js';
import { B24Error } from '../../src/errors.js';

const SECRET = 'shop-signing-secret-0123456789';
const BODY = Buffer.from('{"id":1001,"total":"10.00"}');
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const sign = (algorithm: string, secret: string, data: Buffer | string, encoding: 'hex' | 'base64') => createHmac(algorithm, secret).update(data).digest(encoding);
const request = (headers: Record<string, string>, rawBody = BODY, nowMs = NOW) => ({ headers, rawBody, nowMs });

describe('auth.hmac', () => {
  it('hex sha256 over the raw body: the right signature passes; another secret, another body, none, garbage fail', () => {
    const check = auth.hmac({ header: 'X-Signature', secret: 'signingSecret' });
    const good = sign('sha256', SECRET, BODY, 'hex');
    assert.equal(check.verify(request({ 'x-signature': good }), SECRET), true);
    assert.equal(check.verify(request({ 'x-signature': good.toUpperCase() }), SECRET), true, 'hex is case-insensitive');
    assert.equal(check.verify(request({ 'x-signature': sign('sha256', 'another-portals-secret', BODY, 'hex') }), SECRET), false);
    assert.equal(check.verify(request({ 'x-signature': good }, Buffer.from('{"id":1001,"total":"0.01"}')), SECRET), false);
    assert.equal(check.verify(request({}), SECRET), false);
    assert.equal(check.verify(request({ 'x-signature': 'zz' }), SECRET), false);
    assert.equal(check.verify(request({ 'x-signature': good.slice(0, 40) }), SECRET), false, 'a truncated signature');
    assert.equal(check.secretKey, 'signingSecret');
  });

  it('base64 (Shopify style), sha1 and a prefix (GitHub style)', () => {
    const base64 = auth.hmac({ header: 'x-shopify-hmac-sha256', secret: 's', encoding: 'base64' });
    assert.equal(base64.verify(request({ 'x-shopify-hmac-sha256': sign('sha256', SECRET, BODY, 'base64') }), SECRET), true);
    assert.equal(base64.verify(request({ 'x-shopify-hmac-sha256': sign('sha256', SECRET, BODY, 'hex') }), SECRET), false);
    const sha1 = auth.hmac({ header: 'x-sig', secret: 's', algorithm: 'sha1' });
    assert.equal(sha1.verify(request({ 'x-sig': sign('sha1', SECRET, BODY, 'hex') }), SECRET), true);
    assert.equal(sha1.verify(request({ 'x-sig': sign('sha256', SECRET, BODY, 'hex') }), SECRET), false);
    const prefixed = auth.hmac({ header: 'x-hub-signature-256', secret: 's', prefix: 'sha256=' });
    const hex = sign('sha256', SECRET, BODY, 'hex');
    assert.equal(prefixed.verify(request({ 'x-hub-signature-256': `sha256=${hex}` }), SECRET), true);
    assert.equal(prefixed.verify(request({ 'x-hub-signature-256': hex }), SECRET), false, 'the prefix is required');
  });

  it('with a timestamp: `${t}.${body}` is signed; outside the window, or a signature over the body alone, fails', () => {
    const check = auth.hmac({ header: 'x-sig', secret: 's', timestampHeader: 'x-timestamp', toleranceSeconds: 300 });
    const at = (seconds: number) => ({ 'x-timestamp': String(seconds), 'x-sig': sign('sha256', SECRET, `${seconds}.${BODY.toString()}`, 'hex') });
    const now = NOW / 1000;
    assert.equal(check.verify(request(at(now)), SECRET), true);
    assert.equal(check.verify(request(at(now - 299)), SECRET), true);
    assert.equal(check.verify(request(at(now - 301)), SECRET), false, 'replayed after the window');
    assert.equal(check.verify(request(at(now + 301)), SECRET), false, 'from the future');
    assert.equal(check.verify(request({ 'x-timestamp': String(now), 'x-sig': sign('sha256', SECRET, BODY, 'hex') }), SECRET), false);
    const moved = at(now);
    assert.equal(check.verify(request({ ...moved, 'x-timestamp': String(now - 1) }), SECRET), false, 'the timestamp is signed');
    assert.equal(check.verify(request({ 'x-sig': moved['x-sig'] }), SECRET), false, 'no timestamp');
  });

  it('bad options are definition errors', () => {
    for (const options of [{ header: '', secret: 's' }, { header: 'x', secret: '' }, { header: 'x', secret: 's', algorithm: 'md5' }, { header: 'x', secret: 's', encoding: 'utf8' }, { header: 'x', secret: 's', toleranceSeconds: 0 }]) {
      assert.throws(() => auth.hmac(options as never), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_APP_DEFINITION', JSON.stringify(options));
    }
  });
});

describe('auth.apiKey', () => {
  it('a bearer key in Authorization, or a key in another header', () => {
    const bearer = auth.apiKey({ secret: 'apiKey' });
    assert.equal(bearer.verify(request({ authorization: `Bearer ${SECRET}` }), SECRET), true);
    assert.equal(bearer.verify(request({ authorization: `bearer ${SECRET}` }), SECRET), true);
    assert.equal(bearer.verify(request({ authorization: SECRET }), SECRET), false, 'the Bearer scheme is required');
    assert.equal(bearer.verify(request({ authorization: 'Bearer another-key' }), SECRET), false);
    assert.equal(bearer.verify(request({}), SECRET), false);
    assert.equal(bearer.verify(request({ authorization: 'Bearer ' }), ''), false, 'an empty key never matches an empty secret');
    const header = auth.apiKey({ secret: 'apiKey', header: 'X-Api-Key' });
    assert.equal(header.verify(request({ 'x-api-key': SECRET }), SECRET), true);
    assert.equal(header.verify(request({ 'x-api-key': `${SECRET}x` }), SECRET), false);
  });
});

describe('route declarations', () => {
  const noop = async () => ({});
  const definitions = () => {
    const defs = new AppDefinitions();
    defs.declareSettings('app', { schema: z.object({ signingSecret: z.string(), apiKey: z.string() }), secrets: ['signingSecret', 'apiKey'] });
    return defs;
  };
  const refused = (fn: () => void, pattern: RegExp) =>
    assert.throws(fn, (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_APP_DEFINITION' && pattern.test(error.message), String(pattern));

  it('a path with :memberId must declare an auth; an auth needs :memberId and a declared settings key', () => {
    const defs = definitions();
    refused(() => defs.route('POST', '/api/v1/:memberId/orders', noop), /has :memberId but no auth/);
    refused(() => defs.route('POST', '/api/v1/orders', noop, { auth: auth.apiKey({ secret: 'apiKey' }) }), /no :memberId/);
    refused(() => defs.route('POST', '/api/v1/:memberId/orders', noop, { auth: auth.apiKey({ secret: 'nope' }) }), /does not declare/);
    const bare = new AppDefinitions();
    refused(() => bare.route('POST', '/api/v1/:memberId/orders', noop, { auth: auth.apiKey({ secret: 'apiKey' }) }), /does not declare/);
    defs.route('POST', '/api/v1/:memberId/orders', noop, { auth: auth.hmac({ header: 'x-sig', secret: 'signingSecret' }) });
    defs.route('GET', '/api/v1/:memberId/status', noop, { auth: 'none' });
    defs.route('GET', '/api/v1/status', noop);
    assert.equal(defs.routes.length, 3);
  });

  it("the framework's paths, duplicates, bad methods and bad paths are refused", () => {
    const defs = definitions();
    for (const path of ['/install', '/health', '/ready', '/oauth/start', '/webhooks/x/event', '/robots/x/y']) refused(() => defs.route('GET', path, noop), /framework/);
    defs.route('GET', '/status', noop);
    refused(() => defs.route('GET', '/status', noop), /already registered/);
    refused(() => defs.route('TRACE' as never, '/x', noop), /method/);
    refused(() => defs.route('GET', 'status', noop), /must start with \//);
    refused(() => defs.route('GET', '/a b', noop), /must start with \//);
  });

  it('settings: a z.object schema whose secrets are its keys; names reserved for the framework', () => {
    const defs = new AppDefinitions();
    refused(() => defs.declareSettings('app', { schema: z.string() as never }), /z\.object/);
    refused(() => defs.declareSettings('app', { schema: z.object({ a: z.string() }), secrets: ['b' as never] }), /secret b/);
    refused(() => defs.job('b24kit.drain', noop), /framework/);
    refused(() => defs.schedule('b24kit:x', '* * * * *', noop), /framework/);
    defs.job('b24kit.drain', noop, {}, 'b24kit.offline-events');
  });

  it("plugin names starting with b24kit. are the framework's", () => {
    refused(() => definePlugin({ name: 'b24kit.mine', setup: () => undefined }), /framework/);
    refused(() => createApp({ clientId: 'c', clientSecret: 's', store: {} as never }).register({ name: 'b24kit.mine', setup: () => undefined }, undefined), /framework/);
  });

  it('app events the framework consumes point to their hooks', () => {
    const defs = new AppDefinitions();
    refused(() => defs.on('ONAPPINSTALL', noop), /use onInstall\(hook\)/);
    refused(() => defs.on('onAppUpdate', noop), /use onUpdate\(hook\)/);
    refused(() => defs.on('ONAPPUNINSTALL', noop), /use onUninstall\(hook\)/);
  });
});
