/**
 * The pieces of demo mode's first minute that a terminal test cannot pin down: the log format
 * choice (terminal → pretty, anything else → JSON, B24KIT_LOG_FORMAT wins), the demo emulator's
 * fixed default port and its fallback when the port is taken, and the demo admin token (generated
 * only in demo mode without a configured one; printed only then).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { demoBanner } from '../../src/app/builtins/demo.js';
import { startDemoEmulator } from '../../src/app/builtins/demo-emulator.js';
import { resolveSettings } from '../../src/app/settings.js';
import { loadConfig } from '../../src/config/index.js';
import { B24Error } from '../../src/errors.js';
import { resolveLogFormat, useColor } from '../../src/log/format.js';

function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('demo mode: the first minute', () => {
  it('logs readable lines on a terminal and JSON elsewhere, unless B24KIT_LOG_FORMAT says', () => {
    assert.equal(resolveLogFormat(undefined, { isTTY: true }), 'pretty');
    assert.equal(resolveLogFormat(undefined, { isTTY: false }), 'json');
    assert.equal(resolveLogFormat(undefined, {}), 'json');
    assert.equal(resolveLogFormat('json', { isTTY: true }), 'json');
    assert.equal(resolveLogFormat('pretty', {}), 'pretty');
    assert.equal(loadConfig({ B24KIT_LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
    assert.equal(loadConfig({}).logFormat, undefined);
    assert.throws(
      () => loadConfig({ B24KIT_LOG_FORMAT: 'yaml' }),
      (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_CONFIG' && /B24KIT_LOG_FORMAT must be one of json, pretty/.test(error.message),
    );
    assert.equal(useColor({ isTTY: true }, {}), true);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: false }, {}), false);
  });

  it('puts the demo emulator on port 3999 by default, apart from the app (3000), overridable', () => {
    const config = loadConfig({});
    assert.deepEqual([config.demoEmulatorPort, config.port], [3999, 3000]);
    assert.equal(loadConfig({ B24KIT_DEMO_EMULATOR_PORT: '0' }).demoEmulatorPort, 0);
    assert.throws(() => loadConfig({ B24KIT_DEMO_EMULATOR_PORT: '70000' }), /B24KIT_DEMO_EMULATOR_PORT must be a port number/);
  });

  it('takes a free port, and says so, when the demo emulator port is taken', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const taken = (squatter.address() as { port: number }).port;
    const { logger, lines } = recordingLogger();
    const emulator = await startDemoEmulator({ port: taken, logger });
    try {
      const port = Number(new URL(emulator.url).port);
      assert.notEqual(port, taken);
      // the emulator really answers there
      assert.equal((await fetch(`${emulator.url}/_emulator/portals`)).status, 200);
      const warning = lines.find((line) => line.level === 40);
      assert.ok(warning, 'a warning says what happened');
      assert.equal(warning.msg, `port ${taken} is in use, so the demo emulator listens at ${emulator.url} instead (set B24KIT_DEMO_EMULATOR_PORT to choose a port)`);
    } finally {
      await emulator.close();
      squatter.close();
    }
  });

  it('generates an admin token for a demo run only, and never shows a configured one', () => {
    const demo = resolveSettings({ env: loadConfig({}) });
    assert.equal(demo.adminTokenGenerated, true);
    assert.match(demo.adminToken ?? '', /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(resolveSettings({ env: loadConfig({}) }).adminToken, demo.adminToken, 'a new one each run');
    const configured = resolveSettings({ env: loadConfig({ B24KIT_ADMIN_TOKEN: 'a-configured-admin-token' }) });
    assert.deepEqual([configured.adminToken, configured.adminTokenGenerated], ['a-configured-admin-token', false]);
    const real = resolveSettings({
      env: loadConfig({ B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 's', B24_APP_URL: 'https://app.example.com', B24KIT_SECRET_KEY: 'a'.repeat(64) }),
    });
    assert.deepEqual([real.adminToken, real.adminTokenGenerated], [undefined, false], 'no admin unless configured');

    const base = { emulatorUrl: 'http://127.0.0.1:3999', appUrl: 'http://127.0.0.1:3000', domain: 'demo.bitrix24.test', fireContactAdd: true, intervalMs: 3000 };
    assert.match(demoBanner({ ...base, adminToken: 'demo-token-1234567890' }), /^ {2}dashboard {2}http:\/\/127\.0\.0\.1:3000\/admin#token=demo-token-1234567890 /m);
    const withoutToken = demoBanner(base);
    assert.match(withoutToken, /^ {2}dashboard {2}http:\/\/127\.0\.0\.1:3000\/admin {2}\(with your B24KIT_ADMIN_TOKEN\)$/m);
    assert.doesNotMatch(withoutToken, /token=/);
    assert.match(demoBanner({ ...base, fireContactAdd: false }), /the app handles none of the demo's events/);
    assert.match(withoutToken, /\nCtrl-C to stop\.$/);
  });
});
