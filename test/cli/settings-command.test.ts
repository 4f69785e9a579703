/**
 * `b24kit settings list|get|set|unset|rotate` run as a separate process from source
 * (src/cli/run.ts), over a SQLite file holding one installed portal, with an app module that
 * declares app settings and two plugins whose names nest (`shop`, `shop.eu`), secrets included.
 * Every secret the test stores is checked against every stdout that must not show it and every
 * stderr (the CLI's logs run at debug level here).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { appInternals } from '../../src/app/internals.js';
import { PortalValues } from '../../src/app/portal-values.js';
import { declaredSettings, resolveSetting, settingValue } from '../../src/cli/settings-command.js';
import { createSecretBox } from '../../src/store/crypto.js';
import { openStore } from '../../src/store/index.js';
import { PortalRegistry } from '../../src/store/portals.js';
import fixtureApp from './fixtures/settings-app.js';
import { runCli, type CliRun as Run } from '../helpers/cli.js';

const APP = ['--app', 'test/cli/fixtures/settings-app.ts'];
const MEMBER = 'c'.repeat(32);

describe('b24kit settings', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let key: Buffer;
  /** Every run, for the final look at stderr. */
  const runs: Run[] = [];
  /** Every secret value stored during the test. */
  const secrets = new Set<string>();

  async function cli(args: string[], input?: string): Promise<Run> {
    const run = await runCli(args, { env, ...(input !== undefined ? { input } : {}) });
    runs.push(run);
    return run;
  }

  const settings = (...args: string[]): Promise<Run> => cli(['settings', ...args, ...APP]);

  function assertNoSecret(output: string, where: string): void {
    for (const secret of secrets) assert.ok(!output.includes(secret), `${where} shows a secret`);
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'b24kit-settings-cli-'));
    key = randomBytes(32);
    const url = path.join(dir, 'b24kit.sqlite');
    env = { ...process.env, DATABASE_URL: url, B24KIT_SECRET_KEY: key.toString('hex'), B24KIT_DATA_DIR: dir, LOG_LEVEL: 'debug' };
    for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL']) delete env[name];
    const store = await openStore({ url });
    try {
      await new PortalRegistry({ store, secrets: createSecretBox(key) }).upsertInstall({
        memberId: MEMBER,
        domain: 'settings.bitrix24.test',
        clientEndpoint: 'https://settings.bitrix24.test/rest/',
        serverEndpoint: 'https://oauth.bitrix24.test/rest/',
        accessToken: 'access-token-never-printed',
        refreshToken: 'refresh-token-never-printed',
        applicationToken: 'application-token-never-printed',
        expiresAtMs: Date.now() + 3_600_000,
        scope: ['crm'],
        status: 'L',
      });
    } finally {
      await store.close();
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a key names the longest declared namespace it starts with; no namespace: the app', () => {
    const declared = declaredSettings(appInternals(fixtureApp).definitions.settings);
    const names = (text: string) => {
      const { namespace, key } = resolveSetting(declared, text);
      return `${namespace}|${key}`;
    };
    assert.equal(names('limit'), 'app|limit');
    assert.equal(names('app.limit'), 'app|limit');
    assert.equal(names('shop.mode'), 'shop|mode');
    assert.equal(names('shop.eu.signingSecret'), 'shop.eu|signingSecret');
    assert.throws(() => names('shop.signingSecret'), /B24_ERR_SETTINGS|no setting shop\.signingSecret/);
    assert.throws(() => names('shop.eu'), /no setting shop\.eu;/);
  });

  it('a string field takes the text as it is; any other field takes JSON when it parses', () => {
    assert.equal(settingValue(z.string(), '123'), '123');
    assert.equal(settingValue(z.string(), '"quoted"'), '"quoted"');
    assert.equal(settingValue(z.string().optional(), 'true'), 'true');
    assert.equal(settingValue(z.url(), 'https://example.com'), 'https://example.com');
    assert.equal(settingValue(z.enum(['1', '2']), '1'), '1');
    assert.equal(settingValue(z.number(), '123'), 123);
    assert.equal(settingValue(z.number().int().default(3), '7'), 7);
    assert.equal(settingValue(z.boolean(), 'false'), false);
    assert.deepEqual(settingValue(z.array(z.string()), '["a","b"]'), ['a', 'b']);
    assert.equal(settingValue(z.union([z.string(), z.number()]), '123'), 123);
    assert.equal(settingValue(z.union([z.string(), z.number()]), 'abc'), 'abc');
    assert.equal(settingValue(z.union([z.string(), z.number()]), 'true'), 'true');
    // not JSON: stays text, and the schema then refuses it
    assert.equal(settingValue(z.number(), 'abc'), 'abc');
  });

  it('b24kit --help lists settings; its --help lists the subcommands; set --help states the value rule and `-`', async () => {
    const [main, top, set] = await Promise.all([cli(['--help']), cli(['settings', '--help']), cli(['settings', 'set', '--help'])]);
    assert.match(main!.stdout, /^\s+settings\b/m);
    assert.equal(top!.code, 0);
    for (const sub of ['list', 'get', 'set', 'unset', 'rotate']) assert.match(top!.stdout, new RegExp(`^\\s+${sub}\\b`, 'm'), sub);
    assert.match(set!.stdout, /^Usage: b24kit settings set \[options\] <memberId> <key> <value>/m);
    assert.match(set!.stdout, /123 stores "123"/);
    assert.match(set!.stdout, /stdin/);
    assert.match(set!.stdout, /shell history/);
  });

  it('list shows every declared key before anything is set', async () => {
    const list = await settings('list', MEMBER);
    assert.equal(list.code, 0, list.stderr);
    for (const id of ['app.webhookUrl', 'app.limit', 'app.apiKey', 'shop.mode', 'shop.eu.signingSecret', 'shop.eu.retries']) assert.match(list.stdout, new RegExp(`^${id.replace(/\./g, '\\.')}\\s`, 'm'), id);
    assert.match(list.stdout, /^app\.limit\s+\(not set: required\)$/m);
    assert.match(list.stdout, /^shop\.mode\s+\(not set: default "test"\)$/m);
  });

  it('set and get: numbers, strings that look like numbers, nested plugin names', async () => {
    for (const [k, v] of [['limit', '5'], ['code', '123'], ['threshold', '123'], ['webhookUrl', 'https://example.com/hook'], ['shop.mode', 'live'], ['shop.eu.retries', '3']] as const) {
      const set = await settings('set', MEMBER, k, v);
      assert.equal(set.code, 0, `${k}: ${set.stderr}`);
    }
    const [list, plain, json] = await Promise.all([settings('list', MEMBER, '--json'), settings('get', MEMBER, 'webhookUrl'), settings('get', MEMBER, 'code', '--json')]);
    const values = Object.fromEntries((JSON.parse(list!.stdout) as Array<{ key: string; value: unknown }>).map((e) => [e.key, e.value]));
    assert.equal(values['app.limit'], 5);
    assert.equal(values['app.code'], '123'); // z.string(): the text as it is
    assert.equal(values['app.threshold'], 123); // string | number: JSON first
    assert.equal(values['app.webhookUrl'], 'https://example.com/hook');
    assert.equal(values['shop.mode'], 'live');
    assert.equal(values['shop.eu.retries'], 3);
    assert.equal(plain!.stdout, 'https://example.com/hook\n'); // a string prints as it is
    assert.deepEqual(JSON.parse(json!.stdout), { key: 'app.code', secret: false, set: true, value: '123' });
  });

  it('a secret from stdin is sealed, shown as •••• by list and get, in clear only with --reveal', async () => {
    const signing = `signing-${randomBytes(12).toString('hex')}`;
    secrets.add(signing);
    // nothing on stdin: a failure, not an empty secret
    const empty = await settings('set', MEMBER, 'shop.eu.signingSecret', '-');
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^b24kit: B24_ERR_SETTINGS: no value on stdin$/m);
    const piped = await cli(['settings', 'set', MEMBER, 'shop.eu.signingSecret', '-', ...APP], `${signing}\n`);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^set shop\.eu\.signingSecret \(secret\)/m);
    assertNoSecret(piped.stdout, 'set');
    assert.doesNotMatch(piped.stderr, /tip:/); // from stdin: no shell-history tip

    const [list, get, getJson, reveal, listReveal] = await Promise.all([
      settings('list', MEMBER),
      settings('get', MEMBER, 'shop.eu.signingSecret'),
      settings('get', MEMBER, 'shop.eu.signingSecret', '--json'),
      settings('get', MEMBER, 'shop.eu.signingSecret', '--reveal'),
      settings('list', MEMBER, '--reveal', '--json'),
    ]);
    assert.match(list!.stdout, /^shop\.eu\.signingSecret\s+yes\s+••••$/m);
    assert.equal(get!.stdout, '••••\n');
    assert.equal((JSON.parse(getJson!.stdout) as { value: string }).value, '••••');
    for (const run of [list!, get!, getJson!]) assertNoSecret(run.stdout, run.args.join(' '));
    assert.equal(reveal!.stdout, `${signing}\n`);
    const revealed = JSON.parse(listReveal!.stdout) as Array<{ key: string; value: unknown }>;
    assert.equal(revealed.find((e) => e.key === 'shop.eu.signingSecret')?.value, signing);

    // the app reads what the CLI stored (same seal, same binding to portal, namespace and key)
    const store = await openStore({ url: env.DATABASE_URL! });
    try {
      const values = new PortalValues({ store, secrets: createSecretBox(key), nowMs: Date.now, declarations: appInternals(fixtureApp).definitions.settings });
      assert.deepEqual(await values.get(MEMBER, 'shop.eu'), { signingSecret: signing, retries: 3 });
      const row = await store.all<{ value: string; sealed: number }>(`SELECT value, sealed FROM b24kit_portal_values WHERE member_id = ? AND name = 'signingSecret'`, [MEMBER]);
      assert.equal(Number(row[0]!.sealed), 1);
      assert.ok(!row[0]!.value.includes(signing));
    } finally {
      await store.close();
    }
  });

  it('a secret given on the command line is stored, with a tip to use stdin', async () => {
    const apiKey = `key-${randomBytes(8).toString('hex')}`;
    secrets.add(apiKey);
    const set = await settings('set', MEMBER, 'apiKey', apiKey);
    assert.equal(set.code, 0, set.stderr);
    assertNoSecret(set.stdout, 'set');
    assert.match(set.stderr, /tip: give a secret as `-`/);
    const get = await settings('get', MEMBER, 'app.apiKey', '--reveal');
    assert.equal(get.stdout, `${apiKey}\n`);
  });

  it('rotate prints a new 32-byte base64url secret once; get --reveal returns it', async () => {
    const rotate = await settings('rotate', MEMBER, 'shop.eu.signingSecret');
    assert.equal(rotate.code, 0, rotate.stderr);
    const lines = rotate.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    const secret = lines[0]!;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret, 'base64url').length, 32);
    assert.match(rotate.stderr, /new secret for shop\.eu\.signingSecret .*printed above, shown only now/);
    assert.ok(!rotate.stderr.includes(secret));
    secrets.add(secret);

    const reveal = await settings('get', MEMBER, 'shop.eu.signingSecret', '--reveal');
    assert.equal(reveal.stdout, `${secret}\n`);
    const again = await settings('rotate', MEMBER, 'shop.eu.signingSecret');
    assert.notEqual(again.stdout.trim(), secret);
    secrets.add(again.stdout.trim());

    const notSecret = await settings('rotate', MEMBER, 'limit');
    assert.equal(notSecret.code, 1);
    assert.match(notSecret.stderr, /^b24kit: B24_ERR_SETTINGS: settings app\.limit is not a secret/m);
  });

  it('list and get without --reveal never show a secret', async () => {
    const [list, json, get] = await Promise.all([settings('list', MEMBER), settings('list', MEMBER, '--json'), settings('get', MEMBER, 'apiKey')]);
    for (const run of [list!, json!, get!]) {
      assert.equal(run.code, 0, run.stderr);
      assertNoSecret(run.stdout, run.args.join(' '));
    }
    assert.match(list!.stdout, /^app\.apiKey\s+yes\s+••••$/m);
  });

  it('a value that does not fit the schema: B24_ERR_SETTINGS, exit code 1, nothing stored, a secret not echoed', async () => {
    const wrongType = await settings('set', MEMBER, 'limit', 'abc');
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /^b24kit: B24_ERR_SETTINGS: settings app\.limit: .*expected number/m);
    assert.equal(wrongType.stdout, '');
    const negative = await settings('set', MEMBER, 'limit', '-4');
    assert.equal(negative.code, 1);
    assert.match(negative.stderr, /B24_ERR_SETTINGS/);
    const tooShort = 'Zq9xK2';
    const secret = await cli(['settings', 'set', MEMBER, 'apiKey', '-', ...APP], tooShort);
    assert.equal(secret.code, 1);
    assert.match(secret.stderr, /^b24kit: B24_ERR_SETTINGS: settings app\.apiKey: invalid value$/m);
    assert.ok(!secret.stderr.includes(tooShort) && !secret.stdout.includes(tooShort));
    const limit = await settings('get', MEMBER, 'limit');
    assert.equal(limit.stdout, '5\n');
  });

  it('unset removes a key; get of an unset key exits 1 and says so', async () => {
    const unset = await settings('unset', MEMBER, 'code');
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stdout, /^unset app\.code/m);
    const again = await settings('unset', MEMBER, 'code');
    assert.match(again.stdout, /app\.code was not set/);
    const get = await settings('get', MEMBER, 'code');
    assert.equal(get.code, 1);
    assert.equal(get.stdout, '');
    assert.match(get.stderr, /app\.code is not set for portal/);
  });

  it('an unknown key lists the declared ones; an unknown portal is B24_ERR_PORTAL_NOT_FOUND; an app without settings says so', async () => {
    // without --app: in demo mode the built-in app (the sample app and the integrations) has
    // settings; serving real portals (B24_CLIENT_ID set) it is install and OAuth only, with none
    const realPortals = { ...env, B24_CLIENT_ID: 'local.settings-cli', B24_CLIENT_SECRET: 'client-secret-never-printed', B24_APP_URL: 'https://app.example.com' };
    const [unknownKey, unknownPortal, noSettings, noAppDemo, noApp] = await Promise.all([
      settings('get', MEMBER, 'shop.nope'),
      settings('list', 'f'.repeat(32)),
      cli(['settings', 'list', MEMBER, '--app', 'test/cli/fixtures/no-settings-app.ts']),
      cli(['settings', 'list', MEMBER]),
      runCli(['settings', 'list', MEMBER], { env: realPortals }).then((run) => (runs.push(run), run)),
    ]);
    assert.equal(noAppDemo!.code, 0, noAppDemo!.stderr);
    assert.match(noAppDemo!.stdout, /^orders\.signingSecret\b/m);
    assert.match(noAppDemo!.stdout, /^schedules\.signingSecret\b/m);
    assert.equal(unknownKey!.code, 1);
    assert.match(unknownKey!.stderr, /^b24kit: B24_ERR_SETTINGS: no setting shop\.nope; declared: app\.webhookUrl, .*shop\.mode, shop\.eu\.signingSecret, shop\.eu\.retries$/m);
    assert.equal(unknownPortal!.code, 1);
    assert.match(unknownPortal!.stderr, /^b24kit: B24_ERR_PORTAL_NOT_FOUND: no portal f{32}$/m);
    assert.equal(noSettings!.code, 1);
    assert.match(noSettings!.stderr, /^b24kit: B24_ERR_SETTINGS: .*no-settings-app\.ts declares no settings/m);
    assert.equal(noApp!.code, 1);
    assert.match(noApp!.stderr, /^b24kit: B24_ERR_SETTINGS: no --app given/m);
    for (const run of [unknownKey!, unknownPortal!, noSettings!, noAppDemo!, noApp!]) assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('no stderr of any run shows a secret, nor a portal token', () => {
    assert.ok(runs.length > 20);
    assert.ok(secrets.size >= 4);
    for (const run of runs) {
      assertNoSecret(run.stderr, `stderr of ${run.args.join(' ')}`);
      assert.doesNotMatch(run.stderr + run.stdout, /never-printed/);
    }
  });
});
