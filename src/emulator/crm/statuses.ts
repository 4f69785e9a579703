/**
 * The fixed reference lists of a fresh portal, as `crm.status.list` answers them
 * (D:api-reference/crm/status/crm-status-list.md, crm-status-entity-types.md).
 */

export interface StatusRow {
  ID: string;
  ENTITY_ID: string;
  STATUS_ID: string;
  NAME: string;
  NAME_INIT: string;
  SORT: string;
  SYSTEM: 'Y' | 'N';
  CATEGORY_ID: string | null;
  COLOR?: string;
  SEMANTICS?: 'S' | 'F' | null;
  EXTRA?: { SEMANTICS: string; COLOR: string };
}

type Entry = [statusId: string, name: string, system?: boolean, semantics?: 'S' | 'F', color?: string];

const LISTS: Record<string, Entry[]> = {
  DEAL_STAGE: [
    ['NEW', 'New', true, undefined, '#39A8EF'],
    ['PREPARATION', 'Document preparation', false, undefined, '#2FC6F6'],
    ['PREPAYMENT_INVOICE', 'Prepayment invoice', false, undefined, '#55D0E0'],
    ['EXECUTING', 'In progress', false, undefined, '#47E4C2'],
    ['FINAL_INVOICE', 'Final invoice', false, undefined, '#FFA900'],
    ['WON', 'Deal successful', true, 'S', '#7BD500'],
    ['LOSE', 'Deal failed', true, 'F', '#FF5752'],
    ['APOLOGY', 'Failure reason analysis', false, 'F', '#FF5752'],
  ],
  STATUS: [
    ['NEW', 'Unassigned', true, undefined, '#39A8EF'],
    ['IN_PROCESS', 'In progress', false, undefined, '#2FC6F6'],
    ['PROCESSED', 'Processed', false, undefined, '#55D0E0'],
    ['CONVERTED', 'Good lead', true, 'S', '#7BD500'],
    ['JUNK', 'Junk lead', true, 'F', '#FF5752'],
  ],
  SOURCE: [
    ['CALL', 'Call', true],
    ['EMAIL', 'E-Mail', true],
    ['WEB', 'Website', true],
    ['ADVERTISING', 'Advertising', true],
    ['PARTNER', 'Existing client', true],
    ['RECOMMENDATION', 'By recommendation', true],
    ['TRADE_SHOW', 'Show/Exhibition', true],
    ['WEBFORM', 'CRM form', true],
    ['CALLBACK', 'Callback', true],
    ['RC_GENERATOR', 'Sales boost', true],
    ['STORE', 'Online Store', true],
    ['OTHER', 'Other', true],
  ],
  DEAL_TYPE: [
    ['SALE', 'Sales', true],
    ['COMPLEX', 'Complex sale', true],
    ['GOODS', 'Sale of goods', true],
    ['SERVICES', 'Sale of services', true],
    ['SERVICE', 'After-sales service', true],
  ],
  CONTACT_TYPE: [
    ['CLIENT', 'Clients', true],
    ['SUPPLIER', 'Suppliers', true],
    ['PARTNER', 'Partners', true],
    ['OTHER', 'Other', true],
  ],
  COMPANY_TYPE: [
    ['CUSTOMER', 'Client', true],
    ['SUPPLIER', 'Supplier', true],
    ['COMPETITOR', 'Competitor', true],
    ['PARTNER', 'Partner', true],
    ['OTHER', 'Other', true],
  ],
  INDUSTRY: [
    ['IT', 'Information Technology', true],
    ['TELECOM', 'Telecommunication', true],
    ['MANUFACTURING', 'Manufacturing', true],
    ['BANKING', 'Banking Services', true],
    ['CONSULTING', 'Consulting', true],
    ['FINANCE', 'Finance', true],
    ['GOVERNMENT', 'Government', true],
    ['DELIVERY', 'Delivery', true],
    ['ENTERTAINMENT', 'Entertainment', true],
    ['NOTPROFIT', 'Non-profit', true],
    ['OTHER', 'Other', true],
  ],
  EMPLOYEES: [
    ['EMPLOYEES_1', 'less than 50', true],
    ['EMPLOYEES_2', '50-250', true],
    ['EMPLOYEES_3', '250-500', true],
    ['EMPLOYEES_4', 'over 500', true],
  ],
  HONORIFIC: [
    ['HNR_EN_1', 'Mr.', true],
    ['HNR_EN_2', 'Mrs.', true],
    ['HNR_EN_3', 'Ms.', true],
    ['HNR_EN_4', 'Dr.', true],
  ],
};

const STAGE_ENTITIES = new Set(['DEAL_STAGE', 'STATUS']);

function buildRows(): StatusRow[] {
  const rows: StatusRow[] = [];
  let id = 1;
  for (const [entityId, entries] of Object.entries(LISTS)) {
    entries.forEach(([statusId, name, system, semantics, color], index) => {
      const row: StatusRow = {
        ID: String(id++),
        ENTITY_ID: entityId,
        STATUS_ID: statusId,
        NAME: name,
        NAME_INIT: system ? name : '',
        SORT: String((index + 1) * 10),
        SYSTEM: system ? 'Y' : 'N',
        CATEGORY_ID: entityId === 'DEAL_STAGE' ? '0' : null,
      };
      if (STAGE_ENTITIES.has(entityId)) {
        const colour = color ?? '#ACE9FB';
        row.COLOR = colour;
        row.SEMANTICS = semantics ?? null;
        row.EXTRA = { SEMANTICS: semantics === 'S' ? 'success' : semantics === 'F' ? (statusId === 'LOSE' || statusId === 'JUNK' ? 'failure' : 'apology') : 'process', COLOR: colour };
      }
      rows.push(row);
    });
  }
  return rows;
}

/** Every status of a fresh portal, in ENTITY_ID then SORT order. */
export const STATUS_ROWS: readonly StatusRow[] = buildRows();

/** `P` in progress, `S` success, `F` failure; `C5:WON` counts as `WON` (D:…/crm-deal-get.md STAGE_SEMANTIC_ID). */
export function stageSemantic(stageId: string): 'P' | 'S' | 'F' {
  const bare = stageId.replace(/^C\d+:/, '');
  if (bare === 'WON' || bare === 'CONVERTED') return 'S';
  if (bare === 'LOSE' || bare === 'APOLOGY' || bare === 'JUNK') return 'F';
  return 'P';
}
