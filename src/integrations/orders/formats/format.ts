/**
 * What a store format is: how its requests are recognised (headers), signed, and read into an
 * `Order`. One object per store in this folder; route.ts picks one per request.
 */
import type { RouteAuth } from '../../../index.js';
import type { Order, OrderSource } from '../order.js';

export type Headers = Record<string, string | string[] | undefined>;

export interface OrderFormat {
  readonly source: OrderSource;
  /** True when the request's headers are this format's (any one of its headers is enough). */
  matches(headers: Headers): boolean;
  /** Checks the signature under the portal's secret (`signingSecret`). */
  readonly auth: RouteAuth;
  /** The order in the body, or throws `OrderRejected` (an unknown topic, a malformed body). */
  read(headers: Headers, body: unknown): Order;
}

export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim();
}

/** The settings key of the per-portal secret every format signs with. */
export const SECRET_KEY = 'signingSecret';
