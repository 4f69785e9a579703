import { createHash, randomBytes } from 'node:crypto';
import type { EmulatorClock } from '../clock.js';
import { problems, type FieldError } from './problem.js';

export const MEMBER_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** The merge fields a new audience has (https://mailchimp.com/developer/marketing/docs/merge-fields/). */
export const DEFAULT_MERGE_TAGS = ['FNAME', 'LNAME', 'ADDRESS', 'PHONE', 'BIRTHDAY'] as const;

/** The member's id: md5 of the lower-cased e-mail (https://mailchimp.com/developer/marketing/docs/methods-parameters/). */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.toLowerCase()).digest('hex');
}

export interface Member {
  id: string;
  listId: string;
  email: string;
  uniqueEmailId: string;
  webId: number;
  status: MemberStatus;
  mergeFields: Record<string, unknown>;
  /** Tag names in the order they were applied. */
  tags: string[];
  emailType: 'html' | 'text';
  timestampSignupMs: number;
  lastChangedMs: number;
}

export interface Webhook {
  id: string;
  listId: string;
  url: string;
  events: Record<WebhookEvent, boolean>;
  sources: Record<ChangeSource, boolean>;
}

export const WEBHOOK_EVENTS = ['subscribe', 'unsubscribe', 'profile', 'cleaned', 'upemail', 'campaign'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** Who made a change: the contact (a form, an unsubscribe link), an account user in the web app, or the API. */
export type ChangeSource = 'user' | 'admin' | 'api';

export interface MailchimpList {
  id: string;
  webId: number;
  name: string;
  mergeTags: string[];
  dateCreatedMs: number;
  /** By subscriber hash, in creation order (the order list reads page in). */
  members: Map<string, Member>;
  webhooks: Map<string, Webhook>;
  tagIds: Map<string, number>;
}

/** A change a webhook may report. */
export interface MemberChange {
  type: Exclude<WebhookEvent, 'campaign'>;
  member: Member;
  oldEmail?: string;
  /** For `cleaned`: hard | abuse. */
  reason?: string;
}

export interface UpsertInput {
  email_address?: unknown;
  status?: unknown;
  status_if_new?: unknown;
  merge_fields?: unknown;
  email_type?: unknown;
  tags?: unknown;
}

export interface UpsertResult {
  member: Member;
  created: boolean;
  changes: MemberChange[];
}

/** Lists and members, with `last_changed` read from the emulator's clock. */
export class MailchimpStore {
  readonly lists = new Map<string, MailchimpList>();
  #webIds = 1000;
  #tagIds = 1;

  constructor(private readonly clock: EmulatorClock) {}

  createList(input: { id?: string; name?: string; mergeTags?: string[] } = {}): MailchimpList {
    const id = input.id ?? randomBytes(5).toString('hex');
    if (this.lists.has(id)) throw new Error(`list already exists: ${id}`);
    const list: MailchimpList = {
      id,
      webId: this.#webIds++,
      name: input.name ?? `List ${id}`,
      mergeTags: input.mergeTags ?? [...DEFAULT_MERGE_TAGS],
      dateCreatedMs: this.clock.nowMs(),
      members: new Map(),
      webhooks: new Map(),
      tagIds: new Map(),
    };
    this.lists.set(id, list);
    return list;
  }

  /** The member addressed by a path segment: its hash, or (as Mailchimp also accepts) its e-mail. */
  findMember(list: MailchimpList, hashOrEmail: string): Member | undefined {
    const key = hashOrEmail.includes('@') ? subscriberHash(hashOrEmail) : hashOrEmail.toLowerCase();
    return list.members.get(key);
  }

  /**
   * Add or update (`PUT …/members/{subscriber_hash}`): `status_if_new` (else `status`) for a new
   * member, `status` only for an existing one; merge fields given replace those values only.
   * Changes that alter nothing leave `last_changed` and fire nothing.
   */
  upsert(list: MailchimpList, pathHash: string, input: UpsertInput, mode: 'put' | 'post' | 'control'): UpsertResult {
    const errors: FieldError[] = [];
    const email = typeof input.email_address === 'string' ? input.email_address.trim() : '';
    if (!email) errors.push({ field: 'email_address', message: 'This value should not be blank.' });
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.push({ field: 'email_address', message: 'Please provide a valid email address.' });
    const status = optionalStatus(input.status, 'status', errors);
    const statusIfNew = optionalStatus(input.status_if_new, 'status_if_new', errors);
    const merges = this.#mergeFields(list, input.merge_fields, errors);
    const tags = optionalTags(input.tags, errors);
    if (input.email_type !== undefined && input.email_type !== 'html' && input.email_type !== 'text') {
      errors.push({ field: 'email_type', message: "Must be 'html' or 'text'." });
    }
    if (errors.length > 0) throw problems.invalidResource('The resource submitted could not be validated. For field-specific details, see the \'errors\' array.', errors);
    const hash = subscriberHash(email);
    if (mode === 'put' && pathHash.toLowerCase() !== hash && pathHash.toLowerCase() !== email.toLowerCase()) {
      throw problems.invalidResource('The subscriber hash in the URL does not match the md5 of the lower-cased email_address.', [
        { field: 'email_address', message: 'Does not match the subscriber hash in the URL.' },
      ]);
    }
    const existing = list.members.get(hash);
    if (existing && mode === 'post') throw problems.memberExists(email);
    const now = this.clock.nowMs();
    if (!existing) {
      const initial = mode === 'put' ? statusIfNew ?? status : status ?? statusIfNew;
      if (!initial) {
        throw problems.invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", [
          { field: mode === 'put' ? 'status_if_new' : 'status', message: 'This value should not be blank.' },
        ]);
      }
      const member: Member = {
        id: hash,
        listId: list.id,
        email,
        uniqueEmailId: randomBytes(5).toString('hex'),
        webId: this.#webIds++,
        status: initial,
        mergeFields: { ...Object.fromEntries(list.mergeTags.map((tag) => [tag, ''])), ...merges },
        tags: [],
        emailType: (input.email_type as 'html' | 'text' | undefined) ?? 'html',
        timestampSignupMs: now,
        lastChangedMs: now,
      };
      for (const tag of tags ?? []) this.#applyTag(list, member, tag, true);
      list.members.set(hash, member);
      return { member, created: true, changes: initial === 'subscribed' ? [{ type: 'subscribe', member }] : [] };
    }
    const changes: MemberChange[] = [];
    let changed = false;
    const mergesChanged = Object.entries(merges).some(([tag, value]) => JSON.stringify(existing.mergeFields[tag]) !== JSON.stringify(value));
    if (mergesChanged) {
      Object.assign(existing.mergeFields, merges);
      changed = true;
    }
    if (existing.email !== email) {
      // only the case differs (same hash): Mailchimp keeps the address as last written
      existing.email = email;
      changed = true;
    }
    if (input.email_type !== undefined && input.email_type !== existing.emailType) {
      existing.emailType = input.email_type as 'html' | 'text';
      changed = true;
    }
    if (status && status !== existing.status) {
      existing.status = status;
      changed = true;
      if (status === 'subscribed') changes.push({ type: 'subscribe', member: existing });
      else if (status === 'unsubscribed') changes.push({ type: 'unsubscribe', member: existing });
      else if (status === 'cleaned') changes.push({ type: 'cleaned', member: existing, reason: 'hard' });
    }
    if (mergesChanged) changes.push({ type: 'profile', member: existing });
    if (changed) existing.lastChangedMs = now;
    return { member: existing, created: false, changes };
  }

  /** `upemail`: the member moves to a new address (and so a new hash). */
  changeEmail(list: MailchimpList, member: Member, newEmail: string): MemberChange {
    const hash = subscriberHash(newEmail);
    if (list.members.has(hash)) throw problems.memberExists(newEmail);
    const oldEmail = member.email;
    list.members.delete(member.id);
    member.id = hash;
    member.email = newEmail;
    member.lastChangedMs = this.clock.nowMs();
    list.members.set(hash, member);
    return { type: 'upemail', member, oldEmail };
  }

  setStatus(member: Member, status: MemberStatus, reason?: string): MemberChange | undefined {
    if (member.status === status) return undefined;
    member.status = status;
    member.lastChangedMs = this.clock.nowMs();
    if (status === 'subscribed') return { type: 'subscribe', member };
    if (status === 'unsubscribed') return { type: 'unsubscribe', member };
    if (status === 'cleaned') return { type: 'cleaned', member, reason: reason ?? 'hard' };
    return undefined;
  }

  /** `POST …/members/{hash}/tags`: `{ tags: [{ name, status: 'active' | 'inactive' }] }`. */
  updateTags(list: MailchimpList, member: Member, body: unknown): void {
    const tags = (body as { tags?: unknown } | undefined)?.tags;
    const errors: FieldError[] = [];
    if (!Array.isArray(tags)) errors.push({ field: 'tags', message: 'Required array of { name, status }.' });
    else {
      tags.forEach((tag: unknown, index) => {
        const { name, status } = (tag ?? {}) as { name?: unknown; status?: unknown };
        if (typeof name !== 'string' || name.trim() === '') errors.push({ field: `tags[${index}].name`, message: 'This value should not be blank.' });
        if (status !== 'active' && status !== 'inactive') errors.push({ field: `tags[${index}].status`, message: "Must be 'active' or 'inactive'." });
      });
    }
    if (errors.length > 0) throw problems.invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", errors);
    for (const tag of tags as { name: string; status: string }[]) this.#applyTag(list, member, tag.name.trim(), tag.status === 'active');
  }

  #applyTag(list: MailchimpList, member: Member, name: string, active: boolean): void {
    if (!list.tagIds.has(name)) list.tagIds.set(name, this.#tagIds++);
    const index = member.tags.indexOf(name);
    if (active && index < 0) member.tags.push(name);
    if (!active && index >= 0) member.tags.splice(index, 1);
  }

  #mergeFields(list: MailchimpList, value: unknown, errors: FieldError[]): Record<string, unknown> {
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ field: 'merge_fields', message: 'Must be an object keyed by merge tag.' });
      return {};
    }
    const out: Record<string, unknown> = {};
    for (const [tag, field] of Object.entries(value)) {
      if (!list.mergeTags.includes(tag)) errors.push({ field: `merge_fields.${tag}`, message: `Unknown merge tag ${tag} for this list.` });
      else if (typeof field !== 'string' && !(tag === 'ADDRESS' && field !== null && typeof field === 'object')) {
        errors.push({ field: `merge_fields.${tag}`, message: 'Must be a string.' });
      } else out[tag] = field;
    }
    return out;
  }

  memberJson(list: MailchimpList, member: Member): Record<string, unknown> {
    return {
      id: member.id,
      email_address: member.email,
      unique_email_id: member.uniqueEmailId,
      web_id: member.webId,
      email_type: member.emailType,
      status: member.status,
      merge_fields: { ...member.mergeFields },
      stats: { avg_open_rate: 0, avg_click_rate: 0 },
      ip_signup: '',
      timestamp_signup: isoSeconds(member.timestampSignupMs),
      ip_opt: '',
      timestamp_opt: isoSeconds(member.timestampSignupMs),
      member_rating: 2,
      last_changed: isoSeconds(member.lastChangedMs),
      language: '',
      vip: false,
      email_client: '',
      location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: '', timezone: '' },
      tags_count: member.tags.length,
      tags: member.tags.map((name) => ({ id: list.tagIds.get(name), name })),
      list_id: list.id,
      _links: [],
    };
  }

  listJson(list: MailchimpList): Record<string, unknown> {
    let subscribed = 0;
    let unsubscribed = 0;
    let cleaned = 0;
    for (const member of list.members.values()) {
      if (member.status === 'subscribed') subscribed += 1;
      else if (member.status === 'unsubscribed') unsubscribed += 1;
      else if (member.status === 'cleaned') cleaned += 1;
    }
    return {
      id: list.id,
      web_id: list.webId,
      name: list.name,
      date_created: isoSeconds(list.dateCreatedMs),
      stats: { member_count: subscribed, unsubscribe_count: unsubscribed, cleaned_count: cleaned },
      _links: [],
    };
  }
}

/** ISO 8601 to the second with a `+00:00` offset, as the API writes `last_changed`. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}

function optionalStatus(value: unknown, field: string, errors: FieldError[]): MemberStatus | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (MEMBER_STATUSES as readonly string[]).includes(value)) return value as MemberStatus;
  errors.push({ field, message: `Must be one of ${MEMBER_STATUSES.join(', ')}.` });
  return undefined;
}

function optionalTags(value: unknown, errors: FieldError[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((tag) => typeof tag !== 'string' || tag.trim() === '')) {
    errors.push({ field: 'tags', message: 'Must be an array of tag names.' });
    return undefined;
  }
  return value.map((tag: string) => tag.trim());
}
