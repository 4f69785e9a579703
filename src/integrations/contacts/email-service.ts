/**
 * The email service as the contacts sync sees it: upsert a member, read what changed since a
 * moment, turn an incoming webhook into typed change events, register that webhook. Service-neutral:
 * the Mailchimp adapter (mailchimp.ts) is the first implementation; another service implements the
 * same interface and the sync does not change.
 *
 * Members are keyed by e-mail address, lower-cased (Mailchimp's subscriber hash is md5 of it).
 */

/** A member's subscription status, in Mailchimp's words (the vocabulary other services map onto). */
export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional';

/** The contact fields the sync carries (Mailchimp merge fields FNAME, LNAME, PHONE). */
export interface MemberFields {
  firstName?: string;
  lastName?: string;
  phone?: string;
}

export interface MemberUpsert extends MemberFields {
  email: string;
  /** The status a NEW member gets; an existing member keeps theirs (an unsubscribe is never undone by an upsert). */
  statusIfNew: MemberStatus;
  /** Tags the member must carry (added if missing; others are left alone). */
  tags?: string[];
}

/** A member as the service holds it. */
export interface ServiceMember {
  /** Lower-cased. */
  email: string;
  status: MemberStatus;
  firstName: string;
  lastName: string;
  phone: string;
  tags: string[];
  /** When the service last changed the member (to the second). */
  lastChanged: Date;
}

export interface ChangesOptions {
  /** Members per request. @defaultValue 500 */
  pageSize?: number;
}

/** When and how the service says a member changed (a webhook delivery). */
export type EmailServiceEvent =
  | { type: 'subscribe' | 'profile'; firedAt: Date; audienceId: string; email: string; fields: MemberFields }
  | { type: 'unsubscribe'; firedAt: Date; audienceId: string; email: string; fields: MemberFields; action: string; reason: string }
  | { type: 'upemail'; firedAt: Date; audienceId: string; oldEmail: string; newEmail: string }
  | { type: 'cleaned'; firedAt: Date; audienceId: string; email: string; reason: string };

/** An incoming webhook request, as the route received it. */
export interface WebhookDelivery {
  /** The raw body. */
  body: string;
  /** The request's `Content-Type`. */
  contentType: string | undefined;
  /** The per-portal secret the request presented (where it comes from is the adapter's documented choice). */
  presentedSecret: string | undefined;
}

export interface RegisteredWebhook {
  id: string;
  url: string;
  /** True when the service was told not to report changes made through its API (our own writes). */
  excludesApiChanges: boolean;
}

export interface EmailServiceAdapter {
  /** e.g. `mailchimp`. */
  readonly service: string;
  /** Creates or updates the member; answers the member as stored. */
  upsertMember(audienceId: string, member: MemberUpsert): Promise<ServiceMember>;
  /** Every member changed at or after `since`, page by page, to the end. */
  changesSince(audienceId: string, since: Date, options?: ChangesOptions): AsyncIterable<ServiceMember[]>;
  /**
   * Authenticates a webhook against the portal's secret, then parses it.
   * Throws B24_ERR_UNAUTHORIZED (wrong or missing secret) or B24_ERR_BAD_REQUEST (naming the field).
   */
  parseWebhook(delivery: WebhookDelivery, expectedSecret: string): EmailServiceEvent;
  /**
   * Registers `url` for member changes, excluding changes made through the API where the service
   * allows it, so the sync's own writes do not come back. An existing webhook with the same URL is
   * kept (registering twice is safe).
   */
  registerWebhook(audienceId: string, url: string): Promise<RegisteredWebhook>;
}
