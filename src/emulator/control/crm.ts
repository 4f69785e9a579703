import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { seedRows } from '../crm/seed.js';
import { parseBody, portalParam } from './validation.js';

const seedSchema = z
  .object({
    entity: z.enum(['deal', 'contact', 'company', 'lead']),
    count: z.number().int().min(1).max(1_000_000),
    /** Legacy (UPPER_SNAKE) fields every row gets; `{id}` in a string becomes the row's ID. */
    fields: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** CRM seeding for benchmarks and tests: `POST /_emulator/portals/:memberId/crm/seed`. Emits no events. */
export function registerCrmControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.post('/_emulator/portals/:memberId/crm/seed', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(seedSchema, request.body, reply);
    if (!input) return reply;
    const context = { store: portal.crm, nowMs: emulator.clock.nowMs(), userId: portal.app?.userId ?? 1, timeZone: portal.timeZone };
    try {
      return reply.status(201).send(seedRows(input.entity, input.count, input.fields ?? {}, context));
    } catch (error) {
      return reply.status(400).send({ error: 'CONTROL_BAD_REQUEST', message: (error as Error).message });
    }
  });
}
