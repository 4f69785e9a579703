/**
 * The business-process templates every emulated portal has, for bizproc.workflow.start
 * (protocol §7.4). A real portal's templates come from its admins; these are a fixed,
 * documented set (docs/emulator.md).
 */
export interface WorkflowTemplate {
  id: number;
  name: string;
  /** The document type it runs on: [module, entity, type]. */
  documentType: [string, string, string];
}

export const WORKFLOW_TEMPLATES: readonly WorkflowTemplate[] = [
  { id: 1, name: 'Deal approval', documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'] },
  { id: 2, name: 'Lead qualification', documentType: ['crm', 'CCrmDocumentLead', 'LEAD'] },
  { id: 3, name: 'Contact welcome', documentType: ['crm', 'CCrmDocumentContact', 'CONTACT'] },
  { id: 4, name: 'Company review', documentType: ['crm', 'CCrmDocumentCompany', 'COMPANY'] },
];

/** Document entities the emulator knows, and the document-type prefix their ids carry (`DEAL_5`). */
const ENTITY_TYPES: Record<string, string> = {
  CCrmDocumentDeal: 'DEAL',
  CCrmDocumentLead: 'LEAD',
  CCrmDocumentContact: 'CONTACT',
  CCrmDocumentCompany: 'COMPANY',
};

/**
 * The document type of a document id, e.g. `['crm','CCrmDocumentDeal','DEAL_5']` →
 * `['crm','CCrmDocumentDeal','DEAL']`; smart processes `DYNAMIC_147_1` → `DYNAMIC_147`.
 * Undefined when the id does not name a known document.
 */
export function documentTypeOf(documentId: readonly string[]): [string, string, string] | undefined {
  const [module, entity, id] = documentId;
  if (module !== 'crm' || entity === undefined || id === undefined) return undefined;
  const prefix = ENTITY_TYPES[entity];
  if (prefix) return new RegExp(`^${prefix}_\\d+$`).test(id) ? [module, entity, prefix] : undefined;
  const dynamic = /^(DYNAMIC_\d+)_\d+$/.exec(id);
  if (entity.endsWith('\\Dynamic') && dynamic) return [module, entity, dynamic[1]!];
  return undefined;
}
