/**
 * What the contacts sync carries, and its two policies as pure functions:
 *
 * - the content fingerprint of one side's view of a contact (`fingerprint`): a change whose
 *   fingerprint equals what the sync last wrote to (or saw on) that side is its own echo, dropped;
 * - field-level last-writer-wins (`mergeChange`): an incoming value replaces the synced one when
 *   its side's timestamp (CRM `DATE_MODIFY`, Mailchimp `last_changed` or the webhook's `fired_at`)
 *   is later than the time the synced value was set; on the same second the CRM wins over the
 *   service, and a side's later change over its own earlier one.
 *
 * The subscription (`unsubscribed`) is the email service's alone: the CRM shows it in a user field
 * and never changes it (an unsubscribe is never undone by a CRM edit).
 */
import { createHash } from 'node:crypto';

/** The fields merged by last-writer-wins. */
export const MERGED_FIELDS = ['firstName', 'lastName', 'phone'] as const;
export type MergedField = (typeof MERGED_FIELDS)[number];

/** One contact as the sync sees it, on either side. */
export interface SyncedContact {
  /** Lower-cased: the member's key in the service. */
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  /** Unsubscribed or cleaned in the service. */
  unsubscribed: boolean;
}

export type Side = 'crm' | 'service';

/** When each merged field's synced value was set (epoch ms, to the second), and by which side. */
export type FieldTimes = Record<MergedField, number> & { by?: Partial<Record<MergedField, Side>> };

/** Every field set at `atMs` by `side` (a first link). */
export function timesOf(atMs: number, side: Side): FieldTimes {
  return { firstName: atMs, lastName: atMs, phone: atMs, by: { firstName: side, lastName: side, phone: side } };
}

/** sha256 of the synced fields, in a fixed order: equal views, equal fingerprints. */
export function fingerprint(contact: SyncedContact): string {
  const text = JSON.stringify([contact.email, contact.firstName, contact.lastName, contact.phone, contact.unsubscribed]);
  return createHash('sha256').update(text).digest('base64url');
}

export interface MergeResult {
  /** The synced contact after the change. */
  contact: SyncedContact;
  times: FieldTimes;
  /** Merged fields the incoming side won (its value is now the synced one). */
  won: MergedField[];
  /** Merged fields the incoming side changed but lost to a later value already synced. */
  lost: MergedField[];
}

/**
 * Field-level last-writer-wins of one side's view (`incoming`, seen at `atMs`) over the synced
 * contact. Only fields that differ from the synced value take part: a field the incoming side did
 * not change keeps its value and its time. The subscription follows the service only.
 */
export function mergeChange(synced: SyncedContact, times: FieldTimes, incoming: SyncedContact, side: Side, atMs: number): MergeResult {
  const contact = { ...synced };
  const nextTimes = { ...times };
  const won: MergedField[] = [];
  const lost: MergedField[] = [];
  for (const field of MERGED_FIELDS) {
    if (incoming[field] === synced[field]) continue;
    // on the same second: the CRM wins, and a side's later change beats its own earlier one
    if (atMs > times[field] || (atMs === times[field] && (side === 'crm' || times.by?.[field] === side))) {
      contact[field] = incoming[field];
      nextTimes[field] = atMs;
      nextTimes.by = { ...nextTimes.by, [field]: side };
      won.push(field);
    } else {
      lost.push(field);
    }
  }
  if (side === 'service') contact.unsubscribed = incoming.unsubscribed;
  return { contact, times: nextTimes, won, lost };
}

/**
 * The first link of a contact and a member both already present (the first full sync): each field
 * that differs goes to the side with the later timestamp; on the same second the CRM wins.
 */
export function mergeBoth(crm: SyncedContact, crmAtMs: number, service: SyncedContact, serviceAtMs: number): { contact: SyncedContact; times: FieldTimes } {
  const contact = { ...crm, unsubscribed: service.unsubscribed };
  const times = timesOf(crmAtMs, 'crm');
  for (const field of MERGED_FIELDS) {
    if (crm[field] !== service[field] && serviceAtMs > crmAtMs) {
      contact[field] = service[field];
      times[field] = serviceAtMs;
      times.by = { ...times.by, [field]: 'service' };
    }
  }
  return { contact, times };
}

export function sameContact(a: SyncedContact, b: SyncedContact): boolean {
  return fingerprint(a) === fingerprint(b);
}

/** Whole seconds: both sides keep their times to the second. */
export function toSecondMs(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
