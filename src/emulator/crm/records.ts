import { CATALOGS, isMultiFieldType, isNumericType, isUserField, type CrmEntity, type FieldSpec, type MultiFieldType } from './fields.js';
import type { CrmRecord, CrmStore, MultiFieldValue } from './store.js';
import { crmErrors } from './errors.js';
import { dateInZone, isoInZone, parseDateInput } from './dates.js';
import { stageSemantic } from './statuses.js';
import { userFieldValue, type UserFieldStore } from './user-fields.js';

/** Who writes and when: the caller and the emulator clock. */
export interface WriteContext {
  store: CrmStore;
  nowMs: number;
  userId: number;
  timeZone: string;
}

/** The portal's base currency; new rows without CURRENCY_ID get it. */
export const BASE_CURRENCY = 'USD';

type Stored = string | number[] | null;
const SKIP = Symbol('skip');

/** Default titles the portal gives untitled rows ("Deal #12"). */
export const TITLE_PREFIX: Record<CrmEntity, string> = { deal: 'Deal', lead: 'Lead', company: 'Company', contact: '' };

/**
 * Converts one input value to its stored wire form, or SKIP when the portal would ignore it.
 * Values come back as strings the way the real portal returns them (docs/protocol.md §6.2).
 */
function normalize(spec: FieldSpec, raw: unknown, timeZone: string): Stored | typeof SKIP {
  if (raw === null || raw === undefined || raw === '') {
    return spec.multiple ? [] : spec.type === 'char' ? SKIP : null;
  }
  if (spec.multiple) {
    const list = Array.isArray(raw) ? raw : typeof raw === 'object' ? Object.values(raw as object) : [raw];
    return [...new Set(list.map((value) => Number(value)).filter((value) => Number.isInteger(value) && value > 0))];
  }
  if (typeof raw === 'object') return SKIP;
  switch (spec.type) {
    case 'double': {
      const value = Number(raw);
      if (!Number.isFinite(value)) return SKIP;
      return spec.name === 'REVENUE' ? String(value) : value.toFixed(2);
    }
    case 'char': {
      if (raw === true || raw === 'Y' || raw === 'y' || raw === 1 || raw === '1') return 'Y';
      if (raw === false || raw === 'N' || raw === 'n' || raw === 0 || raw === '0') return 'N';
      return SKIP;
    }
    case 'date':
    case 'datetime': {
      const ms = parseDateInput(raw, timeZone);
      if (Number.isNaN(ms)) return SKIP;
      return spec.type === 'date' ? dateInZone(ms, timeZone) : isoInZone(ms, timeZone);
    }
    case 'crm_currency': {
      const code = String(raw).toUpperCase();
      // the portal keeps a currency list; any ISO-4217-shaped code stands in for it here
      if (!/^[A-Z]{3}$/.test(code)) throw crmErrors.invalidCurrency();
      return code;
    }
    case 'crm_status':
    case 'string':
    case 'location':
      return String(raw);
    default: {
      if (isNumericType(spec.type)) {
        const value = Number(raw);
        if (!Number.isFinite(value)) return SKIP;
        return String(Math.trunc(value));
      }
      return String(raw);
    }
  }
}

function specFor(entity: CrmEntity, name: string): FieldSpec | undefined {
  const spec = CATALOGS[entity].byName.get(name);
  if (spec) return spec;
  if (isUserField(name)) return { name, camel: name, type: 'string', title: name, readOnly: false, immutable: false, multiple: false };
  return undefined;
}

/** Writable values of `input` (legacy names): declared user fields typed into `uf` (user-fields.ts), the rest normalized. */
interface Writable {
  values: Record<string, Stored>;
  uf: Record<string, unknown>;
}

/** Writable scalar/array fields of `input` (legacy names), normalized. Unknown and read-only fields are ignored. */
function writableValues(entity: CrmEntity, input: Record<string, unknown>, ctx: WriteContext, mode: 'add' | 'update'): Writable {
  const { timeZone } = ctx;
  const out: Record<string, Stored> = {};
  const uf: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(input)) {
    const name = key.toUpperCase();
    const spec = specFor(entity, name);
    if (!spec || spec.readOnly || spec.type === 'crm_multifield') continue;
    if (mode === 'update' && spec.immutable) continue;
    const declared = isUserField(name) ? userFieldsOf(ctx)?.get(entity, name) : undefined;
    if (declared) {
      uf[name] = userFieldValue(declared, raw, timeZone);
      continue;
    }
    if (isUserField(name)) {
      out[name] = raw === null || raw === undefined ? null : typeof raw === 'object' ? (JSON.stringify(raw) as string) : String(raw);
      continue;
    }
    const value = normalize(spec, raw, timeZone);
    if (value !== SKIP) out[name] = value;
  }
  if (mode === 'add') {
    // every declared field is on every row: get and list answer null (a list: []) when nothing was set
    for (const definition of userFieldsOf(ctx)?.of(entity) ?? []) if (!(definition.fieldName in uf)) uf[definition.fieldName] = definition.multiple ? [] : null;
  }
  return { values: out, uf };
}

function userFieldsOf(ctx: WriteContext): UserFieldStore | undefined {
  return ctx.store.userFields;
}

/** A new row from legacy-named input (`crm.*.add`, `crm.item.add` after mapping, seeding). */
export function createRecord(entity: CrmEntity, input: Record<string, unknown>, ctx: WriteContext, multi: MultiFieldInput = []): CrmRecord {
  const { values, uf } = writableValues(entity, input, ctx, 'add');
  const fm = buildMultiFieldsForAdd(multi, ctx.store);
  const id = ctx.store.table(entity).allocateId();
  return assemble(entity, id, values, fm, ctx, uf);
}

/** A row shaped like `createRecord` makes it, without taking an ID: the template seeding copies. */
export function templateRecord(entity: CrmEntity, input: Record<string, unknown>, ctx: WriteContext, multi: MultiFieldInput = []): CrmRecord {
  const { values, uf } = writableValues(entity, input, ctx, 'add');
  return assemble(entity, 0, values, buildMultiFieldsForAdd(multi, ctx.store), ctx, uf);
}

function assemble(entity: CrmEntity, id: number, values: Record<string, Stored>, fm: MultiFieldValue[], ctx: WriteContext, uf: Record<string, unknown> = {}): CrmRecord {
  const links: Record<string, number[]> = {};
  for (const spec of CATALOGS[entity].fields) if (spec.multiple && spec.type !== 'crm_multifield') links[spec.name] = [];
  const record: CrmRecord = { id, fields: defaults(entity, id, ctx), links, fm };
  if (Object.keys(uf).length > 0) record.uf = uf;
  assign(record, values);
  finishRecord(entity, record, ctx, true);
  // built by keyed stores, the object is in V8's slow dictionary mode; a spread copy is a fast
  // object with the shape every row shares (list scans over 100,000+ rows depend on it)
  record.fields = { ...record.fields };
  return record;
}

/** Applies legacy-named `input` to `record` (`crm.*.update`). */
export function updateRecord(entity: CrmEntity, record: CrmRecord, input: Record<string, unknown>, ctx: WriteContext, multi: MultiFieldInput = []): void {
  const previousStage = stageOf(entity, record);
  const { values, uf } = writableValues(entity, input, ctx, 'update');
  if (entity === 'deal' && 'CATEGORY_ID' in values) delete values.CATEGORY_ID;
  // validate everything before changing anything: a rejected update leaves the row as it was
  const fm = updatedMultiFields(record.fm, multi, ctx.store);
  assign(record, values);
  if (Object.keys(uf).length > 0) {
    record.uf = { ...record.uf, ...uf };
    // a value written before the field was declared gives way to the typed one
    for (const name in uf) if (name in record.fields) delete record.fields[name];
  }
  record.fm = fm;
  record.fields.DATE_MODIFY = isoInZone(ctx.nowMs, ctx.timeZone);
  record.fields.MODIFY_BY_ID = String(ctx.userId);
  if (stageOf(entity, record) !== previousStage && (entity === 'deal' || entity === 'lead')) {
    record.fields.MOVED_TIME = record.fields.DATE_MODIFY;
    record.fields.MOVED_BY_ID = String(ctx.userId);
  }
  finishRecord(entity, record, ctx, false);
}

function assign(record: CrmRecord, values: Record<string, Stored>): void {
  for (const [name, value] of Object.entries(values)) {
    if (Array.isArray(value)) record.links[name] = value;
    else record.fields[name] = value;
  }
}

function stageOf(entity: CrmEntity, record: CrmRecord): Stored | undefined {
  return entity === 'lead' ? record.fields.STATUS_ID : record.fields.STAGE_ID;
}

function defaults(entity: CrmEntity, id: number, ctx: WriteContext): Record<string, string | null> {
  const now = isoInZone(ctx.nowMs, ctx.timeZone);
  const user = String(ctx.userId);
  const fields: Record<string, string | null> = {};
  // every row gets the same keys in the same order, so rows share one V8 shape
  for (const spec of CATALOGS[entity].fields) {
    if (!spec.multiple) fields[spec.name] = null;
  }
  Object.assign(fields, {
    ID: String(id),
    ASSIGNED_BY_ID: user,
    CREATED_BY_ID: user,
    MODIFY_BY_ID: user,
    DATE_CREATE: now,
    DATE_MODIFY: now,
    OPENED: 'Y',
    LAST_ACTIVITY_TIME: now,
    LAST_ACTIVITY_BY: user,
  });
  if (entity === 'deal') {
    Object.assign(fields, {
      TYPE_ID: 'SALE',
      CATEGORY_ID: '0',
      STAGE_ID: 'NEW',
      IS_RECURRING: 'N',
      IS_RETURN_CUSTOMER: 'N',
      IS_REPEATED_APPROACH: 'N',
      CURRENCY_ID: BASE_CURRENCY,
      OPPORTUNITY: '0.00',
      IS_MANUAL_OPPORTUNITY: 'N',
      TAX_VALUE: '0.00',
      BEGINDATE: dateInZone(ctx.nowMs, ctx.timeZone),
      CLOSEDATE: dateInZone(ctx.nowMs + 7 * 86_400_000, ctx.timeZone),
      CLOSED: 'N',
      MOVED_BY_ID: user,
      MOVED_TIME: now,
    });
  } else if (entity === 'lead') {
    Object.assign(fields, {
      STATUS_ID: 'NEW',
      IS_RETURN_CUSTOMER: 'N',
      CURRENCY_ID: BASE_CURRENCY,
      OPPORTUNITY: '0.00',
      IS_MANUAL_OPPORTUNITY: 'N',
      MOVED_BY_ID: user,
      MOVED_TIME: now,
    });
  } else if (entity === 'contact') {
    Object.assign(fields, { TYPE_ID: 'CLIENT', EXPORT: 'Y' });
  } else {
    Object.assign(fields, { COMPANY_TYPE: 'CUSTOMER', CURRENCY_ID: BASE_CURRENCY, REVENUE: '0', IS_MY_COMPANY: 'N' });
  }
  return fields;
}

/** Derived fields: titles, stage semantics, HAS_* flags, the deprecated single CONTACT_ID/COMPANY_ID. */
function finishRecord(entity: CrmEntity, record: CrmRecord, ctx: WriteContext, isNew: boolean): void {
  const { fields } = record;
  if ((entity === 'deal' || entity === 'lead' || entity === 'company') && !fields.TITLE) {
    fields.TITLE = `${TITLE_PREFIX[entity]} #${record.id}`;
  }
  if (entity === 'deal') {
    const category = Number(fields.CATEGORY_ID ?? 0);
    if (isNew && category > 0 && fields.STAGE_ID === 'NEW') fields.STAGE_ID = `C${category}:NEW`;
    const semantic = stageSemantic(String(fields.STAGE_ID ?? ''));
    fields.STAGE_SEMANTIC_ID = semantic;
    fields.CLOSED = semantic === 'P' ? 'N' : 'Y';
    fields.IS_NEW = /(^|:)NEW$/.test(String(fields.STAGE_ID)) ? 'Y' : 'N';
    syncSingleAndMultiple(record, 'CONTACT_ID', 'CONTACT_IDS');
  }
  if (entity === 'contact') syncSingleAndMultiple(record, 'COMPANY_ID', 'COMPANY_IDS');
  if (entity === 'lead') {
    const semantic = stageSemantic(String(fields.STATUS_ID ?? ''));
    fields.STATUS_SEMANTIC_ID = semantic;
    if (semantic !== 'P' && !fields.DATE_CLOSED) fields.DATE_CLOSED = isoInZone(ctx.nowMs, ctx.timeZone);
    if (semantic === 'P') fields.DATE_CLOSED = null;
  }
  if (CATALOGS[entity].hasMultiFields) {
    fields.HAS_PHONE = record.fm.some((item) => item.typeId === 'PHONE') ? 'Y' : 'N';
    fields.HAS_EMAIL = record.fm.some((item) => item.typeId === 'EMAIL') ? 'Y' : 'N';
    fields.HAS_IMOL = record.fm.some((item) => item.typeId === 'IM' && item.valueType === 'OPENLINE') ? 'Y' : 'N';
  }
}

/** CONTACT_ID is the first of CONTACT_IDS; setting only CONTACT_ID binds that one contact. */
function syncSingleAndMultiple(record: CrmRecord, single: string, multiple: string): void {
  const list = record.links[multiple] ?? [];
  const one = record.fields[single];
  record.links[multiple] = typeof one === 'string' && one !== '0' && !list.includes(Number(one)) ? [Number(one), ...list] : list;
  const after = record.links[multiple] as number[];
  record.fields[single] = after.length > 0 ? String(after[0]) : null;
}

// ---- multi-fields (docs/protocol.md §6.4) ----

/** One multi-field item as the caller sent it, in either naming. */
export interface MultiFieldItemInput {
  id?: number;
  typeId: MultiFieldType;
  valueType?: string;
  value?: string;
  delete?: boolean;
}

/** New items and changes, in the caller's order (IDs are given out in that order); items without id are added. */
export type MultiFieldInput = MultiFieldItemInput[];

/** Legacy `EMAIL: [{VALUE, VALUE_TYPE}]` etc. out of a fields object (array or `{n0: {...}}` object). */
export function legacyMultiFieldInput(fields: Record<string, unknown>): MultiFieldInput {
  const out: MultiFieldInput = [];
  for (const [key, raw] of Object.entries(fields)) {
    const type = key.toUpperCase();
    if (!isMultiFieldType(type) || raw === null || typeof raw !== 'object') continue;
    for (const [itemKey, item] of Object.entries(raw as Record<string, unknown>)) {
      if (!item || typeof item !== 'object') continue;
      const entry = item as Record<string, unknown>;
      const rawId = entry.ID ?? entry.id ?? (Array.isArray(raw) || /^n\d+$/.test(itemKey) ? undefined : itemKey);
      const id = Number(rawId);
      out.push({
        typeId: type,
        ...(rawId !== undefined && Number.isInteger(id) && id > 0 ? { id } : {}),
        ...(entry.VALUE_TYPE !== undefined ? { valueType: String(entry.VALUE_TYPE) } : {}),
        ...(entry.VALUE !== undefined && entry.VALUE !== null ? { value: String(entry.VALUE) } : {}),
        delete: entry.DELETE === 'Y' || entry.DELETE === true,
      });
    }
  }
  return out;
}

/**
 * `fm` of crm.item.*: on add an array of `{typeId, valueType, value}`; on update an object keyed
 * `n0…` (new) or by the item id (change, or delete with an empty value). Items without a valid
 * typeId are silently ignored, as the tutorial warns
 * (D:tutorials/crm/how-to-edit-crm-objects/how-to-change-email-or-phone.md).
 */
export function itemFmInput(raw: unknown): MultiFieldInput {
  const out: MultiFieldInput = [];
  if (!raw || typeof raw !== 'object') return out;
  for (const [key, item] of Object.entries(raw as Record<string, unknown>)) {
    if (!item || typeof item !== 'object') continue;
    const entry = item as Record<string, unknown>;
    const typeId = String(entry.typeId ?? '').toUpperCase();
    if (!isMultiFieldType(typeId)) continue;
    const id = Array.isArray(raw) || /^n\d+$/.test(key) ? undefined : Number(key);
    const value = entry.value === undefined || entry.value === null ? '' : String(entry.value);
    out.push({
      typeId,
      ...(id !== undefined && Number.isInteger(id) && id > 0 ? { id } : {}),
      ...(entry.valueType !== undefined ? { valueType: String(entry.valueType) } : {}),
      value,
    });
  }
  return out;
}

const EMAIL_LABELS: Record<string, string> = { WORK: 'Work e-mail', HOME: 'Personal e-mail', MAILING: 'Newsletter e-mail', OTHER: 'Other e-mail' };

function checkValue(typeId: MultiFieldType, valueType: string, value: string): void {
  // the portal rejects malformed addresses (D:api-reference/crm/contacts/crm-contact-add.md ERROR_CORE)
  if (typeId === 'EMAIL' && !/^[^@\s]+@[^@\s]+$/.test(value)) throw crmErrors.invalidEmail(EMAIL_LABELS[valueType] ?? 'E-mail');
}

function buildMultiFieldsForAdd(input: MultiFieldInput, store: CrmStore): MultiFieldValue[] {
  const out: MultiFieldValue[] = [];
  for (const item of input) {
    if (item.delete || !item.value) continue;
    const valueType = (item.valueType ?? 'WORK').toUpperCase() || 'WORK';
    checkValue(item.typeId, valueType, item.value);
    out.push({ id: store.allocateMultiFieldId(), typeId: item.typeId, valueType, value: item.value });
  }
  return out;
}

/** Update semantics: without id → added; with id → changed; `DELETE: 'Y'` or empty value → deleted; omitted → kept. */
function updatedMultiFields(current: MultiFieldValue[], input: MultiFieldInput, store: CrmStore): MultiFieldValue[] {
  const record = { fm: [...current] };
  for (const item of input) {
    const type = item.typeId;
    if (item.id === undefined) {
      if (item.delete || !item.value) continue;
      const valueType = (item.valueType ?? 'WORK').toUpperCase() || 'WORK';
      checkValue(type, valueType, item.value);
      record.fm.push({ id: store.allocateMultiFieldId(), typeId: type, valueType, value: item.value });
      continue;
    }
    const index = record.fm.findIndex((existing) => existing.id === item.id && existing.typeId === type);
    if (index < 0) continue;
    const existing = record.fm[index] as MultiFieldValue;
    if (item.delete || item.value === '') {
      record.fm.splice(index, 1);
      continue;
    }
    const valueType = item.valueType ? item.valueType.toUpperCase() : existing.valueType;
    const value = item.value ?? existing.value;
    checkValue(type, valueType, value);
    record.fm[index] = { ...existing, valueType, value };
  }
  return record.fm;
}

// ---- output ----

export function legacyMultiField(item: MultiFieldValue): Record<string, string> {
  return { ID: String(item.id), VALUE_TYPE: item.valueType, VALUE: item.value, TYPE_ID: item.typeId };
}

/** What a legacy list/get returns: `*` (standard fields), `UF_*`, named fields, named multi-fields. */
export interface LegacyProjection {
  all: boolean;
  userFields: boolean;
  names: Set<string>;
  multi: MultiFieldType[];
}

export const FULL_PROJECTION: LegacyProjection = { all: true, userFields: true, names: new Set(), multi: [] };

/**
 * A row in legacy form. Multi-fields appear only when named, and only when the row has values of
 * that type (D:api-reference/crm/leads/crm-lead-get.md shows PHONE and IM but no EMAIL).
 */
export function legacyView(entity: CrmEntity, record: CrmRecord, projection: LegacyProjection): Record<string, unknown> {
  // the common answer (`*` + `UF_*`) is a copy of the row: fields are kept in catalogue order
  const out: Record<string, unknown> = projection.all && projection.userFields ? { ...record.fields } : pickFields(entity, record, projection);
  if (record.uf) {
    for (const name in record.uf) if (projection.userFields || projection.names.has(name)) out[name] = record.uf[name];
  }
  for (const type of projection.multi) {
    const items = record.fm.filter((item) => item.typeId === type);
    if (items.length > 0) out[type] = items.map(legacyMultiField);
  }
  return out;
}

/**
 * An object with `keys` (all null) in fast mode. Objects grown key by key through `obj[name] = …`
 * turn into slow dictionaries in V8 after a dozen keys; a spread copy of one does not, and
 * writing existing keys of the copy keeps it fast. Answers of 50 rows × 50 fields rely on that.
 */
function shapeOf(keys: readonly string[]): Record<string, unknown> {
  const draft: Record<string, unknown> = {};
  for (const key of keys) draft[key] = null;
  return { ...draft };
}

const SCALAR_SHAPES = new Map<CrmEntity, Record<string, unknown>>();
const ITEM_SHAPES = new Map<CrmEntity, Record<string, unknown>>();

function scalarShape(entity: CrmEntity): Record<string, unknown> {
  let shape = SCALAR_SHAPES.get(entity);
  if (!shape) SCALAR_SHAPES.set(entity, (shape = shapeOf(CATALOGS[entity].scalar.map((spec) => spec.name))));
  return shape;
}

function itemShape(entity: CrmEntity): Record<string, unknown> {
  let shape = ITEM_SHAPES.get(entity);
  if (!shape) {
    const fields = CATALOGS[entity].fields.filter((spec) => spec.type !== 'crm_multifield').map((spec) => spec.camel);
    ITEM_SHAPES.set(entity, (shape = shapeOf(fields)));
  }
  return shape;
}

function pickFields(entity: CrmEntity, record: CrmRecord, projection: LegacyProjection): Record<string, unknown> {
  const out: Record<string, unknown> = projection.all ? { ...scalarShape(entity) } : {};
  for (const spec of CATALOGS[entity].scalar) {
    if (projection.all || projection.names.has(spec.name)) out[spec.name] = record.fields[spec.name] ?? null;
  }
  if (projection.userFields || projection.names.size > 0) {
    for (const name in record.fields) {
      if (name.startsWith('UF_') && (projection.userFields || projection.names.has(name))) out[name] = record.fields[name];
    }
  }
  return out;
}

/** crm.item.* typing: ids and amounts are numbers, flags stay "Y"/"N" (D:api-reference/crm/universal/crm-item-get.md). */
function itemValue(spec: FieldSpec, value: Stored | undefined): unknown {
  if (value === undefined || value === null) return spec.multiple ? [] : null;
  if (Array.isArray(value)) return value;
  if (spec.type === 'double') return Number(value);
  if (isNumericType(spec.type) || spec.type === 'crm_category') return Number(value);
  return value;
}

/** Row IDs in crm.item form always carry `0` rather than null for bound entities (crm-item-get example). */
const ZERO_WHEN_EMPTY = new Set(['COMPANY_ID', 'CONTACT_ID', 'LEAD_ID', 'QUOTE_ID']);

export function itemView(entity: CrmEntity, entityTypeId: number, record: CrmRecord, camelNames: string[] | null, withFm: boolean): Record<string, unknown> {
  const catalog = CATALOGS[entity];
  const wanted = camelNames === null ? null : new Set(camelNames);
  const out: Record<string, unknown> = wanted ? {} : { ...itemShape(entity) };
  for (const spec of catalog.fields) {
    if (spec.type === 'crm_multifield') continue;
    if (wanted && !wanted.has(spec.camel) && spec.camel !== 'id') continue;
    const value = itemValue(spec, spec.multiple ? record.links[spec.name] : record.fields[spec.name]);
    out[spec.camel] = value === null && ZERO_WHEN_EMPTY.has(spec.name) ? 0 : value;
  }
  for (const name in record.fields) {
    if (!name.startsWith('UF_CRM_')) continue;
    const camel = `ufCrm_${name.slice('UF_CRM_'.length)}`;
    if (!wanted || wanted.has(camel)) out[camel] = record.fields[name];
  }
  for (const name in record.uf) {
    const camel = `ufCrm_${name.slice('UF_CRM_'.length)}`;
    if (!wanted || wanted.has(camel)) out[camel] = record.uf[name];
  }
  if (withFm && catalog.hasMultiFields) {
    out.fm = record.fm.map((item) => ({ id: item.id, valueType: item.valueType, value: item.value, typeId: item.typeId }));
  }
  out.entityTypeId = entityTypeId;
  return out;
}

/** camelCase input of crm.item.* → legacy names. Unknown keys are ignored. */
export function itemFieldsToLegacy(entity: CrmEntity, fields: Record<string, unknown>): Record<string, unknown> {
  const catalog = CATALOGS[entity];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'fm') continue;
    const spec = catalog.byCamel.get(key);
    if (spec) out[spec.name] = value;
    else if (/^ufCrm_[A-Za-z0-9_]+$/.test(key)) out[`UF_CRM_${key.slice('ufCrm_'.length).toUpperCase()}`] = value;
    else if (isUserField(key)) out[key] = value;
  }
  return out;
}
