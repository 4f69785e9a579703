/**
 * Plugin `shop`: a web store's orders become deals.
 *
 * The store POSTs every new or changed order to `POST /api/v1/:memberId/orders`, signed the way
 * Shopify signs its webhooks: a base64 HMAC-SHA256 of the raw body under a secret shared with the
 * store, in a header (https://shopify.dev/docs/apps/build/webhooks/subscribe/https).
 * The route checks the signature against this portal's `signingSecret`, validates the order, hands
 * it to `ingest` and answers 202 at once: the deal is written by the job `shop.order`, not inside
 * the request (persist, then acknowledge — a store that times out resends, and the resend is
 * answered `duplicate`).
 *
 * The job finds the deal by ORIGINATOR_ID + ORIGIN_ID (the external system and the item's id in it,
 * https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-add.html) and updates it, or adds
 * it: running it twice leaves one deal.
 */
import { z } from 'zod';
import { auth, B24Error, definePlugin, NonRetryableError, type AppKit, type B24Client } from '../../src/index.js';

/** Money as the store sends it: a decimal string (Shopify's `total_price: "199.00"`). */
const Money = z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'a decimal amount like "199.00"');

/** The part of an order this app reads. Unknown keys are dropped, so they never make a new revision. */
export const Order = z.object({
  id: z.number().int().positive(),
  /** The order's display name, e.g. `#1001`. */
  name: z.string().min(1).max(100),
  email: z.email().nullable(),
  /** ISO 4217, checked by the job (not here): a bad one must reach the dead-letter list, where someone sees it. */
  currency: z.string().min(1).max(10),
  total_price: Money,
  line_items: z
    .array(z.object({ title: z.string().min(1).max(255), quantity: z.number().int().positive(), price: Money }))
    .max(500),
});
export type Order = z.infer<typeof Order>;

export const ShopSettings = z.object({
  /** The store's webhook signing secret (Shopify: the app's client secret). */
  signingSecret: z.string().min(16),
});
export type ShopSettings = z.infer<typeof ShopSettings>;

/** The jobs of this plugin and their payloads: `kit.job` and `ctx.ingest` are checked against it. */
export type ShopJobs = {
  'shop.order': Order;
};

export interface ShopOptions {
  /**
   * Currencies the portal's deals take (crm.currency.list on a real portal). An order in another
   * one goes dead; resend it corrected and it runs again. @defaultValue any ISO 4217 code
   */
  currencies?: readonly string[];
}

/** ORIGINATOR_ID of the deals this plugin writes: the external system they come from. */
export const ORIGINATOR = 'b24kit-shop';
const ISO_4217 = /^[A-Z]{3}$/;

export const shopPlugin = definePlugin({
  name: 'shop',
  settings: { schema: ShopSettings, secrets: ['signingSecret'] },
  setup(kit: AppKit<ShopSettings, ShopJobs>, options: ShopOptions = {}) {
    kit.route(
      'POST',
      '/api/v1/:memberId/orders',
      async (ctx) => {
        const order = parse(Order, ctx.body, 'order');
        const { job, outcome, revision } = await ctx.ingest('shop.order', String(order.id), order);
        ctx.log.info({ orderId: order.id, jobId: job.id, outcome, revision }, 'shop order received');
        ctx.status(202);
        return { jobId: job.id, outcome, revision, state: job.state };
      },
      { auth: auth.hmac({ header: 'x-shop-signature', secret: 'signingSecret', encoding: 'base64' }) },
    );

    kit.job(
      'shop.order',
      async (ctx) => {
        const order = ctx.payload;
        if (!ISO_4217.test(order.currency) || (options.currencies && !options.currencies.includes(order.currency))) {
          // retrying cannot fix the order: dead at once; a corrected resend is `retried` by ingest
          throw new NonRetryableError(`order ${order.id}: currency ${JSON.stringify(order.currency)} is not one this portal takes`);
        }
        const fields = {
          TITLE: `Order ${order.name}`,
          CURRENCY_ID: order.currency,
          // the order's total stands (shipping, taxes), not the sum of the rows
          OPPORTUNITY: order.total_price,
          IS_MANUAL_OPPORTUNITY: 'Y',
          ORIGINATOR_ID: ORIGINATOR,
          ORIGIN_ID: String(order.id),
          COMMENTS: order.email ? `Customer: ${order.email}` : '',
        };
        const found = await findDeal(ctx.b24, order.id);
        let dealId: number;
        if (found !== undefined) {
          await ctx.b24.call('crm.deal.update', { id: found, fields });
          dealId = found;
        } else {
          // a retry after a crash past this add finds the deal by ORIGIN_ID above: no second deal
          dealId = (await ctx.b24.call<number>('crm.deal.add', { fields })).result;
        }
        await ctx.b24.call('crm.deal.productrows.set', {
          id: dealId,
          rows: order.line_items.map((item) => ({ PRODUCT_NAME: item.title, PRICE: item.price, QUANTITY: item.quantity })),
        });
        ctx.log.info({ orderId: order.id, dealId, updated: found !== undefined }, found !== undefined ? 'shop order: deal updated' : 'shop order: deal created');
        return { dealId }; // the job's result (`b24kit jobs show`)
      },
      { maxAttempts: 5 },
    );
  },
});

/** The deal written for an order, by ORIGINATOR_ID + ORIGIN_ID. */
export async function findDeal(b24: B24Client, orderId: number): Promise<number | undefined> {
  const { result } = await b24.call<Array<{ ID: string }>>('crm.deal.list', {
    filter: { ORIGINATOR_ID: ORIGINATOR, ORIGIN_ID: String(orderId) },
    select: ['ID'],
    start: -1,
  });
  return result[0] ? Number(result[0].ID) : undefined;
}

/** `schema.parse(value)`, or a 400 naming the bad fields (never their values). */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  throw new B24Error('B24_ERR_BAD_REQUEST', `invalid ${what}: ${issues.slice(0, 5).join('; ')}`, { status: 400 });
}
