/**
 * Application triggers of CRM automation: `crm.automation.trigger.{add,list,delete,execute}`
 * (https://apidocs.bitrix24.com/api-reference/crm/automation/triggers/index.html).
 *
 * A trigger belongs to the application that registered it: the emulator keeps them per app
 * installation, so an uninstall (a new installation after it) starts with none. What a portal does
 * with an executed trigger depends on the admin's automation settings (a stage the trigger is
 * linked to), which the emulator does not model: each accepted execution is recorded, and the
 * control API lists them (`GET /_emulator/portals/:memberId/automation/triggers`).
 */
import type { AppInstallation, Portal } from '../portal.js';
import type { MethodContext, MethodRegistry } from '../methods/registry.js';
import { RestError } from '../rest-error.js';
import { stringOf, upperKeys } from '../events/param.js';
import { entityByTypeId } from '../crm/fields.js';

export interface AutomationTrigger {
  CODE: string;
  NAME: string;
}

export interface TriggerExecution {
  code: string;
  ownerTypeId: number;
  ownerId: number;
  userId: number;
  atMs: number;
}

const triggersByApp = new WeakMap<AppInstallation, Map<string, AutomationTrigger>>();
const executionsByPortal = new WeakMap<Portal, TriggerExecution[]>();

/** The triggers the portal's installed app registered (none without an app). */
export function appTriggers(portal: Portal): Map<string, AutomationTrigger> {
  if (!portal.app) return new Map();
  let triggers = triggersByApp.get(portal.app);
  if (!triggers) triggersByApp.set(portal.app, (triggers = new Map()));
  return triggers;
}

/** Every execution the portal accepted, oldest first. */
export function triggerExecutions(portal: Portal): TriggerExecution[] {
  let executions = executionsByPortal.get(portal);
  if (!executions) executionsByPortal.set(portal, (executions = []));
  return executions;
}

// the pages list these errors with an empty `error` code and the text in error_description
const failure = (description: string) => new RestError(400, '', description);

/**
 * Admin first, then the application context, as the pages list them; both 403 ACCESS_DENIED
 * (unlike bizproc.robot.*, whose pages give the app-context error as 400).
 */
function guard(ctx: MethodContext): Map<string, AutomationTrigger> {
  if (!ctx.portal.users.get(ctx.auth.userId)?.ADMIN) throw new RestError(403, 'ACCESS_DENIED', 'Access denied! Admin permissions required');
  if (ctx.auth.kind !== 'oauth' || !ctx.portal.app) throw new RestError(403, 'ACCESS_DENIED', 'Access denied! Application context required');
  return appTriggers(ctx.portal);
}

/** CODE: required ("Empty trigger code!" for missing, empty or 0), `[a-zA-Z0-9.\-_]` ("Wrong trigger code!"). */
function codeOf(query: Record<string, unknown>): string {
  const code = stringOf(query.CODE).trim();
  if (code === '' || code === '0') throw failure('Empty trigger code!');
  if (!/^[a-zA-Z0-9._-]+$/.test(code)) throw failure('Wrong trigger code!');
  return code;
}

function positiveInt(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

/** `crm.automation.trigger.add {CODE, NAME}` → true; an existing CODE gets the new NAME. */
function triggerAdd(ctx: MethodContext) {
  const triggers = guard(ctx);
  const query = upperKeys(ctx.params);
  const code = codeOf(query);
  const name = stringOf(query.NAME).trim();
  if (name === '' || name === '0') throw failure('Empty trigger name!');
  triggers.set(code, { CODE: code, NAME: name });
  ctx.work.write = true;
  return { result: true };
}

/** `crm.automation.trigger.list` → `[{NAME, CODE}]`, all at once (start, filter, order ignored). */
function triggerList(ctx: MethodContext) {
  return { result: [...guard(ctx).values()].map((trigger) => ({ NAME: trigger.NAME, CODE: trigger.CODE })) };
}

/** `crm.automation.trigger.delete {CODE}` → true; an unknown CODE → "Trigger not found". */
function triggerDelete(ctx: MethodContext) {
  const triggers = guard(ctx);
  const code = codeOf(upperKeys(ctx.params));
  if (!triggers.delete(code)) throw failure('Trigger not found');
  ctx.work.write = true;
  return { result: true };
}

/**
 * `crm.automation.trigger.execute {CODE, OWNER_TYPE_ID, OWNER_ID}` → true. The page: `true` does
 * not confirm a stage change and is answered "even if … there is no object with this OWNER_ID";
 * an unregistered CODE, an unknown type or a missing/non-positive OWNER_ID are errors.
 */
function triggerExecute(ctx: MethodContext) {
  const triggers = guard(ctx);
  const query = upperKeys(ctx.params);
  const code = codeOf(query);
  if (!triggers.has(code)) throw failure(`Trigger with code ${code} is not registered.`);
  const ownerTypeId = positiveInt(query.OWNER_TYPE_ID);
  // the classic types 1–4 (lead, deal, contact, company); smart processes are not modelled here
  if (ownerTypeId === undefined || !entityByTypeId(ownerTypeId)) throw failure('Incorrect parameter OWNER_TYPE_ID.');
  const ownerId = positiveInt(query.OWNER_ID);
  if (ownerId === undefined) throw failure('Incorrect parameter OWNER_ID.');
  triggerExecutions(ctx.portal).push({ code, ownerTypeId, ownerId, userId: ctx.auth.userId, atMs: ctx.nowMs });
  ctx.work.write = true;
  return { result: true };
}

export function registerAutomationMethods(registry: MethodRegistry): void {
  registry.define('crm.automation.trigger.add', { scope: 'crm', handler: triggerAdd });
  registry.define('crm.automation.trigger.list', { scope: 'crm', handler: triggerList });
  registry.define('crm.automation.trigger.delete', { scope: 'crm', handler: triggerDelete });
  registry.define('crm.automation.trigger.execute', { scope: 'crm', handler: triggerExecute });
}

/** `GET /_emulator/portals/:memberId/automation/triggers` → `{triggers, executions}` (docs/emulator.md). */
export function describeTriggers(portal: Portal): { triggers: AutomationTrigger[]; executions: Array<Record<string, number | string>> } {
  return {
    triggers: [...appTriggers(portal).values()],
    executions: triggerExecutions(portal).map((run) => ({ code: run.code, owner_type_id: run.ownerTypeId, owner_id: run.ownerId, user_id: run.userId, at_ms: run.atMs })),
  };
}
