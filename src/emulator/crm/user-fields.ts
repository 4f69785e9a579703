import type { CrmEntity, FieldType } from './fields.js';
import type { FilterField } from './filter.js';
import { dateInZone, isoInZone, parseDateInput } from './dates.js';

/**
 * CRM user fields (`UF_CRM_*`) declared with `crm.{lead,deal,contact,company}.userfield.add`
 * (D:api-reference/crm/deals/user-defined-fields/crm-deal-userfield-add.md and its contact, company
 * and lead twins). A declared field types the values the entity methods accept, filter and return.
 */

/** `USER_TYPE_ID` values the add page lists. */
export const USER_FIELD_TYPES = [
  'string',
  'integer',
  'double',
  'boolean',
  'datetime',
  'date',
  'money',
  'url',
  'address',
  'enumeration',
  'file',
  'employee',
  'crm_status',
  'iblock_section',
  'iblock_element',
  'crm',
] as const;
export type UserFieldType = (typeof USER_FIELD_TYPES)[number];

export function isUserFieldType(value: string): value is UserFieldType {
  return (USER_FIELD_TYPES as readonly string[]).includes(value);
}

/** `ENTITY_ID` of each entity's user fields (crm-deal-userfield-list.md: `CRM_DEAL`). */
export const USER_FIELD_ENTITY_IDS: Record<CrmEntity, string> = { deal: 'CRM_DEAL', contact: 'CRM_CONTACT', company: 'CRM_COMPANY', lead: 'CRM_LEAD' };

/** One `LIST` item of an enumeration field (`uf_enum_element`). */
export interface EnumItem {
  ID: string;
  SORT: string;
  VALUE: string;
  DEF: 'Y' | 'N';
  XML_ID: string;
}

export interface UserFieldDefinition {
  id: number;
  entity: CrmEntity;
  /** Full name, `UF_CRM_…`. */
  fieldName: string;
  type: UserFieldType;
  xmlId: string | null;
  sort: number;
  multiple: boolean;
  mandatory: boolean;
  showFilter: string;
  showInList: string;
  editInList: string;
  isSearchable: string;
  settings: Record<string, unknown>;
  labels: Record<'EDIT_FORM_LABEL' | 'LIST_COLUMN_LABEL' | 'LIST_FILTER_LABEL' | 'ERROR_MESSAGE' | 'HELP_MESSAGE', string | null>;
  list: EnumItem[];
}

/** The portal's user fields. IDs are shared by all entities, as in the portal's one b_user_field table. */
export class UserFieldStore {
  readonly #byId = new Map<number, UserFieldDefinition>();
  #nextId = 1;
  #nextEnumId = 1;

  allocateId(): number {
    return this.#nextId++;
  }

  allocateEnumId(): number {
    return this.#nextEnumId++;
  }

  add(definition: UserFieldDefinition): void {
    this.#byId.set(definition.id, definition);
  }

  delete(id: number): boolean {
    return this.#byId.delete(id);
  }

  byId(id: number): UserFieldDefinition | undefined {
    return this.#byId.get(id);
  }

  /** The declared field `name` (`UF_CRM_…`) of `entity`, if any. */
  get(entity: CrmEntity, name: string): UserFieldDefinition | undefined {
    for (const definition of this.#byId.values()) if (definition.entity === entity && definition.fieldName === name) return definition;
    return undefined;
  }

  of(entity: CrmEntity): UserFieldDefinition[] {
    return [...this.#byId.values()].filter((definition) => definition.entity === entity);
  }
}

/** `FIELD_NAME` → full name: `X` → `UF_CRM_X`, `UF_X` → `UF_CRM_X`, `UF_CRM_X` unchanged; upper-cased (crm-deal-userfield-add.md). */
export function fullFieldName(raw: string): string {
  const upper = raw.toUpperCase();
  if (upper.startsWith('UF_CRM_')) return upper;
  if (upper.startsWith('UF_')) return `UF_CRM_${upper.slice(3)}`;
  return `UF_CRM_${upper}`;
}

function booleanValue(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') return raw >= 1;
  const text = String(raw).trim().toUpperCase();
  return text === 'Y' || text === 'TRUE' || (/^\d+$/.test(text) && Number(text) >= 1);
}

/** One value in its typed wire form; null when the portal would store nothing. */
function singleValue(definition: UserFieldDefinition, raw: unknown, timeZone: string): unknown {
  if (raw === null || raw === undefined || raw === '') return definition.type === 'boolean' ? false : null;
  if (typeof raw === 'object') return null;
  switch (definition.type) {
    case 'integer': {
      const value = Number(raw);
      return Number.isFinite(value) ? Math.trunc(value) : null;
    }
    case 'double': {
      const value = Number(raw);
      return Number.isFinite(value) ? value : null;
    }
    case 'boolean':
      return booleanValue(raw);
    case 'date':
    case 'datetime': {
      const ms = parseDateInput(raw, timeZone);
      if (Number.isNaN(ms)) return null;
      return definition.type === 'date' ? dateInZone(ms, timeZone) : isoInZone(ms, timeZone);
    }
    case 'enumeration': {
      // the value is a LIST item ID; anything else stores nothing (UNCONFIRMED: the portal may refuse it)
      const item = definition.list.find((entry) => entry.ID === String(raw).trim());
      return item ? item.ID : null;
    }
    default:
      return String(raw);
  }
}

/** A value as sent to an entity method, typed by its declaration: a list for a multiple field. */
export function userFieldValue(definition: UserFieldDefinition, raw: unknown, timeZone: string): unknown {
  if (!definition.multiple) return singleValue(definition, Array.isArray(raw) ? raw[0] : raw, timeZone);
  const list = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? Object.values(raw as object) : raw === undefined || raw === null || raw === '' ? [] : [raw];
  return list.map((item) => singleValue(definition, item, timeZone)).filter((item) => item !== null);
}

const FILTER_TYPES: Partial<Record<UserFieldType, FieldType>> = {
  integer: 'integer',
  double: 'double',
  boolean: 'char',
  date: 'date',
  datetime: 'datetime',
  enumeration: 'integer',
  employee: 'user',
};

/** The filter field of a declared user field: typed comparisons; a multiple field matches any value. */
export function userFieldFilterField(definition: UserFieldDefinition): FilterField {
  return { name: definition.fieldName, type: FILTER_TYPES[definition.type] ?? 'string', kind: definition.multiple ? 'array' : 'scalar' };
}

/** The entry of `crm.*.fields` (crm-company-fields.md: `isDynamic: true`, title = the field name, the labels). */
export function userFieldDescription(definition: UserFieldDefinition): Record<string, unknown> {
  const label = (name: 'LIST_COLUMN_LABEL' | 'EDIT_FORM_LABEL' | 'LIST_FILTER_LABEL') => definition.labels[name] ?? definition.fieldName;
  return {
    type: definition.type,
    isRequired: definition.mandatory,
    isReadOnly: false,
    isImmutable: false,
    isMultiple: definition.multiple,
    isDynamic: true,
    title: definition.fieldName,
    listLabel: label('LIST_COLUMN_LABEL'),
    formLabel: label('EDIT_FORM_LABEL'),
    filterLabel: label('LIST_FILTER_LABEL'),
    settings: definition.settings,
    ...(definition.type === 'enumeration' ? { items: definition.list.map((item) => ({ ID: item.ID, VALUE: item.VALUE })) } : {}),
  };
}
