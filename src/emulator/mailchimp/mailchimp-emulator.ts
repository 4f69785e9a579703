import { EmulatorClock } from '../clock.js';
import { MailchimpFaults } from './faults.js';
import { ConnectionLimiter } from './limiter.js';
import { MailchimpStats } from './stats.js';
import { MailchimpStore, type ChangeSource, type MailchimpList, type MemberChange } from './store.js';
import { WebhookOutbox } from './webhooks.js';

export interface MailchimpEmulatorOptions {
  /** API keys the emulator accepts (`<hex>-<dc>`). More can be added with `POST /_emulator/mailchimp/keys`. @defaultValue ['0123456789abcdef0123456789abcdef-us21'] */
  apiKeys?: string[];
  /** Simultaneous connections per API key before 429. @defaultValue 10 */
  maxConnectionsPerKey?: number;
  /** GET a webhook URL before registering it, as Mailchimp does. @defaultValue true */
  validateWebhookUrls?: boolean;
  /** Timeout of each webhook POST (and validation GET); Mailchimp cancels after 10 s. @defaultValue 10000 */
  webhookTimeoutMs?: number;
  /** Share a clock with a Bitrix24 emulator, so one `POST /_emulator/clock` moves both. @defaultValue a clock of its own */
  clock?: EmulatorClock;
  /** Dotted host names the control API answers at (see the Bitrix24 emulator's `controlHosts`). @defaultValue [] */
  controlHosts?: string[];
}

/** The demo key the emulator accepts by default: any username, this as the password. */
export const DEFAULT_MAILCHIMP_API_KEY = '0123456789abcdef0123456789abcdef-us21';

/**
 * The state of an emulated Mailchimp account (Marketing API v3): audiences ("lists"), members,
 * list webhooks, the connection limit, faults and stats. HTTP lives in server.ts.
 */
export class MailchimpEmulator {
  readonly clock: EmulatorClock;
  readonly apiKeys: Set<string>;
  readonly stats = new MailchimpStats();
  readonly store: MailchimpStore;
  readonly outbox: WebhookOutbox;
  readonly limiter: ConnectionLimiter;
  readonly faults = new MailchimpFaults();
  /** Base URL, e.g. `http://127.0.0.1:4200`; set when the server listens. */
  baseUrl = 'http://127.0.0.1:4200';
  /** Dotted host names the control API answers at besides `baseUrl`'s (control-guard.ts). */
  readonly controlHosts: readonly string[];

  constructor(options: MailchimpEmulatorOptions = {}) {
    this.controlHosts = [...(options.controlHosts ?? [])];
    this.clock = options.clock ?? new EmulatorClock();
    this.apiKeys = new Set(options.apiKeys ?? [DEFAULT_MAILCHIMP_API_KEY]);
    this.store = new MailchimpStore(this.clock);
    this.limiter = new ConnectionLimiter(options.maxConnectionsPerKey ?? 10);
    this.outbox = new WebhookOutbox(this.clock, this.stats, {
      validateUrls: options.validateWebhookUrls ?? true,
      timeoutMs: options.webhookTimeoutMs ?? 10_000,
    });
  }

  list(id: string): MailchimpList | undefined {
    return this.store.lists.get(id);
  }

  /** Reports changes to the list's webhooks. */
  publish(list: MailchimpList, changes: MemberChange[], source: ChangeSource): void {
    for (const change of changes) this.outbox.fire(list, change, source);
  }
}
