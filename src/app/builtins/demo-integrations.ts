/**
 * Demo mode's built-in integrations (docs/integrations/): when the app registered one of them — the
 * sample app registers them all (demo-app.ts) — the demo configures it for the demo portal through
 * the public seams a user has (the portal's settings, the plugin's own signed routes) and drives it
 * the way the outside world would:
 *
 * - orders (`ordersPlugin`): a demo store POSTs signed generic orders to `/api/v1/:memberId/orders`
 *   on a timer, every third post an update moving an earlier order on; each order becomes a deal;
 * - schedules (`scheduledRulesPlugin`): one rule, PUT through the signed `/api/v1/:memberId/schedules`:
 *   every minute in the portal's time zone, the deals of orders still pending get a to-do;
 * - contacts (`contactsSyncPlugin`): a Mailchimp emulator (`await import(…)` of
 *   src/emulator/mailchimp, so that production never loads it; on the Bitrix24 emulator's clock)
 *   with one audience, the portal's contacts.* settings pointed at it and its webhook at the app's
 *   signed route; the sample app's contacts reach the audience, and on a timer a Mailchimp-side
 *   change (a new subscriber, a profile edit, an unsubscribe) reaches the CRM through the webhook.
 *
 * Each integration is one function in DEMO_INTEGRATIONS: it returns its banner line and its timer,
 * or nothing when the app did not register the plugin. The plugins' install hints ("set … with
 * `b24kit settings set`") wait a moment for the settings (docs/integrations/): the demo's, stored
 * right after the install, silence them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger as PinoLogger } from 'pino';
import type { RunningEmulator } from '../../emulator/server.js';
import type { Declaration } from '../kit.js';
import type { PortalSettings } from '../types.js';

/** What an integration's demo gets from the demo plugin once the demo portal is installed. */
export interface DemoSetup {
  /** The demo's Bitrix24 emulator (its URL, its clock). */
  emulator: RunningEmulator;
  /** The app's listening URL. */
  appUrl: string;
  memberId: string;
  /** The portal's time zone, as the app learned it at install. */
  timeZone: string;
  /** The demo's base period (`demoTrickleMs`): each integration paces itself in multiples of it. */
  intervalMs: number;
  /** The app's clock, epoch ms. */
  nowMs(): number;
  logger: PinoLogger;
  /** The demo portal's settings of a plugin (`app.settings(memberId, plugin)`). */
  settings(plugin: string): PortalSettings;
  /** What the app and its plugins declared. */
  declarations(): Declaration[];
}

export interface DemoDriver {
  /** One banner line, `name` then what happens next. */
  banner: string;
  /** Starts the timer; the demo stops it at shutdown. */
  start(): { stop(): Promise<void> };
}

export type DemoIntegration = (setup: DemoSetup) => Promise<DemoDriver | undefined>;

/**
 * How the orders plugin's generic format and the schedules route are signed (docs/integrations/):
 * a unix timestamp, and `sha256=` hex HMAC-SHA256 of "<timestamp>.<body>" under the portal's secret.
 */
function timestampedSignature(secret: string, body: string, nowMs: number): { timestamp: string; signature: string } {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { timestamp, signature: `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}` };
}

/** A signed POST/PUT to one of the app's routes, as a store or an admin script sends it. */
async function send(url: string, method: 'POST' | 'PUT', body: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body: parsed };
}

function declaresRoute(setup: DemoSetup, owner: string, route: string): boolean {
  return setup.declarations().some((declaration) => declaration.owner === owner && declaration.kind === 'route' && declaration.name === route);
}

/** Runs `fire` every `ms`, one run at a time; failures are logged, never thrown. */
export function every(ms: number, fire: () => Promise<void>, logger: PinoLogger, what: string): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(fire).catch((error: unknown) => logger.warn({ err: error }, `${what} failed`));
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

/** The demo store posts (a new order or an update) every ORDER_EVERY demo periods. */
export const ORDER_EVERY = 2;
/** Every UPDATE_EVERY-th post moves the oldest pending order on instead of adding one. */
export const UPDATE_EVERY = 3;
/**
 * The demo portal's stage mapping (setting `orders.stages`): pending orders wait in PREPARATION — a
 * stage of their own, apart from the sample app's welcome deals in NEW — so that the schedule's
 * rule acts on them alone.
 */
export const DEMO_ORDER_STAGES: Readonly<Record<string, string>> = { pending: 'PREPARATION', paid: 'EXECUTING', completed: 'WON', cancelled: 'LOSE' };
/** What the store's updates move orders to, in turn. */
const NEXT_STATUS = ['paid', 'completed'] as const;

const CUSTOMERS = [
  { email: 'mia.weber@example.com', phone: '+49 30 1234-5601', firstName: 'Mia', lastName: 'Weber' },
  { email: 'noah.fischer@example.com', phone: '+49 30 1234-5602', firstName: 'Noah', lastName: 'Fischer' },
  { email: 'lena.wagner@example.com', phone: '+49 30 1234-5603', firstName: 'Lena', lastName: 'Wagner' },
];
const PRODUCTS = [
  { name: 'Espresso beans 1 kg', sku: 'BEANS-1', price: '24.90' },
  { name: 'Milk frother', sku: 'FROTH-2', price: '39.00' },
  { name: 'Ceramic cup', sku: 'CUP-3', price: '7.50' },
];

/**
 * The demo store: generic order JSON signed with the portal's `orders.signingSecret`
 * (`X-B24kit-Timestamp`, `X-B24kit-Signature: sha256=<hex HMAC of "timestamp.body">`). Order ids
 * carry this run's prefix: the database outlives the emulator's portal, and an id seen before would
 * be a resend (one deal per order, ever).
 */
export const demoOrders: DemoIntegration = async (setup) => {
  const path = `/api/v1/${setup.memberId}/orders`;
  if (!declaresRoute(setup, 'orders', 'POST /api/v1/:memberId/orders')) return undefined;
  const secret = randomBytes(24).toString('base64url');
  await setup.settings('orders').set({ signingSecret: secret, stages: { ...DEMO_ORDER_STAGES } });
  return ordersDriver(setup, path, secret);
};

function ordersDriver(setup: DemoSetup, path: string, secret: string): DemoDriver {
  const run = setup.nowMs().toString(36);
  const pending: Array<{ id: string; body: Record<string, unknown> }> = [];
  let posts = 0;
  let updates = 0;
  const post = async (): Promise<void> => {
    posts += 1;
    let order: Record<string, unknown>;
    const update = posts % UPDATE_EVERY === 0 ? pending.shift() : undefined;
    if (update) {
      order = { ...update.body, status: NEXT_STATUS[updates++ % NEXT_STATUS.length] };
    } else {
      const n = posts;
      const items = [PRODUCTS[n % PRODUCTS.length]!, PRODUCTS[(n + 1) % PRODUCTS.length]!].map((product, index) => ({ ...product, quantity: index + 1 }));
      const total = items.reduce((sum, item) => sum + Number(item.price) * item.quantity, 0).toFixed(2);
      order = { id: `${run}-${n}`, number: `#${1000 + n}`, status: 'pending', currency: 'EUR', total, customer: CUSTOMERS[n % CUSTOMERS.length], items };
      pending.push({ id: String(order.id), body: order });
    }
    const body = JSON.stringify(order);
    const { timestamp, signature } = timestampedSignature(secret, body, setup.nowMs());
    const answer = await send(`${setup.appUrl}${path}`, 'POST', body, { 'x-b24kit-timestamp': timestamp, 'x-b24kit-signature': signature });
    if (answer.status !== 202) throw new Error(`the orders route answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    setup.logger.debug({ orderId: order.id, status: order.status }, `demo store: ${update ? 'updated' : 'new'} order ${String(order.number)} (${String(order.status)}) posted`);
  };
  const periodMs = setup.intervalMs * ORDER_EVERY;
  return {
    banner: `orders     every ${seconds(periodMs)} a demo store POSTs a signed order to ${path} and the app makes it a deal; every third post an update moves an earlier order's deal on (pending → PREPARATION, paid → EXECUTING, completed → WON)`,
    start: () => every(periodMs, post, setup.logger, 'demo store: posting an order'),
  };
}

/** The demo's schedule rule: every minute, in the portal's time zone. */
export const DEMO_RULE = {
  id: 'demo-unpaid',
  cron: '* * * * *',
  filter: { stageId: DEMO_ORDER_STAGES.pending!, olderThanDays: 0 },
  action: { kind: 'todo', title: 'Order not paid yet: call the customer', deadlineHours: 24 },
} as const;

/** The demo's rules, PUT through the plugin's signed route as an admin script would. */
export const demoSchedules: DemoIntegration = async (setup) => {
  const path = `/api/v1/${setup.memberId}/schedules`;
  if (!declaresRoute(setup, 'schedules', 'PUT /api/v1/:memberId/schedules')) return undefined;
  const secret = randomBytes(24).toString('base64url');
  await setup.settings('schedules').set({ signingSecret: secret });
  const body = JSON.stringify({ rules: [DEMO_RULE] });
  const { timestamp, signature } = timestampedSignature(secret, body, setup.nowMs());
  const answer = await send(`${setup.appUrl}${path}`, 'PUT', body, { 'x-schedules-timestamp': timestamp, 'x-schedules-signature': signature });
  if (answer.status !== 200) throw new Error(`the schedules route answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return {
    banner: `schedules  every minute (${setup.timeZone}, the portal's time zone) the rule ${DEMO_RULE.id} adds a to-do "${DEMO_RULE.action.title}" to each deal still in ${DEMO_RULE.filter.stageId}`,
    start: () => ({ stop: async () => undefined }),
  };
};

/** The demo makes a Mailchimp-side change every CONTACTS_CHANGE_EVERY demo periods (30 s at the default 3 s). */
export const CONTACTS_CHANGE_EVERY = 10;
/** The demo audience's id in the Mailchimp emulator. */
export const DEMO_AUDIENCE_ID = 'demo0list';

/**
 * The contacts sync's demo: a Mailchimp emulator on a free port, sharing the Bitrix24 emulator's
 * clock, with the audience DEMO_AUDIENCE_ID; the portal's contacts.* settings point at it (its API
 * root as `baseUrl`, its demo key), and after the install the audience's webhook at the app's
 * signed route (registered through the Marketing API as a user's script would; Mailchimp GETs the
 * URL first). Then, every CONTACTS_CHANGE_EVERY periods, a change made in Mailchimp "as a
 * subscriber would" (the emulator's control API: a webhook with source `user`), in turn: a new
 * subscriber (a new CRM contact), that subscriber's profile edit (a phone number: the contact
 * updated), the subscriber's unsubscribe (the contact marked). The addresses carry this run's
 * stamp: the app's database outlives the emulators, and an address seen before is a linked one.
 */
export const demoContacts: DemoIntegration = async (setup) => {
  const route = `/api/v1/${setup.memberId}/contacts/mailchimp`;
  if (!declaresRoute(setup, 'contacts', 'POST /api/v1/:memberId/contacts/mailchimp')) return undefined;
  const { startMailchimpEmulator } = await import('../../emulator/mailchimp/server.js');
  const { DEFAULT_MAILCHIMP_API_KEY } = await import('../../emulator/mailchimp/mailchimp-emulator.js');
  const mc = await startMailchimpEmulator({ port: 0, clock: setup.emulator.emulator.clock });
  try {
    const list = mc.mailchimp.store.createList({ id: DEMO_AUDIENCE_ID, name: 'Demo newsletter' });
    const webhookSecret = randomBytes(24).toString('base64url');
    await setup.settings('contacts').set({ listId: list.id, apiKey: DEFAULT_MAILCHIMP_API_KEY, baseUrl: `${mc.url}/3.0`, webhookSecret });
    const { MailchimpAdapter } = await import('../../integrations/contacts/mailchimp.js');
    const adapter = new MailchimpAdapter({ apiKey: DEFAULT_MAILCHIMP_API_KEY, baseUrl: `${mc.url}/3.0` });
    try {
      await adapter.registerWebhook(list.id, `${setup.appUrl}${route}?secret=${encodeURIComponent(webhookSecret)}`);
    } finally {
      await adapter.close();
    }
  } catch (error) {
    await mc.close();
    throw error;
  }
  const run = setup.nowMs().toString(36);
  let changes = 0;
  const control = async (method: 'PUT' | 'POST', path: string, body: unknown): Promise<void> => {
    const answer = await send(`${mc.url}/_emulator/mailchimp/lists/${DEMO_AUDIENCE_ID}${path}`, method, JSON.stringify(body), {});
    if (answer.status !== 200) throw new Error(`the Mailchimp emulator answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  };
  const change = async (): Promise<void> => {
    const n = Math.floor(changes / 3) + 1;
    const step = changes++ % 3;
    const email = encodeURIComponent(`reader${n}.${run}@example.com`);
    if (step === 0) await control('PUT', `/members/${email}`, { merge_fields: { FNAME: 'Rita', LNAME: `Reader ${n}` }, status: 'subscribed' });
    else if (step === 1) await control('PUT', `/members/${email}`, { merge_fields: { PHONE: `+49 30 5555-${String(n).padStart(4, '0')}` } });
    else await control('POST', `/members/${email}/unsubscribe`, {});
    setup.logger.info({ change: CHANGES[step], reader: n }, `demo Mailchimp: reader ${n} ${CHANGE_TEXT[step]}`);
  };
  const periodMs = setup.intervalMs * CONTACTS_CHANGE_EVERY;
  return {
    banner: `contacts   the sample app's contacts reach the audience ${DEMO_AUDIENCE_ID} of a Mailchimp emulator at ${mc.url} (contacts.crm-change, one CRM read a batch); every ${seconds(periodMs)} a change made in Mailchimp (in turn a new subscriber, their profile edit, their unsubscribe) reaches the CRM through the audience's webhook to ${route}`,
    start: () => {
      const timer = every(periodMs, change, setup.logger, 'demo Mailchimp: a change');
      return {
        async stop() {
          await timer.stop();
          await mc.close();
        },
      };
    },
  };
};

const CHANGES = ['subscribe', 'profile', 'unsubscribe'] as const;
const CHANGE_TEXT = ['subscribed', 'edited their profile', 'unsubscribed'] as const;

/** In banner order. */
export const DEMO_INTEGRATIONS: readonly DemoIntegration[] = [demoOrders, demoSchedules, demoContacts];
