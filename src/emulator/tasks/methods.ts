import type { MethodContext, MethodRegistry } from '../methods/registry.js';
import type { Portal } from '../portal.js';
import { RestError } from '../rest-error.js';
import { isoInZone, parseDateInput } from '../crm/dates.js';
import { positiveId } from '../crm/params.js';
import { objectOf, stringOf } from '../events/param.js';
import type { Task } from './store.js';

/**
 * tasks.task.add, tasks.task.get, tasks.task.list (scope `task`; D:api-reference/tasks/tasks-task-*.md).
 * Input fields are UPPER_SNAKE (`TITLE`, `RESPONSIBLE_ID`); camelCase input is read too, as the
 * tasks controller converts it. Answers are camelCase with string values, wrapped in `{task}` or
 * `{tasks}` (D:api-reference/tasks/fields.md).
 */
export function registerTaskMethods(registry: MethodRegistry): void {
  registry.define('tasks.task.add', { scope: 'task', handler: taskAdd });
  registry.define('tasks.task.get', { scope: 'task', handler: taskGet });
  registry.define('tasks.task.list', { scope: 'task', handler: taskList });
}

const PAGE_SIZE = 50;

/** The errors of the pages' tables, with the example's wire form (`"error": "100"`, `"0"`; ERROR_CORE texts end in `<br>`). */
const taskErrors = {
  missing: (name: string) => new RestError(400, '100', `Could not find value for parameter {${name}} (internal error)`),
  core: (text: string) => new RestError(400, 'ERROR_CORE', `${text}<br>`),
  wrongId: () => new RestError(400, '0', 'wrong task id'),
  noTaskId: () => new RestError(400, '100', 'CTaskItem All parameters in the constructor must have real class type (internal error)'),
  selectType: () => new RestError(400, '100', 'Invalid value {} to match with parameter {select}. Should be value of type array. (internal error)'),
  sortKey: () => new RestError(400, '0', 'Invalid sorting key (internal error)'),
};

/** `responsibleId` → `RESPONSIBLE_ID`; UPPER_SNAKE stays. */
function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function upperFields(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [upperSnake(key), value]));
}

function idList(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined || value === '' ? [] : [value];
  return list.map(positiveId).filter((id): id is number => id !== undefined);
}

function stringList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined || value === '' ? [] : [value];
  return list.map(stringOf).filter((item) => item !== '');
}

function dateField(value: unknown, portal: Portal): number | null {
  if (value === undefined || value === null || value === '') return null;
  const ms = parseDateInput(value, portal.timeZone);
  return Number.isNaN(ms) ? null : ms;
}

/** `tasks.task.add {fields}` → `{task}`. */
function taskAdd(ctx: MethodContext) {
  const raw = objectOf(ctx.params.fields);
  if (!raw || Object.keys(raw).length === 0) throw taskErrors.missing('fields');
  const fields = upperFields(raw);
  const title = stringOf(fields.TITLE);
  if (title === '') throw taskErrors.core('Task title is not specified');
  if (fields.RESPONSIBLE_ID === undefined || stringOf(fields.RESPONSIBLE_ID) === '') throw taskErrors.core('Responsible person not specified');
  const responsibleId = positiveId(fields.RESPONSIBLE_ID);
  if (responsibleId === undefined || !ctx.portal.users.has(responsibleId)) throw taskErrors.core('User specified in the "Responsible" field not found');
  const parentId = fields.PARENT_ID === undefined || stringOf(fields.PARENT_ID) === '0' ? null : positiveId(fields.PARENT_ID);
  if (parentId === undefined || (parentId !== null && !ctx.portal.tasks.tasks.has(parentId))) {
    throw taskErrors.core('Task specified in the "Parent Task" field not found');
  }
  const status = fields.STATUS === undefined ? 2 : Number(stringOf(fields.STATUS));
  if (![2, 3, 4, 5, 6].includes(status)) throw taskErrors.core('Incorrect status');
  const startPlan = dateField(fields.START_DATE_PLAN, ctx.portal);
  const endPlan = dateField(fields.END_DATE_PLAN, ctx.portal);
  if (startPlan !== null && endPlan !== null && endPlan < startPlan) throw taskErrors.core('The end date in scheduling is earlier than the start date');
  const createdBy = positiveId(fields.CREATED_BY) ?? ctx.auth.userId;
  const priority = Number(stringOf(fields.PRIORITY));
  const task = ctx.portal.tasks.add({
    PARENT_ID: parentId,
    TITLE: title,
    DESCRIPTION: stringOf(fields.DESCRIPTION),
    PRIORITY: [0, 1, 2].includes(priority) && stringOf(fields.PRIORITY) !== '' ? priority : 1,
    STATUS: status,
    GROUP_ID: positiveId(fields.GROUP_ID) ?? 0,
    CREATED_BY: createdBy,
    RESPONSIBLE_ID: responsibleId,
    CHANGED_BY: ctx.auth.userId,
    CREATED_DATE: ctx.nowMs,
    CHANGED_DATE: ctx.nowMs,
    CLOSED_DATE: status === 5 ? ctx.nowMs : null,
    DEADLINE: dateField(fields.DEADLINE, ctx.portal),
    START_DATE_PLAN: startPlan,
    END_DATE_PLAN: endPlan,
    ACCOMPLICES: idList(fields.ACCOMPLICES),
    AUDITORS: idList(fields.AUDITORS),
    TAGS: stringList(fields.TAGS),
    UF_CRM_TASK: stringList(fields.UF_CRM_TASK),
    XML_ID: fields.XML_ID === undefined ? null : stringOf(fields.XML_ID),
  });
  ctx.work.write = true;
  return { result: { task: { ...describe(ctx.portal, task, DEFAULT_SELECT), ...people(ctx.portal, task) } } };
}

/** `tasks.task.get {taskId, select?}` → `{task}`. */
function taskGet(ctx: MethodContext) {
  const raw = ctx.params.taskId ?? ctx.params.TASKID ?? ctx.params.taskid;
  if (raw === undefined || raw === '') throw taskErrors.noTaskId();
  const id = positiveId(raw);
  if (id === undefined) throw taskErrors.wrongId();
  const select = selectOf(ctx.params.select);
  const task = ctx.portal.tasks.tasks.get(id);
  // "Returns an empty array "result":[] if the task does not exist or the user does not have access
  // to the task" (tasks.task.get page): the two cases answer alike, so no ID is probed for existence.
  if (!task || !canSee(ctx.portal, ctx.auth.userId, task)) return { result: [] };
  ctx.work.rowsReturned = 1;
  return { result: { task: { ...describe(ctx.portal, task, select), ...people(ctx.portal, task) } } };
}

/** `tasks.task.list {order?, filter?, select?, start?}` → `{tasks}` + `total`/`next`, 50 a page. */
function taskList(ctx: MethodContext) {
  const select = selectOf(ctx.params.select);
  const order = orderOf(objectOf(ctx.params.order) ?? {});
  const filter = objectOf(ctx.params.filter) ?? {};
  const rows = [...ctx.portal.tasks.tasks.values()].filter((task) => canSee(ctx.portal, ctx.auth.userId, task) && matches(ctx.portal, task, filter));
  rows.sort((a, b) => {
    for (const [field, direction] of order) {
      const cmp = compareValues(sortValue(a, field), sortValue(b, field));
      if (cmp !== 0) return direction === 'ASC' ? cmp : -cmp;
    }
    return b.ID - a.ID;
  });
  const start = Math.max(0, Number.parseInt(stringOf(ctx.params.start), 10) || 0);
  const page = rows.slice(start, start + PAGE_SIZE);
  ctx.work.rowsReturned = page.length;
  const withPeople = select.includes('*') || select.includes('RESPONSIBLE_ID') || select.includes('CREATED_BY');
  const tasks = page.map((task) => ({ ...describe(ctx.portal, task, select), ...(withPeople ? people(ctx.portal, task) : {}) }));
  return { result: { tasks }, total: rows.length, ...(start + PAGE_SIZE < rows.length ? { next: start + PAGE_SIZE } : {}) };
}

/**
 * Who sees a task (tasks.task.get and tasks.task.list pages: "administrators see all tasks, managers
 * see their employees' tasks, others see only the tasks available to them"): a portal administrator;
 * a member of the task (its creator, responsible person, an accomplice or an auditor); the head of a
 * department, or of a department above it, that a member belongs to. Which members count for a
 * manager is UNCONFIRMED (docs/emulator.md, Tasks).
 */
function canSee(portal: Portal, userId: number, task: Task): boolean {
  if (portal.users.get(userId)?.ADMIN) return true;
  const members = [task.CREATED_BY, task.RESPONSIBLE_ID, ...task.ACCOMPLICES, ...task.AUDITORS];
  if (members.includes(userId)) return true;
  return members.some((member) => (portal.users.get(member)?.UF_DEPARTMENT ?? []).some((department) => headsOrAbove(portal, userId, department)));
}

/** Whether the user heads this department or one above it. */
function headsOrAbove(portal: Portal, userId: number, departmentId: number): boolean {
  const seen = new Set<number>();
  for (let id: number | null = departmentId; id !== null && !seen.has(id); ) {
    seen.add(id);
    const department = portal.departments.get(id);
    if (!department) return false;
    if (department.UF_HEAD === userId) return true;
    id = department.PARENT;
  }
  return false;
}

/** The stored fields and their camelCase answers, in the order of the add example. */
const OUTPUT: Array<[string, (task: Task, portal: Portal) => unknown]> = [
  ['ID', (t) => String(t.ID)],
  ['PARENT_ID', (t) => (t.PARENT_ID === null ? null : String(t.PARENT_ID))],
  ['TITLE', (t) => t.TITLE],
  ['DESCRIPTION', (t) => t.DESCRIPTION],
  ['MARK', () => null],
  ['PRIORITY', (t) => String(t.PRIORITY)],
  ['MULTITASK', () => 'N'],
  ['NOT_VIEWED', () => 'N'],
  ['REPLICATE', () => 'N'],
  ['STAGE_ID', () => '0'],
  ['CREATED_BY', (t) => String(t.CREATED_BY)],
  ['CREATED_DATE', (t, p) => isoInZone(t.CREATED_DATE, p.timeZone)],
  ['RESPONSIBLE_ID', (t) => String(t.RESPONSIBLE_ID)],
  ['CHANGED_BY', (t) => String(t.CHANGED_BY)],
  ['CHANGED_DATE', (t, p) => isoInZone(t.CHANGED_DATE, p.timeZone)],
  ['STATUS_CHANGED_BY', () => null],
  ['CLOSED_BY', (t) => (t.CLOSED_DATE === null ? null : String(t.CHANGED_BY))],
  ['CLOSED_DATE', (t, p) => date(t.CLOSED_DATE, p)],
  ['ACTIVITY_DATE', (t, p) => isoInZone(t.CHANGED_DATE, p.timeZone)],
  ['DATE_START', () => null],
  ['DEADLINE', (t, p) => date(t.DEADLINE, p)],
  ['START_DATE_PLAN', (t, p) => date(t.START_DATE_PLAN, p)],
  ['END_DATE_PLAN', (t, p) => date(t.END_DATE_PLAN, p)],
  ['GUID', (t) => t.GUID],
  ['XML_ID', (t) => t.XML_ID],
  ['COMMENTS_COUNT', () => null],
  ['ALLOW_CHANGE_DEADLINE', () => 'N'],
  ['ALLOW_TIME_TRACKING', () => 'N'],
  ['TASK_CONTROL', () => 'N'],
  ['ADD_IN_REPORT', () => 'N'],
  ['TIME_ESTIMATE', () => '0'],
  ['SITE_ID', () => 's1'],
  ['SUBORDINATE', () => 'Y'],
  ['STATUS', (t) => String(t.STATUS)],
  ['STATUS_CHANGED_DATE', (t, p) => isoInZone(t.CHANGED_DATE, p.timeZone)],
  ['DURATION_TYPE', () => 'days'],
  ['FAVORITE', () => 'N'],
  ['GROUP_ID', (t) => String(t.GROUP_ID)],
  ['AUDITORS', (t) => t.AUDITORS.map(String)],
  ['ACCOMPLICES', (t) => t.ACCOMPLICES.map(String)],
  ['TAGS', (t) => t.TAGS],
];

/** Returned only when selected (tasks.task.get: "UF_CRM_TASK … are not returned by default"). */
const ON_REQUEST: Array<[string, (task: Task) => unknown]> = [['UF_CRM_TASK', (t) => t.UF_CRM_TASK]];

const DEFAULT_SELECT = ['*'];

function date(ms: number | null, portal: Portal): string | null {
  return ms === null ? null : isoInZone(ms, portal.timeZone);
}

function camel(upper: string): string {
  return upper.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function selectOf(raw: unknown): string[] {
  if (raw === undefined) return DEFAULT_SELECT;
  if (!Array.isArray(raw) || raw.length === 0) throw taskErrors.selectType();
  return raw.map((item) => upperSnake(stringOf(item)));
}

function describe(portal: Portal, task: Task, select: readonly string[]): Record<string, unknown> {
  const all = select.includes('*');
  const out: Record<string, unknown> = {};
  for (const [name, value] of OUTPUT) if (all || name === 'ID' || select.includes(name)) out[camel(name)] = value(task, portal);
  for (const [name, value] of ON_REQUEST) if (select.includes(name)) out[camel(name)] = value(task);
  return out;
}

/** The `creator` and `responsible` blocks of the answers (D:api-reference/tasks/tasks-task-add.md). */
function people(portal: Portal, task: Task): Record<string, unknown> {
  const block = (id: number) => {
    const user = portal.users.get(id);
    return { id: String(id), name: user ? `${user.NAME} ${user.LAST_NAME}`.trim() : '', link: `/company/personal/user/${id}/`, icon: '/bitrix/images/tasks/default_avatar.png', workPosition: '' };
  };
  return { creator: block(task.CREATED_BY), responsible: block(task.RESPONSIBLE_ID) };
}

/** Sortable fields of tasks.task.list; anything else is "Invalid sorting key". */
const ORDER_FIELDS: Record<string, (task: Task) => unknown> = {
  ID: (t) => t.ID,
  TITLE: (t) => t.TITLE.toLowerCase(),
  CREATED_DATE: (t) => t.CREATED_DATE,
  CHANGED_DATE: (t) => t.CHANGED_DATE,
  CLOSED_DATE: (t) => t.CLOSED_DATE,
  ACTIVITY_DATE: (t) => t.CHANGED_DATE,
  START_DATE_PLAN: (t) => t.START_DATE_PLAN,
  END_DATE_PLAN: (t) => t.END_DATE_PLAN,
  DEADLINE: (t) => t.DEADLINE,
  REAL_STATUS: (t) => t.STATUS,
  STATUS_COMPLETE: (t) => (t.STATUS === 5 ? 2 : 1),
  PRIORITY: (t) => t.PRIORITY,
  GROUP_ID: (t) => t.GROUP_ID,
};

function orderOf(raw: Record<string, unknown>): Array<[string, 'ASC' | 'DESC']> {
  const keys = Object.entries(raw).map(([field, direction]): [string, 'ASC' | 'DESC'] => {
    const name = field.toUpperCase();
    if (!(name in ORDER_FIELDS)) throw taskErrors.sortKey();
    return [name, stringOf(direction).toUpperCase() === 'ASC' ? 'ASC' : 'DESC'];
  });
  // "By default, it sorts in descending order by ID"
  return keys.length > 0 ? keys : [['ID', 'DESC']];
}

function sortValue(task: Task, field: string): unknown {
  return ORDER_FIELDS[field]!(task);
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

/** Filterable fields: a scalar reader, or a list reader that matches when any element does. */
const FILTER_FIELDS: Record<string, { read: (task: Task) => unknown; list?: boolean; date?: boolean }> = {
  ID: { read: (t) => t.ID },
  PARENT_ID: { read: (t) => t.PARENT_ID ?? 0 },
  GROUP_ID: { read: (t) => t.GROUP_ID },
  CREATED_BY: { read: (t) => t.CREATED_BY },
  RESPONSIBLE_ID: { read: (t) => t.RESPONSIBLE_ID },
  PRIORITY: { read: (t) => t.PRIORITY },
  REAL_STATUS: { read: (t) => t.STATUS },
  STATUS: { read: (t) => t.STATUS },
  TITLE: { read: (t) => t.TITLE },
  DEADLINE: { read: (t) => t.DEADLINE, date: true },
  CREATED_DATE: { read: (t) => t.CREATED_DATE, date: true },
  CHANGED_DATE: { read: (t) => t.CHANGED_DATE, date: true },
  CLOSED_DATE: { read: (t) => t.CLOSED_DATE, date: true },
  ACCOMPLICE: { read: (t) => t.ACCOMPLICES, list: true },
  AUDITOR: { read: (t) => t.AUDITORS, list: true },
  TAG: { read: (t) => t.TAGS, list: true },
  UF_CRM_TASK: { read: (t) => t.UF_CRM_TASK, list: true },
};

/**
 * Filter keys `[op]FIELD` with op `!`, `<`, `<=`, `>`, `>=` or none (equal; an array = any of);
 * `TITLE` takes `%` patterns. Unknown fields are ignored (UNCONFIRMED: the page lists no error).
 */
function matches(portal: Portal, task: Task, filter: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(filter)) {
    const match = /^(!=|!|<=|>=|<|>|=)?(.+)$/.exec(key);
    const op = match?.[1] ?? '';
    const spec = FILTER_FIELDS[(match?.[2] ?? '').toUpperCase()];
    if (!spec) continue;
    const actual = spec.read(task);
    const values = (Array.isArray(actual) ? actual : [actual]) as unknown[];
    const wanted = (Array.isArray(expected) ? expected : [expected]).map((v) => (spec.date ? dateField(v, portal) : v));
    const one = (value: unknown, want: unknown): boolean => {
      if (op === '<' || op === '<=' || op === '>' || op === '>=') {
        if (value === null || want === null) return false;
        const a = Number(value);
        const b = Number(want);
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
      }
      if (typeof value === 'string' && typeof want === 'string' && want.includes('%')) {
        const pattern = new RegExp(`^${want.split('%').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
        return pattern.test(value);
      }
      return String(value ?? '').toLowerCase() === String(want ?? '').toLowerCase();
    };
    const hit = values.some((value) => wanted.some((want) => one(value, want)));
    if (op === '!' || op === '!=' ? hit : !hit) return false;
  }
  return true;
}
