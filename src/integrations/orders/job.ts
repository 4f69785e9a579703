/**
 * The job `orders.order`: one order → one deal, with its contact and product rows, in as few
 * requests as the protocol allows (docs/protocol.md §5.3, §6.3, §6.4). It is a batch job: a worker
 * hands it up to `batchSize` queued orders of one portal, and they share the requests:
 *
 * 1. one `batch`: per order, the deal by ORIGINATOR_ID + ORIGIN_ID (`crm.deal.list`), and the
 *    contact by the order's e-mail and by its phone reduced to digits (`crm.duplicate.findbycomm`);
 * 2. one `batch` (halt off, so one order's failing command does not stop the others): for a new
 *    order `crm.contact.add` (when none was found), `crm.deal.add` with `CONTACT_ID: $result[…]`,
 *    `crm.deal.productrows.set` with `id: $result[…]` and a re-read of the deal list; for a known one
 *    `crm.deal.update` (stage, amount, currency) and `crm.deal.productrows.set`. An order's commands
 *    always share one request (their `$result` references and the re-read need it); past 50
 *    commands the orders spread over more requests, sent at once.
 *
 * So a batch costs 2 requests, one order or twelve. Classic REST has no idempotency key: a job that
 * dies after step 2 added the deal but before its completion was recorded runs again, finds the
 * deal in step 1 and updates it — one deal per order, however often the job runs. Two runs at the
 * same moment (a lease that expired while the first run was still going, a revision running
 * alongside) can both find nothing and both add: step 2 reads the pair again after its add, in the
 * same request, and the run whose deal is not the oldest deletes it and updates the oldest (one
 * more request, only then). The deal list is read oldest first everywhere, so every run converges
 * on the same deal.
 *
 * A command's error (a bad currency: the portal's 400) is that order's outcome, as the portal's
 * `B24Error`: a permanent portal error ends its job dead at once with the portal's message in
 * `lastError` (a corrected resend is `retried` by ingest), and the batch's other orders go on. A
 * request that fails as a whole (the portal down or rate-limited) fails every order of the batch,
 * which the worker postpones.
 */
import type { B24Client, BatchCommand } from '../../index.js';
import type { Order } from './order.js';

export interface OrderSettings {
  /** The store's status word → the deal's STAGE_ID; a status not in it leaves the stage as is. */
  stages: Record<string, string>;
  /** CATEGORY_ID of new deals (the pipeline); stage ids must be of that pipeline. */
  categoryId?: number | undefined;
}

export interface OrderJobResult {
  dealId: number;
  contactId: number | null;
  /** True when this run added the deal; false when it found and updated it. */
  created: boolean;
  stageId: string | null;
  [key: string]: string | number | boolean | null;
}

/** ORIGINATOR_ID of an order's deal: the plugin and the store format (docs/protocol.md §6.3). */
export function originatorOf(prefix: string, order: Pick<Order, 'source'>): string {
  return `${prefix}.${order.source}`;
}

/** A phone as digits only: how the portal compares phones (`+1 (555) 010-20` ≡ `155501020`). */
export function phoneDigits(phone: string | null): string | null {
  if (!phone) return null;
  const digits = (phone.split(/\s*(?:ext\.?|x|#|,|;)\s*/i)[0] ?? '').replace(/\D/g, '');
  return digits.length >= 5 ? digits : null;
}

/** One order's outcome in a batch: its result, or the error that ended its run (the portal's, as given). */
export type OrderOutcome = { ok: true; result: OrderJobResult } | { ok: false; error: Error };

/** Commands one order adds to a request (every command of an order shares its request: `$result` links them). */
type Commands = Record<string, BatchCommand>;

/**
 * Bitrix24 runs at most 50 commands per `batch` request (docs/protocol.md §5.3). An order needs at
 * most 3 lookups and 4 writes, so with {@link ORDERS_PER_BATCH} orders one read request and one
 * write request (with a little room) hold a whole batch.
 */
export const MAX_BATCH_COMMANDS = 50;
/** Orders per job batch: 12 × 4 writes = 48 commands, one request. */
export const ORDERS_PER_BATCH = 12;

/** One order alone (what a batch of one does): 2 requests. Throws the order's error. */
export async function runOrderJob(b24: B24Client, order: Order, settings: OrderSettings, originatorPrefix: string): Promise<OrderJobResult> {
  const [outcome] = await runOrderBatch(b24, [order], settings, originatorPrefix);
  if (!outcome!.ok) throw outcome!.error;
  return outcome!.result;
}

/**
 * Several orders of one portal: one `batch` reads every order's deal and contact, one writes every
 * order (more only past 50 commands, or for the race guard's merges). Returns an outcome per order,
 * in order: a command's error (a bad currency) fails only its order. Throws when a request as a
 * whole fails (the portal unreachable, rate-limited): then no order's outcome is known, and the
 * next run finds by ORIGIN_ID what this one added.
 */
export async function runOrderBatch(b24: B24Client, orders: readonly Order[], settings: OrderSettings, originatorPrefix: string): Promise<OrderOutcome[]> {
  const plans = orders.map((order, index) => planOrder(order, index, settings, originatorPrefix));

  // 1. what the portal already has: each order's deal, and a contact by e-mail, then by phone
  const found = await runPacked(b24, plans.map((plan) => plan.lookups()));
  const outcomes: Array<OrderOutcome | undefined> = plans.map(() => undefined);
  const writes: Commands[] = [];
  const writers: Array<{ plan: OrderPlan; keys: string[] }> = [];
  // a customer new to the portal who placed several orders in this batch gets one contact: the first
  // order's add, referenced by the others (their commands then go in the first order's request)
  const newContacts = new Map<string, { ref: string; group: Commands; writer: { plan: OrderPlan; keys: string[] } }>();
  for (const plan of plans) {
    const error = firstError(found.errors, plan.lookupKeys);
    if (error) {
      outcomes[plan.index] = { ok: false, error };
      continue;
    }
    const deal = (found.result[plan.key('deal')] as Array<{ ID: string; CONTACT_ID?: string | null }> | undefined)?.[0];
    const contactId = firstContact(found.result[plan.key('byEmail')]) ?? firstContact(found.result[plan.key('byPhone')]);
    if (deal) {
      plan.known = { dealId: Number(deal.ID), contactId: deal.CONTACT_ID ? Number(deal.CONTACT_ID) : null };
      const group = plan.updateCommands(plan.known.dealId);
      writes.push(group);
      writers.push({ plan, keys: Object.keys(group) });
      continue;
    }
    const shared = contactId === undefined ? newContacts.get(plan.customerKey ?? '') : undefined;
    if (shared && Object.keys(shared.group).length + 4 <= MAX_BATCH_COMMANDS) {
      const commands = plan.createCommands(undefined, shared.ref);
      Object.assign(shared.group, commands);
      writers.push({ plan, keys: Object.keys(commands) });
      plan.contactFrom = shared.ref;
      continue;
    }
    const group = plan.createCommands(contactId, undefined);
    const writer = { plan, keys: Object.keys(group) };
    writes.push(group);
    writers.push(writer);
    if (contactId === undefined && plan.key('contact') in group && plan.customerKey) {
      newContacts.set(plan.customerKey, { ref: `$result[${plan.key('contact')}]`, group, writer });
    }
    plan.contactId = contactId;
  }

  // 2. the writes: new orders' contact, deal, rows and the re-read; known orders' update and rows
  const done = writes.length > 0 ? await runPacked(b24, writes) : { result: {}, errors: {} };
  const merges: Commands[] = [];
  const mergers: Array<{ plan: OrderPlan; winner: { dealId: number; contactId: number | null } }> = [];
  for (const { plan, keys } of writers) {
    const error = firstError(done.errors, keys);
    if (error) {
      outcomes[plan.index] = { ok: false, error };
      continue;
    }
    if (plan.known) {
      outcomes[plan.index] = { ok: true, result: { ...plan.known, created: false, stageId: plan.stageId } };
      continue;
    }
    const dealId = Number(done.result[plan.key('deal')]);
    const contactRef = plan.contactFrom ? plan.contactFrom.slice('$result['.length, -1) : plan.key('contact');
    const added = done.result[contactRef];
    const contactId = added === undefined ? plan.contactId : Number(added);
    const oldest = (done.result[plan.key('check')] as Array<{ ID: string; CONTACT_ID?: string | null }> | undefined)?.[0];
    if (oldest && Number(oldest.ID) < dealId) {
      // another run of this order (a job retried after its lease expired while it still ran, a revision
      // running alongside) added its deal before ours: the oldest stays, ours goes. Each run deletes
      // only its own deal and only when an older one exists, so exactly the oldest is left.
      const winner = { dealId: Number(oldest.ID), contactId: oldest.CONTACT_ID ? Number(oldest.CONTACT_ID) : null };
      merges.push({ [plan.key('drop')]: ['crm.deal.delete', { id: dealId }], ...plan.updateCommands(winner.dealId) });
      mergers.push({ plan, winner });
      continue;
    }
    outcomes[plan.index] = { ok: true, result: { dealId, contactId: contactId ?? null, created: true, stageId: plan.stageId } };
  }

  // 3. only when a race was lost: drop our deal, update the one that stays
  if (merges.length > 0) {
    const merged = await runPacked(b24, merges);
    merges.forEach((group, index) => {
      const { plan, winner } = mergers[index]!;
      const error = firstError(merged.errors, Object.keys(group));
      outcomes[plan.index] = error ? { ok: false, error } : { ok: true, result: { ...winner, created: false, stageId: plan.stageId } };
    });
  }
  return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error('the order was not processed') });
}

interface OrderPlan {
  index: number;
  stageId: string | null;
  /** The customer's e-mail or phone digits: orders of one new customer share a contact. */
  customerKey: string | null;
  lookupKeys: string[];
  known?: { dealId: number; contactId: number | null };
  contactId?: number | undefined;
  /** `$result[…]` of another order's contact add this order's deal is bound to. */
  contactFrom?: string;
  key(name: string): string;
  lookups(): Commands;
  updateCommands(dealId: number): Commands;
  createCommands(contactId: number | undefined, contactRef: string | undefined): Commands;
}

function planOrder(order: Order, index: number, settings: OrderSettings, originatorPrefix: string): OrderPlan {
  const ORIGINATOR_ID = originatorOf(originatorPrefix, order);
  const ORIGIN_ID = order.id;
  const email = order.customer.email;
  const phone = phoneDigits(order.customer.phone);
  const key = (name: string): string => `o${index}_${name}`;
  const stageId = settings.stages[order.status] ?? null;
  const fields: Record<string, unknown> = {
    TITLE: `Order ${order.number}`,
    CURRENCY_ID: order.currency,
    // the order's total stands (shipping, taxes, discounts), not the sum of the rows
    OPPORTUNITY: order.total,
    IS_MANUAL_OPPORTUNITY: 'Y',
  };
  if (stageId !== null) fields.STAGE_ID = stageId;
  const rows = order.items.map((item) => ({ PRODUCT_NAME: item.name, PRICE: item.price, QUANTITY: item.quantity }));
  const dealList: BatchCommand = ['crm.deal.list', { filter: { ORIGINATOR_ID, ORIGIN_ID }, select: ['ID', 'STAGE_ID', 'CONTACT_ID'], order: { ID: 'ASC' }, start: -1 }];
  const lookups: Commands = { [key('deal')]: dealList };
  if (email) lookups[key('byEmail')] = ['crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'EMAIL', values: [email] }];
  if (phone) lookups[key('byPhone')] = ['crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'PHONE', values: [phone] }];
  const customer = order.customer;
  return {
    index,
    stageId,
    customerKey: email ?? phone,
    lookupKeys: Object.keys(lookups),
    key,
    lookups: () => lookups,
    // a known order: move its stage, refresh amount and rows
    updateCommands: (dealId) => ({
      [key('update')]: ['crm.deal.update', { id: dealId, fields }],
      [key('rows')]: ['crm.deal.productrows.set', { id: dealId, rows }],
    }),
    // a new order: the contact when none was found, the deal bound to it, its rows, and a re-read
    createCommands: (contactId, contactRef) => {
      const create: Commands = {};
      if (contactId === undefined && contactRef === undefined && (email !== null || customer.phone !== null)) {
        create[key('contact')] = [
          'crm.contact.add',
          {
            fields: {
              NAME: customer.firstName || email || customer.phone,
              LAST_NAME: customer.lastName,
              ...(email ? { EMAIL: [{ VALUE: email, VALUE_TYPE: 'WORK' }] } : {}),
              ...(customer.phone ? { PHONE: [{ VALUE: customer.phone, VALUE_TYPE: 'WORK' }] } : {}),
              SOURCE_ID: 'STORE',
              ORIGINATOR_ID,
            },
          },
        ];
      }
      const contact = contactId ?? contactRef ?? (create[key('contact')] ? `$result[${key('contact')}]` : undefined);
      create[key('deal')] = [
        'crm.deal.add',
        {
          fields: {
            ...fields,
            ...(settings.categoryId !== undefined ? { CATEGORY_ID: settings.categoryId } : {}),
            ...(contact !== undefined ? { CONTACT_ID: contact } : {}),
            SOURCE_ID: 'STORE',
            ORIGINATOR_ID,
            ORIGIN_ID,
          },
        },
      ];
      create[key('rows')] = ['crm.deal.productrows.set', { id: `$result[${key('deal')}]`, rows }];
      // read again after our add, in the same request: a run of the same order that added first shows up
      create[key('check')] = dealList;
      return create;
    },
  };
}

/**
 * Sends groups of commands, each group whole in one request (its `$result` references and the
 * re-read after the add need that), packed up to 50 commands a request; the requests go at once.
 * Results and errors are merged (keys are unique per order). A request that fails as a whole throws.
 */
async function runPacked(b24: B24Client, groups: readonly Commands[]): Promise<{ result: Record<string, unknown>; errors: Record<string, Error> }> {
  const packs: Commands[] = [];
  let current: Commands = {};
  let size = 0;
  for (const group of groups) {
    const n = Object.keys(group).length;
    if (size > 0 && size + n > MAX_BATCH_COMMANDS) {
      packs.push(current);
      current = {};
      size = 0;
    }
    Object.assign(current, group);
    size += n;
  }
  if (size > 0) packs.push(current);
  // halt off: one order's failing command must not stop the others' (its later commands fail on their own)
  const answers = await Promise.all(packs.map((pack) => b24.batch(pack)));
  const out = { result: {} as Record<string, unknown>, errors: {} as Record<string, Error> };
  for (const answer of answers) {
    Object.assign(out.result, answer.result);
    Object.assign(out.errors, answer.errors);
  }
  return out;
}

/** The first error among an order's commands, in command order (the cause, not its consequences). */
function firstError(errors: Record<string, Error>, keys: readonly string[]): Error | undefined {
  for (const key of keys) if (errors[key]) return errors[key];
  return undefined;
}

/** The lowest CONTACT id in a `crm.duplicate.findbycomm` answer (`[]` when none). */
function firstContact(result: unknown): number | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const ids = (result as { CONTACT?: unknown }).CONTACT;
  if (!Array.isArray(ids) || ids.length === 0) return undefined;
  return Math.min(...ids.map(Number));
}
