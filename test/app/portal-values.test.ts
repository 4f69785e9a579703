/**
 * Per-portal settings (src/app/portal-values.ts): checked by the schema on read and per field on
 * write, secrets sealed at rest and bound to their row, a field's transform applied once, listing
 * without reveal never opening a secret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PortalValues, PORTAL_VALUES_TABLE } from '../../src/app/portal-values.js';
import { B24Error } from '../../src/errors.js';
import { createSecretBox, type SecretBox } from '../../src/store/crypto.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const SECRET = 'whsec_0123456789abcdef0123';

describe('PortalValues', () => {
  let store: Store;
  let values: PortalValues;
  let box: SecretBox;
  const opened: string[] = [];
  const isSettingsError = (pattern: RegExp) => (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_SETTINGS' && pattern.test(error.message);

  before(async () => {
    store = await openStore({ url: ':memory:' });
    const real = createSecretBox(randomBytes(32));
    // counts what is opened: listing without reveal must open nothing
    box = { seal: real.seal, open: (sealed, context) => (opened.push(context), real.open(sealed, context)) };
    values = new PortalValues({
      store,
      secrets: box,
      nowMs: Date.now,
      declarations: new Map([
        [
          'shop',
          {
            schema: z.object({ signingSecret: z.string().min(16), listId: z.string().default('main'), tags: z.string().transform((text) => text.split(',')).optional(), limit: z.number().int().optional() }),
            secrets: ['signingSecret'],
          },
        ],
      ]),
    });
  });
  after(() => store.close());

  it('get checks the schema: missing required keys are named, never their values', async () => {
    await assert.rejects(values.get(A, 'shop'), isSettingsError(/signingSecret/));
    await values.set(A, 'shop', { signingSecret: SECRET });
    assert.deepEqual(await values.get(A, 'shop'), { signingSecret: SECRET, listId: 'main' });
  });

  it('a secret is sealed at rest and bound to its portal and key', async () => {
    const row = await store.one<{ value: string; sealed: number }>(`SELECT value, sealed FROM ${PORTAL_VALUES_TABLE} WHERE member_id = ? AND name = 'signingSecret'`, [A]);
    assert.equal(Number(row?.sealed), 1);
    assert.ok(!row!.value.includes(SECRET) && !row!.value.includes(Buffer.from(SECRET).toString('base64')));
    // the same sealed text copied to another portal's row does not open
    await store.run(`INSERT INTO ${PORTAL_VALUES_TABLE} (member_id, namespace, name, value, sealed, updated_at_ms) VALUES (?, 'shop', 'signingSecret', ?, 1, 0)`, [B, row!.value]);
    await assert.rejects(values.get(B, 'shop'), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_DECRYPT');
  });

  it('set checks each field and names it; unknown keys and namespaces are refused', async () => {
    await assert.rejects(values.set(A, 'shop', { limit: 'ten' }), isSettingsError(/shop\.limit/));
    await assert.rejects(values.set(A, 'shop', { signingSecret: 'short' }), (error: unknown) => error instanceof B24Error && /invalid value/.test(error.message) && !/short/.test(error.message));
    await assert.rejects(values.set(A, 'shop', { nope: 1 }), isSettingsError(/no key nope/));
    await assert.rejects(values.set(A, 'mailer', { apiKey: 'x' }), isSettingsError(/no settings are declared under mailer/));
    await assert.rejects(values.unset(A, 'shop', 'nope'), isSettingsError(/no key nope/));
  });

  it("a field's transform applies once: what was set reads back through the schema", async () => {
    await values.set(A, 'shop', { tags: 'vip,eu' });
    assert.deepEqual((await values.get(A, 'shop')).tags, ['vip', 'eu']);
  });

  it('listing without reveal opens no secret; with reveal it does', async () => {
    opened.length = 0;
    const masked = await values.entries(A);
    assert.equal(masked.find((entry) => entry.key === 'signingSecret')?.value, '••••');
    assert.equal(opened.length, 0);
    const revealed = await values.entries(A, { reveal: true });
    assert.equal(revealed.find((entry) => entry.key === 'signingSecret')?.value, SECRET);
    assert.equal(opened.length, 1);
  });

  it('rotate stores a new random secret and returns it; a non-secret key cannot be rotated', async () => {
    const fresh = await values.rotate(A, 'shop', 'signingSecret');
    assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await values.get(A, 'shop')).signingSecret, fresh);
    await assert.rejects(values.rotate(A, 'shop', 'listId'), isSettingsError(/not a secret/));
  });
});
