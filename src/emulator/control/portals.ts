import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import { emptyStats } from '../portal.js';
import { installApp, renamePortal } from '../lifecycle.js';
import { randomBytes } from 'node:crypto';
import { controlError, parseBody, portalParam } from './validation.js';
import { drainedLevel } from '../limits/leaky-bucket.js';

const costSchema = z
  .object({
    readMs: z.number().min(0),
    writeMs: z.number().min(0),
    perRowMs: z.number().min(0),
    countMsPerMillionRows: z.number().min(0),
    simulateLatency: z.boolean(),
  })
  .partial()
  .strict();

const limitsSchema = z
  .object({
    drainPerSecond: z.number().positive(),
    burst: z.number().int().positive(),
    operatingLimitSeconds: z.number().positive(),
    operatingWindowSeconds: z.number().int().min(60),
    countRefusedRequests: z.boolean(),
  })
  .partial()
  .strict();

const createPortalSchema = limitsSchema.extend({
  memberId: z.string().regex(/^[0-9a-zA-Z_-]{1,64}$/).optional(),
  domain: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'a host name with at least one dot').optional(),
  plan: z.enum(['free', 'basic', 'standard', 'professional', 'enterprise']).optional(),
  cost: costSchema.optional(),
  timeZone: z.string().optional(),
}).strict();

const installSchema = z
  .object({
    appUrl: z.string().url().nullable().optional(),
    scope: z.array(z.string()).optional(),
    userId: z.number().int().positive().optional(),
    status: z.string().length(1).optional(),
    version: z.number().int().positive().optional(),
  })
  .strict();

const faultsSchema = z
  .object({
    errorRate: z.number().min(0).max(1),
    errorEvery: z.number().int().min(0),
    errorStatus: z.number().int().min(400).max(599),
    errorCode: z.string(),
    latencyMs: z.number().min(0),
    downForSeconds: z.number().min(0),
    resetRate: z.number().min(0).max(1),
    hangRate: z.number().min(0).max(1),
  })
  .partial()
  .strict();

export function describePortal(emulator: Emulator, portal: Portal): Record<string, unknown> {
  return {
    member_id: portal.memberId,
    domain: portal.domain,
    client_endpoint: emulator.clientEndpoint(portal),
    server_endpoint: emulator.serverEndpoint(),
    authorize_url: emulator.authorizeUrl(portal),
    plan: portal.plan,
    limits: portal.limits,
    cost: portal.cost,
    installed: portal.app !== null,
    deleted: portal.deleted,
    previous_domains: [...portal.previousDomains],
  };
}

/** Portals, install, rename, limits, faults, webhooks, clock and stats. */
export function registerPortalControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.post('/_emulator/portals', async (request, reply) => {
    const input = parseBody(createPortalSchema, request.body, reply);
    if (!input) return reply;
    try {
      const portal = emulator.createPortal(input as Parameters<Emulator['createPortal']>[0]);
      return reply.status(201).send(describePortal(emulator, portal));
    } catch (error) {
      return controlError(reply, 409, 'CONTROL_CONFLICT', (error as Error).message);
    }
  });

  app.get('/_emulator/portals', async () => emulator.portals().map((portal) => describePortal(emulator, portal)));

  app.get('/_emulator/portals/:memberId', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return describePortal(emulator, portal);
  });

  app.put('/_emulator/portals/:memberId/limits', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(limitsSchema.extend({ cost: costSchema.optional(), plan: createPortalSchema.shape.plan }).strict(), request.body, reply);
    if (!input) return reply;
    const { cost, plan, ...limits } = input;
    if (plan) portal.plan = plan;
    Object.assign(portal.limits, limits);
    if (cost) Object.assign(portal.cost, cost);
    return describePortal(emulator, portal);
  });

  app.post('/_emulator/portals/:memberId/install', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(installSchema, request.body, reply);
    if (!input) return reply;
    const { appUrl, ...rest } = input;
    return installApp(emulator, portal, { ...rest, ...(appUrl !== undefined ? { appUrl } : {}) });
  });

  app.post('/_emulator/portals/:memberId/rename', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(z.object({ domain: createPortalSchema.shape.domain.unwrap() }).strict(), request.body, reply);
    if (!input) return reply;
    const previous = portal.domain;
    try {
      renamePortal(emulator, portal, input.domain);
    } catch (error) {
      return controlError(reply, 409, 'CONTROL_CONFLICT', (error as Error).message);
    }
    return { ...describePortal(emulator, portal), previous_domain: previous };
  });

  app.post('/_emulator/portals/:memberId/delete', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    portal.deleted = true;
    return describePortal(emulator, portal);
  });

  app.put('/_emulator/portals/:memberId/faults', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(faultsSchema, request.body, reply);
    if (!input) return reply;
    const { downForSeconds, ...rest } = input;
    Object.assign(portal.faults, rest);
    if (rest.errorEvery !== undefined) portal.faultCounter = 0;
    if (downForSeconds !== undefined) portal.faults.downUntilMs = emulator.clock.nowMs() + downForSeconds * 1000;
    return { ...portal.faults };
  });

  app.post('/_emulator/portals/:memberId/webhooks', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(z.object({ userId: z.number().int().positive().optional(), scope: z.array(z.string()).optional() }).strict(), request.body, reply);
    if (!input) return reply;
    const userId = input.userId ?? 1;
    if (!portal.users.has(userId)) return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${userId} on this portal`);
    const code = randomBytes(8).toString('hex');
    portal.webhooks.set(code, { userId, scope: input.scope ?? ['crm', 'user_brief', 'bizproc'] });
    return reply.status(201).send({ url: `${emulator.clientEndpoint(portal)}${userId}/${code}/`, user_id: userId, code });
  });

  app.get('/_emulator/portals/:memberId/stats', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const nowMs = emulator.clock.nowMs();
    return {
      ...portal.stats,
      bucketLevel: drainedLevel(portal.bucket, nowMs, portal.limits.drainPerSecond),
      operatingSeconds: portal.operating.snapshot(nowMs),
    };
  });

  app.post('/_emulator/portals/:memberId/stats/reset', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    portal.stats = emptyStats();
    return portal.stats;
  });

  app.post('/_emulator/clock', async (request, reply) => {
    // at most ten years per call: dates must stay printable (time.date_start)
    const input = parseBody(z.object({ advanceSeconds: z.number().min(0).max(10 * 365 * 86_400) }).strict(), request.body, reply);
    if (!input) return reply;
    emulator.clock.advance(input.advanceSeconds);
    return { now: emulator.clock.nowSeconds(), offsetSeconds: emulator.clock.offsetMs / 1000 };
  });

  app.get('/_emulator/clock', async () => ({ now: emulator.clock.nowSeconds(), offsetSeconds: emulator.clock.offsetMs / 1000 }));
}
