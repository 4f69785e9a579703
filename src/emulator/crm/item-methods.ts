import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { CATALOGS, entityByTypeId, toCamel, type CrmEntity } from './fields.js';
import { userFieldDescription } from './user-fields.js';
import { dynamicItemHandlers, smartProcessOf } from './type-methods.js';
import { crmErrors } from './errors.js';
import { createRecord, itemFieldsToLegacy, itemFmInput, itemView, updateRecord } from './records.js';
import { itemFilterSchema, itemOrderSchema, pick } from './params.js';
import { parseFilter, parseOrder } from './filter.js';
import { parseStart, runList } from './query.js';
import { emitCrmEvent } from './events.js';
import { writeContext } from './legacy-methods.js';

/**
 * crm.item.* for the classic types 1–4, over the same rows as the legacy methods
 * (docs/protocol.md §6.5, D:api-reference/crm/universal/crm-item-*.md). Parameter binding errors follow
 * the Main engine: code 100 "Could not find value for parameter {x}".
 */

function intParam(ctx: MethodContext, name: string): number {
  const raw = pick(ctx.params, name);
  if (raw === undefined || raw === null || raw === '') throw crmErrors.missingParameter(name);
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw crmErrors.parameterType(name, raw, 'int');
  return value;
}

function entityParam(ctx: MethodContext): { entity: CrmEntity; entityTypeId: number } {
  const entityTypeId = intParam(ctx, 'entityTypeId');
  const entity = entityByTypeId(entityTypeId);
  if (!entity) throw crmErrors.smartProcessNotFound();
  return { entity, entityTypeId };
}

function fieldsParam(ctx: MethodContext): Record<string, unknown> {
  const raw = pick(ctx.params, 'fields');
  if (raw === undefined || raw === null || raw === '') throw crmErrors.missingParameter('fields');
  if (typeof raw !== 'object') throw crmErrors.parameterType('fields', raw, 'array');
  return Array.isArray(raw) ? {} : (raw as Record<string, unknown>);
}

function objectOrEmpty(ctx: MethodContext, name: string): Record<string, unknown> {
  const raw = pick(ctx.params, name);
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw !== 'object') throw crmErrors.parameterType(name, raw, 'array');
  return raw as Record<string, unknown>;
}

function add(ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const { entity, entityTypeId } = entityParam(ctx);
  const fields = fieldsParam(ctx);
  const record = createRecord(entity, itemFieldsToLegacy(entity, fields), writeContext(ctx), itemFmInput(fields.fm));
  ctx.portal.crm.table(entity).insert(record);
  emitCrmEvent(ctx, entity, 'ADD', record.id);
  return { result: { item: itemView(entity, entityTypeId, record, null, true) } };
}

function find(ctx: MethodContext, entity: CrmEntity) {
  const id = intParam(ctx, 'id');
  const record = ctx.portal.crm.table(entity).get(id);
  if (!record) throw crmErrors.itemNotFound();
  return record;
}

function get(ctx: MethodContext): MethodResult {
  const { entity, entityTypeId } = entityParam(ctx);
  const record = find(ctx, entity);
  ctx.work.rowsReturned = 1;
  return { result: { item: itemView(entity, entityTypeId, record, null, true) } };
}

function update(ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const { entity, entityTypeId } = entityParam(ctx);
  const record = find(ctx, entity);
  const fields = fieldsParam(ctx);
  updateRecord(entity, record, itemFieldsToLegacy(entity, fields), writeContext(ctx), itemFmInput(fields.fm));
  emitCrmEvent(ctx, entity, 'UPDATE', record.id);
  return { result: { item: itemView(entity, entityTypeId, record, null, true) } };
}

function remove(ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  const { entity } = entityParam(ctx);
  const record = find(ctx, entity);
  ctx.portal.crm.table(entity).delete(record.id);
  emitCrmEvent(ctx, entity, 'DELETE', record.id);
  return { result: [] };
}

/** `select`: camelCase names or `*`; `fm` comes back only with `*` (the default). */
function itemSelect(raw: unknown): { names: string[] | null; withFm: boolean } {
  const list = raw === undefined || raw === null || raw === '' ? [] : Array.isArray(raw) ? raw.map(String) : typeof raw === 'object' ? Object.values(raw).map(String) : [String(raw)];
  if (list.length === 0 || list.includes('*')) return { names: null, withFm: true };
  return { names: list, withFm: false };
}

function list(ctx: MethodContext): MethodResult {
  const { entity, entityTypeId } = entityParam(ctx);
  const filter = parseFilter(objectOrEmpty(ctx, 'filter'), itemFilterSchema(entity, ctx.portal.crm.userFields));
  const order = parseOrder(objectOrEmpty(ctx, 'order'), itemOrderSchema(entity));
  const { names, withFm } = itemSelect(pick(ctx.params, 'select'));
  const start = parseStart(pick(ctx.params, 'start'));
  const page = runList(ctx.portal.crm.table(entity), { filter, order, start, timeZone: ctx.portal.timeZone }, ctx.work);
  const items = page.rows.map((record) => {
    const item = itemView(entity, entityTypeId, record, names, withFm);
    // with a select, only the selected fields come back: the docs' example (crm-item-list.md,
    // select without entityTypeId) has no entityTypeId in its items
    if (names !== null && !names.includes('entityTypeId')) delete item.entityTypeId;
    return item;
  });
  return { result: { items }, total: page.total, ...(page.next !== undefined ? { next: page.next } : {}) };
}

/** `crm.item.fields` of a classic type: the catalogue in camelCase with each field's `upperName` (D:api-reference/crm/universal/crm-item-fields.md). */
function fields(ctx: MethodContext): MethodResult {
  const { entity } = entityParam(ctx);
  const out: Record<string, unknown> = {};
  for (const spec of CATALOGS[entity].fields) {
    if (spec.type === 'crm_multifield') continue;
    out[spec.camel] = { type: spec.type, isRequired: false, isReadOnly: spec.readOnly, isImmutable: spec.immutable, isMultiple: spec.multiple, isDynamic: false, title: spec.title, upperName: spec.name };
  }
  for (const definition of ctx.portal.crm.userFields.of(entity)) out[toCamel(definition.fieldName, entity)] = { ...userFieldDescription(definition), upperName: definition.fieldName };
  return { result: { fields: out } };
}

/** Smart-process entity types go to type-methods.ts; the classic ones (and unknown IDs) stay here. */
function routed(classic: (ctx: MethodContext) => MethodResult, dynamic: (ctx: MethodContext) => MethodResult) {
  return (ctx: MethodContext): MethodResult => (smartProcessOf(ctx) ? dynamic(ctx) : classic(ctx));
}

export function registerItemMethods(registry: MethodRegistry): void {
  registry.define('crm.item.add', { scope: 'crm', handler: routed(add, dynamicItemHandlers.add) });
  registry.define('crm.item.get', { scope: 'crm', handler: routed(get, dynamicItemHandlers.get) });
  registry.define('crm.item.update', { scope: 'crm', handler: routed(update, dynamicItemHandlers.update) });
  registry.define('crm.item.delete', { scope: 'crm', handler: routed(remove, dynamicItemHandlers.delete) });
  registry.define('crm.item.list', { scope: 'crm', handler: routed(list, dynamicItemHandlers.list) });
  registry.define('crm.item.fields', { scope: 'crm', handler: routed(fields, dynamicItemHandlers.fields) });
}
