/**
 * Job types, routes and purges are wired when the app opens. Declaring one afterwards is refused
 * with B24_ERR_APP_DEFINITION, whether through the app or through a plugin's kit that the plugin
 * kept — never silently ignored (a job type nobody could run, a route nobody could reach).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createApp } from '../../src/app/create-app.js';
import type { AppKit } from '../../src/app/kit.js';
import { definePlugin } from '../../src/app/plugin.js';
import { loadConfig } from '../../src/config/index.js';
import { createServerLogger } from '../../src/server/logging.js';

function newApp() {
  const env = loadConfig({
    B24_CLIENT_ID: 'app.declare.test',
    B24_CLIENT_SECRET: 'declare-test-secret',
    B24_APP_URL: 'https://app.example.com',
    B24KIT_SECRET_KEY: randomBytes(32).toString('hex'),
    DATABASE_URL: ':memory:',
  });
  return createApp({ env, port: 0, logger: createServerLogger({ level: 'silent' }) });
}

describe('declarations after the app opened', () => {
  it('a plugin that kept its kit cannot add a job, a route or a purge after init(); before, it can', async () => {
    let kept: AppKit | undefined;
    const app = newApp().register(
      definePlugin({
        name: 'late',
        setup(kit) {
          kept = kit;
          kit.job('early', async () => undefined);
        },
      }),
    );
    await app.init();
    try {
      const refused = (fn: () => unknown, verb: string) =>
        assert.throws(fn, { code: 'B24_ERR_APP_DEFINITION', message: `plugin late: kit.${verb}() must be called before init()/start()` });
      refused(() => kept!.job('late-job', async () => undefined), 'job');
      refused(() => kept!.route('GET', '/api/late', () => ({})), 'route');
      refused(() => kept!.purgeOnUninstall('late_table', async () => undefined), 'purgeOnUninstall');
      // the app's own verbs go through the same guard
      assert.throws(() => app.job('late-app-job', async () => undefined), { code: 'B24_ERR_APP_DEFINITION', message: 'app.job() must be called before init()/start()' });
      assert.throws(() => app.route('GET', '/api/late-app', () => ({})), { code: 'B24_ERR_APP_DEFINITION', message: 'app.route() must be called before init()/start()' });
      // what was declared in setup is there: enqueue knows 'early', not the refused one
      await assert.rejects(app.enqueue('a'.repeat(32), 'late-job' as never, {}), { code: 'B24_ERR_APP_DEFINITION' });
      await assert.rejects(app.enqueue('a'.repeat(32), 'early' as never, {}), { code: 'B24_ERR_PORTAL_NOT_FOUND' });
    } finally {
      await app.stop();
    }
  });
});
