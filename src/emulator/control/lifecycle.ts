import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { openAppFrame, uninstallApp, updateApp } from '../lifecycle.js';
import { controlError, parseBody, portalParam } from './validation.js';

const updateSchema = z
  .object({
    version: z.number().int().positive().optional(),
    userId: z.number().int().positive().optional(),
    dropBindingsOnUpdate: z.boolean().optional(),
    dropRobotsOnUpdate: z.boolean().optional(),
  })
  .strict();

const uninstallSchema = z
  .object({
    clean: z.boolean().optional(),
    handlerUrl: z.string().url().refine((url) => /^https?:/i.test(url), 'an http(s) URL').optional(),
  })
  .strict();

const frameSchema = z.object({ userId: z.number().int().positive() }).strict();

/** App update, uninstall and frame opening (docs/protocol.md §2.3–§2.5); install and rename live in portals.ts. */
export function registerLifecycleControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.post('/_emulator/portals/:memberId/update', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(updateSchema, request.body, reply);
    if (!input) return reply;
    if (!portal.app) return controlError(reply, 409, 'CONTROL_NOT_INSTALLED', 'The app is not installed on this portal');
    if (input.userId !== undefined && !portal.users.has(input.userId)) {
      return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${input.userId} on this portal`);
    }
    return updateApp(emulator, portal, input);
  });

  app.post('/_emulator/portals/:memberId/frame', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(frameSchema, request.body, reply);
    if (!input) return reply;
    if (!portal.app) return controlError(reply, 409, 'CONTROL_NOT_INSTALLED', 'The app is not installed on this portal');
    if (!portal.users.has(input.userId)) return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${input.userId} on this portal`);
    return openAppFrame(emulator, portal, input.userId);
  });

  app.post('/_emulator/portals/:memberId/uninstall', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(uninstallSchema, request.body, reply);
    if (!input) return reply;
    if (!portal.app) return controlError(reply, 409, 'CONTROL_NOT_INSTALLED', 'The app is not installed on this portal');
    return uninstallApp(emulator, portal, input);
  });
}
