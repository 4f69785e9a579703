/**
 * Offline events in the app (protocol §3.6): events declared with `app.on(name, h, {offline: true})`
 * are bound with `event_type=offline`; the portal queues them (the latest state per object) and the
 * app drains the queue in a job per portal, `b24kit:offline-drain`, enqueued by
 *
 * - the ONOFFLINEEVENT ping (bound online): every ping of one `coalesceMs` window shares one job,
 *   keyed `offline-drain:{windowStartMs}` and due when the window ends. The queue keeps a key for
 *   as long as the job row exists (types.ts), so a key per portal would swallow every ping after
 *   the first drain; a key per window is new every window, and since the job starts after its
 *   window closed, it starts after every ping it stands for: no ping goes without a later drain.
 * - a schedule (`drainCron`, every 5 minutes by default): pings are online deliveries, which the
 *   portal never repeats.
 *
 * The drain (`drainOfflineEvents`) hands each record to the SAME inbox writer as the receiver: one
 * transaction records the inbox row, keyed `offlineEventDedupeKey` (member, record ID, TIMESTAMP_X),
 * and enqueues the ordinary `event:NAME` job; only after that commit is the record cleared on the
 * portal. So the handler runs as for an online event, once per record, and a record is never
 * cleared before it is durable here. A failing handler is the `event:NAME` job's business (retries,
 * then a dead letter kept in the store), as online; the portal's record is already cleared then.
 */
import type { EventDelivery } from '../events/event-payload.js';
import type { InboxJob, InboxWriter } from '../events/inbox.js';
import { drainOfflineEvents, offlineEventDedupeKey, type DrainReport, type OfflineEventRecord } from '../events/offline-drain.js';
import type { Json } from '../queue/types.js';
import type { AppDefinitions } from './definitions.js';
import { jobNames } from './job-names.js';
import type { OfflineEventsConfig } from './settings.js';
import type { HandlerContext } from './types.js';

export const DEFAULT_OFFLINE_DRAIN_CRON = '*/5 * * * *';
export const DEFAULT_OFFLINE_NOTIFY_SECONDS = 10;
export const DEFAULT_OFFLINE_COALESCE_MS = 1000;

/** The drain job of an ONOFFLINEEVENT ping received at `nowMs` (see the file comment). */
export function offlinePingJob(nowMs: number, coalesceMs: number = DEFAULT_OFFLINE_COALESCE_MS): InboxJob {
  const windowMs = Math.max(1, Math.floor(coalesceMs));
  const startMs = Math.floor(nowMs / windowMs) * windowMs;
  return { name: jobNames.offlineDrain, payload: { trigger: 'ping', windowStartMs: startMs }, key: `offline-drain:${startMs}`, runAtMs: startMs + windowMs };
}

/**
 * An offline record as a handler sees it, in the shape of an online delivery: `data` is the
 * record's EVENT_DATA (`{FIELDS: {ID}}` for CRM events), `ts` its TIMESTAMP_X in unix seconds,
 * `auth.userId` EVENT_ADDITIONAL.user_id (null for 0), `eventHandlerId` null, and `offline` the
 * record's identity.
 */
export function offlineDelivery(record: OfflineEventRecord, portal: HandlerContext['portal']): EventDelivery {
  const seconds = Date.parse(record.timestamp);
  const additional = record.additional && typeof record.additional === 'object' ? (record.additional as Record<string, unknown>) : {};
  const userId = additional.user_id === undefined || additional.user_id === null ? '' : String(additional.user_id);
  return {
    event: record.event,
    eventHandlerId: null,
    data: toJson(record.data),
    ts: Number.isFinite(seconds) ? String(Math.floor(seconds / 1000)) : null,
    eventId: null,
    offline: { id: record.id, messageId: record.messageId, timestamp: record.timestamp },
    auth: {
      memberId: portal.memberId,
      domain: portal.domain,
      userId: userId === '' || userId === '0' ? null : userId,
      scope: null,
      status: portal.status,
      clientEndpoint: portal.clientEndpoint,
      serverEndpoint: null,
    },
  };
}

/** The body of the `b24kit:offline-drain` job: drain the portal's queue into the inbox. */
export async function runOfflineDrain(
  ctx: HandlerContext,
  parts: { inbox: InboxWriter; definitions: AppDefinitions; config: OfflineEventsConfig },
): Promise<DrainReport> {
  const memberId = ctx.portal.memberId;
  const report = await drainOfflineEvents({
    client: ctx.b24,
    signal: ctx.signal,
    logger: ctx.log,
    ...(parts.config.batchSize !== undefined ? { limit: parts.config.batchSize } : {}),
    ...(parts.config.maxBatches !== undefined ? { maxBatches: parts.config.maxBatches } : {}),
    // processEvent only writes to our store: its failure says nothing about the record, so it never
    // marks one errored — the drain stops with the rest reserved, the job is retried, and the next
    // drain recovers the reservation (drainOfflineEvents' recoverReservations)
    isFatal: () => true,
    processEvent: async (record) => {
      // the receiver's own path: inbox row + `event:NAME` job in one transaction; a record the app
      // no longer handles (a binding not reconciled yet) is recorded as ignored and cleared
      const jobName = parts.definitions.jobNameForEvent(record.event);
      const delivery = offlineDelivery(record, ctx.portal);
      const outcome = await parts.inbox.record({
        memberId,
        dedupeKey: offlineEventDedupeKey(memberId, record),
        event: record.event,
        ...(jobName ? { job: { name: jobName, payload: delivery as unknown as Json } } : {}),
      });
      ctx.log.debug({ event: record.event, recordId: record.id, status: outcome.status, jobId: outcome.jobId }, 'offline event recorded');
    },
  });
  ctx.log.info({ ...report }, 'offline events drained');
  return report;
}

function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}
