/**
 * Where the web server listens: HOST from the environment (config/index.ts) reaches createApp's
 * server, and the `--host` of `b24kit start` (a role's `host`) wins over it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createApp } from '../../src/app/create-app.js';
import { loadConfig } from '../../src/config/index.js';
import { createServerLogger } from '../../src/server/logging.js';

function appWithHost(host: string) {
  const env = loadConfig({
    HOST: host,
    B24_CLIENT_ID: 'app.listen.test',
    B24_CLIENT_SECRET: 'listen-test-secret',
    B24_APP_URL: 'https://app.example.com',
    B24KIT_SECRET_KEY: randomBytes(32).toString('hex'),
    DATABASE_URL: ':memory:',
  });
  return createApp({ env, port: 0, logger: createServerLogger({ level: 'silent' }) });
}

async function listensOn(url: string | undefined): Promise<void> {
  assert.ok(url);
  assert.equal((await fetch(`${url}/health`)).status, 200);
}

describe('listen address', () => {
  it('createApp listens on HOST', async () => {
    const app = appWithHost('127.0.0.2');
    await app.start({ web: true, worker: false, scheduler: false });
    try {
      assert.match(app.url ?? '', /^http:\/\/127\.0\.0\.2:\d+$/);
      await listensOn(app.url);
    } finally {
      await app.stop();
    }
  });

  it('the CLI --host (a role host) wins over HOST', async () => {
    const app = appWithHost('127.0.0.2');
    await app.start({ web: true, worker: false, scheduler: false, host: '127.0.0.3' });
    try {
      assert.match(app.url ?? '', /^http:\/\/127\.0\.0\.3:\d+$/);
      await listensOn(app.url);
    } finally {
      await app.stop();
    }
  });
});
