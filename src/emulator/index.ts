/**
 * `b24kit/emulator`: the Bitrix24 emulator — an OAuth server, portals with their REST methods,
 * limits, events, robots and faults, and the control API (docs/emulator.md). Kept out of the root
 * `b24kit` so that a production app never loads it. test/exports.test.ts pins this list.
 */
export {
  /** The emulated cloud in-process: one OAuth server, one registered app, any number of portals. */
  Emulator,
  type CreatePortalInput,
} from './emulator.js';
export {
  /** Starts an emulator on a real socket (`port: 0` picks a free one) → `{ url, emulator, server, close() }`. */
  startEmulator,
  /** The emulator's HTTP face (OAuth, REST, control API) as a Fastify instance, not listening (for `inject()`). */
  buildEmulatorServer,
  type RunningEmulator,
  type StartEmulatorOptions,
} from './server.js';
export {
  /** The leaky bucket and operating budget of a non-Enterprise portal (2/s, burst 50; 480 s per 10 min). */
  DEFAULT_LIMITS,
  /** The Enterprise plan's limits (5/s, burst 250). */
  ENTERPRISE_LIMITS,
  /** A cost model close to a cloud portal (30 ms per write, 20 ms per read, 0.1 ms per row), really waited: for benchmarks. */
  REALISTIC_COST,
  /** No server cost and no added latency: the default, for tests. */
  ZERO_COST,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type CostModel,
  type PortalLimits,
  type BatchBilling,
  type Relaxations,
} from './options.js';
export {
  /** Installs the app into a portal in-process, as the control API's `/install` does (ONAPPINSTALL POSTed to `appUrl`). */
  installApp,
  type InstallInput,
  type InstallOutcome,
} from './lifecycle.js';
export type { Portal, PortalPlan, PortalFaults, PortalStats } from './portal.js';
export {
  /** The emulated Mailchimp account (Marketing API v3) in-process: lists, members, webhooks, limits, faults (docs/emulator-mailchimp.md). */
  MailchimpEmulator,
  /** The API key the Mailchimp emulator accepts by default (any username, this as the password). */
  DEFAULT_MAILCHIMP_API_KEY,
  type MailchimpEmulatorOptions,
} from './mailchimp/mailchimp-emulator.js';
export {
  /** Starts a Mailchimp emulator on a real socket → `{ url, mailchimp, server, close() }`; the API is at `${url}/3.0`. */
  startMailchimpEmulator,
  /** The Mailchimp emulator's HTTP face as a Fastify instance, not listening (for `inject()`). */
  buildMailchimpServer,
  type RunningMailchimpEmulator,
  type StartMailchimpEmulatorOptions,
} from './mailchimp/server.js';
/** md5 of the lower-cased e-mail: a member's id in the Marketing API. */
export { subscriberHash } from './mailchimp/store.js';
export type { MailchimpFaultsInput } from './mailchimp/faults.js';
