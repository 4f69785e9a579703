/**
 * The contacts sync (src/integrations/contacts/) end to end against both emulators, no mocks:
 * CRM events → members, Mailchimp webhooks → contacts, no echo either way (counted by both
 * emulators' stats), last-writer-wins on a conflict, unsubscribes kept after CRM edits, the
 * webhook route's auth, and the full reconciliation of both sides.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runConvergence, startContactsHarness, type ContactsHarness } from '../helpers/contacts-sync.js';
import { mcControl } from '../helpers/mailchimp.js';
import { subscriberHash } from '../../src/integrations/index.js';
import { reconcile } from '../../src/integrations/contacts/sync.js';
import { DEFAULT_UNSUBSCRIBED_FIELD } from '../../src/integrations/contacts/crm.js';
import { emulatorControl } from '../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import type { Store } from '../../src/store/types.js';

const UF = DEFAULT_UNSUBSCRIBED_FIELD;

describe('contacts sync: CRM contacts ↔ Mailchimp audience', () => {
  let h: ContactsHarness;
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    // SQLite, or PostgreSQL under `npm run test:pg` (DATABASE_URL): the plugin's table on both
    db = createTestDatabase();
    store = await db.open();
    h = await startContactsHarness({ store });
  });
  after(async () => {
    await h?.close();
    await store?.close();
    await db?.drop();
  });

  const b24 = () => h.t.app.client(h.memberId);
  const writesOf = async (email: string): Promise<number> => (await h.mcStats()).writesByMember[`${h.listId}/${subscriberHash(email)}`] ?? 0;
  const contactUpdates = async (): Promise<number> => (await h.b24Stats()).byMethod['crm.contact.update'] ?? 0;
  const member = async (email: string) => (await h.members()).get(email);
  const contact = async (email: string) => (await h.crmContacts()).get(email);
  const addContact = async (email: string, name: string, last: string): Promise<number> =>
    Number((await b24().call<number>('crm.contact.add', { fields: { NAME: name, LAST_NAME: last, EMAIL: [{ VALUE: email, VALUE_TYPE: 'WORK' }] } })).result);

  it('a CRM contact becomes a member, and the member\'s profile edit comes back to the contact — each written once, no echo', async () => {
    const id = await addContact('ann@example.test', 'Ann', 'Lee');
    await h.settle();
    assert.deepEqual({ ...(await member('ann@example.test')) }, { email: 'ann@example.test', firstName: 'Ann', lastName: 'Lee', phone: '', unsubscribed: false, status: 'subscribed' });
    assert.equal(await writesOf('ann@example.test'), 1, 'one upsert for the new contact');
    const updatesBefore = await contactUpdates();

    await h.advanceSeconds(5);
    await mcControl(h.mc, 'PUT', `/lists/${h.listId}/members/ann@example.test`, { merge_fields: { LNAME: 'Lee-Smith', PHONE: '+1 555 0100' } });
    await h.settle();
    const after = await contact('ann@example.test');
    assert.equal(after?.contactId, id);
    assert.equal(after?.lastName, 'Lee-Smith');
    assert.equal(after?.phone, '+1 555 0100');
    assert.equal(await contactUpdates(), updatesBefore + 1, 'one CRM write for the service edit');
    // the CRM write fired ONCRMCONTACTUPDATE; the sync saw its own fingerprint and wrote nothing back
    assert.equal(await writesOf('ann@example.test'), 1, 'no echo upsert');

    // and a CRM edit goes out once, and its webhook-less round trip ends there (the poll sees it as ours)
    await h.advanceSeconds(5);
    await b24().call('crm.contact.update', { id, fields: { NAME: 'Anne' } });
    await h.settle();
    assert.equal((await member('ann@example.test'))?.firstName, 'Anne');
    assert.equal(await writesOf('ann@example.test'), 2);
    const { pollChanges } = await import('../../src/integrations/contacts/sync.js');
    const polled = await pollChanges(await h.deps());
    assert.equal(polled.synced, 0, 'the poll finds only changes it made');
    assert.equal(await writesOf('ann@example.test'), 2);
    assert.equal(await contactUpdates(), updatesBefore + 2, 'the user\'s own update only');
  });

  it('an unsubscribe in Mailchimp marks the contact, and no CRM edit undoes it', async () => {
    const id = await addContact('bob@example.test', 'Bob', 'Ray');
    await h.settle();
    await h.advanceSeconds(3);
    await mcControl(h.mc, 'POST', `/lists/${h.listId}/members/bob@example.test/unsubscribe`, {});
    await h.settle();
    assert.equal((await contact('bob@example.test'))?.unsubscribed, true, 'the user field is set');

    await h.advanceSeconds(3);
    await b24().call('crm.contact.update', { id, fields: { NAME: 'Robert' } });
    await h.settle();
    const m = await member('bob@example.test');
    assert.equal(m?.firstName, 'Robert', 'the edit went out');
    assert.equal(m?.status, 'unsubscribed', 'the upsert never re-subscribes');

    // a CRM user clears the mark: the service's unsubscribe stands, and the mark is put back
    await h.advanceSeconds(3);
    await b24().call('crm.contact.update', { id, fields: { [UF]: 'N' } });
    await h.settle();
    assert.equal((await contact('bob@example.test'))?.unsubscribed, true);
    assert.equal((await member('bob@example.test'))?.status, 'unsubscribed');
  });

  it('conflicts: field-level last-writer-wins by timestamp (an older webhook loses to a newer CRM edit, a newer one wins)', async () => {
    const id = await addContact('cy@example.test', 'Cy', 'Old');
    await h.settle();
    const clock = await emulatorControl<{ now: number }>(h.t.emulator, '/clock', undefined, 'GET');
    const firedAt = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
    const profile = (lname: string, fname: string, at: string): string =>
      new URLSearchParams({ type: 'profile', fired_at: at, 'data[list_id]': h.listId, 'data[email]': 'cy@example.test', 'data[merges][FNAME]': fname, 'data[merges][LNAME]': lname }).toString();
    const post = (body: string) => fetch(h.webhookUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

    // the CRM changes LNAME at T+10; a webhook fired at T+5 (delivered late) changes LNAME and FNAME
    await h.advanceSeconds(10);
    await b24().call('crm.contact.update', { id, fields: { LAST_NAME: 'Crm' } });
    await h.settle();
    assert.equal((await post(profile('Service', 'Cyrus', firedAt(clock.now + 5)))).status, 202);
    await h.settle();
    const afterOld = await contact('cy@example.test');
    assert.equal(afterOld?.lastName, 'Crm', 'LNAME: the CRM\'s later edit wins');
    assert.equal(afterOld?.firstName, 'Cyrus', 'FNAME: only the service changed it, so it applies');

    // a webhook fired after the CRM edit wins
    await h.advanceSeconds(10);
    assert.equal((await post(profile('Later', 'Cyrus', firedAt(clock.now + 20)))).status, 202);
    await h.settle();
    assert.equal((await contact('cy@example.test'))?.lastName, 'Later');
  });

  it('an address change in Mailchimp (upemail) moves the contact\'s address and the link; nothing is written back', async () => {
    const id = await addContact('dan@example.test', 'Dan', 'Moss');
    await h.settle();
    const mcWrites = (await h.mcStats()).writes;
    await h.advanceSeconds(3);
    await mcControl(h.mc, 'POST', `/lists/${h.listId}/members/dan@example.test/email`, { newEmail: 'dan.moss@example.test' });
    await h.settle();
    const contacts = await h.crmContacts();
    assert.equal(contacts.get('dan.moss@example.test')?.contactId, id);
    assert.equal(contacts.has('dan@example.test'), false);
    assert.equal((await h.mcStats()).writes, mcWrites, 'the CRM write\'s event found the new address\'s fingerprint');
    // a later CRM edit goes to the member under the new address
    await h.advanceSeconds(3);
    await b24().call('crm.contact.update', { id, fields: { NAME: 'Daniel' } });
    await h.settle();
    assert.equal((await member('dan.moss@example.test'))?.firstName, 'Daniel');
    assert.equal((await h.members()).has('dan@example.test'), false, 'the old address was not brought back');
  });

  it('the webhook route: Mailchimp\'s GET is answered; a wrong, missing or other portal\'s secret is 401 and a malformed body 400 naming the field — nothing stored', async () => {
    assert.equal((await fetch(h.webhookUrl(), { headers: { 'user-agent': 'MailChimp.com WebHook Validator' } })).status, 200);
    const other = await h.t.installPortal();
    const otherSecret = 'another-portals-secret-0123456789';
    await h.t.app.settings(other.memberId, 'contacts').set({ listId: h.listId, apiKey: 'k-us1', webhookSecret: otherSecret });
    const body = new URLSearchParams({ type: 'unsubscribe', fired_at: '2026-12-03 00:10:00', 'data[list_id]': h.listId, 'data[email]': 'ann@example.test' }).toString();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const url of [h.webhookUrl('wrong-secret-wrong-secret'), h.webhookUrl(otherSecret), `${h.t.url}/api/v1/${h.memberId}/contacts/mailchimp`]) {
      const answer = await fetch(url, { method: 'POST', headers: form, body });
      assert.equal(answer.status, 401, url.replace(/secret=[^&]*/, 'secret=…'));
      assert.equal(((await answer.json()) as { error: string }).error, 'B24_ERR_UNAUTHORIZED');
    }
    const malformed = await fetch(h.webhookUrl(), { method: 'POST', headers: form, body: new URLSearchParams({ type: 'profile', fired_at: 'yesterday', 'data[list_id]': h.listId, 'data[email]': 'ann@example.test' }).toString() });
    assert.equal(malformed.status, 400);
    assert.deepEqual(await malformed.json(), { error: 'B24_ERR_BAD_REQUEST', message: 'Mailchimp webhook: fired_at: expected "YYYY-MM-DD HH:MM:SS"', field: 'fired_at' });
    const otherList = await fetch(h.webhookUrl(), { method: 'POST', headers: form, body: body.replace(h.listId, 'not-our-list') });
    assert.equal(otherList.status, 400);
    assert.equal(((await otherList.json()) as { field: string }).field, 'data[list_id]');
    await h.settle();
    assert.equal((await member('ann@example.test'))?.status, 'subscribed', 'nothing was applied');
    assert.equal((await contact('ann@example.test'))?.unsubscribed, false);
  });

  it('reconciliation: both sides whole → one set, then a second run writes nothing', async () => {
    // 100 contacts the CRM has alone (seeded: no events), 100 members Mailchimp has alone
    await emulatorControl(h.t.emulator, `/portals/${h.memberId}/crm/seed`, { entity: 'contact', count: 100, fields: { NAME: 'Seed{id}', LAST_NAME: 'Crm', EMAIL: [{ VALUE: 'crm{id}@seed.test' }] } });
    for (let i = 0; i < 100; i += 1) await mcControl(h.mc, 'PUT', `/lists/${h.listId}/members/svc${i}@seed.test`, { merge_fields: { FNAME: `Svc${i}`, LNAME: 'Mc' } });
    await h.settle(); // the members' subscribe webhooks link or create contacts one by one
    const first = await reconcile(await h.deps());
    await h.settle();
    const crm = await h.crmContacts();
    const members = await h.members();
    assert.equal(crm.size, members.size);
    for (const [email, m] of members) {
      const c = crm.get(email);
      assert.ok(c, `${email} is a contact`);
      assert.deepEqual([c.firstName, c.lastName, c.phone, c.unsubscribed], [m.firstName, m.lastName, m.phone, m.unsubscribed], email);
    }
    assert.ok(first.serviceUpserted >= 100, `the CRM's contacts went out (${first.serviceUpserted})`);
    const mcWrites = (await h.mcStats()).writes;
    const updates = await contactUpdates();
    const second = await reconcile(await h.deps());
    await h.settle();
    assert.deepEqual([second.crmCreated, second.crmUpdated, second.serviceUpserted], [0, 0, 0]);
    assert.equal((await h.mcStats()).writes, mcWrites);
    assert.equal(await contactUpdates(), updates);
  });
});

describe('contacts sync: the Done-when shape, small (npm run bench -- contacts runs it with 20,000)', () => {
  let h: ContactsHarness;
  before(async () => {
    h = await startContactsHarness({ webhook: false });
  });
  after(async () => {
    await h?.close();
  });

  it('both sides seeded apart → first full sync; then edits on both sides → converged, zero echo writes, unsubscribes kept', async () => {
    const result = await runConvergence(h, { crmOnly: 150, serviceOnly: 150, crmEdits: 30, serviceEdits: 30, unsubscribes: 20, crmEditsOfUnsubscribed: 10 });
    assert.deepEqual([result.contacts, result.members], [300, 300]);
    assert.deepEqual([result.firstSync.crmCreated, result.firstSync.serviceUpserted], [150, 150]);
    assert.deepEqual(result.disagreements, []);
    assert.equal(result.unsubscribesLost, 0);
    assert.equal(result.serviceWrites, result.serviceWritesExpected, 'Mailchimp writes: one per CRM edit, no echo');
    assert.equal(result.crmUpdates, result.crmUpdatesExpected, 'crm.contact.update: the users\' own, one per service change, no echo');
    assert.equal(result.writesAfter, 0, 'a reconciliation and a poll afterwards write nothing');
  });

  it('an uninstall with "clear application data" deletes the portal\'s sync rows and cursor', async () => {
    const rows = async (table: string): Promise<number> => Number((await h.store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE member_id = ?`, [h.memberId]))!.n);
    assert.equal(await rows('b24kit_contacts_sync'), 300);
    assert.equal(await rows('b24kit_contacts_cursor'), 1);
    await emulatorControl(h.t.emulator, `/portals/${h.memberId}/uninstall`, { clean: true });
    assert.equal(await rows('b24kit_contacts_sync'), 0);
    assert.equal(await rows('b24kit_contacts_cursor'), 0);
  });
});
