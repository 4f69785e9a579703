/**
 * Built-in plugin `b24kit.offline-events` (docs/protocol.md §3.6), registered when the app declares events
 * with `app.on(name, h, {offline: true})`. Those are bound with `event_type=offline` (bindings.ts);
 * the portal queues them (the latest state per object) and this plugin drains the queue in a job per
 * portal, `b24kit.offline-drain`, enqueued by
 *
 * - the ONOFFLINEEVENT ping (bound online): every ping of one `coalesceMs` window shares one job,
 *   keyed `offline-drain:{windowStartMs}` and due when the window ends. The queue keeps a key for
 *   as long as the job row exists, so a key per portal would swallow every ping after the first
 *   drain; a key per window is new every window, and since the job starts after its window closed,
 *   it starts after every ping it stands for: no ping goes without a later drain.
 * - the same ping, once more at the end of the portal's ping throttle (`notifyMinTimeoutSeconds`,
 *   the binding's `minTimeout`): the portal pings at most once per throttle and never afterwards
 *   for what it queued meanwhile, so a change made during the throttle is drained when it ends,
 *   not at the next cron (`offlineTrailingJob`; test/app/offline-events-throttle.test.ts);
 * - a schedule (`drainCron`, every 5 minutes by default): pings are online deliveries, which the
 *   portal never repeats.
 *
 * The drain (`drainOfflineEvents`) hands each record to `kit.deliverEvent`: one transaction records
 * the inbox row, keyed `offlineEventDedupeKey` (member, record ID, TIMESTAMP_X), and enqueues the
 * ordinary event jobs, one per owner's handler (`event:NAME`, `event:NAME@plugin`); only after that
 * commit is the record cleared on the portal. So each handler runs as for an online event, once per
 * record, and a record is never cleared before it is durable here. A failing handler is its own
 * job's business (retries, then a dead letter), as online; the portal's record is already cleared
 * then. Written on the public seam only.
 */
import type { EventDelivery } from '../../events/event-payload.js';
import { OFFLINE_NOTIFY_EVENT } from '../../events/bindings.js';
import { drainOfflineEvents, offlineEventDedupeKey, type DrainReport, type OfflineEventRecord } from '../../events/offline-drain.js';
import type { Json } from '../../queue/types.js';
import type { AppKit } from '../kit.js';
import { defineBuiltinPlugin } from '../plugin.js';
import type { OfflineEventsConfig } from '../settings.js';
import type { HandlerContext } from '../types.js';

export const DEFAULT_OFFLINE_DRAIN_CRON = '*/5 * * * *';
export const DEFAULT_OFFLINE_NOTIFY_SECONDS = 10;
export const DEFAULT_OFFLINE_COALESCE_MS = 1000;

/** The drain job's name (a job and a schedule of the plugin). */
export const OFFLINE_DRAIN = 'b24kit.offline-drain';

/** The drain job of an ONOFFLINEEVENT ping seen at `nowMs` (see the file comment). */
export function offlinePingJob(nowMs: number, coalesceMs: number = DEFAULT_OFFLINE_COALESCE_MS): { payload: { trigger: 'ping'; windowStartMs: number }; key: string; runAtMs: number } {
  const windowMs = Math.max(1, Math.floor(coalesceMs));
  const startMs = Math.floor(nowMs / windowMs) * windowMs;
  return { payload: { trigger: 'ping', windowStartMs: startMs }, key: `offline-drain:${startMs}`, runAtMs: startMs + windowMs };
}

/**
 * The drain after a ping's throttle: the portal sends no ping for records queued within
 * `throttleMs` (its `minTimeout`) of the last one, so without this drain such a record would wait
 * for the next change's ping or the cron. Due at the end of the throttle of the latest ping the
 * window can hold (+ the window, so it starts after the throttle ended); one per window (its key).
 * None without a throttle: every record is then pinged.
 */
export function offlineTrailingJob(nowMs: number, throttleMs: number, coalesceMs: number = DEFAULT_OFFLINE_COALESCE_MS): { payload: { trigger: 'throttle'; windowStartMs: number }; key: string; runAtMs: number } | undefined {
  if (!(throttleMs > 0)) return undefined;
  const ping = offlinePingJob(nowMs, coalesceMs);
  return { payload: { trigger: 'throttle', windowStartMs: ping.payload.windowStartMs }, key: `offline-drain-throttle:${ping.payload.windowStartMs}`, runAtMs: ping.runAtMs + throttleMs };
}

export const offlineEventsPlugin = defineBuiltinPlugin({
  name: 'b24kit.offline-events',
  setup(kit, options: { config: OfflineEventsConfig; nowMs: () => number }) {
    const { config } = options;
    const drain = async (ctx: HandlerContext): Promise<Json> => ({ ...(await runOfflineDrain(ctx, kit, config)) });
    // the ping, unless the app drains on the schedule only (notifyMinTimeoutSeconds: false)
    if (config.notifyMinTimeoutSeconds !== false) {
      const throttleMs = (config.notifyMinTimeoutSeconds ?? DEFAULT_OFFLINE_NOTIFY_SECONDS) * 1000;
      kit.on(OFFLINE_NOTIFY_EVENT, async (ctx) => {
        const nowMs = options.nowMs();
        const job = offlinePingJob(nowMs, config.coalesceMs);
        await kit.enqueue(ctx.portal.memberId, OFFLINE_DRAIN, job.payload, { key: job.key, runAtMs: job.runAtMs });
        // the portal pings no more during its throttle: what it queues meanwhile is drained when the throttle ends
        const trailing = offlineTrailingJob(nowMs, throttleMs, config.coalesceMs);
        if (trailing) await kit.enqueue(ctx.portal.memberId, OFFLINE_DRAIN, trailing.payload, { key: trailing.key, runAtMs: trailing.runAtMs });
      });
    }
    kit.job(OFFLINE_DRAIN, drain);
    const cron = config.drainCron ?? DEFAULT_OFFLINE_DRAIN_CRON;
    // the safety net of the pings (online deliveries are never repeated)
    if (cron !== false) kit.schedule(OFFLINE_DRAIN, cron, drain, { tz: 'UTC' });
  },
});

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

/** The body of the drain job: drain the portal's queue into the inbox. */
export async function runOfflineDrain(ctx: HandlerContext, kit: Pick<AppKit, 'deliverEvent'>, config: OfflineEventsConfig): Promise<DrainReport> {
  const memberId = ctx.portal.memberId;
  const report = await drainOfflineEvents({
    client: ctx.b24,
    signal: ctx.signal,
    logger: ctx.log,
    ...(config.batchSize !== undefined ? { limit: config.batchSize } : {}),
    ...(config.maxBatches !== undefined ? { maxBatches: config.maxBatches } : {}),
    // processEvent only writes to our store: its failure says nothing about the record, so it never
    // marks one errored — the drain stops with the rest reserved, the job is retried, and the next
    // drain recovers the reservation (drainOfflineEvents' recoverReservations)
    isFatal: () => true,
    processEvent: async (record) => {
      // the receiver's own path: inbox row + a job per handler in one transaction; a record the app
      // no longer handles (a binding not reconciled yet) is recorded as ignored and cleared
      const outcome = await kit.deliverEvent(memberId, offlineDelivery(record, ctx.portal), { dedupeKey: offlineEventDedupeKey(memberId, record) });
      ctx.log.debug({ event: record.event, recordId: record.id, status: outcome.status, jobId: outcome.jobId, ...(outcome.jobIds ? { jobIds: outcome.jobIds } : {}) }, 'offline event recorded');
    },
  });
  ctx.log.info({ ...report }, 'offline events drained');
  return report;
}

/**
 * EVENT_DATA as an online delivery would carry it: `event.offline.get` answers JSON, where the
 * portal may write ids as numbers (`{FIELDS: {ID: 6641}}`), while an online delivery is a form in
 * which every scalar is a string. Numbers become strings, so a handler sees one shape either way.
 */
function toJson(value: unknown): Json {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value), (_key, item: unknown) => (typeof item === 'number' ? String(item) : item)) as Json;
}
