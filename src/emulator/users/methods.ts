import type { MethodContext, MethodRegistry, MethodResult } from '../methods/registry.js';
import type { PortalUser } from '../portal.js';
import { restErrors } from '../rest-error.js';
import { compileFilter, parseFilter, sortRows, splitKey, type FilterField, type OrderKey } from '../crm/filter.js';
import { PAGE_SIZE, parseStart } from '../crm/query.js';
import type { FieldType } from '../crm/fields.js';

/**
 * `user.get` (D:api-reference/user/user-get.md), `user.current` (D:api-reference/user/user-current.md)
 * and `department.get` (D:api-reference/departments/department-get.md): legacy lists of 50 with `total`/`next`,
 * filters given at the top level (the docs' `UF_DEPARTMENT: 1`) or under `FILTER`/`filter`.
 */

/**
 * Scopes that reach user.get and user.current, widest first; each sees its own fields
 * (D:api-reference/user/user-scope.md). The registry refuses a caller holding none of them.
 */
const USER_SCOPES = ['user', 'user_basic', 'user_brief'] as const;

const BRIEF = new Set(['ID', 'XML_ID', 'ACTIVE', 'NAME', 'LAST_NAME', 'SECOND_NAME', 'TITLE', 'IS_ONLINE', 'TIME_ZONE', 'PERSONAL_PHOTO', 'TIMESTAMP_X', 'DATE_REGISTER', 'PERSONAL_PROFESSION', 'PERSONAL_GENDER', 'PERSONAL_BIRTHDAY', 'PERSONAL_CITY', 'PERSONAL_STATE', 'PERSONAL_COUNTRY', 'WORK_POSITION', 'WORK_CITY', 'WORK_STATE', 'WORK_COUNTRY', 'LAST_ACTIVITY_DATE', 'UF_EMPLOYMENT_DATE', 'UF_TIMEMAN', 'UF_SKILLS', 'UF_INTERESTS', 'UF_DEPARTMENT', 'UF_PHONE_INNER']);
/** user_basic adds contact details, and USER_TYPE is not in either short list. */
const BASIC_EXTRA = new Set(['EMAIL', 'PERSONAL_PHONE', 'WORK_PHONE', 'WORK_COMPANY', 'PERSONAL_FAX', 'PERSONAL_MOBILE', 'PERSONAL_PAGER', 'PERSONAL_STREET', 'PERSONAL_MAILBOX', 'PERSONAL_ZIP', 'PERSONAL_NOTES', 'WORK_DEPARTMENT', 'WORK_WWW', 'WORK_FAX', 'WORK_PAGER', 'WORK_STREET', 'WORK_MAILBOX', 'WORK_ZIP', 'WORK_PROFILE', 'WORK_LOGO', 'WORK_NOTES']);

const USER_FIELDS: Record<string, FieldType> = {
  ID: 'integer',
  ACTIVE: 'char',
  NAME: 'string',
  LAST_NAME: 'string',
  SECOND_NAME: 'string',
  EMAIL: 'string',
  WORK_POSITION: 'string',
  PERSONAL_CITY: 'string',
  DATE_REGISTER: 'datetime',
  USER_TYPE: 'string',
  IS_ONLINE: 'char',
  UF_DEPARTMENT: 'integer',
};

/** A user in the shape of the docs' answer (ACTIVE a boolean, UF_DEPARTMENT numbers, dates ISO 8601). */
function userRow(user: PortalUser): Record<string, unknown> {
  return {
    ID: String(user.ID),
    XML_ID: null,
    ACTIVE: user.ACTIVE,
    NAME: user.NAME,
    LAST_NAME: user.LAST_NAME,
    SECOND_NAME: user.SECOND_NAME,
    EMAIL: user.EMAIL,
    LAST_LOGIN: '',
    DATE_REGISTER: user.DATE_REGISTER,
    TIME_ZONE: user.TIME_ZONE,
    IS_ONLINE: 'N',
    PERSONAL_GENDER: '',
    PERSONAL_BIRTHDAY: '',
    PERSONAL_CITY: user.PERSONAL_CITY,
    WORK_PHONE: '',
    WORK_POSITION: user.WORK_POSITION,
    UF_EMPLOYMENT_DATE: '',
    UF_DEPARTMENT: [...user.UF_DEPARTMENT],
    USER_TYPE: 'employee',
  };
}

function visibleFields(ctx: MethodContext): ((name: string) => boolean) | undefined {
  const granted = USER_SCOPES.find((scope) => ctx.auth.scope.includes(scope));
  if (granted === 'user') return undefined;
  if (granted === 'user_basic') return (name) => BRIEF.has(name) || BASIC_EXTRA.has(name);
  return (name) => BRIEF.has(name);
}

/** A user row with only the fields the caller's user scope shows. */
function visibleRow(row: Record<string, unknown>, visible: ((name: string) => boolean) | undefined): Record<string, unknown> {
  return visible ? Object.fromEntries(Object.entries(row).filter(([name]) => visible(name))) : row;
}

/** The filter object: `FILTER`/`filter` if given, else the top-level keys that name a field. */
function filterInput(params: Record<string, unknown>): Record<string, unknown> {
  const nested = params.FILTER ?? params.filter;
  if (nested && typeof nested === 'object') return nested as Record<string, unknown>;
  return Object.fromEntries(Object.entries(params).filter(([key]) => splitKey(key).name.toUpperCase() in USER_FIELDS || splitKey(key).name.toUpperCase() === 'NAME_SEARCH'));
}

function readUser(row: Record<string, unknown>, field: FilterField): unknown {
  const value = row[field.name];
  if (field.name === 'ACTIVE') return value === true ? 'Y' : 'N';
  if (field.kind === 'array') return (value as unknown[]).map(String);
  return value;
}

/** A plain value with `%` in a string field is a LIKE pattern: the docs' `{"NAME": "Iv%"}` finds names starting with "Iv". */
function likeWhenWildcard(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const { op, name } = splitKey(key);
    const upper = name.toUpperCase();
    if (upper === 'NAME_SEARCH') continue;
    const plain = key === name;
    out[plain && typeof value === 'string' && value.includes('%') && USER_FIELDS[upper] === 'string' ? `=%${upper}` : `${plain ? '' : op}${upper}`] = value;
  }
  return out;
}

function userGet(ctx: MethodContext): MethodResult {
  const visible = visibleFields(ctx);
  const input = filterInput(ctx.params);
  const filter = parseFilter(likeWhenWildcard(input), {
    resolve: (name) => (name in USER_FIELDS ? { name, type: USER_FIELDS[name] as FieldType, kind: name === 'UF_DEPARTMENT' ? 'array' : 'scalar' } : undefined),
    onUnknown: () => {},
  });
  // ACTIVE: true/'Y' keeps active users only; `false`/'N' the dismissed ones
  const search = Object.entries(input).find(([key]) => key.toUpperCase() === 'NAME_SEARCH')?.[1];
  const needle = search === undefined || search === null ? '' : String(search).toLowerCase();
  const test = compileFilter(filter, readUser, ctx.portal.timeZone);
  let rows = [...ctx.portal.users.values()].map(userRow).filter(test);
  if (needle) rows = rows.filter((row) => ['NAME', 'LAST_NAME', 'SECOND_NAME', 'EMAIL', 'WORK_POSITION'].some((name) => String(row[name]).toLowerCase().includes(needle)));
  const sortField = String(ctx.params.SORT ?? ctx.params.sort ?? 'ID').toUpperCase();
  const desc = String(ctx.params.ORDER ?? ctx.params.order ?? 'ASC').toUpperCase() === 'DESC';
  const order: OrderKey[] = sortField in USER_FIELDS && sortField !== 'UF_DEPARTMENT' ? [{ field: { name: sortField, type: USER_FIELDS[sortField] as FieldType, kind: 'scalar' }, desc }] : [];
  rows = sortRows(rows, order, readUser, (row) => Number(row.ID), ctx.portal.timeZone);
  return page(ctx, rows.map((row) => visibleRow(row, visible)));
}

/** user.current: the caller, in user.get's row and with the fields of the caller's user scope. */
function userCurrent(ctx: MethodContext): MethodResult {
  const user = ctx.portal.users.get(ctx.auth.userId);
  if (!user) throw restErrors.notFound();
  return { result: visibleRow(userRow(user), visibleFields(ctx)) };
}

function page(ctx: MethodContext, rows: Record<string, unknown>[]): MethodResult {
  const start = parseStart(ctx.params.start ?? ctx.params.START);
  const offset = Math.max(start, 0);
  const result = rows.slice(offset, offset + PAGE_SIZE);
  ctx.work.rowsReturned = result.length;
  if (start < 0) return { result, total: 0 };
  return { result, total: rows.length, ...(offset + PAGE_SIZE < rows.length ? { next: offset + PAGE_SIZE } : {}) };
}

const DEPARTMENT_FIELDS: Record<string, FieldType> = { ID: 'integer', NAME: 'string', SORT: 'integer', PARENT: 'integer', UF_HEAD: 'integer' };

/** department.get: exact filters ID, NAME (the full name), SORT, PARENT, UF_HEAD at the top level; `sort`/`order`. */
function departmentGet(ctx: MethodContext): MethodResult {
  const rows = [...ctx.portal.departments.values()].map((department) => ({
    ID: String(department.ID),
    NAME: department.NAME,
    SORT: department.SORT,
    PARENT: department.PARENT === null ? '' : String(department.PARENT),
    ...(department.UF_HEAD !== null ? { UF_HEAD: String(department.UF_HEAD) } : {}),
  }));
  // upper-case keys filter (`SORT` = the sort index); lower-case `sort`/`order` sort, as department-get.md names them
  const input = Object.fromEntries(Object.entries(ctx.params).filter(([key]) => splitKey(key).name in DEPARTMENT_FIELDS));
  const filter = parseFilter(input, { resolve: (name) => (name in DEPARTMENT_FIELDS ? { name, type: DEPARTMENT_FIELDS[name] as FieldType, kind: 'scalar' } : undefined), onUnknown: () => {} });
  const read = (row: Record<string, unknown>, field: FilterField) => row[field.name];
  const sortField = String(ctx.params.sort ?? 'ID').toUpperCase();
  const desc = String(ctx.params.order ?? 'ASC').toUpperCase() === 'DESC';
  const order: OrderKey[] = sortField in DEPARTMENT_FIELDS ? [{ field: { name: sortField, type: DEPARTMENT_FIELDS[sortField] as FieldType, kind: 'scalar' }, desc }] : [];
  const found = sortRows(rows.filter(compileFilter(filter, read, ctx.portal.timeZone)), order, read, (row) => Number(row.ID), ctx.portal.timeZone);
  return page(ctx, found);
}

export function registerUserMethods(registry: MethodRegistry): void {
  // any one of the user scopes; the handler answers the fields of the widest one granted
  registry.define('user.get', { scope: USER_SCOPES, handler: userGet });
  registry.define('user.current', { scope: USER_SCOPES, handler: userCurrent });
  registry.define('department.get', { scope: 'department', handler: departmentGet });
}
