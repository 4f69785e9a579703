import type { FieldType } from './fields.js';
import type { FilterField } from './filter.js';
import type { CrmRecord, CrmTable } from './store.js';
import { dateInZone, isoInZone, parseDateInput } from './dates.js';

/**
 * Smart processes (SPA): types made with `crm.type.add` and their items, served by `crm.item.*`
 * (D:api-reference/crm/universal/user-defined-object-types/crm-type-add.md, crm-item-fields.md).
 * Items are CrmRecords keyed by the upper names crm.item.fields reports (`upperName`), so the
 * list machinery of the classic entities (filter.ts, query.ts) serves them unchanged.
 */

/** The `is…Enabled` flags of a type, with the defaults crm-type-add.md gives (`isSetOpenPermissions` Y, the rest N). */
export const TYPE_FLAGS = [
  'isCategoriesEnabled',
  'isStagesEnabled',
  'isBeginCloseDatesEnabled',
  'isClientEnabled',
  'isUseInUserfieldEnabled',
  'isLinkWithProductsEnabled',
  'isMycompanyEnabled',
  'isDocumentsEnabled',
  'isSourceEnabled',
  'isObserversEnabled',
  'isRecyclebinEnabled',
  'isAutomationEnabled',
  'isBizProcEnabled',
  'isSetOpenPermissions',
  'isPaymentsEnabled',
  'isCountersEnabled',
] as const;
export type TypeFlag = (typeof TYPE_FLAGS)[number];

export interface SmartProcessType {
  id: number;
  entityTypeId: number;
  title: string;
  code: string;
  createdBy: number;
  updatedBy: number;
  createdTime: string;
  updatedTime: string;
  flags: Record<TypeFlag, 'Y' | 'N'>;
  relations: { parent: unknown[]; child: unknown[] };
  linkedUserFields: Record<string, 'Y' | 'N'>;
  /** The default pipeline every type has; its stages are `DT{entityTypeId}_{categoryId}:NEW` etc. */
  defaultCategoryId: number;
  readonly items: CrmTable;
}

/** Whether `entityTypeId` is allowed for a new type: even ≥ 1030, or 128…192 (crm-type-add.md). */
export function entityTypeIdAllowed(value: number): boolean {
  return (value >= 1030 && value % 2 === 0) || (value >= 128 && value <= 192);
}

export class SmartProcessStore {
  readonly #types = new Map<number, SmartProcessType>();
  #nextId = 1;
  #nextCategoryId = 1;

  allocateId(): number {
    return this.#nextId++;
  }

  allocateCategoryId(): number {
    return this.#nextCategoryId++;
  }

  /**
   * The next free automatic entityTypeId: the docs' examples show automatic IDs as even numbers
   * from 1030 up (1222…1256 in crm-type-list.md); the exact sequence is UNCONFIRMED.
   */
  nextEntityTypeId(): number {
    let candidate = 1030;
    while (this.byEntityTypeId(candidate)) candidate += 2;
    return candidate;
  }

  add(type: SmartProcessType): void {
    this.#types.set(type.id, type);
  }

  byId(id: number): SmartProcessType | undefined {
    return this.#types.get(id);
  }

  byEntityTypeId(entityTypeId: number): SmartProcessType | undefined {
    for (const type of this.#types.values()) if (type.entityTypeId === entityTypeId) return type;
    return undefined;
  }

  all(): SmartProcessType[] {
    return [...this.#types.values()];
  }
}

// ---- item fields ----

export interface ItemFieldSpec {
  camel: string;
  upper: string;
  /** The type crm.item.fields reports. */
  type: string;
  /** The comparison filter.ts applies. */
  filterType: FieldType;
  title: string;
  readOnly: boolean;
  multiple: boolean;
}

type Row = [camel: string, upper: string, type: string, filterType: FieldType, title: string, flags?: 'ro' | 'multi'];

/** The fields of every SPA item, as crm-item-fields.md lists them for an SPA (parent links and user fields aside). */
const ROWS: Row[] = [
  ['id', 'ID', 'integer', 'integer', 'ID', 'ro'],
  ['xmlId', 'XML_ID', 'string', 'string', 'External code'],
  ['title', 'TITLE', 'string', 'string', 'Name'],
  ['createdBy', 'CREATED_BY', 'user', 'user', 'Created by', 'ro'],
  ['updatedBy', 'UPDATED_BY', 'user', 'user', 'Updated by', 'ro'],
  ['movedBy', 'MOVED_BY', 'user', 'user', 'Moved by', 'ro'],
  ['createdTime', 'CREATED_TIME', 'datetime', 'datetime', 'Created at', 'ro'],
  ['updatedTime', 'UPDATED_TIME', 'datetime', 'datetime', 'Updated at', 'ro'],
  ['movedTime', 'MOVED_TIME', 'datetime', 'datetime', 'Moved at', 'ro'],
  ['categoryId', 'CATEGORY_ID', 'crm_category', 'crm_category', 'Pipeline'],
  ['opened', 'OPENED', 'boolean', 'char', 'Publicly available'],
  ['stageId', 'STAGE_ID', 'crm_status', 'crm_status', 'Stage'],
  ['previousStageId', 'PREVIOUS_STAGE_ID', 'crm_status', 'crm_status', 'Previous stage', 'ro'],
  ['begindate', 'BEGINDATE', 'date', 'date', 'Start date'],
  ['closedate', 'CLOSEDATE', 'date', 'date', 'End date'],
  ['companyId', 'COMPANY_ID', 'crm_company', 'crm_company', 'Company'],
  ['contactId', 'CONTACT_ID', 'crm_contact', 'crm_contact', 'Contact'],
  ['contactIds', 'CONTACT_IDS', 'crm_contact', 'crm_contact', 'Contacts', 'multi'],
  ['opportunity', 'OPPORTUNITY', 'double', 'double', 'Amount'],
  ['isManualOpportunity', 'IS_MANUAL_OPPORTUNITY', 'boolean', 'char', 'Manual amount'],
  ['taxValue', 'TAX_VALUE', 'double', 'double', 'Tax'],
  ['currencyId', 'CURRENCY_ID', 'crm_currency', 'crm_currency', 'Currency'],
  ['mycompanyId', 'MYCOMPANY_ID', 'crm_company', 'crm_company', 'Your company details'],
  ['sourceId', 'SOURCE_ID', 'crm_status', 'crm_status', 'Source'],
  ['sourceDescription', 'SOURCE_DESCRIPTION', 'text', 'string', 'Source information'],
  ['webformId', 'WEBFORM_ID', 'integer', 'integer', 'Created by CRM form'],
  ['assignedById', 'ASSIGNED_BY_ID', 'user', 'user', 'Assigned to'],
  ['lastActivityBy', 'LAST_ACTIVITY_BY', 'user', 'user', 'Last activity by', 'ro'],
  ['lastActivityTime', 'LAST_ACTIVITY_TIME', 'datetime', 'datetime', 'Last activity', 'ro'],
  ['observers', 'OBSERVERS', 'user', 'user', 'Observers', 'multi'],
];

export const ITEM_FIELDS: readonly ItemFieldSpec[] = ROWS.map(([camel, upper, type, filterType, title, flag]) => ({
  camel,
  upper,
  type,
  filterType,
  title,
  readOnly: flag === 'ro',
  multiple: flag === 'multi',
}));
const BY_CAMEL = new Map(ITEM_FIELDS.map((spec) => [spec.camel, spec]));
const NUMERIC = new Set(['integer', 'double', 'user', 'crm_category', 'crm_company', 'crm_contact']);

/** The filter/order field of a camelCase name, or undefined. */
export function itemFilterField(name: string): FilterField | undefined {
  const spec = BY_CAMEL.get(name);
  if (!spec) return undefined;
  return { name: spec.upper, type: spec.filterType, kind: spec.multiple ? 'array' : 'scalar' };
}

export interface ItemWriteContext {
  nowMs: number;
  userId: number;
  timeZone: string;
}

function normalize(spec: ItemFieldSpec, raw: unknown, timeZone: string): string | null | undefined {
  if (raw === null || raw === undefined || raw === '') return null;
  if (typeof raw === 'object') return undefined;
  if (spec.type === 'boolean') return raw === true || raw === 'Y' || raw === 'y' || raw === 1 || raw === '1' ? 'Y' : 'N';
  if (spec.type === 'date' || spec.type === 'datetime') {
    const ms = parseDateInput(raw, timeZone);
    if (Number.isNaN(ms)) return undefined;
    return spec.type === 'date' ? dateInZone(ms, timeZone) : isoInZone(ms, timeZone);
  }
  if (NUMERIC.has(spec.type)) {
    const value = Number(raw);
    if (!Number.isFinite(value)) return undefined;
    return spec.type === 'double' ? String(value) : String(Math.trunc(value));
  }
  return String(raw);
}

function ids(raw: unknown): number[] {
  const list = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? Object.values(raw as object) : raw === undefined || raw === null || raw === '' ? [] : [raw];
  return [...new Set(list.map(Number).filter((value) => Number.isInteger(value) && value > 0))];
}

/** Applies camelCase `fields` to `record`; unknown and read-only fields are ignored. Returns whether the stage moved. */
export function applyItemFields(record: CrmRecord, fields: Record<string, unknown>, ctx: ItemWriteContext, isNew: boolean): void {
  const previousStage = record.fields.STAGE_ID;
  for (const [key, raw] of Object.entries(fields)) {
    const spec = BY_CAMEL.get(key);
    if (!spec || spec.readOnly) continue;
    // the pipeline is chosen on add; moving between pipelines is not emulated
    if (!isNew && spec.camel === 'categoryId') continue;
    if (spec.multiple) {
      record.links[spec.upper] = ids(raw);
      continue;
    }
    const value = normalize(spec, raw, ctx.timeZone);
    if (value !== undefined) record.fields[spec.upper] = value;
  }
  const contacts = record.links.CONTACT_IDS ?? [];
  if ('contactIds' in fields) record.fields.CONTACT_ID = contacts.length > 0 ? String(contacts[0]) : null;
  else if ('contactId' in fields) record.links.CONTACT_IDS = record.fields.CONTACT_ID ? [Number(record.fields.CONTACT_ID)] : [];
  const now = isoInZone(ctx.nowMs, ctx.timeZone);
  record.fields.UPDATED_TIME = now;
  record.fields.UPDATED_BY = String(ctx.userId);
  if (!isNew && record.fields.STAGE_ID !== previousStage) {
    record.fields.PREVIOUS_STAGE_ID = previousStage ?? null;
    record.fields.MOVED_TIME = now;
    record.fields.MOVED_BY = String(ctx.userId);
  }
}

/** A new item with the defaults of a fresh SPA item; `fields` applied on top. */
export function newItem(type: SmartProcessType, fields: Record<string, unknown>, ctx: ItemWriteContext): CrmRecord {
  const id = type.items.allocateId();
  const now = isoInZone(ctx.nowMs, ctx.timeZone);
  const user = String(ctx.userId);
  const values: Record<string, string | null> = {};
  for (const spec of ITEM_FIELDS) if (!spec.multiple) values[spec.upper] = null;
  const categoryId = Number(fields.categoryId) > 0 ? Math.trunc(Number(fields.categoryId)) : type.defaultCategoryId;
  Object.assign(values, {
    ID: String(id),
    CREATED_BY: user,
    UPDATED_BY: user,
    MOVED_BY: user,
    CREATED_TIME: now,
    UPDATED_TIME: now,
    MOVED_TIME: now,
    CATEGORY_ID: String(categoryId),
    OPENED: 'Y',
    STAGE_ID: `DT${type.entityTypeId}_${categoryId}:NEW`,
    OPPORTUNITY: '0',
    IS_MANUAL_OPPORTUNITY: 'N',
    TAX_VALUE: '0',
    CURRENCY_ID: 'USD',
    ASSIGNED_BY_ID: user,
    COMPANY_ID: '0',
    CONTACT_ID: null,
    MYCOMPANY_ID: '0',
    WEBFORM_ID: '0',
    LAST_ACTIVITY_BY: user,
    LAST_ACTIVITY_TIME: now,
  });
  if (type.flags.isBeginCloseDatesEnabled === 'Y') {
    values.BEGINDATE = dateInZone(ctx.nowMs, ctx.timeZone);
    values.CLOSEDATE = dateInZone(ctx.nowMs + 7 * 86_400_000, ctx.timeZone);
  }
  const record: CrmRecord = { id, fields: values, links: { CONTACT_IDS: [], OBSERVERS: [] }, fm: [] };
  applyItemFields(record, fields, ctx, true);
  record.fields.UPDATED_TIME = now;
  // an untitled item gets the type's name and its number (UNCONFIRMED wording)
  if (!record.fields.TITLE) record.fields.TITLE = `${type.title} #${id}`;
  record.fields = { ...record.fields };
  return record;
}

/** An item in crm.item form: ids and amounts as numbers, flags "Y"/"N" (crm-item-get.md). */
export function itemAnswer(type: SmartProcessType, record: CrmRecord, select: string[] | null): Record<string, unknown> {
  const wanted = select === null || select.includes('*') ? null : new Set(select);
  const out: Record<string, unknown> = {};
  for (const spec of ITEM_FIELDS) {
    if (wanted && !wanted.has(spec.camel) && spec.camel !== 'id') continue;
    if (spec.multiple) {
      out[spec.camel] = [...(record.links[spec.upper] ?? [])];
      continue;
    }
    const value = record.fields[spec.upper] ?? null;
    out[spec.camel] = value !== null && NUMERIC.has(spec.type) ? Number(value) : value;
  }
  if (!wanted || wanted.has('entityTypeId')) out.entityTypeId = type.entityTypeId;
  return out;
}

/** crm.item.fields of an SPA (crm-item-fields.md): the description of each field with its `upperName`. */
export function itemFieldsAnswer(): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const spec of ITEM_FIELDS) {
    fields[spec.camel] = {
      type: spec.type,
      isRequired: spec.camel === 'opened',
      isReadOnly: spec.readOnly,
      isImmutable: false,
      isMultiple: spec.multiple,
      isDynamic: false,
      title: spec.title,
      upperName: spec.upper,
    };
  }
  return fields;
}
