import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { RestError } from '../rest-error.js';
import { crmErrors } from './errors.js';
import { pick } from './params.js';
import { compileFilter, parseFilter, parseOrder, sortRows, type FilterField } from './filter.js';
import { PAGE_SIZE, parseStart, runList } from './query.js';
import { CrmTable } from './store.js';
import { isoInZone } from './dates.js';
import {
  applyItemFields,
  entityTypeIdAllowed,
  itemAnswer,
  itemFieldsAnswer,
  itemFilterField,
  newItem,
  TYPE_FLAGS,
  type SmartProcessType,
  type TypeFlag,
} from './smart-processes.js';

/**
 * crm.type.{add,get,getByEntityTypeId,list} (D:api-reference/crm/universal/user-defined-object-types/)
 * and crm.item.* for smart-process entity types (D:api-reference/crm/universal/crm-item-*.md).
 */

export const typeErrors = {
  /** crm-type-add.md. */
  outOfRange: () => new RestError(400, 'INVALID_ARG_VALUE', 'entityTypeId is out of allowed range'),
  /** UNCONFIRMED: the docs say the value is unique but not how a second one is refused. */
  taken: (entityTypeId: number) => new RestError(400, 'INVALID_ARG_VALUE', `entityTypeId ${entityTypeId} is already in use`),
  /** UNCONFIRMED text: `title` is required (crm-type-add.md) but its error is not listed. */
  titleMissing: () => new RestError(400, 'INVALID_ARG_VALUE', 'The field "title" is required'),
  /** crm-type-get.md: `error` is the number 0 on the wire. */
  notFound: () => new RestError(400, '0', 'SPA not found', { error: 0 }),
  /** crm-type-add.md: a user without CRM administration rights. */
  accessDenied: () => new RestError(400, 'ACCESS_DENIED', 'Access denied'),
} as const;

function intParam(ctx: MethodContext, name: string): number {
  const raw = pick(ctx.params, name);
  if (raw === undefined || raw === null || raw === '') throw crmErrors.missingParameter(name);
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw crmErrors.parameterType(name, raw, 'int');
  return value;
}

function objectArg(ctx: MethodContext, name: string, required: boolean): Record<string, unknown> {
  const raw = pick(ctx.params, name);
  if (raw === undefined || raw === null || raw === '') {
    if (required) throw crmErrors.missingParameter(name);
    return {};
  }
  if (typeof raw !== 'object') throw crmErrors.parameterType(name, raw, 'array');
  return raw as Record<string, unknown>;
}

function yn(raw: unknown, fallback: 'Y' | 'N'): 'Y' | 'N' {
  if (raw === undefined || raw === null || raw === '') return fallback;
  return raw === true || raw === 1 || raw === '1' || String(raw).toUpperCase() === 'Y' || String(raw).toLowerCase() === 'true' ? 'Y' : 'N';
}

/** A type as list answers it (crm-type-list.md). */
function typeRow(type: SmartProcessType): Record<string, unknown> {
  return {
    id: type.id,
    title: type.title,
    code: type.code,
    createdBy: type.createdBy,
    entityTypeId: type.entityTypeId,
    customSectionId: null,
    ...type.flags,
    createdTime: type.createdTime,
    updatedTime: type.updatedTime,
    updatedBy: type.updatedBy,
  };
}

/** A type as add and get answer it: the list row plus relations and linked user fields (crm-type-add.md). */
function typeAnswer(type: SmartProcessType): Record<string, unknown> {
  return { ...typeRow(type), relations: type.relations, linkedUserFields: type.linkedUserFields, customSections: [] };
}

function add(ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  // "any user with administrative access to the CRM section"
  if (!ctx.portal.users.get(ctx.auth.userId)?.ADMIN) throw typeErrors.accessDenied();
  const fields = objectArg(ctx, 'fields', true);
  const title = fields.title;
  if (title === undefined || title === null || String(title).trim() === '') throw typeErrors.titleMissing();
  const store = ctx.portal.crm.smartProcesses;
  let entityTypeId: number;
  if (fields.entityTypeId === undefined || fields.entityTypeId === null || fields.entityTypeId === '') {
    entityTypeId = store.nextEntityTypeId();
  } else {
    entityTypeId = Number(fields.entityTypeId);
    if (!Number.isInteger(entityTypeId) || !entityTypeIdAllowed(entityTypeId)) throw typeErrors.outOfRange();
    if (store.byEntityTypeId(entityTypeId)) throw typeErrors.taken(entityTypeId);
  }
  const now = isoInZone(ctx.emulator.clock.nowMs(), ctx.portal.timeZone);
  const flags = Object.fromEntries(TYPE_FLAGS.map((flag) => [flag, yn(fields[flag], flag === 'isSetOpenPermissions' ? 'Y' : 'N')])) as Record<TypeFlag, 'Y' | 'N'>;
  // not settable through crm.type.add (the docs' answer shows them N)
  flags.isPaymentsEnabled = 'N';
  flags.isCountersEnabled = 'N';
  const relations = fields.relations && typeof fields.relations === 'object' ? (fields.relations as Record<string, unknown>) : {};
  const type: SmartProcessType = {
    id: store.allocateId(),
    entityTypeId,
    title: String(title),
    code: fields.code === undefined || fields.code === null ? '' : String(fields.code),
    createdBy: ctx.auth.userId,
    updatedBy: ctx.auth.userId,
    createdTime: now,
    updatedTime: now,
    flags,
    relations: { parent: Array.isArray(relations.parent) ? relations.parent : [], child: Array.isArray(relations.child) ? relations.child : [] },
    linkedUserFields: Object.fromEntries(
      Object.entries(fields.linkedUserFields && typeof fields.linkedUserFields === 'object' ? (fields.linkedUserFields as Record<string, unknown>) : {}).map(([key, value]) => [key, yn(value, 'N')]),
    ),
    defaultCategoryId: store.allocateCategoryId(),
    items: new CrmTable(),
  };
  store.add(type);
  return { result: { type: typeAnswer(type) } };
}

function get(ctx: MethodContext): MethodResult {
  const type = ctx.portal.crm.smartProcesses.byId(intParam(ctx, 'id'));
  if (!type) throw typeErrors.notFound();
  ctx.work.rowsReturned = 1;
  return { result: { type: typeAnswer(type) } };
}

function getByEntityTypeId(ctx: MethodContext): MethodResult {
  const type = ctx.portal.crm.smartProcesses.byEntityTypeId(intParam(ctx, 'entityTypeId'));
  if (!type) throw typeErrors.notFound();
  ctx.work.rowsReturned = 1;
  return { result: { type: typeAnswer(type) } };
}

const TYPE_FILTER_FIELDS: Record<string, FilterField> = {
  id: { name: 'id', type: 'integer', kind: 'scalar' },
  entityTypeId: { name: 'entityTypeId', type: 'integer', kind: 'scalar' },
  title: { name: 'title', type: 'string', kind: 'scalar' },
  code: { name: 'code', type: 'string', kind: 'scalar' },
  createdBy: { name: 'createdBy', type: 'user', kind: 'scalar' },
  updatedBy: { name: 'updatedBy', type: 'user', kind: 'scalar' },
  createdTime: { name: 'createdTime', type: 'datetime', kind: 'scalar' },
  updatedTime: { name: 'updatedTime', type: 'datetime', kind: 'scalar' },
  ...Object.fromEntries(TYPE_FLAGS.map((flag) => [flag, { name: flag, type: 'char', kind: 'scalar' } satisfies FilterField])),
};

/** `list {filter, order, start}` → `{types}` + `total`/`next`; unknown filter or order fields → INVALID_ARG_VALUE (crm-type-list.md). */
function list(ctx: MethodContext): MethodResult {
  const resolve = (name: string) => TYPE_FILTER_FIELDS[name];
  const filter = parseFilter(objectArg(ctx, 'filter', false), {
    resolve,
    onUnknown: (name) => {
      throw crmErrors.invalidFilterField(name);
    },
  });
  const order = parseOrder(objectArg(ctx, 'order', false), {
    resolve,
    onUnknown: (name) => {
      throw crmErrors.invalidOrderField(name);
    },
    onBadDirection: (name, value) => {
      throw crmErrors.invalidOrderDirection(name, value);
    },
  });
  const start = parseStart(pick(ctx.params, 'start'));
  const read = (row: Record<string, unknown>, field: FilterField) => row[field.name];
  const rows = ctx.portal.crm.smartProcesses.all().map(typeRow);
  const found = sortRows(rows.filter(compileFilter(filter, read, ctx.portal.timeZone)), order, read, (row) => row.id as number, ctx.portal.timeZone);
  const offset = Math.max(start, 0);
  const types = found.slice(offset, offset + PAGE_SIZE);
  ctx.work.rowsReturned = types.length;
  if (start < 0) return { result: { types }, total: 0 };
  return { result: { types }, total: found.length, ...(offset + PAGE_SIZE < found.length ? { next: offset + PAGE_SIZE } : {}) };
}

// ---- crm.item.* for smart processes ----

/** The SPA a crm.item.* call names, or undefined for the classic types (and unknown IDs, which item-methods.ts refuses). */
export function smartProcessOf(ctx: MethodContext): SmartProcessType | undefined {
  const raw = pick(ctx.params, 'entityTypeId');
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(value) ? ctx.portal.crm.smartProcesses.byEntityTypeId(value) : undefined;
}

function spa(ctx: MethodContext): SmartProcessType {
  const type = smartProcessOf(ctx);
  if (!type) throw crmErrors.smartProcessNotFound();
  return type;
}

function writeContext(ctx: MethodContext) {
  return { nowMs: ctx.emulator.clock.nowMs(), userId: ctx.auth.userId, timeZone: ctx.portal.timeZone };
}

function findItem(ctx: MethodContext, type: SmartProcessType) {
  const record = type.items.get(intParam(ctx, 'id'));
  if (!record) throw crmErrors.itemNotFound();
  return record;
}

function emit(ctx: MethodContext, type: SmartProcessType, action: 'ADD' | 'UPDATE' | 'DELETE', id: number): void {
  // ONCRMDYNAMICITEM{ADD,UPDATE,DELETE} plus the per-type `_{entityTypeId}` names (protocol events list, D:api-reference/events/events.md)
  const data = { FIELDS: { ID: id, ENTITY_TYPE_ID: type.entityTypeId } };
  const options = { userId: ctx.auth.userId, authConnector: ctx.authConnector };
  ctx.portal.events.emit(`ONCRMDYNAMICITEM${action}`, data, options);
  ctx.portal.events.emit(`ONCRMDYNAMICITEM${action}_${type.entityTypeId}`, data, options);
}

export const dynamicItemHandlers = {
  add(ctx: MethodContext): MethodResult {
    ctx.work.write = true;
    const type = spa(ctx);
    const fields = objectArg(ctx, 'fields', true);
    const record = newItem(type, fields, writeContext(ctx));
    type.items.insert(record);
    emit(ctx, type, 'ADD', record.id);
    return { result: { item: itemAnswer(type, record, null) } };
  },
  get(ctx: MethodContext): MethodResult {
    const type = spa(ctx);
    const record = findItem(ctx, type);
    ctx.work.rowsReturned = 1;
    return { result: { item: itemAnswer(type, record, null) } };
  },
  update(ctx: MethodContext): MethodResult {
    ctx.work.write = true;
    const type = spa(ctx);
    const record = findItem(ctx, type);
    applyItemFields(record, objectArg(ctx, 'fields', true), writeContext(ctx), false);
    emit(ctx, type, 'UPDATE', record.id);
    return { result: { item: itemAnswer(type, record, null) } };
  },
  delete(ctx: MethodContext): MethodResult {
    ctx.work.write = true;
    const type = spa(ctx);
    const record = findItem(ctx, type);
    type.items.delete(record.id);
    emit(ctx, type, 'DELETE', record.id);
    return { result: [] };
  },
  list(ctx: MethodContext): MethodResult {
    const type = spa(ctx);
    const schema = {
      resolve: itemFilterField,
      onUnknown: (name: string) => {
        throw crmErrors.invalidFilterField(name);
      },
    };
    const filter = parseFilter(objectArg(ctx, 'filter', false), schema);
    const order = parseOrder(objectArg(ctx, 'order', false), {
      resolve: itemFilterField,
      onUnknown: (name) => {
        throw crmErrors.invalidOrderField(name);
      },
      onBadDirection: (name, value) => {
        throw crmErrors.invalidOrderDirection(name, value);
      },
    });
    const rawSelect = pick(ctx.params, 'select');
    const select = Array.isArray(rawSelect) && rawSelect.length > 0 ? rawSelect.map(String) : null;
    const start = parseStart(pick(ctx.params, 'start'));
    const page = runList(type.items, { filter, order, start, timeZone: ctx.portal.timeZone }, ctx.work);
    const items = page.rows.map((record) => itemAnswer(type, record, select));
    return { result: { items }, total: page.total, ...(page.next !== undefined ? { next: page.next } : {}) };
  },
  fields(ctx: MethodContext): MethodResult {
    spa(ctx);
    return { result: { fields: itemFieldsAnswer() } };
  },
};

export function registerTypeMethods(registry: MethodRegistry): void {
  registry.define('crm.type.add', { scope: 'crm', handler: add });
  registry.define('crm.type.get', { scope: 'crm', handler: get });
  registry.define('crm.type.getByEntityTypeId', { scope: 'crm', handler: getByEntityTypeId });
  registry.define('crm.type.list', { scope: 'crm', handler: list });
}
