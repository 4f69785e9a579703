/**
 * The contacts sync itself, one portal at a time, service-neutral (an EmailServiceAdapter):
 *
 * - `crmChanged`: a CRM contact was added or changed (ONCRMCONTACTADD / ONCRMCONTACTUPDATE) →
 *   read it, drop it when its fingerprint is the one the sync last wrote or saw (its own write
 *   coming back), else merge (fields.ts) and upsert the member; a CRM value that lost to a later
 *   service value, or an unsubscribe mark edited away, is written back to the contact.
 * - `serviceChanged`: a member changed (a webhook, or the poll) → the same, the other way; a
 *   member new to the sync is linked to the contact with its address, or becomes a new contact.
 * - `reconcile`: every contact (the REST client's list reader) and every member, merged by the
 *   same rules; only what differs is written. The first full sync and the nightly repair.
 *
 * Write-ahead: the row with the fingerprints of what is about to be written is stored BEFORE the
 * write, so the event the write causes finds it, whenever it runs; a failed write puts the row
 * back as it was (a crash in between is repaired by the next reconciliation).
 *
 * Upserts never send a status: an unsubscribe stays (email-service.ts, `statusIfNew`).
 */
import type { Logger as PinoLogger } from 'pino';
import type { B24Client, BatchCommand } from '../../index.js';
import type { EmailServiceAdapter, MemberStatus, ServiceMember } from './email-service.js';
import { fingerprint, mergeBoth, mergeChange, sameContact, timesOf, toSecondMs, type FieldTimes, type SyncedContact } from './fields.js';
import { addFields, readCrmContact, selectFields, updateFields, type CrmContactRaw, type CrmView } from './crm.js';
import type { SyncRow, SyncState } from './state.js';

export interface SyncDeps {
  b24: B24Client;
  adapter: EmailServiceAdapter;
  state: SyncState;
  /** The audience (Mailchimp list id). */
  listId: string;
  /** The status a member new to the service gets. */
  statusIfNew: MemberStatus;
  /** The CRM user field of the unsubscribe mark (UF_CRM_…). */
  unsubscribedField: string;
  log: PinoLogger;
  /** Runs a state write batch in one transaction (the reconciliation's thousands of rows). */
  transaction?: <T>(fn: (state: SyncState) => Promise<T>) => Promise<T>;
}

/** What one change did. `echo`: it was the sync's own write (or changed nothing synced) and was dropped. */
export interface ChangeOutcome {
  outcome: 'echo' | 'synced' | 'skipped';
  email?: string;
  contactId?: number | null;
  wroteCrm: boolean;
  wroteService: boolean;
  reason?: string;
  [key: string]: string | number | boolean | null | undefined;
}

/** A change the service reported: a webhook (`current: false`: as of `atMs`) or a read (`current: true`). */
export interface ServiceChange {
  email: string;
  /** Fields the change carries; absent ones keep their synced values. */
  fields: Partial<Pick<SyncedContact, 'firstName' | 'lastName' | 'phone'>>;
  /** The subscription after the change; undefined when the change does not say (a profile edit). */
  unsubscribed: boolean | undefined;
  atMs: number;
  /** True when this is the member as the service holds it now (a read), not a past webhook. */
  current: boolean;
}

const isOff = (status: MemberStatus): boolean => status === 'unsubscribed' || status === 'cleaned';

export function serviceView(member: ServiceMember): SyncedContact {
  return { email: member.email, firstName: member.firstName, lastName: member.lastName, phone: member.phone, unsubscribed: isOff(member.status) };
}

function memberChange(member: ServiceMember): ServiceChange {
  return {
    email: member.email,
    fields: { firstName: member.firstName, lastName: member.lastName, phone: member.phone },
    unsubscribed: isOff(member.status),
    atMs: toSecondMs(member.lastChanged.getTime()),
    current: true,
  };
}

async function readContact(deps: SyncDeps, contactId: number): Promise<CrmView | undefined> {
  const list = await deps.b24.call<CrmContactRaw[]>('crm.contact.list', { filter: { ID: contactId }, select: selectFields(deps.unsubscribedField) });
  const raw = list.result[0];
  return raw ? readCrmContact(raw, deps.unsubscribedField) : undefined;
}

async function findContactByEmail(deps: SyncDeps, email: string): Promise<number | undefined> {
  const { result } = await deps.b24.call<{ CONTACT?: number[] } | unknown[]>('crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'EMAIL', values: [email] });
  const ids = Array.isArray(result) ? [] : (result.CONTACT ?? []);
  return ids.length > 0 ? Math.min(...ids.map(Number)) : undefined;
}

async function upsert(deps: SyncDeps, contact: SyncedContact): Promise<ServiceMember> {
  return deps.adapter.upsertMember(deps.listId, {
    email: contact.email,
    statusIfNew: deps.statusIfNew,
    firstName: contact.firstName,
    lastName: contact.lastName,
    phone: contact.phone,
  });
}

/** Stores `next`, runs `write`; puts `previous` back (or removes the row) when the write fails. */
async function writeAhead(deps: SyncDeps, previous: SyncRow | undefined, next: SyncRow, write: () => Promise<void>): Promise<void> {
  await deps.state.put(next);
  try {
    await write();
  } catch (error) {
    await (previous && previous.email === next.email ? deps.state.put(previous) : deps.state.remove(next.email)).catch((restoreError: unknown) =>
      deps.log.warn({ err: restoreError }, 'contacts: the sync row could not be put back after a failed write'),
    );
    throw error;
  }
}

/** Most contacts one `crm.contact.list` page returns: the most a `crmChangedMany` reads at once. */
export const CONTACTS_PER_READ = 50;

/** ONCRMCONTACTADD / ONCRMCONTACTUPDATE of `contactId`. */
export async function crmChanged(deps: SyncDeps, contactId: number): Promise<ChangeOutcome> {
  return applyCrmView(deps, contactId, await readContact(deps, contactId));
}

/**
 * Many contacts changed (the batch job `contacts.crm-change`): ONE `crm.contact.list` by an ID
 * filter reads them all (up to CONTACTS_PER_READ), then each is synced as `crmChanged` would, in
 * order. A failed read throws (every change is retried); a change that fails alone is that
 * change's error in the result, its neighbours synced.
 */
export async function crmChangedMany(deps: SyncDeps, contactIds: readonly number[]): Promise<Array<ChangeOutcome | { error: unknown }>> {
  const ids = [...new Set(contactIds)];
  if (ids.length > CONTACTS_PER_READ) throw new RangeError(`crmChangedMany reads at most ${CONTACTS_PER_READ} contacts at once, not ${ids.length}`);
  const views = new Map<number, CrmView>();
  if (ids.length > 0) {
    const list = await deps.b24.call<CrmContactRaw[]>('crm.contact.list', { filter: { ID: ids }, select: selectFields(deps.unsubscribedField) });
    for (const raw of list.result) views.set(Number(raw.ID), readCrmContact(raw, deps.unsubscribedField));
  }
  const outcomes: Array<ChangeOutcome | { error: unknown }> = [];
  for (const contactId of contactIds) {
    try {
      outcomes.push(await applyCrmView(deps, contactId, views.get(contactId)));
    } catch (error) {
      outcomes.push({ error });
    }
  }
  return outcomes;
}

async function applyCrmView(deps: SyncDeps, contactId: number, view: CrmView | undefined): Promise<ChangeOutcome> {
  if (!view) return { outcome: 'skipped', contactId, reason: 'the contact is gone', wroteCrm: false, wroteService: false };
  const crm = view.contact;
  if (!crm) return { outcome: 'skipped', contactId, reason: 'the contact has no e-mail address', wroteCrm: false, wroteService: false };
  const atMs = toSecondMs(view.atMs);
  let row = await deps.state.byEmail(crm.email);
  if (row && row.contactId !== null && row.contactId !== contactId) {
    return { outcome: 'skipped', contactId, email: crm.email, reason: `the address is linked to contact ${row.contactId}`, wroteCrm: false, wroteService: false };
  }
  if (!row) {
    // a new link, or the contact's address changed: the old address's row no longer stands for it
    const old = await deps.state.byContact(contactId);
    if (old) await deps.state.remove(old.email);
  }
  if (row && fingerprint(crm) === row.crmHash) {
    if (row.contactId === null) await deps.state.put({ ...row, contactId });
    return { outcome: 'echo', contactId, email: crm.email, wroteCrm: false, wroteService: false };
  }

  if (!row) {
    // first link from the CRM: the member takes the contact's fields (an existing member keeps its status)
    const member = await upsert(deps, crm);
    const service = serviceView(member);
    const contact = { ...crm, unsubscribed: service.unsubscribed };
    const times: FieldTimes = timesOf(atMs, 'crm');
    row = { email: crm.email, contactId, contact, times, crmHash: fingerprint(contact), serviceHash: fingerprint(service) };
    const fields = updateFields(crm, view.phoneItemId, contact, deps.unsubscribedField);
    const next = row;
    await writeAhead(deps, undefined, next, async () => {
      if (Object.keys(fields).length > 0) await deps.b24.call('crm.contact.update', { id: contactId, fields });
    });
    return { outcome: 'synced', contactId, email: crm.email, wroteCrm: Object.keys(fields).length > 0, wroteService: true };
  }

  const merged = mergeChange(row.contact, row.times, crm, 'crm', atMs);
  const crmFields = updateFields(crm, view.phoneItemId, merged.contact, deps.unsubscribedField);
  const toService = merged.won.length > 0;
  const next: SyncRow = {
    ...row,
    contactId,
    contact: merged.contact,
    times: merged.times,
    crmHash: fingerprint(merged.contact),
    serviceHash: toService ? fingerprint(merged.contact) : row.serviceHash,
  };
  await writeAhead(deps, row, next, async () => {
    if (Object.keys(crmFields).length > 0) await deps.b24.call('crm.contact.update', { id: contactId, fields: crmFields });
    if (toService) await upsert(deps, merged.contact);
  });
  return { outcome: 'synced', contactId, email: crm.email, wroteCrm: Object.keys(crmFields).length > 0, wroteService: toService, won: merged.won.join(',') };
}

/** ONCRMCONTACTDELETE: the link goes; the member stays in the audience (its history is the service's). */
export async function crmDeleted(deps: SyncDeps, contactId: number): Promise<ChangeOutcome> {
  const row = await deps.state.byContact(contactId);
  if (row) await deps.state.remove(row.email);
  return { outcome: row ? 'synced' : 'skipped', contactId, email: row?.email, wroteCrm: false, wroteService: false };
}

/**
 * A member's address changed in the service (Mailchimp's `upemail`): the linked contact's address
 * item takes the new one, and the link moves to it. The CRM write's event then finds the new
 * address's fingerprint (no echo).
 */
export async function serviceEmailChanged(deps: SyncDeps, oldEmail: string, newEmail: string): Promise<ChangeOutcome> {
  const row = await deps.state.byEmail(oldEmail);
  if (!row || row.contactId === null) return { outcome: 'skipped', reason: 'the old address is not linked', wroteCrm: false, wroteService: false };
  if (await deps.state.byEmail(newEmail)) return { outcome: 'skipped', contactId: row.contactId, reason: 'the new address is linked already', wroteCrm: false, wroteService: false };
  const view = await readContact(deps, row.contactId);
  if (!view?.contact || view.contact.email !== oldEmail || view.emailItemId === undefined) {
    return { outcome: 'skipped', contactId: row.contactId, reason: 'the contact no longer has the old address', wroteCrm: false, wroteService: false };
  }
  const contact = { ...row.contact, email: newEmail };
  const next: SyncRow = { ...row, email: newEmail, contact, crmHash: fingerprint(contact), serviceHash: fingerprint(contact) };
  const contactId = row.contactId;
  await writeAhead(deps, undefined, next, async () => {
    await deps.b24.call('crm.contact.update', { id: contactId, fields: { EMAIL: [{ ID: view.emailItemId, VALUE: newEmail }] } });
  });
  await deps.state.remove(oldEmail);
  return { outcome: 'synced', contactId, email: newEmail, wroteCrm: true, wroteService: false };
}

/** A member changed in the service (webhook or poll). */
export async function serviceChanged(deps: SyncDeps, change: ServiceChange): Promise<ChangeOutcome> {
  const row = await deps.state.byEmail(change.email);
  const base: SyncedContact = row?.contact ?? { email: change.email, firstName: '', lastName: '', phone: '', unsubscribed: false };
  const seen: SyncedContact = { ...base, ...change.fields, email: change.email, unsubscribed: change.unsubscribed ?? base.unsubscribed };
  if (row && fingerprint(seen) === row.serviceHash) return { outcome: 'echo', email: change.email, contactId: row.contactId, wroteCrm: false, wroteService: false };

  if (!row) return linkFromService(deps, seen, change);

  const merged = mergeChange(row.contact, row.times, seen, 'service', change.atMs);
  const toCrm = !sameContact(merged.contact, row.contact);
  // a current read that lost a field is repaired; a past webhook that lost is just old news
  const toService = change.current && merged.lost.length > 0;
  const next: SyncRow = {
    ...row,
    contact: merged.contact,
    times: merged.times,
    crmHash: toCrm ? fingerprint(merged.contact) : row.crmHash,
    serviceHash: toService ? fingerprint(merged.contact) : fingerprint(seen),
  };
  if (toCrm && row.contactId === null) {
    return { outcome: 'skipped', email: change.email, reason: 'the contact is still being created', wroteCrm: false, wroteService: false };
  }
  await writeAhead(deps, row, next, async () => {
    if (toCrm) {
      const view = await readContact(deps, row.contactId!);
      if (view?.contact) {
        const fields = updateFields(view.contact, view.phoneItemId, merged.contact, deps.unsubscribedField);
        if (Object.keys(fields).length > 0) await deps.b24.call('crm.contact.update', { id: row.contactId, fields });
      }
    }
    if (toService) await upsert(deps, merged.contact);
  });
  return { outcome: 'synced', email: change.email, contactId: row.contactId, wroteCrm: toCrm, wroteService: toService, won: merged.won.join(',') };
}

async function linkFromService(deps: SyncDeps, seen: SyncedContact, change: ServiceChange): Promise<ChangeOutcome> {
  const existing = await findContactByEmail(deps, seen.email);
  if (existing !== undefined) {
    const view = await readContact(deps, existing);
    if (view?.contact) {
      const { contact, times } = mergeBoth(view.contact, toSecondMs(view.atMs), seen, change.atMs);
      const crmFields = updateFields(view.contact, view.phoneItemId, contact, deps.unsubscribedField);
      const toService = change.current && !sameContact(contact, seen);
      const next: SyncRow = { email: seen.email, contactId: existing, contact, times, crmHash: fingerprint(contact), serviceHash: toService ? fingerprint(contact) : fingerprint(seen) };
      await writeAhead(deps, undefined, next, async () => {
        if (Object.keys(crmFields).length > 0) await deps.b24.call('crm.contact.update', { id: existing, fields: crmFields });
        if (toService) await upsert(deps, contact);
      });
      return { outcome: 'synced', email: seen.email, contactId: existing, wroteCrm: Object.keys(crmFields).length > 0, wroteService: toService };
    }
  }
  const times: FieldTimes = timesOf(change.atMs, 'service');
  const next: SyncRow = { email: seen.email, contactId: null, contact: seen, times, crmHash: fingerprint(seen), serviceHash: fingerprint(seen) };
  let contactId: number | null = null;
  await writeAhead(deps, undefined, next, async () => {
    contactId = Number((await deps.b24.call<number | string>('crm.contact.add', { fields: addFields(seen, deps.unsubscribedField) })).result);
  });
  await deps.state.put({ ...next, contactId });
  return { outcome: 'synced', email: seen.email, contactId, wroteCrm: true, wroteService: false };
}

// ---------------------------------------------------------------------------------------------
// reconciliation

export interface ReconcileProgress {
  phase: 'read-crm' | 'read-service' | 'write-crm' | 'write-service';
  done: number;
  total: number;
}

export interface ReconcileReport {
  contacts: number;
  members: number;
  linked: number;
  crmCreated: number;
  crmUpdated: number;
  serviceUpserted: number;
  /** Contacts without an address, or a second contact with an address already taken. */
  skipped: number;
  /** The newest `last_changed` read, epoch ms (the poll's next cursor). */
  newestChangeMs: number;
  [key: string]: number;
}

interface Plan {
  crmUpdates: Array<{ contactId: number; fields: Record<string, unknown> }>;
  crmAdds: SyncedContact[];
  upserts: SyncedContact[];
  rows: SyncRow[];
}

/**
 * Reads both sides whole and makes them agree: each address's contact and member merged with the
 * sync's last state (or, on a first link, by their timestamps), only what differs written. A
 * member without a contact becomes one; a contact without a member becomes one — unless the sync
 * had it unsubscribed (the member was deleted in the service: it is not brought back subscribed).
 */
export async function reconcile(deps: SyncDeps, options: { onProgress?: (progress: ReconcileProgress) => void; pageSize?: number } = {}): Promise<ReconcileReport> {
  const progress = options.onProgress ?? (() => undefined);
  const report: ReconcileReport = { contacts: 0, members: 0, linked: 0, crmCreated: 0, crmUpdated: 0, serviceUpserted: 0, skipped: 0, newestChangeMs: 0 };

  const crm = new Map<string, CrmView>();
  for await (const raw of deps.b24.list<CrmContactRaw>('crm.contact.list', { select: selectFields(deps.unsubscribedField) })) {
    report.contacts += 1;
    const view = readCrmContact(raw, deps.unsubscribedField);
    if (!view.contact || crm.has(view.contact.email)) report.skipped += 1;
    else crm.set(view.contact.email, view);
    if (report.contacts % 2500 === 0) progress({ phase: 'read-crm', done: report.contacts, total: 0 });
  }
  progress({ phase: 'read-crm', done: report.contacts, total: report.contacts });

  const members = new Map<string, ServiceMember>();
  for await (const page of deps.adapter.changesSince(deps.listId, new Date(0), { pageSize: options.pageSize ?? 1000 })) {
    for (const member of page) {
      members.set(member.email, member);
      report.newestChangeMs = Math.max(report.newestChangeMs, toSecondMs(member.lastChanged.getTime()));
    }
    report.members = members.size;
    progress({ phase: 'read-service', done: members.size, total: 0 });
  }
  report.members = members.size;

  const rows = new Map((await deps.state.all()).map((row) => [row.email, row]));
  const plan: Plan = { crmUpdates: [], crmAdds: [], upserts: [], rows: [] };
  const emails = new Set([...crm.keys(), ...members.keys()]);
  for (const email of emails) planOne(deps, plan, crm.get(email), members.get(email), rows.get(email));
  report.linked = plan.rows.length;

  // write-ahead, in transactions of 500 rows
  const putAll = async (list: SyncRow[]): Promise<void> => {
    for (let index = 0; index < list.length; index += 500) {
      const chunk = list.slice(index, index + 500);
      if (deps.transaction) await deps.transaction(async (state) => { for (const row of chunk) await state.put(row); });
      else for (const row of chunk) await deps.state.put(row);
    }
  };
  await putAll(plan.rows);

  const crmTotal = plan.crmUpdates.length + plan.crmAdds.length;
  let crmDone = 0;
  const commands: Record<string, BatchCommand> = {};
  for (const update of plan.crmUpdates) commands[`u${update.contactId}`] = ['crm.contact.update', { id: update.contactId, fields: update.fields }];
  plan.crmAdds.forEach((contact, index) => (commands[`a${index}`] = ['crm.contact.add', { fields: addFields(contact, deps.unsubscribedField) }]));
  const keys = Object.keys(commands);
  const added: SyncRow[] = [];
  const planned = new Map(plan.rows.map((row) => [row.email, row]));
  for (let index = 0; index < keys.length; index += 500) {
    const slice = Object.fromEntries(keys.slice(index, index + 500).map((key) => [key, commands[key]!]));
    const answer = await deps.b24.batch(slice);
    const first = Object.values(answer.errors)[0];
    if (first) throw first;
    for (const key of Object.keys(slice)) {
      if (!key.startsWith('a')) continue;
      const contact = plan.crmAdds[Number(key.slice(1))]!;
      const row = planned.get(contact.email);
      if (row) added.push({ ...row, contactId: Number(answer.result[key]) });
    }
    crmDone += Object.keys(slice).length;
    progress({ phase: 'write-crm', done: crmDone, total: crmTotal });
  }
  await putAll(added);
  report.crmUpdated = plan.crmUpdates.length;
  report.crmCreated = plan.crmAdds.length;

  let serviceDone = 0;
  const queue = [...plan.upserts];
  const worker = async (): Promise<void> => {
    for (let contact = queue.shift(); contact; contact = queue.shift()) {
      await upsert(deps, contact);
      serviceDone += 1;
      if (serviceDone % 500 === 0 || serviceDone === plan.upserts.length) progress({ phase: 'write-service', done: serviceDone, total: plan.upserts.length });
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  report.serviceUpserted = plan.upserts.length;
  if (report.newestChangeMs > 0) await deps.state.advanceCursor(report.newestChangeMs);
  return report;
}

function planOne(deps: SyncDeps, plan: Plan, crmView: CrmView | undefined, member: ServiceMember | undefined, row: SyncRow | undefined): void {
  const service = member && serviceView(member);
  const serviceAtMs = member ? toSecondMs(member.lastChanged.getTime()) : 0;
  const crm = crmView?.contact;
  if (crm && crmView && service) {
    let contact: SyncedContact;
    let times: FieldTimes;
    if (row) {
      const fromCrm = mergeChange(row.contact, row.times, crm, 'crm', toSecondMs(crmView.atMs));
      const both = mergeChange(fromCrm.contact, fromCrm.times, service, 'service', serviceAtMs);
      ({ contact, times } = both);
    } else {
      ({ contact, times } = mergeBoth(crm, toSecondMs(crmView.atMs), service, serviceAtMs));
    }
    const fields = updateFields(crm, crmView.phoneItemId, contact, deps.unsubscribedField);
    if (Object.keys(fields).length > 0) plan.crmUpdates.push({ contactId: crmView.contactId, fields });
    if (!sameContact({ ...contact, unsubscribed: service.unsubscribed }, service)) plan.upserts.push(contact);
    if (!row || row.contactId !== crmView.contactId || !sameContact(row.contact, contact) || row.crmHash !== fingerprint(contact) || row.serviceHash !== fingerprint(contact)) {
      plan.rows.push({ email: contact.email, contactId: crmView.contactId, contact, times, crmHash: fingerprint(contact), serviceHash: fingerprint(contact) });
    }
    return;
  }
  if (crm && crmView) {
    // no member: the contact goes to the service — unless the sync knew it unsubscribed (deleted there since)
    if (row?.contact.unsubscribed || crm.unsubscribed) return;
    const atMs = toSecondMs(crmView.atMs);
    const contact = { ...crm, unsubscribed: false };
    plan.upserts.push(contact);
    const fields = updateFields(crm, crmView.phoneItemId, contact, deps.unsubscribedField);
    if (Object.keys(fields).length > 0) plan.crmUpdates.push({ contactId: crmView.contactId, fields });
    plan.rows.push({ email: contact.email, contactId: crmView.contactId, contact, times: timesOf(atMs, 'crm'), crmHash: fingerprint(contact), serviceHash: fingerprint(contact) });
    return;
  }
  if (service) {
    // no contact: a contact the CRM deleted stays deleted (the row says it was linked); a new member becomes one
    if (row && row.contactId !== null) return;
    plan.crmAdds.push(service);
    plan.rows.push({ email: service.email, contactId: null, contact: service, times: timesOf(serviceAtMs, 'service'), crmHash: fingerprint(service), serviceHash: fingerprint(service) });
  }
}

/** The poll: members changed since the cursor, each through `serviceChanged`; moves the cursor. */
export async function pollChanges(deps: SyncDeps, options: { pageSize?: number } = {}): Promise<{ read: number; synced: number; echo: number; cursorMs: number | undefined }> {
  const since = await deps.state.cursor();
  if (since === undefined) return { read: 0, synced: 0, echo: 0, cursorMs: undefined };
  let read = 0;
  let synced = 0;
  let echo = 0;
  let newest = since;
  for await (const page of deps.adapter.changesSince(deps.listId, new Date(since), { pageSize: options.pageSize ?? 500 })) {
    for (const member of page) {
      read += 1;
      const outcome = await serviceChanged(deps, memberChange(member));
      if (outcome.outcome === 'echo') echo += 1;
      else if (outcome.outcome === 'synced') synced += 1;
      newest = Math.max(newest, toSecondMs(member.lastChanged.getTime()));
    }
  }
  await deps.state.advanceCursor(newest);
  return { read, synced, echo, cursorMs: newest };
}
