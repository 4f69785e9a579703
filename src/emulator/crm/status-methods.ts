import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { compileFilter, sortRows, parseFilter, parseOrder, type FieldReader, type FilterField } from './filter.js';
import { objectParam } from './params.js';
import { STATUS_ROWS, type StatusRow } from './statuses.js';
import type { FieldType } from './fields.js';

/** crm.status.list over the fixed reference lists (D:api-reference/crm/status/crm-status-list.md). */

const STATUS_FIELDS: Record<string, FieldType> = {
  ID: 'integer',
  ENTITY_ID: 'string',
  STATUS_ID: 'string',
  NAME: 'string',
  NAME_INIT: 'string',
  SORT: 'integer',
  SYSTEM: 'char',
  CATEGORY_ID: 'integer',
  COLOR: 'string',
  SEMANTICS: 'string',
};

function resolve(name: string): FilterField | undefined {
  const type = STATUS_FIELDS[name];
  return type ? { name, type, kind: 'scalar' } : undefined;
}

const read: FieldReader<StatusRow> = (row, field) => row[field.name as keyof StatusRow] ?? null;

function list(ctx: MethodContext): MethodResult {
  const filter = parseFilter(objectParam(ctx.params, 'filter', {}), { resolve, onUnknown: () => {} });
  const order = parseOrder(objectParam(ctx.params, 'order', {}), { resolve, onUnknown: () => {}, onBadDirection: () => {} });
  const test = compileFilter(filter, read, ctx.portal.timeZone);
  const matching = STATUS_ROWS.filter(test);
  const rows = order.length > 0 ? sortRows(matching, order, read, (row) => Number(row.ID), ctx.portal.timeZone) : matching;
  ctx.work.rowsReturned = rows.length;
  return { result: rows.map((row) => ({ ...row, ...(row.EXTRA ? { EXTRA: { ...row.EXTRA } } : {}) })), total: rows.length };
}

export function registerStatusMethods(registry: MethodRegistry): void {
  registry.define('crm.status.list', { scope: 'crm', handler: list });
}
