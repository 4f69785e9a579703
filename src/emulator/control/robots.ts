import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { runRobot } from '../robots/run.js';
import type { RobotRun } from '../robots/registry.js';
import { controlError, parseBody, portalParam } from './validation.js';

const runSchema = z
  .object({
    documentId: z.array(z.string().min(1)).length(3).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    timeoutSeconds: z.number().int().min(0).max(365 * 24 * 3600).optional(),
    userId: z.number().int().positive().optional(),
  })
  .strict();

function describeRun(run: RobotRun): Record<string, unknown> {
  return {
    workflow_id: run.workflowId,
    code: run.code,
    state: run.state,
    document_id: run.documentId,
    document_type: run.documentType,
    properties: run.properties,
    use_subscription: run.useSubscription,
    timeout_duration: run.timeoutSeconds,
    started_at_ms: run.startedAtMs,
    finished_at_ms: run.finishedAtMs,
    return_values: run.returnValues,
    ignored_sends: run.ignoredSends,
    log: run.log.map((line) => ({ at_ms: line.atMs, message: line.message })),
  };
}

/** Robots: run one as an automation rule would, and read the state of runs and workflows. */
export function registerRobotControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.get('/_emulator/portals/:memberId/robots', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return [...portal.robots.robots.values()];
  });

  app.post('/_emulator/portals/:memberId/robots/:code/run', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(runSchema, request.body, reply);
    if (!input) return reply;
    if (!portal.app) return controlError(reply, 409, 'CONTROL_NOT_INSTALLED', 'The app is not installed on this portal');
    const code = (request.params as { code?: string }).code ?? '';
    const robot = portal.robots.robots.get(code);
    if (!robot) return controlError(reply, 404, 'CONTROL_ROBOT_NOT_FOUND', `No robot ${code} on this portal`);
    if (input.userId !== undefined && !portal.users.has(input.userId)) {
      return controlError(reply, 400, 'CONTROL_BAD_REQUEST', `No user ${input.userId} on this portal`);
    }
    return runRobot(emulator, portal, robot, input);
  });

  app.get('/_emulator/portals/:memberId/robots/runs/:workflowId', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const id = (request.params as { workflowId?: string }).workflowId ?? '';
    const run = portal.robots.runs.get(id);
    if (!run) return controlError(reply, 404, 'CONTROL_RUN_NOT_FOUND', `No robot run ${id}`);
    return describeRun(portal.robots.refresh(run, emulator.clock.nowMs()));
  });

  app.get('/_emulator/portals/:memberId/workflows', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return [...portal.robots.workflows.values()];
  });
}
