import type { MethodContext, MethodRegistry } from '../methods/registry.js';
import { RestError, restErrors } from '../rest-error.js';
import { objectOf, stringOf, upperKeys } from '../events/param.js';
import { checkCode, robotFields, validationFailure } from './validation.js';
import { uniqidLike, type Robot, type RobotRun } from './registry.js';
import { documentTypeOf } from './templates.js';
import { advanceWorkflow } from './workflows.js';
import { canStartWorkflows, workflowStartRefused } from './plan-gate.js';
import { listInstances, listTemplates } from './workflow-lists.js';

/** bizproc.* (docs/protocol.md §7). */
export function registerBizprocMethods(registry: MethodRegistry): void {
  registry.define('bizproc.robot.add', { scope: 'bizproc', adminOnly: true, handler: robotAdd });
  registry.define('bizproc.robot.update', { scope: 'bizproc', adminOnly: true, handler: robotUpdate });
  registry.define('bizproc.robot.delete', { scope: 'bizproc', adminOnly: true, handler: robotDelete });
  registry.define('bizproc.robot.list', { scope: 'bizproc', adminOnly: true, handler: robotList });
  registry.define('bizproc.event.send', { scope: 'bizproc', handler: eventSend });
  registry.define('bizproc.activity.log', { scope: 'bizproc', handler: activityLog });
  registry.define('bizproc.workflow.start', { scope: 'bizproc', adminOnly: true, handler: workflowStart });
  registry.define('bizproc.workflow.template.list', { scope: 'bizproc', adminOnly: true, handler: listTemplates });
  registry.define('bizproc.workflow.instances', { scope: 'bizproc', adminOnly: true, handler: listInstances });
  // the old name, "an alias … accepts the same parameters and returns the same results" (bizproc-workflow-instances.md)
  registry.define('bizproc.workflow.instance.list', { scope: 'bizproc', adminOnly: true, handler: listInstances });
}

/** Robots belong to an app: a webhook gets ACCESS_DENIED "Application context required" (bizproc-robot-*.md). */
function requireApp(ctx: MethodContext): void {
  if (ctx.auth.kind !== 'oauth' || !ctx.portal.app) throw restErrors.applicationContextRequired();
}

function notFound(): RestError {
  return new RestError(400, 'ERROR_ACTIVITY_NOT_FOUND', 'Activity or Robot not found!');
}

function robotAdd(ctx: MethodContext) {
  requireApp(ctx);
  const query = upperKeys(ctx.params);
  if (Object.keys(query).length === 0) throw validationFailure('Empty data!');
  const code = checkCode(query.CODE);
  const fields = robotFields(query, ctx.emulator.options.relax, false);
  if (ctx.portal.robots.robots.has(code)) {
    throw new RestError(400, 'ERROR_ACTIVITY_ALREADY_INSTALLED', 'Activity or Automation rule already installed!');
  }
  const robot: Robot = {
    CODE: code,
    HANDLER: '',
    AUTH_USER_ID: 0,
    USE_SUBSCRIPTION: '',
    NAME: '',
    DESCRIPTION: '',
    PROPERTIES: {},
    RETURN_PROPERTIES: {},
    DOCUMENT_TYPE: null,
    FILTER: {},
    USE_PLACEMENT: 'N',
    PLACEMENT_HANDLER: '',
    ...fields,
    createdAtMs: ctx.nowMs,
  };
  ctx.portal.robots.robots.set(code, robot);
  ctx.work.write = true;
  return { result: true };
}

function robotUpdate(ctx: MethodContext) {
  requireApp(ctx);
  const query = upperKeys(ctx.params);
  const code = checkCode(query.CODE);
  const robot = ctx.portal.robots.robots.get(code);
  if (!robot) throw notFound();
  const raw = objectOf(query.FIELDS);
  if (!raw || Object.keys(raw).length === 0) throw validationFailure('No fields to update');
  Object.assign(robot, robotFields(upperKeys(raw), ctx.emulator.options.relax, true));
  ctx.work.write = true;
  return { result: true };
}

function robotDelete(ctx: MethodContext) {
  requireApp(ctx);
  const code = checkCode(upperKeys(ctx.params).CODE);
  if (!ctx.portal.robots.robots.delete(code)) throw notFound();
  ctx.work.write = true;
  return { result: true };
}

/** `bizproc.robot.list` → the codes (bizproc-robot-list.md). */
function robotList(ctx: MethodContext) {
  requireApp(ctx);
  return { result: [...ctx.portal.robots.robots.keys()] };
}

/** The run an event_token belongs to, brought up to the emulator clock; 403 for an unknown token. */
function runOf(ctx: MethodContext, token: string): RobotRun {
  const run = token === '' ? undefined : ctx.portal.robots.runByToken(token);
  if (!run) throw restErrors.accessDenied();
  return ctx.portal.robots.refresh(run, ctx.nowMs);
}

/**
 * `bizproc.event.send {event_token, return_values, log_message}` (docs/protocol.md §7.3): completes a
 * waiting robot. A consumed token answers 403; after the timeout the send is accepted and ignored.
 */
function eventSend(ctx: MethodContext) {
  const query = upperKeys(ctx.params);
  const run = runOf(ctx, stringOf(query.EVENT_TOKEN));
  if (run.state === 'timed_out') {
    run.ignoredSends += 1;
    run.log.push({ atMs: ctx.nowMs, message: 'bizproc.event.send after timeout: ignored' });
    return { result: true };
  }
  if (run.state !== 'running' || run.useSubscription !== 'Y') throw restErrors.accessDenied();
  const robot = ctx.portal.robots.robots.get(run.code);
  const declared = new Map(Object.keys(robot?.RETURN_PROPERTIES ?? {}).map((key) => [key.toLowerCase(), key]));
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(objectOf(query.RETURN_VALUES) ?? {})) {
    const canonical = declared.get(key.toLowerCase());
    if (canonical !== undefined) values[canonical] = value;
  }
  run.returnValues = values;
  run.state = 'completed';
  run.finishedAtMs = ctx.nowMs;
  run.log.push({ atMs: ctx.nowMs, message: stringOf(query.LOG_MESSAGE) || 'Received response from the application.' });
  ctx.work.write = true;
  // the workflow this robot is a step of moves on to its next step
  const instance = ctx.portal.robots.workflows.get(run.workflowId);
  if (instance) advanceWorkflow(ctx.emulator, ctx.portal, instance);
  return { result: true };
}

/** `bizproc.activity.log {event_token, log_message}`: progress without closing the step. */
function activityLog(ctx: MethodContext) {
  const query = upperKeys(ctx.params);
  const run = runOf(ctx, stringOf(query.EVENT_TOKEN));
  if (run.state !== 'running') throw restErrors.accessDenied();
  const message = stringOf(query.LOG_MESSAGE);
  // bizproc-activity-log.md: ERROR_EMPTY_LOG_MESSAGE "Empty log message!"
  if (message === '') throw new RestError(400, 'ERROR_EMPTY_LOG_MESSAGE', 'Empty log message!');
  run.log.push({ atMs: ctx.nowMs, message });
  ctx.work.write = true;
  return { result: true };
}

/** `bizproc.workflow.start {TEMPLATE_ID, DOCUMENT_ID, PARAMETERS}` → a workflow id (bizproc-workflow-start.md). */
function workflowStart(ctx: MethodContext) {
  if (!canStartWorkflows(ctx.portal.plan)) throw workflowStartRefused();
  const query = upperKeys(ctx.params);
  const templateId = Number.parseInt(stringOf(query.TEMPLATE_ID), 10);
  if (!Number.isFinite(templateId) || templateId <= 0) throw new RestError(400, 'ERROR_WRONG_WORKFLOW_ID', 'Empty TEMPLATE_ID');
  const template = ctx.portal.robots.templates.get(templateId);
  if (!template) throw new RestError(400, 'ERROR_WRONG_WORKFLOW_ID', 'Template not found');
  const raw = Array.isArray(query.DOCUMENT_ID) ? query.DOCUMENT_ID : objectOf(query.DOCUMENT_ID) ? Object.values(objectOf(query.DOCUMENT_ID)!) : undefined;
  if (!raw || raw.length !== 3 || raw.some((part) => typeof part !== 'string' || part === '')) {
    throw new RestError(400, '', 'Wrong DOCUMENT_ID!');
  }
  const documentId = raw as string[];
  const type = documentTypeOf(documentId);
  if (!type) throw new RestError(400, '', 'Incorrect document type!');
  if (type.join('|') !== template.documentType.join('|')) throw new RestError(400, '', 'Template type and DOCUMENT_ID mismatch!');
  const id = uniqidLike(ctx.nowMs);
  const instance = {
    id,
    templateId,
    documentId,
    parameters: objectOf(query.PARAMETERS) ?? {},
    startedBy: ctx.auth.userId,
    startedAtMs: ctx.nowMs,
    modifiedAtMs: ctx.nowMs,
    state: 'running' as const,
    step: 0,
    runTokens: [],
    log: [{ atMs: ctx.nowMs, message: `Started from template ${templateId}` }],
  };
  ctx.portal.robots.workflows.set(id, instance);
  advanceWorkflow(ctx.emulator, ctx.portal, instance);
  ctx.work.write = true;
  return { result: id };
}
