/**
 * The dedupe key of an inbound delivery: the ONE place that decides which deliveries are "the same
 * event". Bitrix24 documents no duplicate delivery and no event id (docs/protocol.md §3.5), so the key is
 * built from what a repeated delivery repeats byte for byte and what distinguishes two real events:
 *
 * - `member_id`, `event` (upper-case), `ts` and the whole `data` (canonical JSON): docs/protocol.md §3.5's
 *   suggestion (member_id + event + data[FIELDS][ID] + ts), widened from FIELDS.ID to all of
 *   `data`, so events whose data says more than an ID (app events, tasks, …) only collapse when
 *   they say the same thing;
 * - `auth[user_id]`: the same object changed by two users in the same second is two events;
 * - `event_id`, when present (read by the PHP SDK; UNCONFIRMED in the docs).
 *
 * Left out on purpose:
 * - `event_handler_id`: an app bound twice to one event (e.g. for two `auth_type` users) receives
 *   one delivery per binding for ONE change; the handler must still run once;
 * - tokens (`access_token`, `expires`): copies of one event may carry different ones.
 *
 * Consequence (documented in docs/app.md): two changes of one object by one user within the same
 * second collapse into one handler run. CRM events carry only the ID and handlers read the current
 * state, so the run sees the object as it is then; bind offline events where even that matters.
 */
import { hash } from 'node:crypto';

export interface EventKeyInput {
  memberId: string;
  event: string;
  /** `ts` as delivered (unix seconds, a string), or null. */
  ts: string | null;
  data: unknown;
  /** `auth[user_id]`, or null when the event has no user (automation, agents). */
  userId: string | null;
  /** `event_id`, when the payload carries one. */
  eventId: string | null;
}

/**
 * `e2:` + `ts` (10 digits) + `:` + base64url(sha256(canonical fields)): 57 characters whatever the
 * payload's size. The hash alone decides identity (`ts` is inside it too); the `ts` prefix is there
 * for the indexes: a portal's events arrive in about `ts` order, so their keys are appended at the
 * end of the portal's range of the inbox's and the jobs' unique indexes instead of landing on a
 * random page each — the random keys of `e1:` (the hash alone) cost each event about 3 times the
 * CPU in SQLite's b-trees and a WAL page of its own per index (bench/README.md, Ingest).
 * A `ts` that is not 1–10 digits (missing, or made up by a caller) gives the prefix `0000000000`.
 * Keys of `e1:` (before this) and `e2:` never match: a copy of one event received by a process
 * of each version during a rolling upgrade is recorded twice.
 */
export function eventDedupeKey(input: EventKeyInput): string {
  const canonical = canonicalJson([input.memberId, input.event.toUpperCase(), input.ts, input.userId, input.eventId, input.data ?? null]);
  return `e2:${tsPrefix(input.ts)}:${hash('sha256', canonical, 'base64url')}`;
}

function tsPrefix(ts: string | null): string {
  return ts !== null && /^[0-9]{1,10}$/.test(ts) ? ts.padStart(10, '0') : '0000000000';
}

/** JSON with object keys sorted at every level, so equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value === undefined ? null : value;
}
