/**
 * The one order shape the orders plugin works on, whatever store sent it: each format
 * (formats/*.ts) reads its own body into an `Order`, and the job only ever sees this.
 *
 * Validation names the field at fault in the store's own terms (`line_items.0.quantity`), so a
 * store admin can find it; values are never echoed (they may be personal data).
 */
import { z } from 'zod';

/** Where an order came from: part of ORIGINATOR_ID, so two stores' order 17 are two deals. */
export type OrderSource = 'generic' | 'woocommerce' | 'shopify';

/** A decimal amount, sent as a string ("29.35", Shopify and WooCommerce totals) or a number (WooCommerce line prices). */
export const Money = z
  .union([z.string(), z.number()])
  .transform((value) => String(value).trim())
  .pipe(z.string().regex(/^-?\d{1,12}(\.\d{1,6})?$/, 'expected a decimal amount like "29.35"'));

/** An e-mail as stores send it: empty means none. */
export const OptionalEmail = z
  .union([z.email(), z.literal(''), z.null()])
  .optional()
  .transform((value) => (value ? value.trim().toLowerCase() : null));

/** A phone as stores send it (any formatting): empty means none. */
export const OptionalPhone = z
  .union([z.string().max(50), z.null()])
  .optional()
  .transform((value) => (value && value.trim() !== '' ? value.trim() : null));

export const OptionalName = z
  .union([z.string().max(100), z.null()])
  .optional()
  .transform((value) => value?.trim() ?? '');

/**
 * When the store last changed the order, as an ISO 8601 time (one without a zone is UTC, as
 * WooCommerce's `date_modified_gmt`); absent or null means unknown. Read into epoch ms.
 */
export const ModifiedAt = z
  .union([z.string().max(40), z.null()])
  .optional()
  .transform((value, ctx) => {
    if (value === null || value === undefined || value.trim() === '') return null;
    const text = value.trim();
    const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'expected an ISO 8601 time like "2026-11-30T15:28:08Z"' });
      return z.NEVER;
    }
    return ms;
  });

export type OrderItem = {
  name: string;
  sku: string | null;
  /** Unit price, a decimal string. */
  price: string;
  quantity: number;
};

export type Order = {
  source: OrderSource;
  /** The store's order id, as a string (Shopify's exceed 2^53: read from `admin_graphql_api_id`). */
  id: string;
  /** What the store shows the customer: `#1001`, `727`. */
  number: string;
  /** The store's status word, mapped to a deal stage by the `stages` setting. */
  status: string;
  /** ISO 4217 as sent; the portal checks it (a bad one ends the job with the portal's message). */
  currency: string;
  /** The order's total, a decimal string: the deal's OPPORTUNITY. */
  total: string;
  customer: { email: string | null; phone: string | null; firstName: string; lastName: string };
  items: OrderItem[];
  /**
   * When the store last changed the order (epoch ms), if it says: the route passes it to ingest as
   * the `version` (a delivery older than one already taken is answered `stale` and changes nothing)
   * and leaves it out of the job's payload (a newer time alone is no new work).
   */
  updatedAtMs?: number | null;
};

/** A request the route refuses with 400: `field` names what is wrong (a body path or a header). */
export class OrderRejected extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'OrderRejected';
  }
}

/** `schema.parse(body)`, or an `OrderRejected` naming the first field at fault (never its value). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new OrderRejected('(body)', `${what}: (body): the body must be a JSON object (content-type: application/json)`);
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(body)';
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : '';
  throw new OrderRejected(field, `${what}: ${field}: ${issue.message}${more}`);
}

/** An order id as ingest takes it (printable ASCII, no spaces). */
export const ORDER_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export const OrderId = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((value) => String(value))
  .pipe(z.string().regex(ORDER_ID, 'expected an order id (letters, digits, . _ : -; at most 100)'));
