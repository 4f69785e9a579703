/**
 * `POST /api/v1/:memberId/orders`: one route for every store format. The format is recognised by
 * its headers (Shopify's, then WooCommerce's, else the generic one), and the request must carry
 * that format's signature under the portal's `signingSecret`; anything else gets the framework's
 * uniform 401 with nothing stored (docs/plugins.md, "The 401 rule").
 *
 * Then: persist, then acknowledge. The body is read into an `Order` (400 naming the field at fault
 * when it cannot be, nothing stored) and handed to `ctx.ingest(job, source:id, order)`, which
 * collapses resends and lets a changed order supersede or revise its job; the route answers 202.
 * The order's modification time at the store (`updated_at`, `date_modified_gmt`, `updatedAt`) is
 * ingest's `version`: a delivery older than one already taken is answered 200 `stale` and changes
 * nothing, so a late or replayed update cannot move a deal back.
 */
import type { RouteAuth, RouteContext } from '../../index.js';
import type { Headers, OrderFormat } from './formats/format.js';
import { header, SECRET_KEY } from './formats/format.js';
import { generic } from './formats/generic.js';
import { isWooCommercePing, woocommerce } from './formats/woocommerce.js';
import { shopify } from './formats/shopify.js';
import { OrderRejected, type Order } from './order.js';

export const ORDERS_PATH = '/api/v1/:memberId/orders';
export const ORDER_JOB = 'orders.order';

/** In the order they are tried: the first whose headers match takes the request. */
export const FORMATS: readonly OrderFormat[] = [shopify, woocommerce, generic];

export function formatOf(headers: Headers): OrderFormat {
  return FORMATS.find((format) => format.matches(headers)) ?? generic;
}

/**
 * The route's auth: the matching format's own signature scheme, all under one secret. A
 * WooCommerce creation ping passes (it is unsigned; the route stores nothing for it) — but only for
 * a portal with the secret set, as the framework checks that before asking.
 */
export const ordersAuth: RouteAuth = {
  kind: 'hmac',
  secretKey: SECRET_KEY,
  verify(request, secret) {
    if (isWooCommercePing(request.headers, request.rawBody) && !shopify.matches(request.headers) && !generic.matches(request.headers)) return true;
    return formatOf(request.headers).auth.verify(request, secret);
  },
};

export type OrdersJobs = { 'orders.order': Order };

export interface OrderAnswer {
  jobId?: number;
  outcome?: string;
  revision?: number;
  ping?: true;
  error?: string;
  message?: string;
  field?: string;
}

export async function receiveOrder(ctx: RouteContext<Record<string, unknown>, OrdersJobs>): Promise<OrderAnswer> {
  if (isWooCommercePing(ctx.headers, ctx.rawBody) && !shopify.matches(ctx.headers) && !generic.matches(ctx.headers)) {
    ctx.log.info('orders: WooCommerce webhook ping answered');
    return { ping: true }; // 200: WooCommerce keeps a webhook whose ping got exactly 200
  }
  const format = formatOf(ctx.headers);
  let order: Order;
  try {
    requireJson(ctx.headers);
    order = format.read(ctx.headers, ctx.body);
  } catch (error) {
    if (!(error instanceof OrderRejected)) throw error;
    ctx.log.warn({ err: error, source: format.source, field: error.field }, 'orders: request refused');
    ctx.status(400);
    return { error: 'B24_ERR_BAD_REQUEST', message: error.message, field: error.field };
  }
  // the store's modification time orders the deliveries of one order: an older one changes nothing.
  // It is not part of the job's payload: a newer time alone (a note edited at the store) is no new work
  const { updatedAtMs, ...content } = order;
  const version = typeof updatedAtMs === 'number' ? { version: updatedAtMs } : {};
  const { job, outcome, revision } = await ctx.ingest(ORDER_JOB, `${order.source}:${order.id}`, content, version);
  if (outcome === 'stale') {
    ctx.log.info({ source: order.source, orderId: order.id, jobId: job.id, revision }, 'orders: an older version of the order than one already taken (late or replayed); ignored');
    return { jobId: job.id, outcome, revision }; // 200: nothing new to do; the store must not resend it
  }
  ctx.log.info({ source: order.source, orderId: order.id, jobId: job.id, outcome, revision }, 'orders: order received');
  ctx.status(202);
  return { jobId: job.id, outcome, revision };
}

/**
 * Every format's order is JSON (WooCommerce and Shopify deliver `application/json`; so does the
 * generic format). A form body is refused before it is read: the formats share one secret, and a
 * generic signature (over `${timestamp}.${body}`) is also a valid WooCommerce one over that string,
 * which a form parser would read — with fields a customer could have typed into the order.
 */
function requireJson(headers: Headers): void {
  const type = header(headers, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new OrderRejected('content-type', `content-type: an order is JSON (application/json), not ${type === '' ? 'a body without a type' : type.split(';')[0]}`);
  }
}
