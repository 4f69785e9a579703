/**
 * The contacts sync with `offline: true`: the CRM contact events are bound offline, the portal
 * queues the latest state per contact and pings; a CRM user's edits (made through an incoming
 * webhook, as a user would) reach the member, the sync's own CRM writes are not queued for it at
 * all (the portal skips an app's own writes for its offline queue, docs/protocol.md §3.6), and an
 * edit made during the ping throttle arrives when the throttle ends — no cron runs here. And the
 * plugin beside an app that handles ONCRMCONTACTADD too (fan-out: each runs a job of its own), the
 * changes queued together for contacts.crm-change sharing one CRM read, and the plugin gathering
 * its events into such batches itself (gatherMs).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startContactsHarness, type ContactsHarness } from '../helpers/contacts-sync.js';
import { mcControl } from '../helpers/mailchimp.js';
import { subscriberHash } from '../../src/integrations/index.js';
import { emulatorControl } from '../../src/testing/index.js';
import { waitFor } from '../app/helpers.js';

const THROTTLE_SECONDS = 2;

describe('contacts sync over offline events', () => {
  let h: ContactsHarness;
  before(async () => {
    h = await startContactsHarness({ plugin: { offline: true }, offlineEvents: { notifyMinTimeoutSeconds: THROTTLE_SECONDS, coalesceMs: 200, drainCron: false } });
  });
  after(async () => {
    await h?.close();
  });

  it('binds the contact events offline; edits reach the member, the sync\'s own CRM write is no echo, an edit during the throttle follows', async () => {
    const bindings = await emulatorControl<Array<{ event: string; offline: number | string }>>(h.t.emulator, `/portals/${h.memberId}/events/bindings`, undefined, 'GET');
    assert.deepEqual(bindings.filter((b) => Number(b.offline) === 1).map((b) => b.event).sort(), ['ONCRMCONTACTADD', 'ONCRMCONTACTDELETE', 'ONCRMCONTACTUPDATE']);
    const webhook = (await emulatorControl<{ url: string }>(h.t.emulator, `/portals/${h.memberId}/webhooks`, { userId: 1, scope: ['crm'] })).url;
    const asUser = async (method: string, params: unknown): Promise<unknown> => {
      const response = await fetch(`${webhook}${method}.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
      assert.equal(response.status, 200);
      return ((await response.json()) as { result: unknown }).result;
    };
    const member = async () => (await h.members()).get('olga@example.test');
    const id = Number(await asUser('crm.contact.add', { fields: { NAME: 'Olga', LAST_NAME: 'Ivanova', EMAIL: [{ VALUE: 'olga@example.test' }] } }));
    await waitFor(async () => (await member())?.firstName === 'Olga', 15_000, 'the new contact became a member');
    const writes = async (): Promise<number> => (await h.mcStats()).writesByMember[`${h.listId}/${subscriberHash('olga@example.test')}`] ?? 0;
    assert.equal(await writes(), 1);

    // a service edit comes back to the contact; the sync's CRM write is not queued for the app
    await h.advanceSeconds(3);
    await mcControl(h.mc, 'PUT', `/lists/${h.listId}/members/olga@example.test`, { merge_fields: { PHONE: '+7 495 000 0001' } });
    await waitFor(async () => (await h.crmContacts()).get('olga@example.test')?.phone === '+7 495 000 0001', 15_000, 'the contact got the phone');
    // two user edits, the second within the ping throttle of the first: drained when the throttle ends
    await h.advanceSeconds(3);
    await asUser('crm.contact.update', { id, fields: { LAST_NAME: 'Ivanova-Petrova' } });
    await waitFor(async () => (await member())?.lastName === 'Ivanova-Petrova', 15_000, 'the first CRM edit reached the member');
    await asUser('crm.contact.update', { id, fields: { NAME: 'Olya' } });
    await waitFor(async () => (await member())?.firstName === 'Olya', THROTTLE_SECONDS * 1000 + 10_000, 'the CRM edit reached the member');
    await h.settle();
    assert.equal(await writes(), 3, 'one upsert per CRM edit, none for the sync\'s own CRM write');
  });
});

describe('contacts sync beside an app that handles ONCRMCONTACTADD too', () => {
  let h: ContactsHarness;
  const welcomed: number[] = [];
  before(async () => {
    h = await startContactsHarness({
      define: (app) =>
        void app.on('ONCRMCONTACTADD', (ctx) => {
          welcomed.push(Number(ctx.event.data.FIELDS.ID));
        }),
    });
  });
  after(async () => {
    await h?.close();
  });

  it('both handlers run, each in a job of its own: the app\'s welcome and the sync\'s member', async () => {
    const id = Number((await h.t.app.client(h.memberId).call<number>('crm.contact.add', { fields: { NAME: 'Pia', EMAIL: [{ VALUE: 'pia@example.test' }] } })).result);
    await h.settle();
    assert.deepEqual(welcomed, [id]);
    assert.equal((await h.members()).get('pia@example.test')?.firstName, 'Pia');
    const jobs = await h.store.all<{ name: string; state: string }>("SELECT name, state FROM b24kit_jobs WHERE name LIKE 'event:ONCRMCONTACTADD%' ORDER BY name");
    assert.deepEqual(jobs, [
      { name: 'event:ONCRMCONTACTADD', state: 'succeeded' },
      { name: 'event:ONCRMCONTACTADD@contacts', state: 'succeeded' },
    ]);
  });

  it('changes queued together share one CRM read: 4 contacts.crm-change jobs due at once → one crm.contact.list', async () => {
    const seeded = await emulatorControl<{ firstId: number }>(h.t.emulator, `/portals/${h.memberId}/crm/seed`, { entity: 'contact', count: 4, fields: { NAME: 'Batch', EMAIL: [{ VALUE: 'batch{id}@example.test' }] } });
    const ids = [0, 1, 2, 3].map((i) => seeded.firstId + i);
    const listsBefore = (await h.b24Stats()).byMethod['crm.contact.list'] ?? 0;
    // one due time for all four (the queue's cap of 4 running a portal lets all four into one run)
    const runAtMs = Date.now() + 300;
    for (const contactId of ids) await h.t.app.enqueue(h.memberId, 'contacts.crm-change', { contactId }, { runAtMs });
    await waitFor(async () => [...(await h.members()).keys()].filter((email) => email.startsWith('batch')).length === 4, 15_000, 'the four members');
    await h.settle();
    assert.equal(((await h.b24Stats()).byMethod['crm.contact.list'] ?? 0) - listsBefore, 1, 'one read for the four changes');
    const members = await h.members();
    for (const id of ids) assert.equal(members.get(`batch${id}@example.test`)?.firstName, 'Batch');
  });
});

describe('contacts sync gathering its events into batches (gatherMs)', () => {
  // long enough that three adds, their deliveries and event jobs land in one window on a loaded machine
  const GATHER_MS = 5000;
  let h: ContactsHarness;
  before(async () => {
    h = await startContactsHarness({ plugin: { gatherMs: GATHER_MS } });
  });
  after(async () => {
    await h?.close();
  });

  it('3 contacts added within one window → 3 contacts.crm-change jobs due at its end → one crm.contact.list', async () => {
    const listsBefore = (await h.b24Stats()).byMethod['crm.contact.list'] ?? 0;
    // start early in a window, so the three events land in one
    while (Date.now() % GATHER_MS > 100) await new Promise((resolve) => setTimeout(resolve, 5));
    const client = h.t.app.client(h.memberId);
    for (const name of ['Gia', 'Gus', 'Gil']) await client.call('crm.contact.add', { fields: { NAME: name, EMAIL: [{ VALUE: `${name.toLowerCase()}@example.test` }] } });
    await waitFor(async () => [...(await h.members()).keys()].filter((email) => /^g(ia|us|il)@/.test(email)).length === 3, 15_000, 'the three members');
    await h.settle();
    assert.equal(((await h.b24Stats()).byMethod['crm.contact.list'] ?? 0) - listsBefore, 1, 'one read for the three contacts');
    const gathered = await h.store.all<{ name: string; state: string; run_at_ms: number | string }>("SELECT name, state, run_at_ms FROM b24kit_jobs WHERE name = 'job:contacts.crm-change'");
    assert.equal(gathered.length, 3);
    assert.ok(gathered.every((job) => job.state === 'succeeded' && Number(job.run_at_ms) % GATHER_MS === 0), JSON.stringify(gathered));
  });
});
