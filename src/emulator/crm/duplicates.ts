import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import { crmErrors } from './errors.js';
import { pick } from './params.js';
import type { CrmEntity } from './fields.js';
import { RestError } from '../rest-error.js';

/**
 * crm.duplicate.findbycomm (docs/protocol.md §6.4, D:api-reference/crm/duplicates/crm-duplicate-find-by-comm.md):
 * IDs of leads, contacts and companies holding any of ≤ 20 e-mails or phones.
 */

const MAX_VALUES = 20;
/** Types are searched in this order; once one has ≥ 20 matches the later ones are not returned. */
const SEARCH_ORDER: Array<[key: 'LEAD' | 'CONTACT' | 'COMPANY', entity: CrmEntity]> = [
  ['LEAD', 'lead'],
  ['CONTACT', 'contact'],
  ['COMPANY', 'company'],
];

/** Phone comparison ignores formatting and extensions ("+1 (555) 010-20 ext. 7" ≡ "15550102 0"). */
export function phoneKey(value: string): string {
  const main = value.split(/\s*(?:ext\.?|доб\.?|#|x|,|;)\s*/i)[0] ?? '';
  return main.replace(/\D/g, '');
}

function emailKey(value: string): string {
  return value.trim().toLowerCase();
}

function findByComm(ctx: MethodContext): MethodResult {
  const rawType = pick(ctx.params, 'type');
  if (rawType === undefined || rawType === null || rawType === '') throw crmErrors.communicationTypeMissing();
  const type = String(rawType).toUpperCase();
  if (type !== 'EMAIL' && type !== 'PHONE') throw crmErrors.communicationTypeUnsupported(String(rawType));
  const rawValues = pick(ctx.params, 'values');
  const values = rawValues !== null && typeof rawValues === 'object' ? Object.values(rawValues).map(String).filter((value) => value.trim() !== '') : [];
  if (values.length === 0) throw crmErrors.communicationValuesMissing();
  if (values.length > MAX_VALUES) throw crmErrors.communicationValuesTooMany();
  const rawEntity = pick(ctx.params, 'entity_type');
  let targets = SEARCH_ORDER;
  if (rawEntity !== undefined && rawEntity !== null && rawEntity !== '') {
    const wanted = String(rawEntity).toUpperCase();
    targets = SEARCH_ORDER.filter(([key]) => key === wanted);
    // UNCONFIRMED: the docs list only LEAD/CONTACT/COMPANY and give no error for others
    if (targets.length === 0) throw new RestError(400, '', `Entity type '${String(rawEntity)}' is not supported in current context`);
  }

  const normalize = type === 'EMAIL' ? emailKey : phoneKey;
  const keys = new Set(values.map(normalize).filter((key) => key !== ''));
  const result: Record<string, number[]> = {};
  let returned = 0;
  for (const [key, entity] of targets) {
    const ids: number[] = [];
    for (const record of ctx.portal.crm.table(entity).rows.values()) {
      if (record.fm.some((item) => item.typeId === type && keys.has(normalize(item.value)))) {
        ids.push(record.id);
        if (ids.length >= MAX_VALUES) break;
      }
    }
    if (ids.length > 0) result[key] = ids;
    returned += ids.length;
    if (ids.length >= MAX_VALUES) break;
  }
  ctx.work.rowsReturned = returned;
  // an empty PHP array is serialized as [] (docs/protocol.md §5.3 shows the same for batch)
  return { result: Object.keys(result).length > 0 ? result : [] };
}

export function registerDuplicateMethods(registry: MethodRegistry): void {
  registry.define('crm.duplicate.findbycomm', { scope: 'crm', handler: findByComm });
}
