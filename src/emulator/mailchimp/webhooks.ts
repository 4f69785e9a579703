import { randomBytes } from 'node:crypto';
import type { EmulatorClock } from '../clock.js';
import { problems } from './problem.js';
import type { MailchimpStats } from './stats.js';
import { WEBHOOK_EVENTS, type ChangeSource, type MailchimpList, type MemberChange, type Webhook, type WebhookEvent } from './store.js';

/** One POST the emulator made to a webhook URL (control API `GET /_emulator/mailchimp/deliveries`). */
export interface WebhookDelivery {
  webhookId: string;
  listId: string;
  url: string;
  type: string;
  source: ChangeSource;
  /** The form body as sent. */
  body: string;
  /** HTTP status of the answer, or undefined when the request failed. */
  status?: number;
  error?: string;
}

/**
 * Registered list webhooks and the outbox that POSTs their events. A webhook fires for an event it
 * enabled in `events` and a change whose source it enabled in `sources`
 * (https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/). One attempt per event:
 * Mailchimp cancels a POST after 10 s and retries "at increasing intervals over the course of 75
 * minutes" (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/) without
 * publishing the schedule, so the emulator records the failure instead of inventing one.
 */
export class WebhookOutbox {
  readonly deliveries: WebhookDelivery[] = [];
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly clock: EmulatorClock,
    private readonly stats: MailchimpStats,
    private readonly options: { validateUrls: boolean; timeoutMs: number },
  ) {}

  /**
   * `POST /lists/{list_id}/webhooks`. Mailchimp checks the URL with a GET before saving it ("our
   * webhook validator will only send HTTP GET requests", the older webhooks guide
   * https://developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/).
   */
  async register(list: MailchimpList, body: unknown): Promise<Webhook> {
    const input = (body ?? {}) as { url?: unknown; events?: unknown; sources?: unknown };
    if (typeof input.url !== 'string' || !/^https?:\/\/\S+$/.test(input.url)) {
      throw problems.invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", [
        { field: 'url', message: 'Must be an http(s) URL.' },
      ]);
    }
    if (this.options.validateUrls) {
      const ok = await fetch(input.url, { method: 'GET', headers: { 'user-agent': 'MailChimp.com WebHook Validator' }, signal: AbortSignal.timeout(this.options.timeoutMs) }).then(
        (response) => response.ok,
        () => false,
      );
      if (!ok) {
        throw problems.invalidResource('The resource submitted could not be validated. For field-specific details, see the \'errors\' array.', [
          { field: 'url', message: 'The webhook URL did not answer a GET with 2xx.' },
        ]);
      }
    }
    const events = Object.fromEntries(WEBHOOK_EVENTS.map((event) => [event, flag(input.events, event, true)])) as Record<WebhookEvent, boolean>;
    const sources = {
      user: flag(input.sources, 'user', true),
      admin: flag(input.sources, 'admin', true),
      // UNCONFIRMED: the reference states no defaults; all on, as integrations describe it. A syncing
      // app should send `sources.api: false` so that it does not hear its own writes
      api: flag(input.sources, 'api', true),
    };
    const webhook: Webhook = { id: randomBytes(5).toString('hex'), listId: list.id, url: input.url, events, sources };
    list.webhooks.set(webhook.id, webhook);
    return webhook;
  }

  fire(list: MailchimpList, change: MemberChange, source: ChangeSource): void {
    for (const webhook of list.webhooks.values()) {
      if (!webhook.events[change.type] || !webhook.sources[source]) continue;
      const body = formBody(list, change, this.clock.nowMs());
      const delivery: WebhookDelivery = { webhookId: webhook.id, listId: list.id, url: webhook.url, type: change.type, source, body };
      this.deliveries.push(delivery);
      const sending = this.#send(delivery).finally(() => this.#pending.delete(sending));
      this.#pending.add(sending);
    }
  }

  /** Resolves once every delivery started so far has been answered or has failed. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #send(delivery: WebhookDelivery): Promise<void> {
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailChimp.com' },
        body: delivery.body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      delivery.status = response.status;
      if (response.ok) this.stats.webhooksDelivered += 1;
      else this.stats.webhooksFailed += 1;
    } catch (error) {
      delivery.error = (error as Error).message;
      this.stats.webhooksFailed += 1;
    }
  }
}

function flag(group: unknown, name: string, fallback: boolean): boolean {
  const value = group && typeof group === 'object' ? (group as Record<string, unknown>)[name] : undefined;
  return typeof value === 'boolean' ? value : fallback;
}

/**
 * The form-encoded body of a list webhook: `type`, `fired_at` (`YYYY-MM-DD HH:MM:SS`), `data[…]`
 * with `data[merges][TAG]` per merge field, as in Mailchimp's webhook guide
 * (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/). `fired_at` is
 * written in UTC (UNCONFIRMED: the account's time zone may apply).
 */
export function formBody(list: MailchimpList, change: MemberChange, nowMs: number): string {
  const form = new URLSearchParams();
  form.append('type', change.type);
  form.append('fired_at', new Date(nowMs).toISOString().slice(0, 19).replace('T', ' '));
  const { member } = change;
  const data = (path: string, value: string | number): void => form.append(`data${path.split('.').map((part) => `[${part}]`).join('')}`, String(value));
  if (change.type === 'upemail') {
    data('list_id', list.id);
    data('new_id', member.id);
    data('new_email', member.email);
    data('old_email', change.oldEmail ?? '');
    return form.toString();
  }
  if (change.type === 'cleaned') {
    data('list_id', list.id);
    data('campaign_id', '');
    data('reason', change.reason ?? 'hard');
    data('email', member.email);
    return form.toString();
  }
  if (change.type === 'unsubscribe') {
    data('action', 'unsub');
    data('reason', 'manual');
  }
  data('id', member.id);
  data('list_id', list.id);
  data('email', member.email);
  data('email_type', member.emailType);
  data('web_id', member.webId);
  data('ip_opt', '');
  data('ip_signup', '');
  data('merges.EMAIL', member.email);
  for (const [tag, value] of Object.entries(member.mergeFields)) {
    if (value !== null && typeof value === 'object') {
      for (const [part, text] of Object.entries(value)) data(`merges.${tag}.${part}`, String(text));
    } else data(`merges.${tag}`, String(value ?? ''));
  }
  if (change.type === 'unsubscribe') data('campaign_id', '');
  return form.toString();
}
