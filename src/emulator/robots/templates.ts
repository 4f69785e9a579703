/** One robot step of a template: the app's robot `code`, run with these inputs. */
export interface TemplateRobotStep {
  code: string;
  properties?: Record<string, unknown>;
  /** `timeout_duration` of the call, in seconds; 0 = none. @defaultValue 0 */
  timeoutSeconds?: number;
}

/**
 * A business-process template of a portal, with the fields bizproc.workflow.template.list answers
 * (D:api-reference/bizproc/template/bizproc-workflow-template-list.md). A real portal's templates
 * come from its admins; the emulator seeds four per portal and the control API adds more. Its
 * steps are only robot calls, run one after another.
 */
export interface WorkflowTemplate {
  id: number;
  name: string;
  description: string;
  /** The document type it runs on: [module, entity, type]. */
  documentType: [string, string, string];
  /** 0 none, 1 on create, 2 on change, 3 both; 8 = an automation-rule template, hidden from the list. */
  autoExecute: number;
  robots: TemplateRobotStep[];
  parameters: Record<string, unknown>;
  userId: number;
  systemCode: string | null;
  modifiedAtMs: number;
}

/** The seeded templates: IDs 1–4, no steps (a started workflow of one completes at once). */
export function seedTemplates(): WorkflowTemplate[] {
  const seeded: Array<[number, string, [string, string, string]]> = [
    [1, 'Deal approval', ['crm', 'CCrmDocumentDeal', 'DEAL']],
    [2, 'Lead qualification', ['crm', 'CCrmDocumentLead', 'LEAD']],
    [3, 'Contact welcome', ['crm', 'CCrmDocumentContact', 'CONTACT']],
    [4, 'Company review', ['crm', 'CCrmDocumentCompany', 'COMPANY']],
  ];
  return seeded.map(([id, name, documentType]) => ({
    id,
    name,
    description: '',
    documentType,
    autoExecute: 0,
    robots: [],
    parameters: {},
    userId: 1,
    systemCode: null,
    modifiedAtMs: 0,
  }));
}

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
