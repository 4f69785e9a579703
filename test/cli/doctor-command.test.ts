/**
 * `b24kit doctor`, run as a separate process from source (src/cli/run.ts) against a deployment the
 * test builds: an app in this process (startTestApp: its web server, the emulator as the OAuth
 * server and the portal) over a SQLite file the CLI opens too, with the app's events declared by
 * the same fixture module the CLI loads with `--app`. What doctor reports is checked against the
 * emulator's own view of the portal's bindings.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventHandlerUrl } from '../../src/events/bindings.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { emulatorControl, startTestApp, type TestApp } from '../../src/testing/index.js';
import { declareDoctorApp } from './fixtures/doctor-app.js';
import { runCli, type CliRun as Run } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const APP = ['--app', 'test/cli/fixtures/doctor-app.ts'];

interface DoctorJson {
  ok: boolean;
  checks: Array<{ check: string; portal?: string; status: 'ok' | 'fail' | 'skip'; message: string; fix?: string }>;
}

describe('b24kit doctor', () => {
  let dir: string;
  let store: Store;
  let test: TestApp;
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], overrides: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(args, { env: { ...env, ...overrides } });

  /** The emulator's own list of the portal's online bindings, as event names. */
  async function portalEvents(): Promise<string[]> {
    const bindings = await emulatorControl<Array<{ event: string; offline: number | boolean }>>(test.emulator, `/portals/${test.portal.memberId}/events/bindings`, undefined, 'GET');
    return bindings.map((binding) => binding.event).sort();
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'b24kit-doctor-'));
    const databaseUrl = path.join(dir, 'b24kit.sqlite');
    store = await openStore({ url: databaseUrl });
    const key = randomBytes(32);
    test = await startTestApp(declareDoctorApp, { config: { store, secretKey: key } });
    const { clientId, clientSecret } = test.emulator.emulator.options;
    env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      B24KIT_SECRET_KEY: key.toString('hex'),
      B24_CLIENT_ID: clientId,
      B24_CLIENT_SECRET: clientSecret,
      B24_APP_URL: test.url,
      B24_OAUTH_URL: test.emulator.url,
      B24KIT_LOG_FORMAT: 'json',
    };
    for (const name of ['LOG_LEVEL', 'PGOPTIONS', 'B24KIT_ADMIN_TOKEN', 'HOST', 'PORT']) delete env[name];
  });
  after(async () => {
    await test?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every check of a healthy deployment, one ✔ line each, exit 0', async () => {
    assert.deepEqual(await portalEvents(), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMCONTACTUPDATE', 'ONCRMDEALADD']);
    const run = await cli(['doctor', ...APP]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => line.split(':')[0]),
      ['✔ config', '✔ database', '✔ oauth', '✔ public-url', '✔ bindings'],
    );
    assert.match(lines[1]!, /migrations current \(version \d+\)/);
    assert.match(lines[3]!, new RegExp(`HEAD ${test.url}/health answered 200`));
    assert.equal(lines[4], `✔ bindings: ${test.portal.domain}: 4 event binding(s) as declared`);

    const json = await cli(['doctor', ...APP, '--json']);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout) as DoctorJson; // one JSON document, nothing else
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => [c.check, c.status]), [['config', 'ok'], ['database', 'ok'], ['oauth', 'ok'], ['public-url', 'ok'], ['bindings', 'ok']]);
  });

  it("names a portal's missing and stale bindings, with the fix, exit 1", async () => {
    const client = test.app.client(test.portal.memberId);
    const handler = eventHandlerUrl(test.url, test.portal.memberId);
    await client.call('event.unbind', { event: 'ONCRMDEALADD', handler });
    await client.call('event.bind', { event: 'ONCRMLEADADD', handler });
    assert.deepEqual(await portalEvents(), ['ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONCRMCONTACTUPDATE', 'ONCRMLEADADD']);

    const run = await cli(['doctor', ...APP]);
    assert.equal(run.code, 1);
    const line = run.stdout.split('\n').find((text) => text.includes('bindings'));
    assert.equal(
      line,
      `✖ bindings: ${test.portal.domain}: missing ONCRMDEALADD; stale ONCRMLEADADD — fix: bindings are made at install and at every app update: update or reinstall the app in ${test.portal.domain}, and check that B24_APP_URL is the URL it was installed with`,
    );
    const report = JSON.parse((await cli(['doctor', ...APP, '--json'])).stdout) as DoctorJson;
    assert.equal(report.ok, false);
    assert.deepEqual(report.checks.filter((c) => c.status !== 'ok').map((c) => [c.check, c.portal]), [['bindings', test.portal.domain]]);

    // the fix as doctor states it: an app update re-binds (ONAPPUPDATE reconciles), and doctor agrees
    await client.call('event.bind', { event: 'ONCRMDEALADD', handler });
    await client.call('event.unbind', { event: 'ONCRMLEADADD', handler });
    assert.equal((await cli(['doctor', ...APP])).code, 0);
  });

  it('reports an unreachable OAuth server and public URL, each with its fix', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const run = await cli(['doctor', ...APP], { B24_OAUTH_URL: down, B24_APP_URL: down });
    assert.equal(run.code, 1);
    const lines = run.stdout.split('\n');
    assert.ok(lines.includes(`✖ oauth: ${down}/oauth/token/ unreachable: ECONNREFUSED — fix: check this machine's outbound HTTPS to ${new URL(down).host} (DNS, proxy, firewall) and B24_OAUTH_URL`), run.stdout);
    assert.ok(lines.some((line) => line.startsWith(`✖ public-url: HEAD ${down}/health failed: ECONNREFUSED — fix: run \`b24kit start\` or \`b24kit web\``)), run.stdout);
  });

  it('reports migrations not applied until `b24kit migrate` runs, and never creates a database', async () => {
    const missing = path.join(dir, 'missing.sqlite');
    const none = await cli(['doctor', ...APP, '--json'], { DATABASE_URL: missing });
    assert.equal(none.code, 1);
    const noneReport = JSON.parse(none.stdout) as DoctorJson;
    assert.deepEqual(noneReport.checks.find((c) => c.check === 'database'), {
      check: 'database',
      status: 'fail',
      message: `no database at ${missing}`,
      fix: 'run `b24kit migrate` (or start the app) to create it, or point DATABASE_URL at the existing one',
    });
    assert.deepEqual(noneReport.checks.find((c) => c.check === 'bindings'), { check: 'bindings', status: 'skip', message: 'needs a reachable database with migrations current' });
    const created = await openStore({ url: missing, migrate: false }); // an empty file, as before a first migrate
    await created.close();

    const empty = missing;
    const before = await cli(['doctor', ...APP], { DATABASE_URL: empty });
    assert.equal(before.code, 1);
    assert.match(before.stdout, /^✖ database: sqlite:.*missing\.sqlite: \d+ migration\(s\) not applied \(0001_\w+, .*\) — fix: run `b24kit migrate`$/m);
    assert.equal((await cli(['migrate'], { DATABASE_URL: empty })).code, 0);
    const afterMigrate = await cli(['doctor', ...APP], { DATABASE_URL: empty });
    assert.match(afterMigrate.stdout, /^✔ database: .*migrations current/m);
    assert.match(afterMigrate.stdout, /^– bindings: skipped \(no installed portals\)$/m);
    assert.equal(afterMigrate.code, 0, afterMigrate.stdout);
  });

  it('reports a bad configuration first and skips what depends on it', async () => {
    const run = await cli(['doctor', '--json'], { B24_CLIENT_SECRET: '' });
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout) as DoctorJson;
    assert.equal(report.checks[0]!.status, 'fail');
    assert.equal(report.checks[0]!.message, 'B24_ERR_CONFIG: Invalid configuration: B24_CLIENT_SECRET is required when B24_CLIENT_ID is set');
    assert.equal(report.checks[0]!.fix, 'set the variables named above (README.md, Configuration; docs/deploy.md)');
    assert.deepEqual(report.checks.slice(1).map((c) => c.status), ['skip', 'skip', 'skip', 'skip']);
    assert.ok(!run.stdout.includes(env.B24KIT_SECRET_KEY!), 'the secret key is never echoed');
  });

  it('every listing command prints one JSON document with --json, nothing else on stdout', async () => {
    for (const args of [['portals', 'list'], ['jobs', 'list'], ['settings', 'list', test.portal.memberId, '--app', 'test/cli/fixtures/settings-app.ts'], ['doctor', ...APP]]) {
      const run = await cli([...args, '--json']);
      assert.doesNotThrow(() => JSON.parse(run.stdout), `${args.join(' ')} --json: ${run.stdout}`);
    }
  });
});
