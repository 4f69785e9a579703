/**
 * The generic order JSON: for stores and scripts that are neither WooCommerce nor Shopify.
 *
 * Signed like Stripe's webhooks (https://docs.stripe.com/webhooks, "Verify signatures manually"),
 * in two headers:
 *
 *     X-B24kit-Timestamp: <unix seconds>
 *     X-B24kit-Signature: sha256=<hex HMAC-SHA256 of `${timestamp}.${rawBody}` under the portal's signingSecret>
 *
 * The timestamp must be within 5 minutes of the app's clock: a captured request cannot be replayed
 * later to move a deal back to an old stage. Each POST carries the order's whole current state;
 * there is no topic.
 */
import { z } from 'zod';
import { auth } from '../../../index.js';
import { Money, OptionalEmail, OptionalName, ModifiedAt, OptionalPhone, OrderId, parseBody, type Order } from '../order.js';
import { header, SECRET_KEY, type OrderFormat } from './format.js';

export const GENERIC_SIGNATURE_HEADER = 'x-b24kit-signature';
export const GENERIC_TIMESTAMP_HEADER = 'x-b24kit-timestamp';

export const GenericOrder = z.object({
  id: OrderId,
  number: z.string().min(1).max(100).optional(),
  status: z.string().min(1).max(50),
  currency: z.string().min(1).max(10),
  total: Money,
  updatedAt: ModifiedAt,
  customer: z
    .object({ email: OptionalEmail, phone: OptionalPhone, firstName: OptionalName, lastName: OptionalName })
    .optional(),
  items: z
    .array(z.object({ name: z.string().min(1).max(255), sku: z.string().max(100).nullable().optional(), price: Money, quantity: z.number().positive() }))
    .max(500)
    .default([]),
});

export const generic: OrderFormat = {
  source: 'generic',
  matches: (headers) => header(headers, GENERIC_SIGNATURE_HEADER) !== undefined,
  auth: auth.hmac({ header: GENERIC_SIGNATURE_HEADER, prefix: 'sha256=', secret: SECRET_KEY, timestampHeader: GENERIC_TIMESTAMP_HEADER }),
  read(_headers, body): Order {
    const order = parseBody(GenericOrder, body, 'invalid order');
    return {
      source: 'generic',
      id: order.id,
      number: order.number ?? order.id,
      status: order.status,
      currency: order.currency,
      total: order.total,
      customer: order.customer
        ? { email: order.customer.email, phone: order.customer.phone, firstName: order.customer.firstName, lastName: order.customer.lastName }
        : { email: null, phone: null, firstName: '', lastName: '' },
      items: order.items.map((item) => ({ name: item.name, sku: item.sku ?? null, price: item.price, quantity: item.quantity })),
      updatedAtMs: order.updatedAt,
    };
  },
};
