/**
 * Demo mode runs the contacts sync both ways (src/app/builtins/demo-integrations.ts, demoContacts):
 * the sample app's contacts — a new one every 3 s, the default pace, whose requests with the rest
 * of the demo stay within the demo portal's 2 requests/s — become members of the demo audience
 * (judged at the Mailchimp emulator), and a change made on the Mailchimp side (the first: a new
 * subscriber) becomes a CRM contact (judged at the Bitrix24 emulator). And the first minute is
 * honest: the integrations' install hints ("set … with `b24kit settings set`") are not printed for
 * the demo portal, which the demo configures itself, and are for a real portal without settings.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createApp, type B24App } from '../../src/index.js';
import { contactsSyncPlugin, ordersPlugin, scheduledRulesPlugin } from '../../src/integrations/index.js';
import { registerDemoApp } from '../../src/app/builtins/demo-app.js';
import { DEMO_AUDIENCE_ID } from '../../src/app/builtins/demo-integrations.js';
import { loadConfig } from '../../src/config/index.js';
import { createServerLogger } from '../../src/server/logging.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { startTestApp, type TestApp } from '../../src/testing/index.js';
import { waitFor } from './helpers.js';

type Entry = Record<string, unknown> & { msg?: string };
type Contact = { ID: string; NAME: string | null; LAST_NAME: string | null; EMAIL?: Array<{ VALUE: string }> };

const HINTS = /^(orders|schedules|contacts): set /;

function recorder(): { entries: Entry[]; sink: Writable } {
  const entries: Entry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) entries.push(JSON.parse(line) as Entry);
      done();
    },
  });
  return { entries, sink };
}

describe('demo mode: the contacts sync', () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of cleanup.reverse()) await close();
  });

  it('the sample app’s contacts become Mailchimp members, a Mailchimp-side signup becomes a CRM contact, no 503 at the default pace; no install hint for the demo portal', async () => {
    const { entries, sink } = recorder();
    const store: Store = await openStore({ url: ':memory:' });
    const app: B24App = createApp({
      env: loadConfig({}), // demo mode whatever this machine's environment says
      store,
      secretKey: randomBytes(32),
      port: 0,
      demoEmulatorPort: 0,
      logger: createServerLogger({ level: 'info', destination: sink }),
      worker: { pollIntervalMs: 20, shutdownTimeoutMs: 5000 },
      scheduler: { intervalMs: 50 },
    });
    cleanup.push(async () => {
      await app.stop();
      await store.close();
    });
    registerDemoApp(app);
    await app.start();

    const bannerEntry = await waitFor(() => entries.find((entry) => entry.msg?.startsWith('DEMO MODE')), 30_000, 'the demo banner');
    const banner = String(bannerEntry.msg);
    const line = /^ {2}contacts {3}.*Mailchimp emulator at (http:\/\/127\.0\.0\.1:\d+) .*every 30 s a change made in Mailchimp/m.exec(banner);
    assert.ok(line, banner);
    const mcUrl = line[1]!;
    const { memberId, emulatorUrl } = bannerEntry.banner as { memberId: string; emulatorUrl: string };

    const b24 = app.client(memberId);
    const members = async () =>
      ((await (await fetch(`${mcUrl}/_emulator/mailchimp/lists/${DEMO_AUDIENCE_ID}/members`)).json()) as { members: Array<{ email_address: string; status: string; merge_fields: Record<string, string> }> }).members;

    // CRM → Mailchimp: a contact the trickle added (and the sample app welcomed) is a member
    const member = await waitFor(async () => (await members()).find((m) => m.email_address.startsWith('customer')), 45_000, 'a sample-app contact as a member');
    const contactId = Number(/^customer(\d+)\./.exec(member.email_address)?.[1]);
    const { result: contact } = await b24.call<Contact>('crm.contact.get', { id: contactId });
    assert.equal(contact.EMAIL?.[0]?.VALUE, member.email_address);
    assert.deepEqual([member.merge_fields.FNAME, member.merge_fields.LNAME, member.status], [contact.NAME, contact.LAST_NAME, 'subscribed']);
    assert.ok(entries.some((entry) => entry.msg?.startsWith('demo event handled: ONCRMCONTACTADD') && entry.contactId === String(contactId)), 'the sample app welcomed the contact too');
    // each in a job of its own (fan-out): the sync handles ONCRMCONTACTADD itself, beside the sample app
    const addJobs = await store.all<{ name: string }>("SELECT DISTINCT name FROM b24kit_jobs WHERE name LIKE 'event:ONCRMCONTACTADD%' ORDER BY name");
    assert.deepEqual(addJobs.map((job) => job.name), ['event:ONCRMCONTACTADD@contacts', 'event:ONCRMCONTACTADD@demo']);

    // Mailchimp → CRM: the demo's first Mailchimp-side change, a signup, is a new CRM contact
    const signup = await waitFor(async () => (await members()).find((m) => m.email_address.startsWith('reader1.')), 45_000, 'the demo’s Mailchimp signup');
    const crm = await waitFor(async () => {
      const { result } = await b24.call<Contact[]>('crm.contact.list', { filter: { EMAIL: signup.email_address }, select: ['ID', 'NAME', 'LAST_NAME', 'EMAIL'] });
      return result[0];
    }, 30_000, 'the signup as a CRM contact');
    assert.deepEqual([crm.NAME, crm.LAST_NAME], ['Rita', 'Reader 1']);

    // all of it within the portal's 2 requests/s: the app's limiter never ran into the portal's
    const stats = (await (await fetch(`${emulatorUrl}/_emulator/portals/${memberId}/stats`)).json()) as { rateLimitRejections: number };
    assert.equal(stats.rateLimitRejections, 0);
    // long after the install hints were due: the demo configured orders, schedules and contacts, so none says "set …"
    assert.deepEqual(entries.filter((entry) => HINTS.test(entry.msg ?? '')).map((entry) => entry.msg), []);
  });

  it('prints the integrations’ install hints for a real portal installed without their settings', async () => {
    const { entries, sink } = recorder();
    const t: TestApp = await startTestApp(
      (app) => {
        app.register(ordersPlugin, {});
        app.register(scheduledRulesPlugin, {});
        app.register(contactsSyncPlugin, {});
      },
      { config: { logger: createServerLogger({ level: 'info', destination: sink }) } },
    );
    cleanup.push(() => t.close());
    const hints = await waitFor(() => {
      const found = entries.filter((entry) => HINTS.test(entry.msg ?? '')).map((entry) => String(entry.msg).split(':')[0]);
      return found.length === 3 ? found : undefined;
    }, 15_000, 'three install hints');
    assert.deepEqual(hints.sort(), ['contacts', 'orders', 'schedules']);
  });
});
