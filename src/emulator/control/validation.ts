import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';

/** Control API errors: `{error, message}` with a stable code, never a stack. */
export function controlError(reply: FastifyReply, status: number, error: string, message: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.status(status).send({ error, message, ...extra });
}

/** Parses a control API body with `schema`, or answers 400 CONTROL_BAD_REQUEST and returns undefined. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, reply: FastifyReply): z.infer<T> | undefined {
  const raw = body && typeof body === 'object' && 'params' in body ? (body as { params: unknown; invalid?: string }) : { params: body };
  if ('invalid' in raw && raw.invalid) {
    controlError(reply, 400, 'CONTROL_BAD_REQUEST', raw.invalid);
    return undefined;
  }
  const result = schema.safeParse(raw.params ?? {});
  if (!result.success) {
    controlError(reply, 400, 'CONTROL_BAD_REQUEST', 'Invalid request body', {
      issues: result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
    return undefined;
  }
  return result.data;
}

/** The portal named by `:memberId`, or a 404 CONTROL_PORTAL_NOT_FOUND. */
export function portalParam(emulator: Emulator, params: unknown, reply: FastifyReply): Portal | undefined {
  const memberId = (params as { memberId?: string }).memberId ?? '';
  const portal = emulator.portal(memberId);
  if (!portal) controlError(reply, 404, 'CONTROL_PORTAL_NOT_FOUND', `No portal with member_id ${memberId}`);
  return portal;
}
