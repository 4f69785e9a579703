/**
 * `b24kit sync contacts <memberId>` run as a separate process from source over the SQLite file of
 * an app running here with contactsSyncPlugin, against both emulators: the first full sync with
 * its progress on stderr and its report on stdout, a second run that writes nothing (while the
 * app's event handlers see the command's CRM writes as the sync's own), and the refusals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { emulatorControl, startTestApp, type TestApp } from '../../src/testing/index.js';
import { startMailchimpEmulator, DEFAULT_MAILCHIMP_API_KEY } from '../../src/emulator/index.js';
import type { RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { contactsSyncPlugin } from '../../src/integrations/index.js';
import { runCli } from '../helpers/cli.js';
import { mcControl } from '../helpers/mailchimp.js';

describe('b24kit sync contacts', () => {
  let dir: string;
  let store: Store;
  let t: TestApp;
  let mc: RunningMailchimpEmulator;
  let env: NodeJS.ProcessEnv;
  let listId: string;
  const apiKey = DEFAULT_MAILCHIMP_API_KEY;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'b24kit-sync-cli-'));
    const databaseUrl = path.join(dir, 'b24kit.sqlite');
    store = await openStore({ url: databaseUrl });
    const key = randomBytes(32);
    t = await startTestApp((app) => void app.register(contactsSyncPlugin, {}), { config: { store, secretKey: key } });
    mc = await startMailchimpEmulator({ port: 0, clock: t.emulator.emulator.clock });
    listId = String((await mcControl(mc, 'POST', '/lists', { name: 'CLI' })).body.id);
    await t.app.settings(t.portal.memberId, 'contacts').set({ listId, apiKey, baseUrl: `${mc.url}/3.0`, webhookSecret: randomBytes(24).toString('base64url') });
    await emulatorControl(t.emulator, `/portals/${t.portal.memberId}/crm/seed`, { entity: 'contact', count: 40, fields: { NAME: 'Cli{id}', LAST_NAME: 'Crm', EMAIL: [{ VALUE: 'cli{id}@crm.test' }] } });
    for (let i = 0; i < 30; i += 1) await mcControl(mc, 'PUT', `/lists/${listId}/members/m${i}@svc.test`, { merge_fields: { FNAME: `M${i}`, LNAME: 'Svc' } });
    const { clientId, clientSecret } = t.emulator.emulator.options;
    env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      B24KIT_SECRET_KEY: key.toString('hex'),
      B24_CLIENT_ID: clientId,
      B24_CLIENT_SECRET: clientSecret,
      B24_APP_URL: t.url,
      B24_OAUTH_URL: t.emulator.url,
      B24KIT_LOG_FORMAT: 'json',
    };
    for (const name of ['LOG_LEVEL', 'PGOPTIONS', 'B24KIT_ADMIN_TOKEN', 'HOST', 'PORT']) delete env[name];
  });
  after(async () => {
    await mc?.close();
    await t?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the first full sync with its progress, then a second run writes nothing', async () => {
    const first = await runCli(['sync', 'contacts', t.portal.memberId], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'contacts 40, members 30: 30 contact(s) created, 0 updated, 40 member(s) written, 0 skipped');
    const progress = first.stderr.split('\n').filter((line) => line.startsWith('b24kit: '));
    assert.deepEqual(progress, ['b24kit: 40 CRM contacts read', 'b24kit: 30 members read', 'b24kit: 30 CRM contacts written', 'b24kit: 40 members written']);
    assert.ok(!first.stderr.includes(apiKey) && !first.stdout.includes(apiKey), 'the API key is never printed');

    await emulatorControl(t.emulator, `/portals/${t.portal.memberId}/events/flush`, {});
    const members = (await mcControl(mc, 'GET', `/lists/${listId}/members`)).body as unknown as { members: unknown[] } | unknown[];
    assert.equal(Array.isArray(members) ? members.length : members.members.length, 70);

    const mcWrites = Number((await mcControl(mc, 'GET', '/stats')).body.writes);
    const second = await runCli(['sync', 'contacts', t.portal.memberId, '--json'], { env });
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as Record<string, number>;
    assert.deepEqual([report.contacts, report.members, report.crmCreated, report.crmUpdated, report.serviceUpserted], [70, 70, 0, 0, 0]);
    assert.equal(Number((await mcControl(mc, 'GET', '/stats')).body.writes), mcWrites);
  });

  it('refuses an unknown portal and a portal without the contacts settings, with their codes and no stack', async () => {
    const unknown = await runCli(['sync', 'contacts', 'no-such-portal'], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /B24_ERR_PORTAL_NOT_FOUND/);
    const other = await t.installPortal();
    const unset = await runCli(['sync', 'contacts', other.memberId], { env });
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /B24_ERR_SETTINGS/);
    assert.doesNotMatch(unset.stderr, /\n\s+at /);
  });
});
