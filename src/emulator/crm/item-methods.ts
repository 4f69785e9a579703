import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { entityByTypeId, type CrmEntity } from './fields.js';
import { crmErrors } from './errors.js';
import { createRecord, itemFieldsToLegacy, itemFmInput, itemView, updateRecord } from './records.js';
import { itemFilterSchema, itemOrderSchema, pick } from './params.js';
import { parseFilter, parseOrder } from './filter.js';
import { parseStart, runList } from './query.js';
import { emitCrmEvent } from './events.js';
import { writeContext } from './legacy-methods.js';

/**
 * crm.item.* for the classic types 1–4, over the same rows as the legacy methods
 * (protocol §6.5, D:api-reference/crm/universal/crm-item-*.md). Parameter binding errors follow
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
  const filter = parseFilter(objectOrEmpty(ctx, 'filter'), itemFilterSchema(entity));
  const order = parseOrder(objectOrEmpty(ctx, 'order'), itemOrderSchema(entity));
  const { names, withFm } = itemSelect(pick(ctx.params, 'select'));
  const start = parseStart(pick(ctx.params, 'start'));
  const page = runList(ctx.portal.crm.table(entity), { filter, order, start, timeZone: ctx.portal.timeZone }, ctx.work);
  const items = page.rows.map((record) => itemView(entity, entityTypeId, record, names, withFm));
  return { result: { items }, total: page.total, ...(page.next !== undefined ? { next: page.next } : {}) };
}

export function registerItemMethods(registry: MethodRegistry): void {
  registry.define('crm.item.add', { scope: 'crm', handler: add });
  registry.define('crm.item.get', { scope: 'crm', handler: get });
  registry.define('crm.item.update', { scope: 'crm', handler: update });
  registry.define('crm.item.delete', { scope: 'crm', handler: remove });
  registry.define('crm.item.list', { scope: 'crm', handler: list });
}
