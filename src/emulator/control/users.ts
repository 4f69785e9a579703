import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { controlError, parseBody, portalParam } from './validation.js';

const userSchema = z
  .object({
    NAME: z.string().min(1),
    LAST_NAME: z.string().optional(),
    SECOND_NAME: z.string().optional(),
    EMAIL: z.string().optional(),
    ADMIN: z.boolean().optional(),
    ACTIVE: z.boolean().optional(),
    WORK_POSITION: z.string().optional(),
    PERSONAL_CITY: z.string().optional(),
    UF_DEPARTMENT: z.array(z.number().int().positive()).optional(),
  })
  .strict();

const departmentSchema = z
  .object({
    NAME: z.string().min(1),
    PARENT: z.number().int().positive().optional(),
    UF_HEAD: z.number().int().positive().optional(),
    SORT: z.number().int().optional(),
  })
  .strict();

/** Employees and departments of a portal (users/directory.ts), for tests of user.get and department.get. */
export function registerUserControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.post('/_emulator/portals/:memberId/users', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(userSchema, request.body, reply);
    if (!input) return reply;
    const departments = input.UF_DEPARTMENT ?? [1];
    const unknown = departments.find((id) => !portal.departments.has(id));
    if (unknown !== undefined) return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No department ${unknown} on this portal`);
    const id = Math.max(0, ...portal.users.keys()) + 1;
    const user = {
      ID: id,
      NAME: input.NAME,
      LAST_NAME: input.LAST_NAME ?? '',
      SECOND_NAME: input.SECOND_NAME ?? '',
      EMAIL: input.EMAIL ?? `user${id}@example.test`,
      ADMIN: input.ADMIN ?? false,
      ACTIVE: input.ACTIVE ?? true,
      TIME_ZONE: portal.timeZone,
      WORK_POSITION: input.WORK_POSITION ?? '',
      PERSONAL_CITY: input.PERSONAL_CITY ?? '',
      DATE_REGISTER: new Date(emulator.clock.nowMs()).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
      UF_DEPARTMENT: departments,
    };
    portal.users.set(id, user);
    return reply.status(201).send(user);
  });

  app.get('/_emulator/portals/:memberId/users', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return [...portal.users.values()];
  });

  app.post('/_emulator/portals/:memberId/departments', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(departmentSchema, request.body, reply);
    if (!input) return reply;
    const parent = input.PARENT ?? 1;
    if (!portal.departments.has(parent)) return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No department ${parent} on this portal`);
    if (input.UF_HEAD !== undefined && !portal.users.has(input.UF_HEAD)) return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${input.UF_HEAD} on this portal`);
    const id = Math.max(0, ...portal.departments.keys()) + 1;
    const department = { ID: id, NAME: input.NAME, SORT: input.SORT ?? 500, PARENT: parent, UF_HEAD: input.UF_HEAD ?? null };
    portal.departments.set(id, department);
    return reply.status(201).send(department);
  });
}
