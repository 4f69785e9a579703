/**
 * Both emulators and an app with contactsSyncPlugin, on one clock: the harness of the contacts
 * sync tests and of `npm run bench -- contacts`. No mocks: the app talks to the Bitrix24 emulator
 * and to the Mailchimp emulator over HTTP, and Mailchimp's webhooks reach the app's route.
 */
import { randomBytes } from 'node:crypto';
import { startTestApp, emulatorControl, type TestApp } from '../../src/testing/index.js';
import { startMailchimpEmulator, DEFAULT_MAILCHIMP_API_KEY } from '../../src/emulator/index.js';
import type { RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { contactsSyncPlugin, MailchimpAdapter, type ContactsSyncOptions } from '../../src/integrations/index.js';
import { appInternals } from '../../src/app/internals.js';
import { SyncState, ensureSyncTables } from '../../src/integrations/contacts/state.js';
import { DEFAULT_UNSUBSCRIBED_FIELD, ensureUnsubscribedField, readCrmContact, selectFields, type CrmContactRaw } from '../../src/integrations/contacts/crm.js';
import type { SyncDeps } from '../../src/integrations/contacts/sync.js';
import type { SyncedContact } from '../../src/integrations/contacts/fields.js';
import type { Store } from '../../src/store/types.js';
import { mcControl } from './mailchimp.js';
import pino from 'pino';

export interface ContactsHarness {
  t: TestApp;
  mc: RunningMailchimpEmulator;
  memberId: string;
  listId: string;
  secret: string;
  store: Store;
  /** The engine's dependencies, as the plugin builds them (the CLI and tests call sync.ts with them). */
  deps(): Promise<SyncDeps>;
  webhookUrl(secret?: string, memberId?: string): string;
  /** Registers the app's webhook route with the audience (done at start unless `webhook: false`). */
  registerWebhook(): Promise<void>;
  /** Waits until no event, webhook or job is in flight. */
  settle(): Promise<void>;
  crmContacts(): Promise<Map<string, SyncedContact & { contactId: number }>>;
  members(): Promise<Map<string, SyncedContact & { status: string }>>;
  mcStats(): Promise<{ writes: number; writesByMember: Record<string, number> }>;
  b24Stats(): Promise<{ byMethod: Record<string, number> }>;
  advanceSeconds(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export async function startContactsHarness(
  options: { plugin?: ContactsSyncOptions; limits?: { drainPerSecond: number; burst: number }; concurrency?: number; webhook?: boolean; settleTimeoutMs?: number; store?: Store; define?: (app: TestApp['app']) => void; offlineEvents?: { notifyMinTimeoutSeconds?: number; coalesceMs?: number; drainCron?: string | false } } = {},
): Promise<ContactsHarness> {
  // the portal's and the app's side of the limits alike (the app applies its own bucket, 2/s by default)
  const limits = options.limits ?? { drainPerSecond: 1000, burst: 20_000 };
  const t = await startTestApp((app) => {
    app.register(contactsSyncPlugin, options.plugin ?? {});
    options.define?.(app);
  }, {
    portal: { ...limits },
    config: { rest: { limits }, ...(options.store ? { store: options.store } : {}), ...(options.offlineEvents ? { offlineEvents: options.offlineEvents } : {}), ...(options.concurrency ? { worker: { concurrency: options.concurrency } } : {}) },
  });
  const mc = await startMailchimpEmulator({ port: 0, clock: t.emulator.emulator.clock });
  const listId = String((await mcControl(mc, 'POST', '/lists', { name: 'CRM contacts' })).body.id);
  const memberId = t.portal.memberId;
  const secret = randomBytes(24).toString('base64url');
  await t.app.settings(memberId, 'contacts').set({ listId, apiKey: DEFAULT_MAILCHIMP_API_KEY, baseUrl: `${mc.url}/3.0`, webhookSecret: secret });
  const { store } = await appInternals(t.app).services();
  await ensureSyncTables(store);
  const adapter = new MailchimpAdapter({ apiKey: DEFAULT_MAILCHIMP_API_KEY, baseUrl: `${mc.url}/3.0`, backoff: { baseMs: 20 } });
  const webhookUrl = (key = secret, member = memberId): string => `${t.url}/api/v1/${member}/contacts/mailchimp?secret=${encodeURIComponent(key)}`;
  const registerWebhook = async (): Promise<void> => void (await adapter.registerWebhook(listId, webhookUrl()));
  if (options.webhook !== false) await registerWebhook();
  await ensureUnsubscribedField(t.app.client(memberId), DEFAULT_UNSUBSCRIBED_FIELD);

  const queue = async () => (await appInternals(t.app).services()).queue;
  const busy = async (): Promise<number> => {
    const counts = await (await queue()).counts({ memberId });
    return counts.queued + counts.running;
  };
  const settle = async (): Promise<void> => {
    const deadline = Date.now() + (options.settleTimeoutMs ?? 300_000);
    let quiet = 0;
    while (quiet < 2) {
      if (Date.now() > deadline) throw new Error(`the sync did not settle within ${options.settleTimeoutMs ?? 300_000} ms`);
      try {
        await emulatorControl(t.emulator, `/portals/${memberId}/events/flush`, { timeoutMs: 60_000 });
      } catch (error) {
        // thousands of events still on their way: keep waiting, up to the deadline
        if (!String(error).includes('CONTROL_TIMEOUT')) throw error;
        continue;
      }
      await mcControl(mc, 'GET', '/deliveries?limit=1');
      if ((await busy()) === 0) quiet += 1;
      else {
        quiet = 0;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };
  return {
    t,
    mc,
    memberId,
    listId,
    secret,
    store,
    async deps() {
      return {
        b24: t.app.client(memberId),
        adapter,
        state: new SyncState(store, memberId),
        listId,
        statusIfNew: 'subscribed',
        unsubscribedField: DEFAULT_UNSUBSCRIBED_FIELD,
        log: pino({ level: 'silent' }),
        transaction: (fn) => store.transaction((tx) => fn(new SyncState(tx, memberId))),
      };
    },
    webhookUrl,
    registerWebhook,
    settle,
    async crmContacts() {
      const out = new Map<string, SyncedContact & { contactId: number }>();
      for await (const raw of t.app.client(memberId).list<CrmContactRaw>('crm.contact.list', { select: selectFields(DEFAULT_UNSUBSCRIBED_FIELD) })) {
        const view = readCrmContact(raw, DEFAULT_UNSUBSCRIBED_FIELD);
        if (view.contact) out.set(view.contact.email, { ...view.contact, contactId: view.contactId });
      }
      return out;
    },
    async members() {
      const out = new Map<string, SyncedContact & { status: string }>();
      for await (const page of adapter.changesSince(listId, new Date(0), { pageSize: 1000 })) {
        for (const m of page) out.set(m.email, { email: m.email, firstName: m.firstName, lastName: m.lastName, phone: m.phone, unsubscribed: m.status === 'unsubscribed' || m.status === 'cleaned', status: m.status });
      }
      return out;
    },
    async mcStats() {
      return (await mcControl(mc, 'GET', '/stats')).body as unknown as { writes: number; writesByMember: Record<string, number> };
    },
    async b24Stats() {
      return emulatorControl<{ byMethod: Record<string, number> }>(t.emulator, `/portals/${memberId}/stats`, undefined, 'GET');
    },
    async advanceSeconds(seconds) {
      await emulatorControl(t.emulator, '/clock', { advanceSeconds: seconds });
    },
    async close() {
      await adapter.close();
      await mc.close();
      await t.close();
    },
  };
}

export interface ConvergenceShape {
  /** Contacts only the CRM has at first (seeded: no events). */
  crmOnly: number;
  /** Members only Mailchimp has at first. */
  serviceOnly: number;
  /** Then: CRM users edit this many contacts (REST, events fire). */
  crmEdits: number;
  /** Mailchimp contacts edit this many profiles (webhooks fire). */
  serviceEdits: number;
  /** This many members unsubscribe in Mailchimp... */
  unsubscribes: number;
  /** ...and this many of those are then edited in the CRM. */
  crmEditsOfUnsubscribed: number;
}

export interface ConvergenceResult {
  firstSync: Awaited<ReturnType<typeof import('../../src/integrations/contacts/sync.js').reconcile>>;
  /** The reconciliation call alone (reads, writes); firstSyncMs adds the echo events of its CRM writes, handled and dropped. */
  reconcileMs: number;
  firstSyncMs: number;
  editsSettledMs: number;
  contacts: number;
  members: number;
  /** Addresses whose contact and member disagree at the end (want 0). */
  disagreements: string[];
  /** Mailchimp API writes during the edit phase, and how many the CRM edits call for. */
  serviceWrites: number;
  serviceWritesExpected: number;
  /** crm.contact.update calls during the edit phase (the users' own and the sync's), and how many are called for. */
  crmUpdates: number;
  crmUpdatesExpected: number;
  /** Unsubscribed members whose contact lacks the mark, or who were re-subscribed (want 0). */
  unsubscribesLost: number;
  /** Writes of a reconciliation and a poll run after it all (want 0). */
  writesAfter: number;
}

/**
 * The Done-when shape: both sides seeded apart, the first full sync, then edits on both sides at
 * once (CRM users through REST, Mailchimp contacts through the emulator's control API), settled.
 * Every edit is expected to cost exactly one write on the other side; anything more is an echo.
 */
export async function runConvergence(h: ContactsHarness, shape: ConvergenceShape): Promise<ConvergenceResult> {
  const { reconcile, pollChanges } = await import('../../src/integrations/contacts/sync.js');
  const { emulatorControl: control } = await import('../../src/testing/index.js');
  await control(h.t.emulator, `/portals/${h.memberId}/crm/seed`, { entity: 'contact', count: shape.crmOnly, fields: { NAME: 'Crm{id}', LAST_NAME: 'Seeded', EMAIL: [{ VALUE: 'crm{id}@sync.test' }] } });
  let next = 0;
  const seedMember = async (): Promise<void> => {
    for (let i = next++; i < shape.serviceOnly; i = next++) await mcControl(h.mc, 'PUT', `/lists/${h.listId}/members/svc${i}@sync.test`, { merge_fields: { FNAME: `Svc${i}`, LNAME: 'Seeded' } });
  };
  await Promise.all(Array.from({ length: 8 }, seedMember));
  await h.settle();

  const started = performance.now();
  const firstSync = await reconcile(await h.deps());
  const reconcileMs = performance.now() - started;
  await h.settle();
  const firstSyncMs = performance.now() - started;
  await h.registerWebhook();

  const crm = [...(await h.crmContacts()).values()];
  const members = [...(await h.members()).values()];
  await h.advanceSeconds(2);
  const mcBefore = (await h.mcStats()).writes;
  const crmBefore = (await h.b24Stats()).byMethod['crm.contact.update'] ?? 0;

  // disjoint slices: CRM edits on the first contacts, service edits and unsubscribes on the last members
  const crmEdited = crm.slice(0, shape.crmEdits);
  const fromEnd = members.slice(-(shape.serviceEdits + shape.unsubscribes));
  const serviceEdited = fromEnd.slice(0, shape.serviceEdits);
  const unsubscribed = fromEnd.slice(shape.serviceEdits);
  const edited = Date.now();
  const pool = async <T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> => {
    let index = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = index++; i < items.length; i = index++) await fn(items[i]!);
    }));
  };
  const b24 = h.t.app.client(h.memberId);
  await Promise.all([
    pool(crmEdited, (c) => b24.call('crm.contact.update', { id: c.contactId, fields: { LAST_NAME: `${c.lastName}-crm` } })),
    pool(serviceEdited, (m) => mcControl(h.mc, 'PUT', `/lists/${h.listId}/members/${m.email}`, { merge_fields: { FNAME: `${m.firstName}-svc`, PHONE: '+1 555 0199' } })),
    pool(unsubscribed, (m) => mcControl(h.mc, 'POST', `/lists/${h.listId}/members/${m.email}/unsubscribe`, {})),
  ]);
  await h.settle();
  // CRM users then edit some of the unsubscribed (the mark must stay, the member stay unsubscribed)
  await h.advanceSeconds(2);
  const contactsNow = await h.crmContacts();
  const editsOfUnsubscribed = unsubscribed.slice(0, shape.crmEditsOfUnsubscribed).map((m) => contactsNow.get(m.email)!);
  await pool(editsOfUnsubscribed, (c) => b24.call('crm.contact.update', { id: c.contactId, fields: { NAME: `${c.firstName}-later` } }));
  await h.settle();
  const editsSettledMs = Date.now() - edited;

  const serviceWrites = (await h.mcStats()).writes - mcBefore;
  const crmUpdates = ((await h.b24Stats()).byMethod['crm.contact.update'] ?? 0) - crmBefore;
  const finalCrm = await h.crmContacts();
  const finalMembers = await h.members();
  const disagreements: string[] = [];
  for (const email of new Set([...finalCrm.keys(), ...finalMembers.keys()])) {
    const c = finalCrm.get(email);
    const m = finalMembers.get(email);
    if (!c || !m || c.firstName !== m.firstName || c.lastName !== m.lastName || c.phone !== m.phone || c.unsubscribed !== m.unsubscribed) disagreements.push(email);
  }
  const unsubscribesLost = unsubscribed.filter((m) => finalMembers.get(m.email)?.status !== 'unsubscribed' || finalCrm.get(m.email)?.unsubscribed !== true).length;

  const mcAt = (await h.mcStats()).writes;
  const crmAt = (await h.b24Stats()).byMethod['crm.contact.update'] ?? 0;
  await reconcile(await h.deps());
  await pollChanges(await h.deps());
  await h.settle();
  const writesAfter = (await h.mcStats()).writes - mcAt + ((await h.b24Stats()).byMethod['crm.contact.update'] ?? 0) - crmAt;

  return {
    firstSync,
    reconcileMs,
    firstSyncMs,
    editsSettledMs,
    contacts: finalCrm.size,
    members: finalMembers.size,
    disagreements,
    serviceWrites,
    serviceWritesExpected: shape.crmEdits + shape.crmEditsOfUnsubscribed,
    crmUpdates,
    crmUpdatesExpected: shape.crmEdits + shape.serviceEdits + shape.unsubscribes + shape.crmEditsOfUnsubscribed,
    unsubscribesLost,
    writesAfter,
  };
}
