/**
 * `b24kit/integrations`: the built-in integrations, plugins written on the public API that an app
 * registers with `app.register(plugin, options)`. test/exports.test.ts pins this list.
 *
 * - `ordersPlugin`: a web store's orders (generic JSON, WooCommerce, Shopify) become deals
 *   (docs/integrations/orders.md).
 * - `contactsSyncPlugin`: CRM contacts ↔ an email-service audience, both ways, no echo, unsubscribes
 *   kept; `MailchimpAdapter` is its email-service side, behind the service-neutral
 *   `EmailServiceAdapter` (docs/integrations/contacts.md).
 * - `scheduledRulesPlugin`: robots on a schedule — per-portal rules that act on the deals left in a
 *   stage too long (docs/integrations/schedules.md).
 */
export {
  /** Store orders → deals: `POST /api/v1/:memberId/orders`, signed per portal; `app.register(ordersPlugin, options)`. */
  ordersPlugin,
  /** The plugin's per-portal settings schema (`orders.signingSecret`, `orders.stages`, `orders.categoryId`). */
  OrdersSettings,
  /** The default order status → deal stage mapping. */
  DEFAULT_STAGES,
  type OrdersOptions,
} from './orders/plugin.js';
export type { Order, OrderItem, OrderSource } from './orders/order.js';
export type { OrderJobResult } from './orders/job.js';
export {
  /** The Mailchimp Marketing API v3 adapter of the contacts sync: `new MailchimpAdapter({ apiKey, baseUrl? })`. */
  MailchimpAdapter,
  /** B24_ERR_EMAIL_SERVICE: Mailchimp's status, `detail` and fields at fault; never the API key. */
  EmailServiceError,
  /** md5 of the lower-cased e-mail: the member's id in Mailchimp URLs. */
  subscriberHash,
  type MailchimpAdapterOptions,
  type EmailServiceFieldError,
} from './contacts/mailchimp.js';
export { WebhookRejected } from './contacts/mailchimp-webhook.js';
export {
  /** CRM contacts ↔ email-service audience, both ways: `app.register(contactsSyncPlugin, options)`. */
  contactsSyncPlugin,
  /** The plugin's per-portal settings schema (`contacts.listId`, `.apiKey`, `.baseUrl`, `.webhookSecret`, `.statusIfNew`). */
  ContactsSettings,
  type ContactsSyncOptions,
} from './contacts/plugin.js';
export {
  /** The full two-way reconciliation of one portal (the CLI's `b24kit sync contacts`, the nightly schedule). */
  reconcile as reconcileContacts,
  type SyncDeps as ContactsSyncDeps,
  type ReconcileReport as ContactsReconcileReport,
  type ReconcileProgress as ContactsReconcileProgress,
} from './contacts/sync.js';
export {
  /** A portal's sync state over the app's store (the plugin's table `b24kit_contacts_sync`). */
  SyncState as ContactsSyncState,
} from './contacts/state.js';
export type {
  EmailServiceAdapter,
  EmailServiceEvent,
  MemberStatus,
  MemberFields,
  MemberUpsert,
  ServiceMember,
  ChangesOptions,
  WebhookDelivery,
  RegisteredWebhook,
} from './contacts/email-service.js';
export {
  /** Robots on a schedule: per-portal rules acting on deals that sat in a stage; `app.register(scheduledRulesPlugin, options)`. */
  scheduledRulesPlugin,
  type SchedulesOptions,
} from './schedules/plugin.js';
export {
  /** The plugin's per-portal settings schema (`schedules.signingSecret`, `schedules.rules`). */
  SchedulesSettings,
  /** One rule: `{ id, cron, filter: { stageId, olderThanDays }, action }`. */
  type Rule as ScheduleRule,
  type RuleAction as ScheduleAction,
} from './schedules/rules.js';
