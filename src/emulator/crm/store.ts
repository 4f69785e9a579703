/** CRM data of one portal. Filled in by the CRM methods (src/emulator/crm/). */
export class CrmStore {}
