/**
 * `createApp({ server })` reaches the web server: a smaller body limit answers 413 in the error
 * shape, for the framework's routes and the app's own alike.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from './helpers.js';

describe('createApp({ server })', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp((app) => app.route('POST', '/api/ping', async () => ({ ok: true })), { config: { server: { bodyLimitBytes: 256 } } });
  });
  after(() => t.close());

  it('bodyLimitBytes: 256 → a 300-byte body answers 413 B24_ERR_PAYLOAD_TOO_LARGE; a small one passes', async () => {
    for (const path of ['/webhooks/a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4/event', '/api/ping']) {
      const big = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(300) }) });
      assert.equal(big.status, 413, path);
      assert.equal(((await big.json()) as { error: string }).error, 'B24_ERR_PAYLOAD_TOO_LARGE');
    }
    const small = await fetch(`${t.url}/api/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.deepEqual([small.status, await small.json()], [200, { ok: true }]);
  });
});
