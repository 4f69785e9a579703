import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { CATALOGS, CRM_ENTITIES, type CrmEntity } from './fields.js';
import { crmErrors, deleteNotFound, updateNotFound } from './errors.js';
import { createRecord, legacyMultiFieldInput, legacyView, updateRecord, FULL_PROJECTION, type WriteContext } from './records.js';
import { legacyFilterSchema, legacyOrderSchema, legacyProjection, objectParam, pick, positiveId } from './params.js';
import { parseFilter, parseOrder } from './filter.js';
import { parseStart, runList } from './query.js';
import { emitCrmEvent } from './events.js';
import { userFieldDescription } from './user-fields.js';

export function writeContext(ctx: MethodContext): WriteContext {
  return { store: ctx.portal.crm, nowMs: ctx.emulator.clock.nowMs(), userId: ctx.auth.userId, timeZone: ctx.portal.timeZone };
}

/** `params` of add/update (REGISTER_SONET_EVENT…): accepted and ignored, but must be an object. */
function checkOptionsParam(ctx: MethodContext): void {
  if (pick(ctx.params, 'params') !== undefined) objectParam(ctx.params, 'params', {});
}

function requireId(ctx: MethodContext): number {
  const id = positiveId(pick(ctx.params, 'id'));
  if (id === undefined) throw crmErrors.idInvalid();
  return id;
}

function add(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const fields = objectParam(ctx.params, 'fields', undefined);
  checkOptionsParam(ctx);
  const record = createRecord(entity, fields, writeContext(ctx), legacyMultiFieldInput(fields));
  ctx.portal.crm.table(entity).insert(record);
  emitCrmEvent(ctx, entity, 'ADD', record.id);
  return { result: record.id };
}

function get(entity: CrmEntity, ctx: MethodContext): MethodResult {
  const id = requireId(ctx);
  const record = ctx.portal.crm.table(entity).get(id);
  if (!record) throw crmErrors.notFound();
  ctx.work.rowsReturned = 1;
  const multi = CATALOGS[entity].hasMultiFields ? (['PHONE', 'EMAIL', 'WEB', 'IM'] as const) : [];
  return { result: legacyView(entity, record, { ...FULL_PROJECTION, multi: [...multi] }) };
}

function update(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const id = requireId(ctx);
  const record = ctx.portal.crm.table(entity).get(id);
  if (!record) throw updateNotFound(entity);
  const fields = objectParam(ctx.params, 'fields', undefined);
  checkOptionsParam(ctx);
  updateRecord(entity, record, fields, writeContext(ctx), legacyMultiFieldInput(fields));
  emitCrmEvent(ctx, entity, 'UPDATE', id);
  return { result: true };
}

function remove(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const id = requireId(ctx);
  if (!ctx.portal.crm.table(entity).delete(id)) throw deleteNotFound(entity);
  emitCrmEvent(ctx, entity, 'DELETE', id);
  return { result: true };
}

function list(entity: CrmEntity, ctx: MethodContext): MethodResult {
  const filter = parseFilter(objectParam(ctx.params, 'filter', {}), legacyFilterSchema(entity, ctx.portal.crm.userFields));
  const order = parseOrder(objectParam(ctx.params, 'order', {}), legacyOrderSchema(entity, ctx.portal.crm.userFields));
  const projection = legacyProjection(entity, pick(ctx.params, 'select'));
  const start = parseStart(pick(ctx.params, 'start'));
  const page = runList(ctx.portal.crm.table(entity), { filter, order, start, timeZone: ctx.portal.timeZone }, ctx.work);
  const result = page.rows.map((record) => legacyView(entity, record, projection));
  return { result, total: page.total, ...(page.next !== undefined ? { next: page.next } : {}) };
}

/** `crm.*.fields` (D:api-reference/crm/deals/crm-deal-fields.md). */
function fields(entity: CrmEntity, ctx: MethodContext): MethodResult {
  const result: Record<string, unknown> = {};
  for (const spec of CATALOGS[entity].fields) {
    result[spec.name] = {
      type: spec.type,
      isRequired: false,
      isReadOnly: spec.readOnly,
      isImmutable: spec.immutable,
      isMultiple: spec.multiple,
      isDynamic: false,
      ...(spec.statusType ? { statusType: spec.statusType } : {}),
      title: spec.title,
    };
  }
  for (const definition of ctx.portal.crm.userFields.of(entity)) result[definition.fieldName] = userFieldDescription(definition);
  return { result };
}

/** crm.{lead,deal,contact,company}.{add,get,update,delete,list,fields} (docs/protocol.md §6.2, §6.4). */
export function registerLegacyCrmMethods(registry: MethodRegistry): void {
  for (const entity of CRM_ENTITIES) {
    registry.define(`crm.${entity}.add`, { scope: 'crm', handler: (ctx) => add(entity, ctx) });
    registry.define(`crm.${entity}.get`, { scope: 'crm', handler: (ctx) => get(entity, ctx) });
    registry.define(`crm.${entity}.update`, { scope: 'crm', handler: (ctx) => update(entity, ctx) });
    registry.define(`crm.${entity}.delete`, { scope: 'crm', handler: (ctx) => remove(entity, ctx) });
    registry.define(`crm.${entity}.list`, { scope: 'crm', handler: (ctx) => list(entity, ctx) });
    registry.define(`crm.${entity}.fields`, { scope: 'crm', handler: (ctx) => fields(entity, ctx) });
  }
}
