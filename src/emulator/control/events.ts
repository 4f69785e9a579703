import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { isoTimestamp } from '../events/offline-queue.js';
import { controlError, parseBody, portalParam } from './validation.js';

const fireSchema = z
  .object({
    event: z.string().regex(/^[A-Za-z0-9_]{3,100}$/, 'an event name such as ONCRMDEALUPDATE'),
    data: z.record(z.string(), z.unknown()).optional(),
    userId: z.number().int().min(0).optional(),
    /** Pretend the change came from the app's REST call with this auth_connector. */
    authConnector: z.string().max(255).optional(),
  })
  .strict();

const deliverySchema = z
  .object({
    duplicateRate: z.number().min(0).max(1),
    duplicateCount: z.number().int().min(2).max(20),
    reorder: z.boolean(),
    reorderWindowMs: z.number().int().min(0).max(60_000),
    delayMs: z.number().int().min(0).max(60_000),
    timeoutMs: z.number().int().min(1).max(600_000).nullable(),
    throttleSlowHandlers: z.boolean(),
    slowAnswerMs: z.number().int().min(0).max(600_000),
    throttleBaseMs: z.number().int().min(0).max(600_000),
    throttleMaxMs: z.number().int().min(0).max(3_600_000),
  })
  .partial()
  .strict();

const flushSchema = z.object({ timeoutMs: z.number().int().positive().max(120_000).optional() }).strict();

/**
 * Events for tests: fire any event through the real delivery path, read the delivery log, wait
 * until the outbound queue is idle, and switch on duplicates and reordering.
 */
export function registerEventControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.post('/_emulator/portals/:memberId/events', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(fireSchema, request.body, reply);
    if (!input) return reply;
    if (!portal.app) return controlError(reply, 409, 'CONTROL_NOT_INSTALLED', 'The app is not installed on this portal');
    if (input.userId !== undefined && input.userId > 0 && !portal.users.has(input.userId)) {
      return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${input.userId} on this portal`);
    }
    const report = portal.events.fire(input.event, input.data ?? {}, {
      ...(input.userId !== undefined ? { userId: input.userId } : {}),
      ...(input.authConnector !== undefined ? { authConnector: input.authConnector } : {}),
    });
    return reply.status(202).send({
      event: report.event,
      queued: report.online.map((entry) => ({ seq: entry.seq, event_handler_id: entry.event_handler_id, url: entry.url, copy: entry.copy, copies: entry.copies })),
      offline: report.offline,
    });
  });

  app.post('/_emulator/portals/:memberId/events/flush', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(flushSchema, request.body, reply);
    if (!input) return reply;
    const idle = await waitIdle([portal.events.outbox.idle()], input.timeoutMs ?? 30_000);
    if (!idle) return controlError(reply, 504, 'CONTROL_TIMEOUT', 'Deliveries still pending', { pending: portal.events.outbox.pending });
    return { idle: true, pending: 0, eventsDelivered: portal.stats.eventsDelivered, eventsFailed: portal.stats.eventsFailed };
  });

  app.post('/_emulator/events/flush', async (request, reply) => {
    const input = parseBody(flushSchema, request.body, reply);
    if (!input) return reply;
    const idle = await waitIdle(emulator.portals().map((p) => p.events.outbox.idle()), input.timeoutMs ?? 30_000);
    if (!idle) return controlError(reply, 504, 'CONTROL_TIMEOUT', 'Deliveries still pending');
    return { idle: true };
  });

  app.get('/_emulator/portals/:memberId/events/log', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const raw = Number((request.query as { limit?: string }).limit ?? 100);
    const limit = Number.isInteger(raw) && raw > 0 ? Math.min(raw, 500) : 100;
    return portal.events.outbox.log(limit);
  });

  app.post('/_emulator/portals/:memberId/events/log/clear', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    portal.events.outbox.clearLog();
    return { cleared: true };
  });

  app.get('/_emulator/portals/:memberId/events/bindings', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return portal.events.bindings.map((b) => ({
      id: b.id,
      event: b.event,
      handler: b.handler,
      auth_type: b.userId,
      offline: b.offline,
      connector_id: b.connectorId,
      options: b.options,
    }));
  });

  app.get('/_emulator/portals/:memberId/events/offline', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return portal.events.offlineRecords().map((r) => ({
      ID: r.id,
      TIMESTAMP_X: isoTimestamp(r.timestampMs),
      EVENT_NAME: r.eventName,
      EVENT_DATA: r.eventData,
      MESSAGE_ID: r.messageId,
      PROCESS_ID: r.processId,
      CONNECTOR_ID: r.connectorId,
      ERROR: r.error,
    }));
  });

  app.get('/_emulator/portals/:memberId/delivery', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return portal.events.outbox.settings;
  });

  app.put('/_emulator/portals/:memberId/delivery', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(deliverySchema, request.body, reply);
    if (!input) return reply;
    Object.assign(portal.events.outbox.settings, input);
    return portal.events.outbox.settings;
  });
}

async function waitIdle(waits: Promise<void>[], timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([Promise.all(waits).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
