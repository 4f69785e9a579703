import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { RestError } from '../rest-error.js';
import { CRM_ENTITIES, type CrmEntity } from './fields.js';
import { crmErrors } from './errors.js';
import { objectParam, pick, positiveId } from './params.js';
import { parseFilter, parseOrder, compileFilter, sortRows, type FilterField } from './filter.js';
import {
  fullFieldName,
  isUserFieldType,
  USER_FIELD_ENTITY_IDS,
  userFieldValue,
  type EnumItem,
  type UserFieldDefinition,
} from './user-fields.js';

/**
 * crm.{lead,deal,contact,company}.userfield.{add,get,list,update,delete}
 * (D:api-reference/crm/deals/user-defined-fields/crm-deal-userfield-*.md and the contact, company
 * and lead twins). Errors are the texts those pages list; legacy CRM answers carry `error: ""`.
 */

const LABELS = ['EDIT_FORM_LABEL', 'LIST_COLUMN_LABEL', 'LIST_FILTER_LABEL', 'ERROR_MESSAGE', 'HELP_MESSAGE'] as const;

export const userFieldErrors = {
  fieldNameMissing: () => new RestError(400, '', "The 'FIELD_NAME' field is not found."),
  typeMissing: () => new RestError(400, '', "The 'USER_TYPE_ID' field is not found."),
  typeUnknown: () => new RestError(400, 'ERROR_CORE', 'Incorrect custom type specified.'),
  nameTooLong: () => new RestError(400, 'ERROR_CORE', 'Field name is too long (more than 50 characters).'),
  nameInvalid: () => new RestError(400, 'ERROR_CORE', 'Field name contains invalid characters. Allowed characters are: A-Z, 0-9 and _.'),
  /** UNCONFIRMED text: the core refuses a second FIELD_NAME per ENTITY_ID (CUserTypeEntity::Add, USER_TYPE_ADD_ALREADY_ERROR). */
  duplicate: (name: string, entityId: string) => new RestError(400, 'ERROR_CORE', `A user field ${name} already exists for ${entityId}.`),
  xmlIdTaken: (xmlId: string) => new RestError(400, 'ERROR_CORE', `List item with value XML_ID=${xmlId} already exists.`),
  notFound: (id: number) => new RestError(400, 'ERROR_NOT_FOUND', `The entity with ID '${id}' is not found`),
  accessDenied: () => new RestError(403, '', 'Access denied.'),
} as const;

function flag(raw: unknown, fallback: 'Y' | 'N'): 'Y' | 'N' {
  if (raw === undefined || raw === null || raw === '') return fallback;
  return raw === true || raw === 1 || String(raw).toUpperCase() === 'Y' || raw === '1' ? 'Y' : 'N';
}

function label(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'object') {
    // a lang_map: the emulator answers in English (the `en` value, else the first one)
    const map = raw as Record<string, unknown>;
    const value = map.en ?? Object.values(map)[0];
    return value === undefined || value === null ? null : String(value);
  }
  return String(raw);
}

function requireAdmin(ctx: MethodContext): void {
  // "Who can execute the method: CRM administrator" (crm-deal-userfield-add.md)
  if (!ctx.portal.users.get(ctx.auth.userId)?.ADMIN) throw userFieldErrors.accessDenied();
}

function enumItems(ctx: MethodContext, raw: unknown, current: EnumItem[], multiple: boolean): EnumItem[] {
  if (raw === undefined || raw === null || raw === '') return current;
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' ? Object.values(raw as object) : [];
  const out: EnumItem[] = [];
  for (const entry of list) {
    if (!entry || typeof entry !== 'object') continue;
    const item = entry as Record<string, unknown>;
    const existing = item.ID !== undefined ? current.find((known) => known.ID === String(item.ID)) : undefined;
    if (existing && flag(item.DEL, 'N') === 'Y') continue;
    const value = item.VALUE ?? existing?.VALUE;
    // "List elements with an empty or missing VALUE will be ignored"
    if (value === undefined || value === null || value === '') continue;
    const id = existing?.ID ?? String(ctx.portal.crm.userFields.allocateEnumId());
    const xmlId = item.XML_ID !== undefined && item.XML_ID !== null && item.XML_ID !== '' ? String(item.XML_ID) : (existing?.XML_ID ?? id);
    if (out.some((known) => known.XML_ID === xmlId)) throw userFieldErrors.xmlIdTaken(xmlId);
    out.push({ ID: id, SORT: String(Number(item.SORT ?? existing?.SORT ?? 0) || 0), VALUE: String(value), DEF: flag(item.DEF, existing?.DEF ?? 'N'), XML_ID: xmlId });
  }
  // items left out of an update stay, as in the UI's list editor
  const kept = existing(current, out);
  const merged = [...kept, ...out];
  // "For non-multiple, the first passed list item will be considered default DEF = Y"
  if (!multiple) {
    const first = merged.findIndex((item) => item.DEF === 'Y');
    merged.forEach((item, index) => (item.DEF = index === first ? 'Y' : 'N'));
  }
  return merged;
}

function existing(current: EnumItem[], changed: EnumItem[]): EnumItem[] {
  return current.filter((item) => !changed.some((next) => next.ID === item.ID));
}

function add(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  requireAdmin(ctx);
  const fields = objectParam(ctx.params, 'fields', undefined);
  const rawName = fields.FIELD_NAME;
  if (rawName === undefined || rawName === null || String(rawName).trim() === '') throw userFieldErrors.fieldNameMissing();
  const fieldName = fullFieldName(String(rawName).trim());
  if (fieldName.length > 50) throw userFieldErrors.nameTooLong();
  if (!/^[A-Z0-9_]+$/.test(fieldName)) throw userFieldErrors.nameInvalid();
  const type = fields.USER_TYPE_ID;
  if (type === undefined || type === null || String(type) === '') throw userFieldErrors.typeMissing();
  if (!isUserFieldType(String(type))) throw userFieldErrors.typeUnknown();
  const store = ctx.portal.crm.userFields;
  if (store.get(entity, fieldName)) throw userFieldErrors.duplicate(fieldName, USER_FIELD_ENTITY_IDS[entity]);

  const fallback = label(fields.LABEL);
  const labels = Object.fromEntries(LABELS.map((name) => [name, label(fields[name]) ?? fallback])) as UserFieldDefinition['labels'];
  const multiple = String(type) !== 'boolean' && flag(fields.MULTIPLE, 'N') === 'Y';
  const definition: UserFieldDefinition = {
    id: store.allocateId(),
    entity,
    fieldName,
    type: String(type) as UserFieldDefinition['type'],
    xmlId: fields.XML_ID === undefined || fields.XML_ID === null ? null : String(fields.XML_ID),
    sort: Number(fields.SORT) > 0 ? Math.trunc(Number(fields.SORT)) : 100,
    multiple,
    mandatory: flag(fields.MANDATORY, 'N') === 'Y',
    showFilter: flag(fields.SHOW_FILTER, 'N'),
    showInList: flag(fields.SHOW_IN_LIST, 'N'),
    editInList: flag(fields.EDIT_IN_LIST, 'Y'),
    isSearchable: flag(fields.IS_SEARCHABLE, 'N'),
    settings: fields.SETTINGS && typeof fields.SETTINGS === 'object' ? { ...(fields.SETTINGS as Record<string, unknown>) } : {},
    labels,
    list: [],
  };
  if (definition.type === 'enumeration') definition.list = enumItems(ctx, fields.LIST, [], multiple);
  store.add(definition);
  // the new column exists on every row; a value the emulator kept before the declaration is typed
  for (const record of ctx.portal.crm.table(entity).rows.values()) {
    const prior = record.fields[fieldName];
    record.uf = { ...record.uf, [fieldName]: prior === undefined ? (multiple ? [] : null) : userFieldValue(definition, prior, ctx.portal.timeZone) };
    if (prior !== undefined) delete record.fields[fieldName];
  }
  return { result: definition.id };
}

/** A definition as get/list answer it (crm-deal-userfield-get.md, -list.md). */
export function userFieldView(definition: UserFieldDefinition, labels: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ID: String(definition.id),
    ENTITY_ID: USER_FIELD_ENTITY_IDS[definition.entity],
    FIELD_NAME: definition.fieldName,
    USER_TYPE_ID: definition.type,
    XML_ID: definition.xmlId,
    SORT: String(definition.sort),
    MULTIPLE: definition.multiple ? 'Y' : 'N',
    MANDATORY: definition.mandatory ? 'Y' : 'N',
    SHOW_FILTER: definition.showFilter,
    SHOW_IN_LIST: definition.showInList,
    EDIT_IN_LIST: definition.editInList,
    IS_SEARCHABLE: definition.isSearchable,
    SETTINGS: definition.settings,
  };
  if (labels) for (const name of LABELS) out[name] = definition.labels[name];
  if (definition.type === 'enumeration') out.LIST = definition.list.map((item) => ({ ...item }));
  return out;
}

function requireId(ctx: MethodContext): number {
  const id = positiveId(pick(ctx.params, 'id'));
  if (id === undefined) throw crmErrors.idInvalid();
  return id;
}

function find(entity: CrmEntity, ctx: MethodContext): UserFieldDefinition {
  const id = requireId(ctx);
  const definition = ctx.portal.crm.userFields.byId(id);
  if (!definition) throw userFieldErrors.notFound(id);
  // a field of another entity: "the user tries to change a custom field not linked to deals"
  if (definition.entity !== entity) throw userFieldErrors.accessDenied();
  return definition;
}

function get(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.rowsReturned = 1;
  return { result: userFieldView(find(entity, ctx), true) };
}

const LIST_FIELDS: Record<string, FilterField> = {
  ID: { name: 'ID', type: 'integer', kind: 'scalar' },
  FIELD_NAME: { name: 'FIELD_NAME', type: 'string', kind: 'scalar' },
  USER_TYPE_ID: { name: 'USER_TYPE_ID', type: 'string', kind: 'scalar' },
  XML_ID: { name: 'XML_ID', type: 'string', kind: 'scalar' },
  SORT: { name: 'SORT', type: 'integer', kind: 'scalar' },
  MULTIPLE: { name: 'MULTIPLE', type: 'char', kind: 'scalar' },
  MANDATORY: { name: 'MANDATORY', type: 'char', kind: 'scalar' },
  SHOW_FILTER: { name: 'SHOW_FILTER', type: 'string', kind: 'scalar' },
  SHOW_IN_LIST: { name: 'SHOW_IN_LIST', type: 'char', kind: 'scalar' },
  EDIT_IN_LIST: { name: 'EDIT_IN_LIST', type: 'char', kind: 'scalar' },
  IS_SEARCHABLE: { name: 'IS_SEARCHABLE', type: 'char', kind: 'scalar' },
};

/** `list {filter, order}`: all fields of the entity, `total`; labels only with `filter.LANG` (crm-deal-userfield-list.md). */
function list(entity: CrmEntity, ctx: MethodContext): MethodResult {
  const filter = { ...objectParam(ctx.params, 'filter', {}) };
  const order = objectParam(ctx.params, 'order', {});
  const lang = filter.LANG;
  delete filter.LANG;
  const resolve = (name: string) => LIST_FIELDS[name.toUpperCase()];
  const group = parseFilter(filter, { resolve, onUnknown: () => {} });
  const keys = parseOrder(Object.keys(order).length > 0 ? order : { SORT: 'ASC', ID: 'ASC' }, { resolve, onUnknown: () => {}, onBadDirection: () => {} });
  const rows = ctx.portal.crm.userFields.of(entity).map((definition) => userFieldView(definition, false));
  const read = (row: Record<string, unknown>, field: FilterField) => row[field.name];
  const test = compileFilter(group, read, ctx.portal.timeZone);
  const found = sortRows(rows.filter(test), keys, read, (row) => Number(row.ID), ctx.portal.timeZone);
  const result = lang === undefined ? found : found.map((row) => ({ ...row, ...userFieldLabels(ctx, row) }));
  ctx.work.rowsReturned = result.length;
  return { result, total: result.length };
}

function userFieldLabels(ctx: MethodContext, row: Record<string, unknown>): Record<string, unknown> {
  const definition = ctx.portal.crm.userFields.byId(Number(row.ID));
  return definition ? { ...definition.labels } : {};
}

/** `update {id, fields}`: only the fields passed change; FIELD_NAME, USER_TYPE_ID and MULTIPLE cannot (crm-deal-userfield-update.md). */
function update(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  requireAdmin(ctx);
  const definition = find(entity, ctx);
  const fields = objectParam(ctx.params, 'fields', undefined);
  const list = definition.type === 'enumeration' ? enumItems(ctx, fields.LIST, definition.list, definition.multiple) : definition.list;
  if (fields.MANDATORY !== undefined) definition.mandatory = flag(fields.MANDATORY, 'N') === 'Y';
  if (fields.SHOW_FILTER !== undefined) definition.showFilter = flag(fields.SHOW_FILTER, 'N');
  if (fields.SHOW_IN_LIST !== undefined) definition.showInList = flag(fields.SHOW_IN_LIST, 'N');
  if (fields.EDIT_IN_LIST !== undefined) definition.editInList = flag(fields.EDIT_IN_LIST, 'Y');
  if (fields.IS_SEARCHABLE !== undefined) definition.isSearchable = flag(fields.IS_SEARCHABLE, 'N');
  if (fields.XML_ID !== undefined) definition.xmlId = fields.XML_ID === null ? null : String(fields.XML_ID);
  if (Number(fields.SORT) > 0) definition.sort = Math.trunc(Number(fields.SORT));
  // "The field only overwrites the passed values"
  if (fields.SETTINGS && typeof fields.SETTINGS === 'object') Object.assign(definition.settings, fields.SETTINGS);
  for (const name of LABELS) if (fields[name] !== undefined) definition.labels[name] = label(fields[name]);
  definition.list = list;
  return { result: true };
}

/** `delete {id}`: the field and every value of it go (the portal drops the column). */
function remove(entity: CrmEntity, ctx: MethodContext): MethodResult {
  ctx.work.write = true;
  requireAdmin(ctx);
  const definition = find(entity, ctx);
  ctx.portal.crm.userFields.delete(definition.id);
  for (const record of ctx.portal.crm.table(entity).rows.values()) {
    if (record.uf && definition.fieldName in record.uf) delete record.uf[definition.fieldName];
    if (definition.fieldName in record.fields) delete record.fields[definition.fieldName];
  }
  return { result: true };
}

export function registerUserFieldMethods(registry: MethodRegistry): void {
  for (const entity of CRM_ENTITIES) {
    registry.define(`crm.${entity}.userfield.add`, { scope: 'crm', handler: (ctx) => add(entity, ctx) });
    registry.define(`crm.${entity}.userfield.get`, { scope: 'crm', handler: (ctx) => get(entity, ctx) });
    registry.define(`crm.${entity}.userfield.list`, { scope: 'crm', handler: (ctx) => list(entity, ctx) });
    registry.define(`crm.${entity}.userfield.update`, { scope: 'crm', handler: (ctx) => update(entity, ctx) });
    registry.define(`crm.${entity}.userfield.delete`, { scope: 'crm', handler: (ctx) => remove(entity, ctx) });
  }
}
