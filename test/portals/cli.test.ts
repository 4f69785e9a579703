/**
 * `b24kit migrate`, `portals list|show|remove` and `call` over a store the test fills through the
 * real install path; the CLI runs as a separate process from source (src/cli/run.ts). On SQLite
 * the CLI opens the app's temp file; on PostgreSQL (DATABASE_URL=postgres://…) the app's schema of
 * this run, which the CLI reaches through libpq's PGOPTIONS (search_path), as a deployment with its
 * own schema would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { onPostgres } from '../contract/helpers/store.js';
import { emulatorInstall, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe(`b24kit CLI: migrate, portals, call (${onPostgres ? 'PostgreSQL' : 'SQLite'})`, () => {
  let app: AppUnderTest;
  let install: EmulatorInstall;
  let env: NodeJS.ProcessEnv;

  async function cli(...args: string[]): Promise<Run> {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { cwd: repoRoot, env, timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number | string; stdout?: string; stderr?: string };
      if (typeof failed.code !== 'number') throw error;
      return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  before(async () => {
    app = await startAppUnderTest();
    install = await emulatorInstall(app.emu, app.url);
    env = { ...process.env, DATABASE_URL: app.db.storeOptions.url, B24KIT_SECRET_KEY: app.secretKeyHex, LOG_LEVEL: 'warn' };
    for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL', 'PGOPTIONS']) delete env[name];
    // PostgreSQL: the app's schema of this run (node-postgres reads PGOPTIONS like libpq)
    const { schema } = app.db.storeOptions;
    if (schema !== undefined) env.PGOPTIONS = `-c search_path=${schema}`;
  });
  after(async () => {
    await app?.close();
  });

  it('every command has --help', async () => {
    const top = await cli('--help');
    for (const command of ['start', 'migrate', 'portals', 'call', 'emulator']) assert.match(top.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), command);
    for (const args of [['start'], ['migrate'], ['portals'], ['portals', 'list'], ['portals', 'show'], ['portals', 'remove'], ['call']]) {
      const { code, stdout } = await cli(...args, '--help');
      assert.equal(code, 0, args.join(' '));
      assert.match(stdout, new RegExp(`^Usage: b24kit ${args.join(' ')}`, 'm'));
    }
  });

  it('migrate: the schema is up to date', async () => {
    const { code, stdout } = await cli('migrate');
    assert.equal(code, 0);
    assert.match(stdout, /schema is up to date \(version \d+\)/);
  });

  it('portals list / show print the portal and never a token', async () => {
    const list = await cli('portals', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^MEMBER_ID\s+DOMAIN\s+STATE/m);
    assert.match(list.stdout, new RegExp(`^${install.memberId}\\s+${install.domain.replace(/\./g, '\\.')}\\s+active`, 'm'));
    const show = await cli('portals', 'show', install.memberId, '--json');
    assert.equal(show.code, 0);
    assert.equal((JSON.parse(show.stdout) as { clientEndpoint: string }).clientEndpoint, install.client_endpoint);
    const none = await cli('portals', 'list', '--state', 'needs_reauth');
    assert.match(none.stdout, /no portals in state needs_reauth/);
    for (const output of [list.stdout, show.stdout]) {
      for (const secret of [install.access_token, install.refresh_token, install.application_token]) assert.ok(!output.includes(secret));
      assert.ok(!output.includes('v1.'));
    }
    const unknown = await cli('portals', 'show', 'nope');
    assert.equal(unknown.code, 1);
    const badState = await cli('portals', 'list', '--state', 'sleeping');
    assert.notEqual(badState.code, 0);
  });

  it('call: one REST call with the stored tokens; bad params and unknown portals exit 1 with a code', async () => {
    const ok = await cli('call', install.memberId, 'user.current');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(String((JSON.parse(ok.stdout) as { result: { ID: string } }).result.ID), '1');
    const withParams = await cli('call', install.memberId, 'crm.deal.add', '{"fields":{"TITLE":"From the CLI"}}');
    assert.equal(withParams.code, 0, withParams.stderr);
    const badJson = await cli('call', install.memberId, 'user.current', '{nope');
    assert.deepEqual([badJson.code, /B24_ERR_INVALID_ARGUMENT/.test(badJson.stderr)], [1, true]);
    const unknown = await cli('call', 'f'.repeat(32), 'user.current');
    assert.deepEqual([unknown.code, /B24_ERR_PORTAL_NOT_FOUND/.test(unknown.stderr)], [1, true]);
  });

  it('portals remove deletes the portal', async () => {
    const removed = await cli('portals', 'remove', install.memberId);
    assert.equal(removed.code, 0);
    assert.equal(await app.runtime.portals.info(install.memberId), undefined);
    const again = await cli('portals', 'remove', install.memberId);
    assert.equal(again.code, 1);
  });
});
