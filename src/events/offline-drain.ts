/**
 * Draining the portal's offline-event queue (docs/protocol.md §3.6) with at-least-once semantics:
 *
 * 1. `event.offline.get {clear: 0, order: {ID: ASC}, limit}` reserves a batch under a new
 *    `process_id`; other readers no longer see those records.
 * 2. Each record goes to `processEvent`, in ID order.
 * 3. One batch request settles the reservation: `event.offline.clear {process_id, id[]}` for the
 *    successes, `event.offline.error {process_id, message_id[]}` for the failures (kept by the
 *    portal as errored; read them with `event.offline.get {error: 1}`).
 * 4. Repeat until a batch comes back short (the queue is empty) or `maxBatches`.
 *
 * A record is cleared only after `processEvent` resolved for it, so a crash anywhere before the
 * clear leaves it reserved, never lost. Reserved records are not released by the portal (it deletes
 * reservations after 30 days), so a later drain must pick them up by `process_id`:
 * - `processIds`: resume reservations the caller knows (from {@link OfflineDrainInterruptedError},
 *   or persisted in `onReserved`);
 * - `recoverReservations` (default on): the drain first lists reserved, unerrored records with
 *   `event.offline.list` and re-reads every reservation it finds. That assumes no other drain of
 *   the same portal and connector is running — run one drain per portal at a time (a queue job with
 *   a per-portal key). A concurrent drain would process some records twice, never lose them.
 * `processEvent` must therefore be idempotent; {@link offlineEventDedupeKey} is the key to dedupe on.
 */
import { B24Error } from '../errors.js';
import { isPortalUnavailable } from '../queue/errors.js';
import type { B24Client } from '../rest/client.js';
import type { B24Logger } from '../rest/hooks.js';

/** One record of the offline queue. */
export interface OfflineEventRecord {
  id: number;
  /** ISO 8601, when the portal last updated the record (the latest state per object wins). */
  timestamp: string;
  /** Upper-case, e.g. `ONCRMDEALUPDATE`. */
  event: string;
  /** The event's `data`, e.g. `{FIELDS: {ID: '5'}}` (content UNCONFIRMED on the real portal, docs/protocol.md §3.6). */
  data: unknown;
  /** e.g. `{user_id}`. */
  additional: unknown;
  /** 32 chars: md5 of event name and data — the same object and event give the same id. */
  messageId: string;
}

export interface OfflineEventContext {
  /** The reservation this record belongs to. */
  processId: string;
  /** True when the record came from a reservation found by recovery or passed in `processIds`. */
  recovered: boolean;
}

export interface DrainOfflineEventsOptions {
  client: B24Client;
  /** Handles one record. Resolve = done (cleared); throw = failed (marked errored), unless the error is fatal (see `isFatal`). */
  processEvent: (event: OfflineEventRecord, context: OfflineEventContext) => Promise<void>;
  /** Records per reservation, 1..1000. @defaultValue 50 */
  limit?: number;
  /** Read the queue of this `auth_connector` (docs/protocol.md §3.6). @defaultValue none */
  authConnector?: string;
  /** Most new reservations per drain (recovered ones not counted). @defaultValue 20 */
  maxBatches?: number;
  /** Reservations to re-read and finish first. @defaultValue [] */
  processIds?: readonly string[];
  /** Find and finish reservations left by a drain that died (`event.offline.list`). @defaultValue true */
  recoverReservations?: boolean;
  /**
   * Whether an error of `processEvent` stops the drain instead of marking the record errored. The
   * rest of the batch stays reserved; the drain throws {@link OfflineDrainInterruptedError}.
   * @defaultValue {@link isFatalDrainError}
   */
  isFatal?: (error: unknown) => boolean;
  /** Called after each reservation, before processing: persist `processId` to resume after a crash. */
  onReserved?: (processId: string, events: readonly OfflineEventRecord[]) => Promise<void> | void;
  logger?: B24Logger;
  /** Stops between records; what is not processed stays reserved (thrown as OfflineDrainInterruptedError). */
  signal?: AbortSignal;
}

export interface DrainReport {
  /** Reservations read (new and recovered). */
  batches: number;
  /** Records read from them. */
  reserved: number;
  /** Records `processEvent` resolved for. */
  processed: number;
  /** Records cleared from the portal's queue. */
  cleared: number;
  /** Records marked errored. */
  failed: number;
  /** Records that came from recovered or resumed reservations. */
  recovered: number;
  /** True when the last reservation came back short: the queue was empty at that moment. */
  drained: boolean;
}

/** Throw from `processEvent` to stop the drain, leaving the rest of the batch reserved. */
export class OfflineDrainAbort extends Error {
  constructor(message = 'offline drain aborted by processEvent', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OfflineDrainAbort';
  }
}

/**
 * B24_ERR_OFFLINE_DRAIN_INTERRUPTED: the drain stopped with records of `processId` still reserved.
 * Pass `processId` in `processIds` (or rely on `recoverReservations`) to finish them.
 */
export class OfflineDrainInterruptedError extends B24Error {
  readonly processId: string;
  readonly report: DrainReport;
  constructor(processId: string, report: DrainReport, cause: unknown, memberId?: string) {
    super('B24_ERR_OFFLINE_DRAIN_INTERRUPTED', `offline drain stopped with reservation ${processId} unfinished: ${describe(cause)}`, {
      cause,
      ...(memberId ? { memberId } : {}),
    });
    this.name = 'OfflineDrainInterruptedError';
    this.processId = processId;
    this.report = report;
  }
}

/**
 * The default `isFatal`: errors that say the app, not the record, cannot go on — the store failed,
 * the portal is rate-limited or unreachable, an abort — plus {@link OfflineDrainAbort}. Marking a
 * record errored for those would park it for a reason that has nothing to do with it.
 */
export function isFatalDrainError(error: unknown): boolean {
  if (error instanceof OfflineDrainAbort) return true;
  if (error instanceof Error && error.name === 'AbortError') return true;
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return code === 'B24_ERR_STORE' || isPortalUnavailable(error);
}

/**
 * The dedupe key of an offline record: `offline:{memberId}:{ID}:{TIMESTAMP_X}`. A reserved record
 * is frozen (a later change of the object makes a new record), so ID + timestamp name one state of
 * one object; a re-read of an unfinished reservation yields the same key.
 */
export function offlineEventDedupeKey(memberId: string, record: Pick<OfflineEventRecord, 'id' | 'timestamp'>): string {
  return `offline:${memberId}:${record.id}:${record.timestamp}`;
}

/** Reads `event.offline.get` → `{process_id, events}`. */
function parseOfflineBatch(result: unknown): { processId: string | null; events: OfflineEventRecord[] } {
  const r = result && typeof result === 'object' ? (result as Record<string, unknown>) : {};
  const raw = Array.isArray(r.events) ? r.events : r.events && typeof r.events === 'object' ? Object.values(r.events) : [];
  const events: OfflineEventRecord[] = [];
  for (const item of raw) {
    if (!item || typeof item !== 'object') continue;
    const row = item as Record<string, unknown>;
    const id = Number(row.ID);
    const messageId = typeof row.MESSAGE_ID === 'string' ? row.MESSAGE_ID : String(row.MESSAGE_ID ?? '');
    if (!Number.isSafeInteger(id) || id <= 0 || messageId === '') continue;
    events.push({
      id,
      timestamp: String(row.TIMESTAMP_X ?? ''),
      event: String(row.EVENT_NAME ?? '').toUpperCase(),
      data: row.EVENT_DATA,
      additional: row.EVENT_ADDITIONAL,
      messageId,
    });
  }
  events.sort((a, b) => a.id - b.id);
  return { processId: typeof r.process_id === 'string' && r.process_id !== '' ? r.process_id : null, events };
}

const MAX_RECOVERY_PAGES = 20;

/** Drains the offline queue once (see the file comment). Returns counts; throws {@link OfflineDrainInterruptedError}. */
export async function drainOfflineEvents(options: DrainOfflineEventsOptions): Promise<DrainReport> {
  const { client, processEvent } = options;
  const limit = options.limit ?? 50;
  const maxBatches = options.maxBatches ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'limit must be an integer in 1..1000');
  if (!Number.isInteger(maxBatches) || maxBatches < 0) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'maxBatches must be an integer ≥ 0');
  if (typeof processEvent !== 'function') throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'processEvent must be a function');
  const connector = options.authConnector ?? '';
  const withConnector = (params: Record<string, unknown>): Record<string, unknown> => (connector !== '' ? { ...params, auth_connector: connector } : params);
  const isFatal = options.isFatal ?? isFatalDrainError;
  const log = options.logger;
  const memberId = (await client.provider.getGrant()).memberId;
  const report: DrainReport = { batches: 0, reserved: 0, processed: 0, cleared: 0, failed: 0, recovered: 0, drained: false };

  /** Processes one reservation and settles it; throws OfflineDrainInterruptedError. */
  const runReservation = async (processId: string, events: OfflineEventRecord[], recovered: boolean): Promise<void> => {
    report.batches += 1;
    report.reserved += events.length;
    if (recovered) report.recovered += events.length;
    const done: number[] = [];
    const failedIds: string[] = [];
    let stop: unknown;
    try {
      await options.onReserved?.(processId, events);
    } catch (error) {
      stop = error;
    }
    for (const event of stop === undefined ? events : []) {
      if (options.signal?.aborted) {
        stop = options.signal.reason ?? new OfflineDrainAbort('aborted');
        break;
      }
      try {
        await processEvent(event, { processId, recovered });
        done.push(event.id);
      } catch (error) {
        if (isFatal(error)) {
          stop = error;
          break;
        }
        failedIds.push(event.messageId);
        log?.warn({ memberId, event: event.event, id: event.id, err: error }, 'b24kit: an offline event failed; marking it errored on the portal');
      }
    }
    report.processed += done.length;
    try {
      await settle(processId, done, failedIds);
    } catch (error) {
      // processed but not cleared: they stay reserved and are processed again later (at-least-once)
      throw new OfflineDrainInterruptedError(processId, report, stop ?? error, memberId);
    }
    report.cleared += done.length;
    report.failed += failedIds.length;
    if (stop !== undefined) throw new OfflineDrainInterruptedError(processId, report, stop, memberId);
  };

  const settle = async (processId: string, ids: number[], messageIds: string[]): Promise<void> => {
    const commands: Record<string, readonly [string, Record<string, unknown>]> = {};
    // an empty id list would clear the whole reservation (docs/protocol.md §3.6): only send what is done
    if (ids.length > 0) commands.clear = ['event.offline.clear', withConnector({ process_id: processId, id: ids })];
    if (messageIds.length > 0) commands.error = ['event.offline.error', withConnector({ process_id: processId, message_id: messageIds })];
    if (Object.keys(commands).length === 0) return;
    // clearing or marking the same records twice leaves the same state: safe to retry
    const answer = await client.batch(commands, { idempotent: true });
    const failure = answer.errors.clear ?? answer.errors.error;
    if (failure) throw failure;
  };

  const readReservation = async (processId: string | undefined): Promise<{ processId: string | null; events: OfflineEventRecord[] }> => {
    const params: Record<string, unknown> = { clear: 0, limit, order: { ID: 'ASC' } };
    if (processId !== undefined) params.process_id = processId;
    // a new reservation is a write on the portal, but re-sending it only reserves another batch,
    // which recovery finds: treat it as retryable
    const { result } = await client.call('event.offline.get', withConnector(params), { idempotent: true, ...(options.signal ? { signal: options.signal } : {}) });
    return parseOfflineBatch(result);
  };

  // 1. reservations to finish: given ones, then orphans found on the portal
  const resume = new Set(options.processIds ?? []);
  if (options.recoverReservations ?? true) for (const processId of await findReservations(client, withConnector)) resume.add(processId);
  for (const processId of resume) {
    // a reservation may hold more than `limit` records: re-read it until it is empty
    let lastFirstId: number | undefined;
    for (;;) {
      const batch = await readReservation(processId);
      const firstId = batch.events[0]?.id;
      if (firstId === undefined || firstId === lastFirstId) break; // empty, or no progress: stop
      lastFirstId = firstId;
      log?.warn({ memberId, records: batch.events.length }, 'b24kit: finishing an offline-events reservation left by an earlier drain');
      await runReservation(processId, batch.events, true);
      if (batch.events.length < limit) break;
    }
  }

  // 2. new reservations until the queue is empty
  for (let i = 0; i < maxBatches; i++) {
    if (options.signal?.aborted) break;
    const batch = await readReservation(undefined);
    if (batch.events.length === 0) {
      report.drained = true;
      break;
    }
    if (batch.processId === null) throw new B24Error('B24_ERR_BAD_RESPONSE', 'event.offline.get with clear=0 answered without a process_id', { method: 'event.offline.get' });
    await runReservation(batch.processId, batch.events, false);
    if (batch.events.length < limit) {
      report.drained = true;
      break;
    }
  }
  return report;
}

/** The process ids of reserved, unerrored records (`event.offline.list`). */
async function findReservations(client: B24Client, withConnector: (params: Record<string, unknown>) => Record<string, unknown>): Promise<string[]> {
  const found = new Set<string>();
  let start = 0;
  for (let page = 0; page < MAX_RECOVERY_PAGES; page++) {
    const answer = await client.call<unknown>('event.offline.list', withConnector({ filter: { '!PROCESS_ID': '', ERROR: 0 }, order: { ID: 'ASC' }, start }));
    const rows = Array.isArray(answer.result) ? answer.result : [];
    for (const row of rows) {
      const processId = (row as Record<string, unknown> | null)?.PROCESS_ID;
      if (typeof processId === 'string' && processId !== '') found.add(processId);
    }
    if (answer.next === undefined || rows.length === 0) break;
    start = answer.next;
  }
  return [...found];
}

function describe(error: unknown): string {
  if (error instanceof B24Error) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
