/**
 * Mailchimp list webhooks: authenticated by a per-portal secret, parsed into typed change events.
 *
 * Mailchimp signs nothing: a delivery is a form-encoded POST (`type`, `fired_at`, `data[…]`,
 * https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/) that anyone who
 * knows the URL can forge. So the URL carries a per-portal secret, and it is the only proof the
 * request came from the portal's audience. The secret travels in the QUERY (`?secret=…`): the web
 * server's logger redacts query values whose name holds "secret" (src/server/logging.ts), while a
 * path segment would be logged as it is. Mailchimp keeps the registered URL, query included.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { B24Error } from '../../errors.js';
import type { EmailServiceEvent, MemberFields, WebhookDelivery } from './email-service.js';

/** A webhook refused for its body: 400 B24_ERR_BAD_REQUEST naming the field at fault (values are never echoed). */
export class WebhookRejected extends B24Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('B24_ERR_BAD_REQUEST', message);
  }
}

// compared as HMACs under a key of this process: equal lengths for timingSafeEqual, nothing learnt from timing
const COMPARE_KEY = randomBytes(32);
const digest = (value: string): Buffer => createHmac('sha256', COMPARE_KEY).update(value).digest();

/** Whether the presented secret is the portal's (constant time). */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  if (!presented || !expected) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

/** `YYYY-MM-DD HH:MM:SS`, read as UTC (UNCONFIRMED: Mailchimp does not state the zone). */
const FiredAt = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/, 'expected "YYYY-MM-DD HH:MM:SS"')
  .transform((value) => new Date(`${value.replace(' ', 'T')}Z`))
  .refine((date) => !Number.isNaN(date.getTime()), 'not a date');

const Email = z
  .email()
  .max(254)
  .transform((value) => value.toLowerCase());
const Text = z.string().max(255).optional();
const Merges = z.object({ FNAME: Text, LNAME: Text, PHONE: Text }).optional();
const Common = { fired_at: FiredAt, data: z.object({}) };
const ListId = z.string().min(1).max(100);

const Body = z.discriminatedUnion('type', [
  z.object({ ...Common, type: z.enum(['subscribe', 'profile']), data: z.object({ list_id: ListId, email: Email, merges: Merges }) }),
  z.object({
    ...Common,
    type: z.literal('unsubscribe'),
    data: z.object({ list_id: ListId, email: Email, merges: Merges, action: z.string().max(50).default(''), reason: z.string().max(50).default('') }),
  }),
  z.object({ ...Common, type: z.literal('upemail'), data: z.object({ list_id: ListId, old_email: Email, new_email: Email }) }),
  z.object({ ...Common, type: z.literal('cleaned'), data: z.object({ list_id: ListId, email: Email, reason: z.string().max(50).default('') }) }),
]);

/**
 * `data[merges][FNAME]=Ann` → `{ data: { merges: { FNAME: 'Ann' } } }`. A repeated key keeps its
 * first value; keys deeper than 4 levels are dropped (ADDRESS parts are the deepest Mailchimp sends).
 */
export function formToObject(form: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of form) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!match) continue;
    const path = [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)];
    if (path.length > 4 || path.some((part) => part === '' || part === '__proto__')) continue;
    let node = root;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === undefined) node = node[part] = Object.create(null) as Record<string, unknown>;
      else if (typeof next === 'object' && next !== null) node = next as Record<string, unknown>;
      else break;
    }
    const last = path.at(-1)!;
    if (node[last] === undefined) node[last] = value;
  }
  return root;
}

function fields(merges: { FNAME?: string | undefined; LNAME?: string | undefined; PHONE?: string | undefined } | undefined): MemberFields {
  const out: MemberFields = {};
  if (merges?.FNAME !== undefined) out.firstName = merges.FNAME;
  if (merges?.LNAME !== undefined) out.lastName = merges.LNAME;
  if (merges?.PHONE !== undefined) out.phone = merges.PHONE;
  return out;
}

/** Authenticates and parses one Mailchimp webhook delivery (see the file comment for the secret). */
export function parseMailchimpWebhook(delivery: WebhookDelivery, expectedSecret: string): EmailServiceEvent {
  if (!secretMatches(delivery.presentedSecret, expectedSecret)) {
    throw new B24Error('B24_ERR_UNAUTHORIZED', 'The webhook did not present this portal\'s secret');
  }
  const mediaType = (delivery.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new WebhookRejected('(body)', `Mailchimp webhook: expected application/x-www-form-urlencoded, got ${mediaType || 'no content type'}`);
  }
  const parsed = Body.safeParse(formToObject(new URLSearchParams(delivery.body)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = formField(issue.path.map(String));
    throw new WebhookRejected(field, `Mailchimp webhook: ${field}: ${issue.message}`);
  }
  const { data: body } = parsed;
  const base = { firedAt: body.fired_at, audienceId: body.data.list_id };
  switch (body.type) {
    case 'subscribe':
    case 'profile':
      return { ...base, type: body.type, email: body.data.email, fields: fields(body.data.merges) };
    case 'unsubscribe':
      return { ...base, type: 'unsubscribe', email: body.data.email, fields: fields(body.data.merges), action: body.data.action, reason: body.data.reason };
    case 'upemail':
      return { ...base, type: 'upemail', oldEmail: body.data.old_email, newEmail: body.data.new_email };
    case 'cleaned':
      return { ...base, type: 'cleaned', email: body.data.email, reason: body.data.reason };
  }
}

/** A zod path as the form spells it: `data.merges.FNAME` → `data[merges][FNAME]`. */
function formField(path: string[]): string {
  if (path.length === 0) return '(body)';
  return path[0]! + path.slice(1).map((part) => `[${part}]`).join('');
}
