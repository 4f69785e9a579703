import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Emulator } from '../emulator.js';
import { runRobot } from '../robots/run.js';
import type { RobotRun, WorkflowInstance } from '../robots/registry.js';
import { advanceWorkflow } from '../robots/workflows.js';
import { isoInZone } from '../crm/dates.js';
import type { Portal } from '../portal.js';
import { controlError, parseBody, portalParam } from './validation.js';
import { describeTriggers } from '../automation/triggers.js';

const runSchema = z
  .object({
    documentId: z.array(z.string().min(1)).length(3).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    timeoutSeconds: z.number().int().min(0).max(365 * 24 * 3600).optional(),
    userId: z.number().int().positive().optional(),
  })
  .strict();

const templateSchema = z
  .object({
    name: z.string().min(1).max(255),
    documentType: z.tuple([z.string().min(1), z.string().min(1), z.string().min(1)]),
    description: z.string().max(10_000).optional(),
    autoExecute: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(8)]).optional(),
    robots: z
      .array(
        z
          .object({
            code: z.string().regex(/^[a-zA-Z0-9._-]+$/),
            properties: z.record(z.string(), z.unknown()).optional(),
            timeoutSeconds: z.number().int().min(0).max(365 * 24 * 3600).optional(),
          })
          .strict(),
      )
      .max(50)
      .optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    systemCode: z.string().max(255).nullable().optional(),
  })
  .strict();

function describeWorkflow(portal: Portal, instance: WorkflowInstance): Record<string, unknown> {
  return {
    id: instance.id,
    template_id: instance.templateId,
    document_id: instance.documentId,
    parameters: instance.parameters,
    started_by: instance.startedBy,
    started: isoInZone(instance.startedAtMs, portal.timeZone),
    state: instance.state,
    step: instance.step,
    event_tokens: instance.runTokens,
    log: instance.log.map((line) => ({ at_ms: line.atMs, message: line.message })),
  };
}

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

  app.get('/_emulator/portals/:memberId/automation/triggers', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return describeTriggers(portal);
  });

  app.get('/_emulator/portals/:memberId/workflows', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return [...portal.robots.workflows.values()].map((instance) => {
      advanceWorkflow(emulator, portal, instance);
      return describeWorkflow(portal, instance);
    });
  });

  app.get('/_emulator/portals/:memberId/workflows/templates', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    return [...portal.robots.templates.values()];
  });

  app.post('/_emulator/portals/:memberId/workflows/templates', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const input = parseBody(templateSchema, request.body, reply);
    if (!input) return reply;
    const template = portal.robots.addTemplate({
      name: input.name,
      description: input.description ?? '',
      documentType: input.documentType,
      autoExecute: input.autoExecute ?? 0,
      robots: input.robots ?? [],
      parameters: input.parameters ?? {},
      userId: portal.app?.userId ?? 1,
      systemCode: input.systemCode ?? null,
      modifiedAtMs: emulator.clock.nowMs(),
    });
    return reply.status(201).send(template);
  });
}
