/**
 * The Mailchimp Marketing API v3 adapter of the contacts sync (an EmailServiceAdapter), over undici.
 *
 * - Auth: HTTP basic, any username, the API key as password; the key's `-us21` suffix picks the
 *   host `https://us21.api.mailchimp.com/3.0` (https://mailchimp.com/developer/marketing/docs/fundamentals/).
 *   `baseUrl` overrides it (the emulator: `${mc.url}/3.0`).
 * - At most `maxConnections` requests in flight: Mailchimp answers an API key's 11th simultaneous
 *   connection with 429 (same page).
 * - 429 and 5xx are retried with src/rest/retry.ts `backoffMs`; a write that is not idempotent
 *   (adding a webhook) is retried only when it cannot have been applied (429, connection refused).
 * - Errors are problem+json (`type`, `title`, `status`, `detail`, `errors[{ field, message }]`,
 *   https://mailchimp.com/developer/marketing/docs/errors/) → EmailServiceError,
 *   B24_ERR_EMAIL_SERVICE with the status, the detail and the fields at fault. Never the API key.
 */
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { B24Error } from '../../errors.js';
import { backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../../rest/retry.js';
import type {
  ChangesOptions,
  EmailServiceAdapter,
  EmailServiceEvent,
  MemberStatus,
  MemberUpsert,
  RegisteredWebhook,
  ServiceMember,
  WebhookDelivery,
} from './email-service.js';
import { parseMailchimpWebhook } from './mailchimp-webhook.js';
import { Semaphore } from './semaphore.js';

export interface MailchimpAdapterOptions {
  /** The account's API key, `<key>-<dc>`. Never logged, never in an error. */
  apiKey: string;
  /** The API root instead of `https://<dc>.api.mailchimp.com/3.0` (the emulator: `${mc.url}/3.0`). @defaultValue from the key's data center */
  baseUrl?: string;
  /** Requests in flight at once. @defaultValue 10 (Mailchimp's limit per API key) */
  maxConnections?: number;
  /** Retries of 429 / 5xx / network failures. @defaultValue DEFAULT_BACKOFF (5 attempts, 500 ms base, 30 s cap) */
  backoff?: Partial<BackoffPolicy>;
  /** Time allowed for one request, answer included, in ms. @defaultValue 30000 */
  timeoutMs?: number;
  /** undici dispatcher (connection pool). @defaultValue an Agent of its own with `maxConnections` connections per origin */
  dispatcher?: Dispatcher;
  /** @defaultValue 'b24kit' */
  userAgent?: string;
}

/** One field at fault in a 400 "Invalid Resource" answer. */
export interface EmailServiceFieldError {
  field: string;
  message: string;
}

/** Mailchimp refused a request, or could not be reached: B24_ERR_EMAIL_SERVICE. */
export class EmailServiceError extends B24Error {
  constructor(
    message: string,
    details: { status?: number | undefined; method: string },
    /** The problem's `title` ("Invalid Resource"), when there was an answer. */
    readonly title: string | undefined,
    /** The problem's `detail`. */
    readonly detail: string | undefined,
    /** The problem's `errors`, one per field at fault. */
    readonly fields: EmailServiceFieldError[],
  ) {
    super('B24_ERR_EMAIL_SERVICE', message, details);
    this.name = 'EmailServiceError';
  }
}

/** Mailchimp's subscriber hash: md5 of the lower-cased address (https://mailchimp.com/developer/marketing/docs/methods-parameters/). */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.trim().toLowerCase()).digest('hex');
}

/** `https://us21.api.mailchimp.com/3.0` for a key ending in `-us21`. */
export function mailchimpApiRoot(apiKey: string): string {
  const dc = /^[A-Za-z0-9]+-([a-z]{2,4}\d{1,3})$/.exec(apiKey)?.[1];
  if (!dc) throw new B24Error('B24_ERR_CONFIG', 'The Mailchimp API key has no data-center suffix (expected <key>-<dc>, e.g. …-us21)');
  return `https://${dc}.api.mailchimp.com/3.0`;
}

interface Call {
  method: 'GET' | 'PUT' | 'POST';
  /** The path as sent, e.g. `/lists/abc/members/<hash>`. */
  path: string;
  /** The route, for errors: `PUT /lists/{list_id}/members/{subscriber_hash}`. */
  route: string;
  body?: unknown;
  /** Safe to send again when its outcome is unknown (timeout, broken connection, 5xx). */
  idempotent: boolean;
}

interface MemberJson {
  email_address: string;
  status: MemberStatus;
  merge_fields?: Record<string, unknown>;
  tags?: { name: string }[];
  last_changed: string;
}

const WEBHOOK_EVENTS = { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false };
// `api: false`: changes the sync makes through the API are not reported back to it (no echo)
const WEBHOOK_SOURCES = { user: true, admin: true, api: false };

export class MailchimpAdapter implements EmailServiceAdapter {
  readonly service = 'mailchimp';
  readonly #apiKey: string;
  readonly #root: string;
  readonly #authorization: string;
  readonly #semaphore: Semaphore;
  readonly #backoff: BackoffPolicy;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #userAgent: string;

  constructor(options: MailchimpAdapterOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw new B24Error('B24_ERR_CONFIG', 'The Mailchimp API key is missing');
    this.#apiKey = options.apiKey.trim();
    this.#root = (options.baseUrl ?? mailchimpApiRoot(this.#apiKey)).replace(/\/+$/, '');
    this.#authorization = `Basic ${Buffer.from(`b24kit:${this.#apiKey}`).toString('base64')}`;
    const maxConnections = options.maxConnections ?? 10;
    this.#semaphore = new Semaphore(maxConnections);
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 10_000, connections: maxConnections });
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#userAgent = options.userAgent ?? 'b24kit';
  }

  async upsertMember(audienceId: string, member: MemberUpsert): Promise<ServiceMember> {
    const email = member.email.trim().toLowerCase();
    const mergeFields: Record<string, string> = {};
    if (member.firstName !== undefined) mergeFields.FNAME = member.firstName;
    if (member.lastName !== undefined) mergeFields.LNAME = member.lastName;
    if (member.phone !== undefined) mergeFields.PHONE = member.phone;
    const tags = [...new Set(member.tags ?? [])];
    const hash = subscriberHash(email);
    const path = `/lists/${encodeURIComponent(audienceId)}/members/${hash}`;
    // status_if_new, never status: an existing member's status (an unsubscribe) is theirs to keep
    const stored = (await this.#send({
      method: 'PUT',
      path,
      route: 'PUT /lists/{list_id}/members/{subscriber_hash}',
      body: { email_address: email, status_if_new: member.statusIfNew, merge_fields: mergeFields, ...(tags.length ? { tags } : {}) },
      idempotent: true,
    })) as MemberJson;
    const result = toMember(stored);
    // a PUT's `tags` apply when the member is created only; an existing member gets them through the tags route
    const missing = tags.filter((tag) => !result.tags.includes(tag));
    if (missing.length > 0) {
      await this.#send({
        method: 'POST',
        path: `${path}/tags`,
        route: 'POST /lists/{list_id}/members/{subscriber_hash}/tags',
        body: { tags: missing.map((name) => ({ name, status: 'active' })) },
        idempotent: true,
      });
      result.tags.push(...missing);
    }
    return result;
  }

  async *changesSince(audienceId: string, since: Date, options: ChangesOptions = {}): AsyncIterable<ServiceMember[]> {
    const count = options.pageSize ?? 500;
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'pageSize must be an integer from 1 to 1000 (Mailchimp\'s largest count)');
    // ISO 8601 to the second, as Mailchimp writes last_changed
    const sinceText = `${since.toISOString().slice(0, 19)}+00:00`;
    for (let offset = 0; ; ) {
      const query = new URLSearchParams({ since_last_changed: sinceText, count: String(count), offset: String(offset) });
      const page = (await this.#send({
        method: 'GET',
        path: `/lists/${encodeURIComponent(audienceId)}/members?${query}`,
        route: 'GET /lists/{list_id}/members',
        idempotent: true,
      })) as { members?: MemberJson[]; total_items?: number };
      const members = page.members ?? [];
      if (members.length > 0) yield members.map(toMember);
      offset += members.length;
      if (members.length === 0 || offset >= (page.total_items ?? 0)) return;
    }
  }

  parseWebhook(delivery: WebhookDelivery, expectedSecret: string): EmailServiceEvent {
    return parseMailchimpWebhook(delivery, expectedSecret);
  }

  async registerWebhook(audienceId: string, url: string): Promise<RegisteredWebhook> {
    const path = `/lists/${encodeURIComponent(audienceId)}/webhooks`;
    const existing = (await this.#send({ method: 'GET', path, route: 'GET /lists/{list_id}/webhooks', idempotent: true })) as {
      webhooks?: { id: string; url: string; sources?: { api?: boolean } }[];
    };
    const same = existing.webhooks?.find((webhook) => webhook.url === url);
    if (same) return { id: same.id, url: same.url, excludesApiChanges: same.sources?.api === false };
    const created = (await this.#send({
      method: 'POST',
      path,
      route: 'POST /lists/{list_id}/webhooks',
      body: { url, events: WEBHOOK_EVENTS, sources: WEBHOOK_SOURCES },
      idempotent: false,
    })) as { id: string; url: string; sources?: { api?: boolean } };
    return { id: created.id, url: created.url, excludesApiChanges: created.sources?.api === false };
  }

  /** Closes the adapter's own connection pool (kept-alive sockets); a `dispatcher` passed in is the caller's to close. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** Sends one call, retrying what may be retried; answers the parsed JSON (undefined for 204). */
  async #send(call: Call): Promise<unknown> {
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.#semaphore.run(() => this.#attempt(call));
      if (outcome.ok) return outcome.value;
      const delay = outcome.retryable ? backoffMs(attempt, this.#backoff) : undefined;
      if (delay === undefined) throw outcome.error;
      await new Promise((resolve) => setTimeout(resolve, delay)); // the permit is free while we wait
    }
  }

  async #attempt(call: Call): Promise<{ ok: true; value: unknown } | { ok: false; retryable: boolean; error: EmailServiceError }> {
    const timeout = AbortSignal.timeout(Math.max(1, this.#timeoutMs));
    let status: number;
    let text: string;
    try {
      const response = await request(`${this.#root}${call.path}`, {
        method: call.method,
        headers: {
          authorization: this.#authorization,
          accept: 'application/json',
          'user-agent': this.#userAgent,
          ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
        signal: timeout,
        dispatcher: this.#dispatcher,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const code = networkCode(error);
      // a refused connection never carried the request: any call may go again
      const notSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT';
      const what = timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : `network failure${code ? ` (${code})` : ''}`;
      return { ok: false, retryable: notSent || call.idempotent, error: new EmailServiceError(`Mailchimp ${call.route}: ${what}`, { method: call.route }, undefined, undefined, []) };
    }
    if (status >= 200 && status < 300) {
      if (text === '') return { ok: true, value: undefined };
      try {
        return { ok: true, value: JSON.parse(text) as unknown };
      } catch {
        return { ok: false, retryable: false, error: new EmailServiceError(`Mailchimp ${call.route}: ${status} answer is not JSON`, { status, method: call.route }, undefined, undefined, []) };
      }
    }
    // 429: refused before anything was done; 5xx: maybe done, so only idempotent calls go again
    const retryable = status === 429 || (status >= 500 && call.idempotent);
    return { ok: false, retryable, error: this.#problem(call, status, text) };
  }

  #problem(call: Call, status: number, text: string): EmailServiceError {
    let problem: { title?: unknown; detail?: unknown; errors?: unknown } = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') problem = parsed as typeof problem;
    } catch {
      // not problem+json (a proxy's HTML page): status only
    }
    const title = typeof problem.title === 'string' ? this.#scrub(problem.title) : undefined;
    const detail = typeof problem.detail === 'string' ? this.#scrub(problem.detail) : undefined;
    const fields = Array.isArray(problem.errors)
      ? problem.errors
          .filter((entry): entry is { field: unknown; message: unknown } => typeof entry === 'object' && entry !== null)
          .map((entry) => ({ field: this.#scrub(String(entry.field ?? '')), message: this.#scrub(String(entry.message ?? '')) }))
      : [];
    const named = fields.length ? ` (fields: ${fields.map((entry) => entry.field).join(', ')})` : '';
    const message = `Mailchimp ${call.route}: ${status}${title ? ` ${title}` : ''}${detail ? `: ${detail}` : ''}${named}`;
    return new EmailServiceError(message, { status, method: call.route }, title, detail, fields);
  }

  /** The key never leaves in an error, even if an answer were to quote it. */
  #scrub(text: string): string {
    return text.split(this.#apiKey).join('[redacted]');
  }
}

function toMember(json: MemberJson): ServiceMember {
  const merge = json.merge_fields ?? {};
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  return {
    email: json.email_address.toLowerCase(),
    status: json.status,
    firstName: text(merge.FNAME),
    lastName: text(merge.LNAME),
    phone: text(merge.PHONE),
    tags: (json.tags ?? []).map((tag) => tag.name),
    lastChanged: new Date(json.last_changed),
  };
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
