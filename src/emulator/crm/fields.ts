/**
 * Field catalogues of the four classic CRM entities, as `crm.{entity}.fields` describes them
 * (D:api-reference/crm/{deals,contacts,companies,leads}/crm-*-fields.md and the `*.get` examples).
 * One spec per field drives storage normalization, legacy output, `crm.item.*` camelCase names,
 * filter typing and the `fields` answer.
 */

export type CrmEntity = 'deal' | 'contact' | 'company' | 'lead';

export const CRM_ENTITIES: readonly CrmEntity[] = ['lead', 'deal', 'contact', 'company'];

/** entityTypeId of crm.item.* (docs/protocol.md §6.1). */
export const ENTITY_TYPE_IDS: Record<CrmEntity, number> = { lead: 1, deal: 2, contact: 3, company: 4 };

export function entityByTypeId(entityTypeId: number): CrmEntity | undefined {
  return CRM_ENTITIES.find((entity) => ENTITY_TYPE_IDS[entity] === entityTypeId);
}

export type FieldType =
  | 'integer'
  | 'double'
  | 'string'
  | 'char'
  | 'date'
  | 'datetime'
  | 'user'
  | 'file'
  | 'location'
  | 'crm_status'
  | 'crm_category'
  | 'crm_currency'
  | 'crm_company'
  | 'crm_contact'
  | 'crm_lead'
  | 'crm_quote'
  | 'crm_multifield';

export interface FieldSpec {
  /** UPPER_SNAKE name of the legacy methods. */
  name: string;
  /** camelCase name of crm.item.*. */
  camel: string;
  type: FieldType;
  title: string;
  readOnly: boolean;
  immutable: boolean;
  multiple: boolean;
  /** crm.status ENTITY_ID the values come from. */
  statusType?: string;
}

/** Multi-field types (D:api-reference/crm/data-types.md#crm_multifield). */
export const MULTI_FIELD_TYPES = ['PHONE', 'EMAIL', 'WEB', 'IM'] as const;
export type MultiFieldType = (typeof MULTI_FIELD_TYPES)[number];

export function isMultiFieldType(name: string): name is MultiFieldType {
  return (MULTI_FIELD_TYPES as readonly string[]).includes(name);
}

/** Types whose values are identifiers: numeric comparison, and LIKE does not apply (docs/protocol.md §6.2). */
const ID_LIKE_TYPES = new Set<FieldType>(['integer', 'user', 'crm_status', 'crm_category', 'crm_currency', 'crm_company', 'crm_contact', 'crm_lead', 'crm_quote', 'file', 'location']);
const NUMERIC_TYPES = new Set<FieldType>(['integer', 'double', 'user', 'crm_category', 'crm_company', 'crm_contact', 'crm_lead', 'crm_quote', 'file']);

export function isNumericType(type: FieldType): boolean {
  return NUMERIC_TYPES.has(type);
}

/** LIKE filters do not work on status/ID-type fields (D:api-reference/crm/deals/crm-deal-list.md). */
export function likeAllowed(type: FieldType): boolean {
  return !ID_LIKE_TYPES.has(type);
}

type Flag = 'ro' | 'imm' | 'multi';
type Row = [name: string, type: FieldType, title: string, flags?: Flag[] | string, extra?: string];

/** UPPER_SNAKE → camelCase; exceptions are the renames crm.item.* makes (D:api-reference/crm/universal/object-fields.md). */
const CAMEL_EXCEPTIONS: Record<string, string> = {
  DATE_CREATE: 'createdTime',
  DATE_MODIFY: 'updatedTime',
  CREATED_BY_ID: 'createdBy',
  MODIFY_BY_ID: 'updatedBy',
  MOVED_BY_ID: 'movedBy',
  STATUS_SEMANTIC_ID: 'stageSemanticId',
  COMPANY_TYPE: 'typeId',
  BEGINDATE: 'begindate',
  CLOSEDATE: 'closedate',
  BIRTHDATE: 'birthdate',
};

export function toCamel(name: string, entity?: CrmEntity): string {
  if (entity === 'lead' && name === 'STATUS_ID') return 'stageId';
  const exception = CAMEL_EXCEPTIONS[name];
  if (exception) return exception;
  if (name.startsWith('UF_CRM_')) return `ufCrm_${name.slice('UF_CRM_'.length)}`;
  return name
    .toLowerCase()
    .split('_')
    .map((part, index) => (index === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('');
}

function build(entity: CrmEntity, rows: Row[]): FieldSpec[] {
  return rows.map(([name, type, title, flags, extra]) => {
    const list = Array.isArray(flags) ? flags : [];
    const statusType = typeof flags === 'string' ? flags : extra;
    return {
      name,
      camel: toCamel(name, entity),
      type,
      title,
      readOnly: list.includes('ro'),
      immutable: list.includes('imm'),
      multiple: list.includes('multi') || type === 'crm_multifield',
      ...(statusType ? { statusType } : {}),
    };
  });
}

const UTM: Row[] = [
  ['UTM_SOURCE', 'string', 'Advertising System'],
  ['UTM_MEDIUM', 'string', 'Traffic Type'],
  ['UTM_CAMPAIGN', 'string', 'Campaign Identifier'],
  ['UTM_CONTENT', 'string', 'Campaign Content'],
  ['UTM_TERM', 'string', 'Campaign Search Condition'],
];

const ACTIVITY: Row[] = [
  ['LAST_ACTIVITY_TIME', 'datetime', 'Last Activity', ['ro']],
  ['LAST_ACTIVITY_BY', 'user', 'Last Activity By', ['ro']],
];

function address(prefix: string, title: string): Row[] {
  return [
    [`${prefix}`, 'string', `${title}`],
    [`${prefix}_2`, 'string', `${title} (line 2)`],
    [`${prefix}_CITY`, 'string', 'City'],
    [`${prefix}_POSTAL_CODE`, 'string', 'Zip'],
    [`${prefix}_REGION`, 'string', 'Region'],
    [`${prefix}_PROVINCE`, 'string', 'State / Province'],
    [`${prefix}_COUNTRY`, 'string', 'Country'],
    [`${prefix}_COUNTRY_CODE`, 'string', 'Country Code'],
    [`${prefix}_LOC_ADDR_ID`, 'integer', 'Location address ID', ['ro']],
  ];
}

const MULTI: Row[] = [
  ['PHONE', 'crm_multifield', 'Phone'],
  ['EMAIL', 'crm_multifield', 'E-mail'],
  ['WEB', 'crm_multifield', 'Website'],
  ['IM', 'crm_multifield', 'Messenger'],
];

const DEAL: Row[] = [
  ['ID', 'integer', 'ID', ['ro']],
  ['TITLE', 'string', 'Title'],
  ['TYPE_ID', 'crm_status', 'Type', 'DEAL_TYPE'],
  ['CATEGORY_ID', 'crm_category', 'Sales Funnel', ['imm']],
  ['STAGE_ID', 'crm_status', 'Deal Stage', 'DEAL_STAGE'],
  ['STAGE_SEMANTIC_ID', 'string', 'Stage Group', ['ro']],
  ['IS_NEW', 'char', 'New Deal', ['ro']],
  ['IS_RECURRING', 'char', 'Recurring Deal'],
  ['IS_RETURN_CUSTOMER', 'char', 'Repeat Deal'],
  ['IS_REPEATED_APPROACH', 'char', 'Repeated Approach'],
  ['PROBABILITY', 'integer', 'Probability'],
  ['CURRENCY_ID', 'crm_currency', 'Currency'],
  ['OPPORTUNITY', 'double', 'Amount'],
  ['IS_MANUAL_OPPORTUNITY', 'char', 'IS_MANUAL_OPPORTUNITY'],
  ['TAX_VALUE', 'double', 'Tax Rate'],
  ['COMPANY_ID', 'crm_company', 'Company'],
  ['CONTACT_ID', 'crm_contact', 'Contact'],
  ['CONTACT_IDS', 'crm_contact', 'Contacts', ['multi']],
  ['QUOTE_ID', 'crm_quote', 'Estimate', ['ro']],
  ['BEGINDATE', 'date', 'Start Date'],
  ['CLOSEDATE', 'date', 'Close Date'],
  ['OPENED', 'char', 'Available to All'],
  ['CLOSED', 'char', 'Closed'],
  ['COMMENTS', 'string', 'Comment'],
  ['ASSIGNED_BY_ID', 'user', 'Responsible'],
  ['CREATED_BY_ID', 'user', 'Created By', ['ro']],
  ['MODIFY_BY_ID', 'user', 'Modified By', ['ro']],
  ['MOVED_BY_ID', 'user', 'MOVED_BY_ID', ['ro']],
  ['DATE_CREATE', 'datetime', 'Creation Date', ['ro']],
  ['DATE_MODIFY', 'datetime', 'Modification Date', ['ro']],
  ['MOVED_TIME', 'datetime', 'MOVED_TIME', ['ro']],
  ['SOURCE_ID', 'crm_status', 'Source', 'SOURCE'],
  ['SOURCE_DESCRIPTION', 'string', 'Additional Info about Source'],
  ['LEAD_ID', 'crm_lead', 'Lead', ['ro']],
  ['ADDITIONAL_INFO', 'string', 'Additional Information'],
  ['LOCATION_ID', 'location', 'Location'],
  ['ORIGINATOR_ID', 'string', 'External Source'],
  ['ORIGIN_ID', 'string', 'Identifier in External Source'],
  ...UTM,
  ...ACTIVITY,
];

const CONTACT: Row[] = [
  ['ID', 'integer', 'ID', ['ro']],
  ['HONORIFIC', 'crm_status', 'Salutation', 'HONORIFIC'],
  ['NAME', 'string', 'Name'],
  ['SECOND_NAME', 'string', 'Second Name'],
  ['LAST_NAME', 'string', 'Last Name'],
  ['PHOTO', 'file', 'Photo'],
  ['BIRTHDATE', 'date', 'Date of Birth'],
  ['TYPE_ID', 'crm_status', 'Contact Type', 'CONTACT_TYPE'],
  ['SOURCE_ID', 'crm_status', 'Source', 'SOURCE'],
  ['SOURCE_DESCRIPTION', 'string', 'Source Information'],
  ['POST', 'string', 'Position'],
  ['COMMENTS', 'string', 'Comment'],
  ['OPENED', 'char', 'Available to Everyone'],
  ['EXPORT', 'char', 'Included in Export'],
  ['HAS_PHONE', 'char', 'Has Phone', ['ro']],
  ['HAS_EMAIL', 'char', 'Has E-mail', ['ro']],
  ['HAS_IMOL', 'char', 'Has Open Channel', ['ro']],
  ['ASSIGNED_BY_ID', 'user', 'Responsible'],
  ['CREATED_BY_ID', 'user', 'Created By', ['ro']],
  ['MODIFY_BY_ID', 'user', 'Modified By', ['ro']],
  ['DATE_CREATE', 'datetime', 'Created On', ['ro']],
  ['DATE_MODIFY', 'datetime', 'Modified On', ['ro']],
  ['COMPANY_ID', 'crm_company', 'Company'],
  ['COMPANY_IDS', 'crm_company', 'Companies', ['multi']],
  ['LEAD_ID', 'crm_lead', 'Lead', ['ro']],
  ['ORIGINATOR_ID', 'string', 'External Source'],
  ['ORIGIN_ID', 'string', 'Identifier in External Source'],
  ['ORIGIN_VERSION', 'string', 'Original Version'],
  ['FACE_ID', 'integer', 'Face ID', ['ro']],
  ...address('ADDRESS', 'Address'),
  ...UTM,
  ...ACTIVITY,
  ...MULTI,
];

const COMPANY: Row[] = [
  ['ID', 'integer', 'ID', ['ro']],
  ['TITLE', 'string', 'Company Name'],
  ['COMPANY_TYPE', 'crm_status', 'Company Type', 'COMPANY_TYPE'],
  ['LOGO', 'file', 'Logo'],
  ['LEAD_ID', 'crm_lead', 'Lead', ['ro']],
  ['HAS_PHONE', 'char', 'Has Phone', ['ro']],
  ['HAS_EMAIL', 'char', 'Has E-mail', ['ro']],
  ['HAS_IMOL', 'char', 'Has Open Channel', ['ro']],
  ['ASSIGNED_BY_ID', 'user', 'Responsible'],
  ['CREATED_BY_ID', 'user', 'Created By', ['ro']],
  ['MODIFY_BY_ID', 'user', 'Modified By', ['ro']],
  ['BANKING_DETAILS', 'string', 'Payment Details'],
  ['INDUSTRY', 'crm_status', 'Industry', 'INDUSTRY'],
  ['REVENUE', 'double', 'Annual Revenue'],
  ['CURRENCY_ID', 'crm_currency', 'Currency'],
  ['EMPLOYEES', 'crm_status', 'Employees', 'EMPLOYEES'],
  ['COMMENTS', 'string', 'Comment'],
  ['DATE_CREATE', 'datetime', 'Created On', ['ro']],
  ['DATE_MODIFY', 'datetime', 'Modified On', ['ro']],
  ['OPENED', 'char', 'Available to Everyone'],
  ['IS_MY_COMPANY', 'char', 'My Company'],
  ['ORIGINATOR_ID', 'string', 'External Source'],
  ['ORIGIN_ID', 'string', 'Identifier in External Source'],
  ['ORIGIN_VERSION', 'string', 'Original Version'],
  ...address('ADDRESS', 'Address'),
  ['ADDRESS_LEGAL', 'string', 'Legal Address'],
  ...address('REG_ADDRESS', 'Legal Address'),
  ...UTM,
  ...ACTIVITY,
  ...MULTI,
];

const LEAD: Row[] = [
  ['ID', 'integer', 'ID', ['ro']],
  ['TITLE', 'string', 'Lead Name'],
  ['HONORIFIC', 'crm_status', 'Salutation', 'HONORIFIC'],
  ['NAME', 'string', 'Name'],
  ['SECOND_NAME', 'string', 'Second Name'],
  ['LAST_NAME', 'string', 'Last Name'],
  ['COMPANY_TITLE', 'string', 'Company Name'],
  ['COMPANY_ID', 'crm_company', 'Company'],
  ['CONTACT_ID', 'crm_contact', 'Contact'],
  ['IS_RETURN_CUSTOMER', 'char', 'Repeat Lead', ['ro']],
  ['BIRTHDATE', 'date', 'Date of Birth'],
  ['SOURCE_ID', 'crm_status', 'Source', 'SOURCE'],
  ['SOURCE_DESCRIPTION', 'string', 'Source Information'],
  ['STATUS_ID', 'crm_status', 'Stage', 'STATUS'],
  ['STATUS_DESCRIPTION', 'string', 'Stage Information'],
  ['POST', 'string', 'Position'],
  ['COMMENTS', 'string', 'Comment'],
  ['CURRENCY_ID', 'crm_currency', 'Currency'],
  ['OPPORTUNITY', 'double', 'Amount'],
  ['IS_MANUAL_OPPORTUNITY', 'char', 'IS_MANUAL_OPPORTUNITY'],
  ['HAS_PHONE', 'char', 'Has Phone', ['ro']],
  ['HAS_EMAIL', 'char', 'Has E-mail', ['ro']],
  ['HAS_IMOL', 'char', 'Has Open Channel', ['ro']],
  ['ASSIGNED_BY_ID', 'user', 'Responsible'],
  ['CREATED_BY_ID', 'user', 'Created By', ['ro']],
  ['MODIFY_BY_ID', 'user', 'Modified By', ['ro']],
  ['DATE_CREATE', 'datetime', 'Created On', ['ro']],
  ['DATE_MODIFY', 'datetime', 'Modified On', ['ro']],
  ['DATE_CLOSED', 'datetime', 'Completed On', ['ro']],
  ['STATUS_SEMANTIC_ID', 'string', 'Status Group', ['ro']],
  ['OPENED', 'char', 'Available to Everyone'],
  ['ORIGINATOR_ID', 'string', 'External Source'],
  ['ORIGIN_ID', 'string', 'Identifier in External Source'],
  ['MOVED_BY_ID', 'user', 'MOVED_BY_ID', ['ro']],
  ['MOVED_TIME', 'datetime', 'MOVED_TIME', ['ro']],
  ...address('ADDRESS', 'Address'),
  ...UTM,
  ...ACTIVITY,
  ...MULTI,
];

export interface EntityCatalog {
  entity: CrmEntity;
  fields: FieldSpec[];
  byName: Map<string, FieldSpec>;
  byCamel: Map<string, FieldSpec>;
  /** Non-multiple fields in catalogue order: what `select: ['*']` returns. */
  scalar: FieldSpec[];
  hasMultiFields: boolean;
}

function catalog(entity: CrmEntity, rows: Row[]): EntityCatalog {
  const fields = build(entity, rows);
  return {
    entity,
    fields,
    byName: new Map(fields.map((field) => [field.name, field])),
    byCamel: new Map(fields.map((field) => [field.camel, field])),
    scalar: fields.filter((field) => field.type !== 'crm_multifield' && !field.multiple),
    hasMultiFields: fields.some((field) => field.type === 'crm_multifield'),
  };
}

export const CATALOGS: Record<CrmEntity, EntityCatalog> = {
  deal: catalog('deal', DEAL),
  contact: catalog('contact', CONTACT),
  company: catalog('company', COMPANY),
  lead: catalog('lead', LEAD),
};

/** Spec of a user field (`UF_CRM_*`): stored as given, typed as string. */
export function userFieldSpec(name: string, entity: CrmEntity): FieldSpec {
  return { name, camel: toCamel(name, entity), type: 'string', title: name, readOnly: false, immutable: false, multiple: false };
}

export function isUserField(name: string): boolean {
  return /^UF_CRM_[A-Z0-9_]+$/.test(name);
}
