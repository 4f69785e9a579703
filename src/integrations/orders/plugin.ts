/**
 * `ordersPlugin`: a web store's orders become CRM deals (docs/integrations/orders.md).
 *
 *     app.register(ordersPlugin, {});
 *
 * Written on the public plugin API only (`b24kit`): a route (route.ts), a job (job.ts), per-portal
 * settings with one secret.
 */
import { z } from 'zod';
import { definePlugin, type AppKit, type BatchJobOutcome } from '../../index.js';
import { SECRET_KEY } from './formats/format.js';
import { ORDERS_PER_BATCH, runOrderBatch } from './job.js';
import { hintUnlessConfigured } from '../install-hint.js';
import { ORDER_JOB, ORDERS_PATH, ordersAuth, receiveOrder, type OrdersJobs } from './route.js';

/**
 * The default status → stage mapping: WooCommerce's and Shopify's status words onto the default
 * pipeline's stages (https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html,
 * STAGE_ID; `crm.status.list` with ENTITY_ID DEAL_STAGE lists a portal's own).
 */
export const DEFAULT_STAGES: Readonly<Record<string, string>> = {
  pending: 'NEW',
  'on-hold': 'NEW',
  authorized: 'NEW',
  partially_paid: 'PREPAYMENT_INVOICE',
  processing: 'PREPARATION',
  paid: 'EXECUTING',
  completed: 'WON',
  fulfilled: 'WON',
  cancelled: 'LOSE',
  failed: 'LOSE',
  refunded: 'LOSE',
  voided: 'LOSE',
};

export const OrdersSettings = z.object({
  /** The secret every format signs with (WooCommerce's webhook secret, Shopify's signing key, the generic header's). */
  signingSecret: z.string().min(16),
  /** The store's status word → the deal's STAGE_ID. A status not listed leaves the stage as it is. @defaultValue DEFAULT_STAGES */
  stages: z.record(z.string().min(1).max(50), z.string().min(1).max(50)).default({ ...DEFAULT_STAGES }),
  /** CATEGORY_ID (pipeline) of new deals; the portal's default pipeline when unset. */
  categoryId: z.number().int().nonnegative().optional(),
});
export type OrdersSettings = z.infer<typeof OrdersSettings>;

export interface OrdersOptions {
  /** ORIGINATOR_ID of the deals is `${originator}.${source}` (`b24kit.orders.shopify`). @defaultValue 'b24kit.orders' */
  originator?: string;
  /** Attempts of an order's job on temporary failures (a permanent portal error ends it at once). @defaultValue 8 */
  maxAttempts?: number;
  /**
   * Orders of one portal handled together, in one read request and one write request (more only
   * past 50 commands): under load a worker takes up to this many queued orders of a portal at once.
   * 1 handles each order alone (2 requests each). @defaultValue 12 (12 new orders × 4 writes = 48 commands: one request)
   */
  batchSize?: number;
}

export const ordersPlugin = definePlugin({
  name: 'orders',
  settings: { schema: OrdersSettings, secrets: [SECRET_KEY] },
  setup(kit: AppKit<OrdersSettings, OrdersJobs>, options: OrdersOptions = {}) {
    const originator = options.originator ?? 'b24kit.orders';
    kit.route('POST', ORDERS_PATH, receiveOrder, { auth: ordersAuth });
    const batchSize = options.batchSize ?? ORDERS_PER_BATCH;
    // many orders of one portal in one read request and one write request (job.ts); each order keeps its own job
    kit.job(
      ORDER_JOB,
      async (ctx) => {
        const orders = ctx.items.map((item) => item.payload);
        const outcomes = await runOrderBatch(ctx.b24, orders, await ctx.settings.get(), originator);
        return outcomes.map((outcome, index): BatchJobOutcome => {
          const order = orders[index]!;
          if (!outcome.ok) {
            // a permanent portal error (a bad currency) ends this order's job dead with the portal's message; its neighbours go on
            ctx.log.warn({ err: outcome.error, orderId: order.id, source: order.source, jobId: ctx.items[index]!.job.id }, 'orders: order failed');
            return { status: 'retry', error: outcome.error };
          }
          ctx.log.info({ orderId: order.id, source: order.source, ...outcome.result }, outcome.result.created ? 'orders: deal created' : 'orders: deal updated');
          return { status: 'done', result: outcome.result };
        });
      },
      { batch: { max: batchSize }, ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}) },
    );
    kit.onInstall((ctx) =>
      hintUnlessConfigured(
        ctx,
        (stored) => stored.signingSecret !== undefined,
        `orders: set the store's signing secret with \`b24kit settings set ${ctx.portal.memberId} orders.signingSecret - --app <app>\` (or \`settings rotate\`), then point the store at /api/v1/${ctx.portal.memberId}/orders`,
      ),
    );
  },
});
