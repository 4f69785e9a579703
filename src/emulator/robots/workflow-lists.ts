import type { MethodContext } from '../methods/registry.js';
import type { Portal } from '../portal.js';
import { isoInZone } from '../crm/dates.js';
import { parseDateInput } from '../crm/dates.js';
import { objectOf, stringOf, upperKeys } from '../events/param.js';
import { advanceWorkflow } from './workflows.js';
import type { WorkflowTemplate } from './templates.js';
import type { WorkflowInstance } from './registry.js';

/**
 * bizproc.workflow.template.list and bizproc.workflow.instances, read the way the core's
 * RestService reads them (CORE bizproc/lib/restservice.php `getSelect`, `getFilter`, `getOrder`):
 * names in any case; unknown SELECT/ORDER/FILTER fields are dropped silently; filter prefixes
 * `=`, `!`, `!=`, `<`, `<=`, `>`, `>=` (the docs' list) or none; 50 rows a page with `total`/`next`.
 */

const PAGE_SIZE = 50;

type Row = Record<string, unknown>;

interface ListSpec<T> {
  fields: Record<string, (item: T, portal: Portal) => unknown>;
  /** Fields compared as dates (filter values are parsed as dates). */
  dates: string[];
  defaultSelect: string[];
  defaultOrder: Array<[string, 'ASC' | 'DESC']>;
}

function runList<T>(ctx: MethodContext, items: T[], spec: ListSpec<T>) {
  const query = upperKeys(ctx.params);
  const names = Object.keys(spec.fields);
  const wanted = Array.isArray(query.SELECT) ? query.SELECT.map((f) => stringOf(f).toUpperCase()).filter((f) => names.includes(f)) : [];
  const select = wanted.length > 0 ? [...new Set(wanted)] : spec.defaultSelect;
  const order = Object.entries(objectOf(query.ORDER) ?? {})
    .map(([field, dir]): [string, 'ASC' | 'DESC'] => [field.toUpperCase(), stringOf(dir).toUpperCase() === 'DESC' ? 'DESC' : 'ASC'])
    .filter(([field]) => names.includes(field));
  const rows = items
    .map((item) => Object.fromEntries(names.map((name) => [name, spec.fields[name]!(item, ctx.portal)])) as Row)
    .filter((row) => matches(row, objectOf(query.FILTER) ?? {}, spec, ctx.portal.timeZone));
  const keys = order.length > 0 ? order : spec.defaultOrder;
  rows.sort((a, b) => {
    for (const [field, dir] of keys) {
      const cmp = compare(sortable(a[field], spec.dates.includes(field), ctx.portal.timeZone), sortable(b[field], spec.dates.includes(field), ctx.portal.timeZone));
      if (cmp !== 0) return dir === 'ASC' ? cmp : -cmp;
    }
    return 0;
  });
  const start = Math.max(0, Number.parseInt(stringOf(query.START), 10) || 0);
  const page = rows.slice(start, start + PAGE_SIZE).map((row) => Object.fromEntries(select.map((name) => [name, row[name]])));
  ctx.work.rowsReturned = page.length;
  return { result: page, total: rows.length, ...(start + PAGE_SIZE < rows.length ? { next: start + PAGE_SIZE } : {}) };
}

function sortable(value: unknown, isDate: boolean, zone: string): unknown {
  if (value === null || value === undefined) return null;
  if (isDate) return parseDateInput(value, zone);
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

function matches<T>(row: Row, filter: Record<string, unknown>, spec: ListSpec<T>, zone: string): boolean {
  for (const [key, expected] of Object.entries(filter)) {
    const match = /^(!=|<=|>=|=|!|<|>)?(.*)$/.exec(key)!;
    const op = match[1] ?? '';
    const field = (match[2] ?? '').toUpperCase();
    if (!(field in spec.fields)) continue;
    const isDate = spec.dates.includes(field);
    const actual = sortable(row[field], isDate, zone);
    const want = sortable(isDate ? expected : stringOf(expected), isDate, zone);
    const cmp = actual === null ? Number.NaN : compare(actual, want);
    const ok =
      op === '<' ? cmp < 0 : op === '<=' ? cmp <= 0 : op === '>' ? cmp > 0 : op === '>=' ? cmp >= 0 : op === '!' || op === '!=' ? cmp !== 0 : cmp === 0;
    if (!ok) return false;
  }
  return true;
}

const TEMPLATE_SPEC: ListSpec<WorkflowTemplate> = {
  fields: {
    ID: (t) => String(t.id),
    MODULE_ID: (t) => t.documentType[0],
    ENTITY: (t) => t.documentType[1],
    DOCUMENT_TYPE: (t) => t.documentType[2],
    AUTO_EXECUTE: (t) => String(t.autoExecute),
    NAME: (t) => t.name,
    DESCRIPTION: (t) => t.description,
    TEMPLATE: (t) => templateTree(t),
    PARAMETERS: (t) => t.parameters,
    VARIABLES: () => [],
    CONSTANTS: () => [],
    MODIFIED: (t, p) => isoInZone(t.modifiedAtMs, p.timeZone),
    IS_MODIFIED: () => 'N',
    USER_ID: (t) => String(t.userId),
    SYSTEM_CODE: (t) => t.systemCode,
  },
  dates: ['MODIFIED'],
  defaultSelect: ['ID'],
  defaultOrder: [['ID', 'ASC']],
};

/** The activity tree of a template: a sequence of the app's robot activities (`rest_` + code). */
function templateTree(template: WorkflowTemplate): unknown[] {
  return [
    {
      Type: 'SequentialWorkflowActivity',
      Name: 'Template',
      Properties: { Title: template.name },
      Children: template.robots.map((step, index) => ({
        Type: `rest_${step.code}`,
        Name: `A${index + 1}`,
        Properties: { ...(step.properties ?? {}), TimeoutDuration: step.timeoutSeconds ?? 0 },
        Children: [],
      })),
    },
  ];
}

/**
 * `bizproc.workflow.template.list {SELECT, FILTER, ORDER, start}` (admin;
 * D:api-reference/bizproc/template/bizproc-workflow-template-list.md). Automation-rule templates
 * (AUTO_EXECUTE 8) are left out, as the core's `<AUTO_EXECUTE` filter does.
 */
export function listTemplates(ctx: MethodContext) {
  const templates = [...ctx.portal.robots.templates.values()].filter((t) => t.autoExecute < 8);
  return runList(ctx, templates, TEMPLATE_SPEC);
}

const INSTANCE_SPEC: ListSpec<WorkflowInstance> = {
  fields: {
    ID: (w) => w.id,
    MODIFIED: (w, p) => isoInZone(w.modifiedAtMs, p.timeZone),
    OWNED_UNTIL: () => null,
    MODULE_ID: (w) => w.documentId[0],
    ENTITY: (w) => w.documentId[1],
    DOCUMENT_ID: (w) => w.documentId[2],
    STARTED: (w, p) => isoInZone(w.startedAtMs, p.timeZone),
    STARTED_BY: (w) => String(w.startedBy),
    TEMPLATE_ID: (w) => String(w.templateId),
  },
  dates: ['MODIFIED', 'OWNED_UNTIL', 'STARTED'],
  defaultSelect: ['ID', 'MODIFIED', 'OWNED_UNTIL'],
  defaultOrder: [['MODIFIED', 'DESC']],
};

/**
 * `bizproc.workflow.instances {SELECT, FILTER, ORDER, start}` (admin;
 * D:api-reference/bizproc/bizproc-workflow-instances.md): running workflows only — the core deletes
 * a completed or terminated workflow's instance row (CORE bizproc/classes/general/workflowpersister.php).
 */
export function listInstances(ctx: MethodContext) {
  for (const instance of ctx.portal.robots.workflows.values()) advanceWorkflow(ctx.emulator, ctx.portal, instance);
  const running = [...ctx.portal.robots.workflows.values()].filter((w) => w.state === 'running');
  return runList(ctx, running, INSTANCE_SPEC);
}
