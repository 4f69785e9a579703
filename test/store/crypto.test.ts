import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { B24Error } from '../../src/errors.js';
import { createSecretBox, DEMO_KEY_FILE, parseSecretKey, resolveSecretKey, safeEqual } from '../../src/store/crypto.js';

const isCode = (code: string) => (error: unknown) => error instanceof B24Error && error.code === code;

describe('secrets at rest', () => {
  it('parses a 32-byte key as hex, base64 or base64url, and nothing else', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseSecretKey(key.toString('hex')), key);
    assert.deepEqual(parseSecretKey(key.toString('base64')), key);
    assert.deepEqual(parseSecretKey(` ${key.toString('base64url')}\n`), key);
    for (const bad of ['', 'short', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), randomBytes(33).toString('base64')]) {
      assert.throws(() => parseSecretKey(bad), (error: unknown) => isCode('B24_ERR_SECRET_KEY')(error) && !(bad && (error as Error).message.includes(bad)));
    }
  });

  it('round-trips with a random IV per value and binds each value to its context', () => {
    const box = createSecretBox(randomBytes(32));
    const a = box.seal('token-value', 'portals:m1:access_token');
    const b = box.seal('token-value', 'portals:m1:access_token');
    assert.notEqual(a, b);
    assert.ok(!a.includes('token-value'));
    assert.equal(box.open(a, 'portals:m1:access_token'), 'token-value');
    assert.throws(() => box.open(a, 'portals:m2:access_token'), isCode('B24_ERR_DECRYPT'));
    assert.equal(box.open(box.seal('', 'ctx'), 'ctx'), '');
  });

  it('fails with B24_ERR_DECRYPT on a wrong key or tampering, without plaintext or key in the message', () => {
    const key = randomBytes(32);
    const sealed = createSecretBox(key).seal('the-plaintext-secret', 'ctx');
    const wrong = randomBytes(32);
    assert.throws(() => createSecretBox(wrong).open(sealed, 'ctx'), (error: unknown) => {
      assert.ok(isCode('B24_ERR_DECRYPT')(error));
      const text = `${(error as Error).message} ${JSON.stringify(error)}`;
      for (const secret of ['the-plaintext-secret', key.toString('hex'), key.toString('base64'), wrong.toString('base64')]) assert.ok(!text.includes(secret));
      return true;
    });
    // the second-to-last character changed (it held 'A' in 1 of 64 runs, which the old check of the last one left as it was)
    const tampered = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.slice(-1);
    assert.notEqual(tampered, sealed);
    assert.throws(() => createSecretBox(key).open(tampered, 'ctx'), isCode('B24_ERR_DECRYPT'));
    assert.throws(() => createSecretBox(key).open('plaintext', 'ctx'), isCode('B24_ERR_DECRYPT'));
    assert.throws(() => createSecretBox(randomBytes(16)), isCode('B24_ERR_SECRET_KEY'));
  });

  it('generates a demo key into the data dir with mode 0600, warns, and reuses it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-key-'));
    try {
      const warnings: unknown[] = [];
      const logger = { debug() {}, info() {}, error() {}, warn: (obj: object) => warnings.push(obj) };
      const first = resolveSecretKey({ key: undefined, dataDir: path.join(dir, 'data'), logger });
      const file = path.join(dir, 'data', DEMO_KEY_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(first.length, 32);
      assert.equal(warnings.length, 1);
      assert.ok(!JSON.stringify(warnings).includes(first.toString('base64')), 'the warning does not print the key');
      assert.deepEqual(resolveSecretKey({ key: undefined, dataDir: path.join(dir, 'data') }), first);
      assert.deepEqual(parseSecretKey(readFileSync(file, 'utf8')), first);
      const explicit = randomBytes(32);
      assert.deepEqual(resolveSecretKey({ key: explicit, dataDir: path.join(dir, 'other') }), explicit);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compares application tokens exactly, whatever their lengths', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('', 'x'), false);
  });
});
