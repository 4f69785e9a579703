import type { MethodContext, MethodRegistry } from '../methods/registry.js';
import { RestError } from '../rest-error.js';
import { crmErrors } from '../crm/errors.js';
import { parseDateInput } from '../crm/dates.js';
import { entityByTypeId, type CrmEntity } from '../crm/fields.js';
import { positiveId } from '../crm/params.js';
import { objectOf, stringOf } from '../events/param.js';

/**
 * crm.timeline.comment.add and crm.activity.todo.add (scope `crm`). Both are Main-engine
 * controllers: parameters bind by their exact name (`fields`, `ownerTypeId`), a missing one is
 * error 100 "Could not find value for parameter {name}".
 */
export function registerTimelineMethods(registry: MethodRegistry): void {
  registry.define('crm.timeline.comment.add', { scope: 'crm', handler: commentAdd });
  registry.define('crm.activity.todo.add', { scope: 'crm', handler: todoAdd });
}

const ENTITY_TYPES: Record<string, CrmEntity> = { lead: 'lead', deal: 'deal', contact: 'contact', company: 'company' };

/** Codes from the pages' error tables; the texts are those tables' descriptions (exact wording UNCONFIRMED). */
const timelineErrors = {
  ownerNotFound: () => new RestError(400, 'OWNER_NOT_FOUND', 'Owner of the item not found'),
  requiredFields: () => new RestError(400, '100', 'Required fields are not provided', { error: 100 }),
  emptyComment: () => new RestError(400, 'INVALID_ARG_VALUE', 'Empty comment'),
  wrongDateTime: () => new RestError(400, 'WRONG_DATETIME_FORMAT', 'Incorrect date format'),
};

function ownerExists(ctx: MethodContext, entity: CrmEntity | undefined, id: number | undefined): boolean {
  return entity !== undefined && id !== undefined && ctx.portal.crm.table(entity).get(id) !== undefined;
}

/**
 * `crm.timeline.comment.add {fields: {ENTITY_ID, ENTITY_TYPE, COMMENT, FILES?}}` → the new comment's
 * integer id (D:api-reference/crm/timeline/comments/crm-timeline-comment-add.md). Since crm 23.100.0
 * only the lower-case key `fields` is read: `FIELDS` is as good as nothing.
 */
function commentAdd(ctx: MethodContext) {
  if (!('fields' in ctx.params)) throw crmErrors.missingParameter('fields');
  const fields = objectOf(ctx.params.fields);
  if (!fields) throw crmErrors.parameterType('fields', ctx.params.fields, 'array');
  const typeName = stringOf(fields.ENTITY_TYPE).toLowerCase();
  const entityId = positiveId(fields.ENTITY_ID);
  if (typeName === '' || fields.ENTITY_ID === undefined || fields.COMMENT === undefined) throw timelineErrors.requiredFields();
  const entity = ENTITY_TYPES[typeName];
  if (!ownerExists(ctx, entity, entityId)) throw timelineErrors.ownerNotFound();
  const comment = stringOf(fields.COMMENT);
  if (comment === '') throw timelineErrors.emptyComment();
  const created = ctx.portal.timeline.addComment({
    entityType: typeName,
    entityId: entityId!,
    comment,
    authorId: ctx.auth.userId,
    createdAtMs: ctx.nowMs,
    files: Array.isArray(fields.FILES) ? fields.FILES : [],
  });
  ctx.work.write = true;
  // ONCRMTIMELINECOMMENTADD carries `data: {ID}`, no FIELDS wrapper (…/comments/events/on-Crm-Timeline-Comment-Add.md)
  ctx.portal.events.emit('ONCRMTIMELINECOMMENTADD', { ID: String(created.id) }, emitOptions(ctx));
  return { result: created.id };
}

/**
 * `crm.activity.todo.add {ownerTypeId, ownerId, deadline, title?, description?, responsibleId?,
 * parentActivityId?, pingOffsets?, colorId?}` → `{id}`
 * (D:api-reference/crm/timeline/activities/todo/crm-activity-todo-add.md).
 */
function todoAdd(ctx: MethodContext) {
  const { params } = ctx;
  const ownerTypeId = requiredInt(params, 'ownerTypeId');
  const ownerId = requiredInt(params, 'ownerId');
  if (!('deadline' in params)) throw crmErrors.missingParameter('deadline');
  if (!ownerExists(ctx, entityByTypeId(ownerTypeId), ownerId)) {
    throw new RestError(400, 'OWNER_NOT_FOUND', 'Owner of the entity not found');
  }
  // a deadline without an offset is read in the portal's zone, like other CRM dates
  const deadlineMs = parseDateInput(params.deadline, ctx.portal.timeZone);
  if (Number.isNaN(deadlineMs)) throw timelineErrors.wrongDateTime();
  const responsibleId = optionalInt(params, 'responsibleId') ?? ctx.auth.userId;
  const activity = ctx.portal.timeline.addActivity({
    ownerTypeId,
    ownerId,
    deadlineMs,
    title: stringOf(params.title),
    description: stringOf(params.description),
    responsibleId,
    parentActivityId: optionalInt(params, 'parentActivityId') ?? null,
    pingOffsets: Array.isArray(params.pingOffsets) ? params.pingOffsets.map(Number).filter(Number.isInteger) : [],
    colorId: params.colorId === undefined ? null : stringOf(params.colorId),
    authorId: ctx.auth.userId,
    createdAtMs: ctx.nowMs,
  });
  ctx.work.write = true;
  ctx.portal.events.emit('ONCRMACTIVITYADD', { FIELDS: { ID: String(activity.id) } }, emitOptions(ctx));
  return { result: { id: activity.id } };
}

function requiredInt(params: Record<string, unknown>, name: string): number {
  if (!(name in params)) throw crmErrors.missingParameter(name);
  const value = optionalInt(params, name);
  if (value === undefined) throw crmErrors.parameterType(name, params[name], 'int');
  return value;
}

function optionalInt(params: Record<string, unknown>, name: string): number | undefined {
  const raw = params[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  return positiveId(raw);
}

function emitOptions(ctx: MethodContext) {
  return { userId: ctx.auth.userId, ...(ctx.auth.kind === 'oauth' ? { authConnector: ctx.authConnector } : {}) };
}
