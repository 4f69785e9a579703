/**
 * An event delivery as b24kit stores and hands it to handlers: the form (docs/protocol.md §3.3) without
 * its secrets. `auth[access_token]`, `auth[refresh_token]` and `auth[application_token]` never
 * reach the inbox, the queue or a handler: a handler calls the portal through `ctx.b24`, whose
 * tokens come from the encrypted registry (docs/protocol.md §3.3: "don't rely on" event tokens anyway).
 */
import { B24Error } from '../errors.js';
import { isRecord, parseEventIdentity, type EventIdentity } from '../oauth/install-payload.js';
import type { Json } from '../queue/types.js';
import { isEventName } from '../validators.js';

/** What a handler sees of a delivery (all values are strings, as form encoding delivers them). */
export interface EventDelivery<D = unknown> {
  /** Upper-case, e.g. `ONCRMDEALADD`. */
  event: string;
  /** The binding that sent it. */
  eventHandlerId: string | null;
  /** e.g. `{ FIELDS: { ID: '1234' } }` for CRM events. */
  data: D;
  /** Unix seconds as a string, when delivered. */
  ts: string | null;
  /** `event_id`, when the payload carries one (UNCONFIRMED key, docs/protocol.md §3.3). */
  eventId: string | null;
  /**
   * Set when the event came from the portal's offline queue (docs/protocol.md §3.6) instead of an online
   * delivery: the record's ID, MESSAGE_ID and TIMESTAMP_X (ISO 8601, its latest change).
   */
  offline?: { id: number; messageId: string; timestamp: string };
  /** The non-secret part of `auth[…]`. */
  auth: {
    memberId: string;
    domain: string | null;
    /** The user who caused the event; null for automation, agents and app events. */
    userId: string | null;
    scope: string | null;
    status: string | null;
    clientEndpoint: string | null;
    serverEndpoint: string | null;
  };
}

export interface ParsedDelivery {
  delivery: EventDelivery;
  /** member_id, domain and application_token: what authentication needs. */
  identity: EventIdentity;
}

/** Reads and checks an event form. Throws B24_ERR_BAD_REQUEST (400) naming the field, never its value. */
export function parseEventDelivery(body: unknown): ParsedDelivery {
  if (!isRecord(body) || typeof body.event !== 'string' || body.event === '') {
    throw new B24Error('B24_ERR_BAD_REQUEST', 'Not an event: `event` is missing');
  }
  const event = body.event.trim().toUpperCase();
  if (!isEventName(event)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The event name is malformed');
  const identity = parseEventIdentity(body);
  const auth = body.auth as Record<string, unknown>;
  return {
    identity,
    delivery: {
      event,
      eventHandlerId: text(body.event_handler_id),
      data: toJson(body.data),
      ts: text(body.ts),
      eventId: text(body.event_id),
      auth: {
        memberId: identity.memberId,
        domain: identity.domain ?? null,
        userId: text(auth.user_id),
        scope: text(auth.scope),
        status: text(auth.status),
        clientEndpoint: text(auth.client_endpoint),
        serverEndpoint: text(auth.server_endpoint),
      },
    },
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null;
}

/** The parsed form as JSON (qs gives strings, arrays and plain objects; anything else is dropped). */
function toJson(value: unknown): Json {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [key, inner] of Object.entries(value)) out[key] = toJson(inner);
    return out;
  }
  return null;
}
