import { createHash, randomBytes } from 'node:crypto';
import { RestError, restErrors } from '../rest-error.js';

/** One record of the offline queue (docs/protocol.md §3.6; columns of the core's b_rest_event_offline). */
export interface OfflineRecord {
  id: number;
  timestampMs: number;
  /** md5 of `EVENT_NAME|json(EVENT_DATA)`: the same object and event give the same id. */
  messageId: string;
  eventName: string;
  eventData: unknown;
  eventAdditional: unknown;
  /** '' while free; the reservation of an `event.offline.get` with clear=0 otherwise. */
  processId: string;
  connectorId: string;
  error: 0 | 1;
}

type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | '%';

interface Condition {
  field: string;
  op: Operator;
  value: unknown;
}

type Order = Array<{ field: string; desc: boolean }>;

const GET_FIELDS = ['ID', 'TIMESTAMP_X', 'EVENT_NAME', 'MESSAGE_ID'];
const LIST_FIELDS = [...GET_FIELDS, 'PROCESS_ID', 'ERROR'];
const PAGE_SIZE = 50;

export interface OfflineGetInput {
  filter: unknown;
  order: unknown;
  limit: number;
  clear: boolean;
  processId: string | null;
  connectorId: string;
  error: boolean;
}

/**
 * The per-portal offline queue. It keeps the latest state per object, not history: a new event
 * with the same MESSAGE_ID, connector and (empty) reservation updates the existing record's
 * TIMESTAMP_X and data, as the core's merge on (MESSAGE_ID, APP_ID, CONNECTOR_ID, PROCESS_ID) does.
 * A record already reserved by a reader is left alone, so the change shows up as a new free record.
 */
export class OfflineQueue {
  readonly #records: OfflineRecord[] = [];
  #nextId = 1;

  constructor(private readonly nowMs: () => number) {}

  /** Records an event for one connector; returns the record. */
  record(eventName: string, eventData: unknown, eventAdditional: unknown, connectorId: string): OfflineRecord {
    const messageId = messageIdOf(eventName, eventData);
    const existing = this.#records.find((r) => r.messageId === messageId && r.connectorId === connectorId && r.processId === '');
    if (existing) {
      existing.timestampMs = this.nowMs();
      existing.eventData = eventData;
      existing.eventAdditional = eventAdditional;
      return existing;
    }
    const record: OfflineRecord = {
      id: this.#nextId++,
      timestampMs: this.nowMs(),
      messageId,
      eventName,
      eventData,
      eventAdditional,
      processId: '',
      connectorId,
      error: 0,
    };
    this.#records.push(record);
    return record;
  }

  /**
   * `event.offline.get`: without process_id, reserves up to `limit` free records under a new
   * process id (each call its own, so parallel callers get disjoint sets); with one, re-reads that
   * reservation. clear=1 then deletes the whole reservation.
   */
  get(input: OfflineGetInput): { process_id: string | null; events: Record<string, unknown>[] } {
    if (!Number.isInteger(input.limit) || input.limit <= 0) throw restErrors.argument('Value must be positive integer', 'LIMIT');
    const conditions = parseFilter(input.filter, GET_FIELDS);
    const order = parseOrder(input.order, GET_FIELDS, [{ field: 'TIMESTAMP_X', desc: false }]);
    const base = (r: OfflineRecord): boolean =>
      r.connectorId === input.connectorId && r.error === (input.error ? 1 : 0) && matches(r, conditions);

    let processId = input.processId;
    let returnProcessId = !input.clear;
    if (processId === null) {
      processId = newProcessId();
      const free = sortRecords(this.#records.filter((r) => r.processId === '' && base(r)), order).slice(0, input.limit);
      for (const r of free) r.processId = processId;
    } else {
      returnProcessId = true;
    }
    const reserved = processId;
    const selected = sortRecords(this.#records.filter((r) => r.processId === reserved && base(r)), order).slice(0, input.limit);
    const events = selected.map((r) => view(r, false));
    if (input.clear && selected.length > 0) this.#remove((r) => r.processId === reserved && r.connectorId === input.connectorId);
    return { process_id: returnProcessId ? processId : null, events };
  }

  /** `event.offline.clear`: the whole reservation, or only `ids`, or only `messageIds`. */
  clear(processId: string, connectorId: string, ids: number[] | null, messageIds: string[] | null): void {
    this.#remove(
      (r) =>
        r.processId === processId &&
        r.connectorId === connectorId &&
        (ids ? ids.includes(r.id) : messageIds ? messageIds.includes(r.messageId) : true),
    );
  }

  /**
   * `event.offline.error`, as the core's markError: the reserved records with these MESSAGE_IDs
   * become errored and free again (read them with error=1); unerrored copies elsewhere are dropped.
   */
  markError(processId: string, connectorId: string, messageIds: string[]): void {
    const hit = (r: OfflineRecord): boolean => r.connectorId === connectorId && messageIds.includes(r.messageId);
    this.#remove((r) => hit(r) && r.error === 0 && r.processId !== processId);
    for (const r of this.#records) {
      if (hit(r) && r.error === 0 && r.processId === processId) {
        r.error = 1;
        r.processId = '';
      }
    }
  }

  /** `event.offline.list`: read-only, pages of 50 from `start`, with total. */
  list(filter: unknown, order: unknown, start: number, connectorId: string): { items: Record<string, unknown>[]; total: number; next?: number } {
    const conditions = parseFilter(filter, LIST_FIELDS);
    const sorted = sortRecords(
      this.#records.filter((r) => r.connectorId === connectorId && matches(r, conditions)),
      parseOrder(order, LIST_FIELDS, [{ field: 'ID', desc: false }]),
    );
    const offset = Math.max(0, start);
    const items = sorted.slice(offset, offset + PAGE_SIZE).map((r) => view(r, true));
    const next = offset + PAGE_SIZE < sorted.length ? offset + PAGE_SIZE : undefined;
    return { items, total: sorted.length, ...(next !== undefined ? { next } : {}) };
  }

  /** Every record, for the control API. */
  all(): OfflineRecord[] {
    return [...this.#records];
  }

  /** Drops everything (uninstall). */
  reset(): void {
    this.#records.length = 0;
  }

  #remove(predicate: (r: OfflineRecord) => boolean): void {
    for (let i = this.#records.length - 1; i >= 0; i--) if (predicate(this.#records[i]!)) this.#records.splice(i, 1);
  }
}

/** `md5(EVENT_NAME|json(EVENT_DATA))`, 32 hex chars, as the core computes MESSAGE_ID. */
export function messageIdOf(eventName: string, eventData: unknown): string {
  return createHash('md5').update(`${eventName}|${JSON.stringify(eventData)}`).digest('hex');
}

/** 32 random alphanumerics, like the core's Random::getString(32). */
function newProcessId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(32)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** ISO 8601 with offset, as the REST API writes dates (`2024-07-18T12:32:31+00:00`). */
export function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

function view(r: OfflineRecord, withListFields: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ID: String(r.id),
    TIMESTAMP_X: isoTimestamp(r.timestampMs),
    EVENT_NAME: r.eventName,
    EVENT_DATA: r.eventData,
    EVENT_ADDITIONAL: r.eventAdditional,
    MESSAGE_ID: r.messageId,
  };
  if (withListFields) {
    out.PROCESS_ID = r.processId;
    out.ERROR = String(r.error);
  }
  return out;
}

function fieldValue(r: OfflineRecord, field: string): string | number {
  switch (field) {
    case 'ID':
      return r.id;
    case 'TIMESTAMP_X':
      return r.timestampMs;
    case 'EVENT_NAME':
      return r.eventName;
    case 'MESSAGE_ID':
      return r.messageId;
    case 'PROCESS_ID':
      return r.processId;
    default:
      return r.error;
  }
}

function comparable(field: string, value: unknown): string | number {
  if (field === 'ID' || field === 'ERROR') return Number(value);
  if (field === 'TIMESTAMP_X') return typeof value === 'number' ? value * 1000 : Date.parse(String(value));
  if (field === 'EVENT_NAME') return String(value).toUpperCase();
  return String(value);
}

function parseFilter(filter: unknown, fields: string[]): Condition[] {
  if (filter === undefined || filter === null || filter === '') return [];
  if (typeof filter !== 'object' || Array.isArray(filter)) throw restErrors.argument('Filter must be an object', 'FILTER');
  const conditions: Condition[] = [];
  for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
    const match = /^(>=|<=|!=|=|>|<|!|%)?(.+)$/.exec(key);
    const field = (match?.[2] ?? '').toUpperCase();
    if (!fields.includes(field)) throw filterError(key);
    if (value !== null && typeof value === 'object') throw filterError(key);
    const raw = match?.[1] ?? '=';
    const op: Operator = raw === '!' ? '!=' : (raw as Operator);
    conditions.push({ field, op, value: comparable(field, value) });
  }
  return conditions;
}

function filterError(key: string): RestError {
  return restErrors.argument(`Filter field is not allowed: ${key}`, 'FILTER');
}

function matches(r: OfflineRecord, conditions: Condition[]): boolean {
  return conditions.every(({ field, op, value }) => {
    const actual = fieldValue(r, field);
    const wanted = value as string | number;
    switch (op) {
      case '=':
        return actual === wanted;
      case '!=':
        return actual !== wanted;
      case '>':
        return actual > wanted;
      case '>=':
        return actual >= wanted;
      case '<':
        return actual < wanted;
      case '<=':
        return actual <= wanted;
      default:
        return String(actual).includes(String(wanted));
    }
  });
}

function parseOrder(order: unknown, fields: string[], fallback: Order): Order {
  if (order === undefined || order === null || order === '') return fallback;
  if (typeof order !== 'object' || Array.isArray(order)) throw restErrors.argument('Order must be an object', 'ORDER');
  const parsed: Order = [];
  for (const [key, direction] of Object.entries(order as Record<string, unknown>)) {
    const field = key.toUpperCase();
    if (!fields.includes(field)) throw restErrors.argument(`Order field is not allowed: ${key}`, 'ORDER');
    parsed.push({ field, desc: String(direction).toUpperCase() === 'DESC' });
  }
  return parsed.length > 0 ? parsed : fallback;
}

function sortRecords(records: OfflineRecord[], order: Order): OfflineRecord[] {
  // ID breaks ties so equal timestamps keep insertion order
  return [...records].sort((a, b) => {
    for (const { field, desc } of order) {
      const x = fieldValue(a, field);
      const y = fieldValue(b, field);
      if (x < y) return desc ? 1 : -1;
      if (x > y) return desc ? -1 : 1;
    }
    return a.id - b.id;
  });
}
