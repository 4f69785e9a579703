import { RestError } from '../rest-error.js';
import type { CrmEntity } from './fields.js';

/**
 * CRM errors with the documented texts. Legacy methods answer `error: ""` (docs/protocol.md §4.4);
 * crm.item.* answers Main-engine codes (`NOT_FOUND`, `100`, `INVALID_ARG_VALUE`).
 */
export const crmErrors = {
  /** D:api-reference/crm/deals/crm-deal-get.md and siblings. */
  idInvalid: () => new RestError(400, '', 'ID is not defined or invalid.'),
  notFound: () => new RestError(400, '', 'Not found'),
  mustBeArray: (param: string) => new RestError(400, '', `Parameter '${param}' must be array.`),
  /** D:…/crm-deal-productrows-get.md. */
  productRowsIdInvalid: () => new RestError(400, '', 'The parameter id is invalid or not defined.'),
  invalidCurrency: () => new RestError(400, '', 'Invalid value for the "Currency" field'),
  invalidEmail: (label: string) => new RestError(400, 'ERROR_CORE', `The field "${label}" contains an invalid address`),
  productRow: (description: string) => new RestError(400, 'ERROR_CORE', `${description}<br>`),

  /** D:api-reference/crm/universal/crm-item-*.md. */
  smartProcessNotFound: () => new RestError(400, 'NOT_FOUND', 'Smart process not found'),
  itemNotFound: () => new RestError(400, 'NOT_FOUND', 'Item not found'),
  /** Main engine parameter binding: the code is the number 100 on the wire. */
  missingParameter: (name: string) => new RestError(400, '100', `Could not find value for parameter {${name}}`, { error: 100 }),
  parameterType: (name: string, value: unknown, type: 'int' | 'array') =>
    new RestError(400, '100', `Invalid value ${JSON.stringify(value)} to match with parameter {${name}}. Should be value of type ${type}.`, { error: 100 }),
  invalidFilterField: (field: string) => new RestError(400, 'INVALID_ARG_VALUE', `Invalid filter: field '${field}' is not allowed in filter`),
  invalidOrderField: (field: string) => new RestError(400, 'INVALID_ARG_VALUE', `Invalid order: field '${field}' is not allowed in order`),
  invalidOrderDirection: (field: string, value: unknown) =>
    new RestError(400, 'INVALID_ARG_VALUE', `Invalid order: allowed sort directions are ASC, DESC. But got '${String(value)}' for field '${field}'`),

  /** D:api-reference/crm/duplicates/crm-duplicate-find-by-comm.md: the message is the `error` value. */
  communicationTypeMissing: () => new RestError(400, 'Communication type is not defined', "Parameter 'type' is required."),
  communicationTypeUnsupported: (type: string) =>
    new RestError(400, `Communication type '${type}' is not supported in current context`, "Parameter 'type' is invalid."),
  communicationValuesMissing: () => new RestError(400, 'Communication values is not defined', "Parameter 'values' is required."),
  /** UNCONFIRMED text: the docs give the limit (20) but not the error. */
  communicationValuesTooMany: () => new RestError(400, '', 'Too many communication values. The maximum is 20.'),
} as const;

/** `update` of a missing row: the texts differ per entity (D:api-reference/crm/*\/crm-*-update.md). */
export function updateNotFound(entity: CrmEntity): RestError {
  if (entity === 'contact') return new RestError(400, '', 'Contact is not found');
  if (entity === 'company') return new RestError(400, '', 'Company is not found');
  return crmErrors.notFound();
}

/** `delete` of a missing row (D:api-reference/crm/*\/crm-*-delete.md). */
export function deleteNotFound(entity: CrmEntity): RestError {
  if (entity === 'contact') return new RestError(400, 'ERROR_CORE', 'Element not found');
  if (entity === 'company') return new RestError(400, '', 'Company is not found');
  return crmErrors.notFound();
}
