/**
 * Shopify order webhooks (topics `orders/create`, `orders/updated`).
 *
 * Shopify signs each delivery: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body
 * under the app's client secret (or, for a webhook made in the store admin, the key shown there);
 * `X-Shopify-Topic`, `X-Shopify-Webhook-Id`, `X-Shopify-Shop-Domain` say what it is
 * (https://shopify.dev/docs/apps/build/webhooks/subscribe/https). The body is the REST order
 * resource (https://shopify.dev/docs/api/admin-rest/latest/resources/order; webhook topics at
 * https://shopify.dev/docs/api/admin-rest/latest/resources/webhook#event-topics).
 *
 * Shopify's ids exceed 2^53, so the number `id` loses digits in JSON.parse: the id is read from
 * `admin_graphql_api_id` (`gid://shopify/Order/820982911946154508`) when the body has it.
 * Shopify has no single status: `cancelled` when `cancelled_at` is set, `fulfilled` when
 * `fulfillment_status` is, else `financial_status` (`pending`, `paid`, `refunded`, …).
 */
import { z } from 'zod';
import { auth } from '../../../index.js';
import { Money, OptionalEmail, OptionalName, ModifiedAt, OptionalPhone, OrderId, OrderRejected, parseBody, type Order } from '../order.js';
import { header, SECRET_KEY, type OrderFormat } from './format.js';

export const SHOPIFY_TOPICS = ['orders/create', 'orders/updated'] as const;

const Person = z.object({ first_name: OptionalName, last_name: OptionalName, email: OptionalEmail, phone: OptionalPhone }).nullable().optional();

export const ShopifyOrder = z.object({
  // not .int(): zod refuses numbers above 2^53, which Shopify's ids are; the exact id is in admin_graphql_api_id
  id: z.number().positive(),
  admin_graphql_api_id: z.string().regex(/^gid:\/\/shopify\/Order\/\d{1,30}$/, 'expected gid://shopify/Order/<id>').optional(),
  name: z.string().min(1).max(100),
  email: OptionalEmail,
  phone: OptionalPhone,
  currency: z.string().min(1).max(10),
  total_price: Money,
  financial_status: z.string().max(50).nullable().optional(),
  fulfillment_status: z.string().max(50).nullable().optional(),
  cancelled_at: z.string().nullable().optional(),
  updated_at: ModifiedAt,
  customer: Person,
  billing_address: Person,
  line_items: z
    .array(z.object({ title: z.string().min(1).max(255), sku: z.string().max(100).nullable().optional(), quantity: z.number().positive(), price: Money }))
    .max(500)
    .default([]),
});

export const shopify: OrderFormat = {
  source: 'shopify',
  matches: (headers) => header(headers, 'x-shopify-hmac-sha256') !== undefined || header(headers, 'x-shopify-topic') !== undefined,
  auth: auth.hmac({ header: 'x-shopify-hmac-sha256', secret: SECRET_KEY, encoding: 'base64' }),
  read(headers, body): Order {
    const topic = header(headers, 'x-shopify-topic');
    if (!SHOPIFY_TOPICS.includes(topic as (typeof SHOPIFY_TOPICS)[number])) {
      throw new OrderRejected('X-Shopify-Topic', `X-Shopify-Topic: unknown Shopify topic, expected ${SHOPIFY_TOPICS.join(' or ')}`);
    }
    const order = parseBody(ShopifyOrder, body, 'invalid Shopify order');
    if (!order.admin_graphql_api_id && !Number.isSafeInteger(order.id)) {
      throw new OrderRejected('admin_graphql_api_id', 'invalid Shopify order: admin_graphql_api_id: missing, and id is above 2^53 (its digits are lost in JSON)');
    }
    const id = order.admin_graphql_api_id ? order.admin_graphql_api_id.slice('gid://shopify/Order/'.length) : OrderId.parse(order.id);
    const status = order.cancelled_at ? 'cancelled' : order.fulfillment_status === 'fulfilled' ? 'fulfilled' : (order.financial_status ?? 'pending');
    const person = order.customer ?? order.billing_address;
    return {
      source: 'shopify',
      id,
      number: order.name,
      status,
      currency: order.currency,
      total: order.total_price,
      customer: {
        email: order.email ?? order.customer?.email ?? null,
        phone: order.phone ?? order.customer?.phone ?? order.billing_address?.phone ?? null,
        firstName: person?.first_name ?? '',
        lastName: person?.last_name ?? '',
      },
      items: order.line_items.map((item) => ({ name: item.title, sku: item.sku || null, price: item.price, quantity: item.quantity })),
      updatedAtMs: order.updated_at,
    };
  },
};
