import type { Params } from '../methods/registry.js';
import { crmErrors } from './errors.js';
import { CATALOGS, isMultiFieldType, isUserField, type CrmEntity, type MultiFieldType } from './fields.js';
import type { FilterField, FilterSchema, OrderSchema } from './filter.js';
import type { LegacyProjection } from './records.js';
import { userFieldFilterField, type UserFieldStore } from './user-fields.js';

/** A param in either case: legacy CRM methods take `id`/`ID`, `fields`/`FIELDS` (docs/protocol.md §4.2). */
export function pick(params: Params, name: string): unknown {
  if (name in params) return params[name];
  const upper = name.toUpperCase();
  if (upper in params) return params[upper];
  const lower = name.toLowerCase();
  return lower in params ? params[lower] : undefined;
}

/** A positive integer ID from a number or a digits-only string; undefined otherwise. */
export function positiveId(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isInteger(raw) && raw > 0 ? raw : undefined;
  if (typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) {
    const value = Number(raw);
    return value > 0 && Number.isSafeInteger(value) ? value : undefined;
  }
  return undefined;
}

/**
 * An object param (PHP "array"): JSON objects and arrays pass, a missing or empty-string value is
 * `fallback`, anything else is the documented "Parameter 'x' must be array." error.
 */
export function objectParam(params: Params, name: string, fallback: Record<string, unknown> | undefined): Record<string, unknown> {
  const raw = pick(params, name);
  if ((raw === undefined || raw === '') && fallback) return fallback;
  if (raw !== null && typeof raw === 'object') return Array.isArray(raw) ? { ...raw } : (raw as Record<string, unknown>);
  throw crmErrors.mustBeArray(name);
}

function selectList(raw: unknown): string[] {
  if (raw === undefined || raw === null || raw === '') return [];
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw === 'object') return Object.values(raw).map(String);
  return [String(raw)];
}

/**
 * Legacy `select`: default `*` + `UF_*`; `*` is the standard fields without multi-fields;
 * EMAIL/PHONE/WEB/IM only when named (docs/protocol.md §6.4). ID always comes back.
 */
export function legacyProjection(entity: CrmEntity, raw: unknown): LegacyProjection {
  const list = selectList(raw);
  if (list.length === 0) return { all: true, userFields: true, names: new Set(), multi: [] };
  const projection: LegacyProjection = { all: false, userFields: false, names: new Set(['ID']), multi: [] };
  const hasMulti = CATALOGS[entity].hasMultiFields;
  for (const item of list) {
    const name = item.toUpperCase();
    if (name === '*') projection.all = true;
    else if (name === 'UF_*') projection.userFields = true;
    else if (isMultiFieldType(name)) {
      if (hasMulti && !projection.multi.includes(name)) projection.multi.push(name);
    } else projection.names.add(name);
  }
  return projection;
}

/** Filter/order fields of legacy lists: exact UPPER_SNAKE names; unknown keys are ignored. */
export function legacyFieldResolver(entity: CrmEntity, userFields?: UserFieldStore): (name: string) => FilterField | undefined {
  const catalog = CATALOGS[entity];
  return (name) => {
    if (isUserField(name)) {
      // a declared field filters by its type (user-fields.ts); an undeclared one as a string
      const declared = userFields?.get(entity, name);
      return declared ? userFieldFilterField(declared) : { name, type: 'string', kind: 'scalar' };
    }
    const spec = catalog.byName.get(name);
    if (!spec) return undefined;
    if (spec.type === 'crm_multifield') return { name: spec.name as MultiFieldType, type: 'string', kind: 'multi' };
    // CONTACT_IDS is not supported in crm.deal.list filter (D:api-reference/crm/deals/crm-deal-list.md)
    if (spec.multiple) return undefined;
    if (entity === 'deal' && spec.name === 'CONTACT_ID') return { name: 'CONTACT_IDS', type: spec.type, kind: 'array' };
    return { name: spec.name, type: spec.type, kind: 'scalar' };
  };
}

export function legacyFilterSchema(entity: CrmEntity, userFields?: UserFieldStore): FilterSchema {
  return { resolve: legacyFieldResolver(entity, userFields), onUnknown: () => {} };
}

export function legacyOrderSchema(entity: CrmEntity, userFields?: UserFieldStore): OrderSchema {
  return { resolve: legacyFieldResolver(entity, userFields), onUnknown: () => {}, onBadDirection: () => {} };
}

/** crm.item filter/order fields: camelCase names; unknown ones are errors (D:api-reference/crm/universal/crm-item-list.md). */
export function itemFieldResolver(entity: CrmEntity, userFields?: UserFieldStore): (name: string) => FilterField | undefined {
  const catalog = CATALOGS[entity];
  return (name) => {
    if (/^ufCrm_[A-Za-z0-9_]+$/.test(name)) {
      const upper = `UF_CRM_${name.slice('ufCrm_'.length).toUpperCase()}`;
      const declared = userFields?.get(entity, upper);
      return declared ? userFieldFilterField(declared) : { name: upper, type: 'string', kind: 'scalar' };
    }
    const spec = catalog.byCamel.get(name);
    if (!spec || spec.type === 'crm_multifield') return undefined;
    if (spec.multiple) return { name: spec.name, type: spec.type, kind: 'array' };
    if (entity === 'deal' && spec.name === 'CONTACT_ID') return { name: 'CONTACT_IDS', type: spec.type, kind: 'array' };
    return { name: spec.name, type: spec.type, kind: 'scalar' };
  };
}

export function itemFilterSchema(entity: CrmEntity, userFields?: UserFieldStore): FilterSchema {
  return {
    resolve: itemFieldResolver(entity, userFields),
    onUnknown: (name) => {
      throw crmErrors.invalidFilterField(name);
    },
  };
}

export function itemOrderSchema(entity: CrmEntity): OrderSchema {
  return {
    resolve: itemFieldResolver(entity),
    onUnknown: (name) => {
      throw crmErrors.invalidOrderField(name);
    },
    onBadDirection: (name, value) => {
      throw crmErrors.invalidOrderDirection(name, value);
    },
  };
}
