/**
 * WooCommerce order webhooks (topics `order.created`, `order.updated`).
 *
 * WooCommerce signs each delivery with the webhook's secret: `X-WC-Webhook-Signature` is the base64
 * HMAC-SHA256 of the raw body, and `X-WC-Webhook-Topic`, `X-WC-Webhook-Delivery-ID`,
 * `X-WC-Webhook-Resource`/`-Event`/`-ID`/`-Source` say what it is
 * (https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks; WC_Webhook::get_delivery_headers
 * in woocommerce/includes/class-wc-webhook.php). The body is the order as the REST API v3 returns it
 * (https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties): `id`, `number`,
 * `status`, `currency`, `total` (a string), `billing.{first_name,last_name,email,phone}`,
 * `line_items[].{name,sku,quantity,price}` (`price` a number).
 *
 * When a webhook is created WooCommerce first POSTs a ping, `webhook_id=<id>` form-encoded and
 * UNSIGNED, and marks the webhook as failing unless the answer is exactly 200
 * (WC_Webhook::deliver_ping): see `isWooCommercePing`.
 */
import { z } from 'zod';
import { auth } from '../../../index.js';
import { Money, OptionalEmail, OptionalName, ModifiedAt, OptionalPhone, OrderId, OrderRejected, parseBody, type Order } from '../order.js';
import { header, SECRET_KEY, type Headers, type OrderFormat } from './format.js';

export const WOOCOMMERCE_TOPICS = ['order.created', 'order.updated'] as const;

export const WooCommerceOrder = z.object({
  id: OrderId,
  number: z.union([z.string(), z.number()]).transform(String).optional(),
  status: z.string().min(1).max(50),
  currency: z.string().min(1).max(10),
  total: Money,
  date_modified_gmt: ModifiedAt,
  billing: z.object({ first_name: OptionalName, last_name: OptionalName, email: OptionalEmail, phone: OptionalPhone }).optional(),
  line_items: z
    .array(z.object({ name: z.string().min(1).max(255), sku: z.string().max(100).nullable().optional(), quantity: z.number().positive(), price: Money }))
    .max(500)
    .default([]),
});

export const woocommerce: OrderFormat = {
  source: 'woocommerce',
  matches: (headers) => header(headers, 'x-wc-webhook-signature') !== undefined || header(headers, 'x-wc-webhook-topic') !== undefined,
  auth: auth.hmac({ header: 'x-wc-webhook-signature', secret: SECRET_KEY, encoding: 'base64' }),
  read(headers, body): Order {
    const topic = header(headers, 'x-wc-webhook-topic');
    if (!WOOCOMMERCE_TOPICS.includes(topic as (typeof WOOCOMMERCE_TOPICS)[number])) {
      throw new OrderRejected('X-WC-Webhook-Topic', `X-WC-Webhook-Topic: unknown WooCommerce topic, expected ${WOOCOMMERCE_TOPICS.join(' or ')}`);
    }
    const order = parseBody(WooCommerceOrder, body, 'invalid WooCommerce order');
    return {
      source: 'woocommerce',
      id: order.id,
      number: order.number ?? order.id,
      status: order.status,
      currency: order.currency,
      total: order.total,
      customer: {
        email: order.billing?.email ?? null,
        phone: order.billing?.phone ?? null,
        firstName: order.billing?.first_name ?? '',
        lastName: order.billing?.last_name ?? '',
      },
      items: order.line_items.map((item) => ({ name: item.name, sku: item.sku || null, price: item.price, quantity: item.quantity })),
      updatedAtMs: order.date_modified_gmt,
    };
  },
};

/**
 * WooCommerce's creation ping: `webhook_id=<digits>` and none of the formats' signature headers.
 * It carries no signature, so it proves nothing and is answered 200 with nothing stored.
 */
export function isWooCommercePing(headers: Headers, rawBody: Buffer): boolean {
  return rawBody.length <= 40 && /^webhook_id=\d{1,20}$/.test(rawBody.toString('latin1')) && header(headers, 'x-wc-webhook-signature') === undefined;
}
