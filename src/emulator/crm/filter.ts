import { isNumericType, likeAllowed, type FieldType } from './fields.js';
import { dayKey, parseDateInput } from './dates.js';

/**
 * List filters and orders of CRM list methods (docs/protocol.md §6.2, D:api-reference/crm/deals/crm-deal-list.md,
 * D:api-reference/crm/universal/crm-item-list.md): a key is an optional operator prefix plus a field
 * name; conditions are ANDed unless a nested group says `logic: 'OR'`.
 */

export type FilterOp = '>=' | '>' | '<=' | '<' | '@' | '!@' | '%' | '=%' | '%=' | '!%' | '!=%' | '!%=' | '=' | '!=' | '!';

/** Longest prefixes first, so `!=%` is not read as `!=` + `%FIELD`. */
const PREFIXES: FilterOp[] = ['!=%', '!%=', '>=', '<=', '!@', '=%', '%=', '!%', '!=', '>', '<', '@', '%', '=', '!'];

const NEGATED: Partial<Record<FilterOp, FilterOp>> = { '!': '=', '!=': '=', '!@': '@', '!%': '%', '!=%': '=%', '!%=': '=%' };

/** A filterable field: its storage name, type, and whether the row holds one value or several. */
export interface FilterField {
  name: string;
  type: FieldType;
  /** `multi`: multi-field values (EMAIL…); `array`: id lists (CONTACT_IDS). Both match if any value matches. */
  kind: 'scalar' | 'array' | 'multi';
}

export interface Condition {
  kind: 'condition';
  field: FilterField;
  op: FilterOp;
  value: unknown;
}

export interface Group {
  kind: 'group';
  logic: 'AND' | 'OR';
  children: Array<Condition | Group>;
}

export interface FilterSchema {
  /** The field a (prefix-stripped) key names, or undefined. */
  resolve(name: string): FilterField | undefined;
  /** Called for a key naming no field and holding no nested group: ignore (legacy) or throw (crm.item). */
  onUnknown(key: string): void;
}

export function splitKey(key: string): { op: FilterOp; name: string } {
  for (const prefix of PREFIXES) {
    if (key.startsWith(prefix) && key.length > prefix.length) return { op: prefix, name: key.slice(prefix.length) };
  }
  return { op: '=', name: key };
}

export function parseFilter(raw: Record<string, unknown> | unknown[], schema: FilterSchema): Group {
  const group: Group = { kind: 'group', logic: 'AND', children: [] };
  for (const [key, value] of Object.entries(raw)) {
    if (key.toUpperCase() === 'LOGIC') {
      if (String(value).toUpperCase() === 'OR') group.logic = 'OR';
      continue;
    }
    const { op, name } = splitKey(key);
    const field = schema.resolve(name);
    if (field) {
      group.children.push({ kind: 'condition', field, op, value });
      continue;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      group.children.push(parseFilter(value as Record<string, unknown>, schema));
      continue;
    }
    schema.onUnknown(name);
  }
  return group;
}

/** Reads the value(s) a row holds for a field: a scalar, or a list for `array`/`multi` fields. */
export type FieldReader<T> = (row: T, field: FilterField) => unknown;

export type Predicate<T> = (row: T) => boolean;

/**
 * Compiles a filter once per request: expected values are parsed up front (dates through the
 * portal zone, strings lower-cased), so a scan over 100,000 rows costs one cheap test per row.
 */
export function compileFilter<T>(node: Group | Condition, read: FieldReader<T>, timeZone: string): Predicate<T> {
  if (node.kind === 'condition') return compileCondition(node, read, timeZone);
  const children = node.children.map((child) => compileFilter(child, read, timeZone));
  if (children.length === 0) return () => true;
  if (children.length === 1) return children[0] as Predicate<T>;
  if (node.logic === 'OR') return (row) => children.some((child) => child(row));
  return (row) => children.every((child) => child(row));
}

export function matches<T>(row: T, node: Group | Condition, read: FieldReader<T>, timeZone: string): boolean {
  return compileFilter(node, read, timeZone)(row);
}

function compileCondition<T>(condition: Condition, read: FieldReader<T>, timeZone: string): Predicate<T> {
  const { field } = condition;
  const positive = NEGATED[condition.op];
  const test = compileTest(positive ?? condition.op, condition.value, field, timeZone);
  if (field.kind === 'scalar') return positive ? (row) => !test(read(row, field)) : (row) => test(read(row, field));
  const any = (row: T): boolean => {
    const values = read(row, field);
    return Array.isArray(values) && values.length > 0 ? values.some(test) : test(null);
  };
  return positive ? (row) => !any(row) : any;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || value === '' || value === false;
}

/** The comparable form of a value under the field's type: a number (NaN if none) or a lower-cased string. */
function keyFor(field: FilterField, timeZone: string, stored: boolean): (value: unknown) => number | string {
  if (isNumericType(field.type)) return (value) => Number(value);
  // a date-only field compares days, as its DATE column does: the stored form is midnight UTC (dates.ts)
  if (field.type === 'date') return (value) => dayKey(value, timeZone, stored);
  if (field.type === 'datetime') {
    // stored dates always carry an offset; only caller input needs the zone
    return stored ? (value) => Date.parse(String(value)) : (value) => parseDateInput(value, timeZone);
  }
  if (field.type === 'char') return (value) => charValue(value);
  return (value) => String(value).toLowerCase();
}

function listOf(expected: unknown): unknown[] {
  if (Array.isArray(expected)) return expected;
  if (expected !== null && typeof expected === 'object') return Object.values(expected);
  return [expected];
}

function compileTest(op: FilterOp, expected: unknown, field: FilterField, timeZone: string): (actual: unknown) => boolean {
  const actualKey = keyFor(field, timeZone, true);
  const expectedKey = keyFor(field, timeZone, false);
  if (op === '@' || (op === '=' && (Array.isArray(expected) || (expected !== null && typeof expected === 'object')))) {
    const values = listOf(expected);
    const emptyMatches = values.some(isEmpty);
    const keys = new Set(values.filter((value) => !isEmpty(value)).map(expectedKey));
    return (actual) => (isEmpty(actual) ? emptyMatches : keys.has(actualKey(actual)));
  }
  if (Array.isArray(expected)) {
    // an array under a comparison or LIKE: any of the values
    const tests = expected.map((value) => compileTest(op, value, field, timeZone));
    return (actual) => tests.some((test) => test(actual));
  }
  if (op === '%' || op === '=%' || op === '%=') {
    // LIKE does not apply to status/ID fields or multi-fields; the value is then compared as is
    if (!likeAllowed(field.type) || field.kind === 'multi') return compileTest('=', expected, field, timeZone);
    const needle = String(expected).toLowerCase();
    if (op === '%') return (actual) => !isEmpty(actual) && String(actual).toLowerCase().includes(needle);
    const pattern = likeRegExp(needle);
    return (actual) => !isEmpty(actual) && pattern.test(String(actual).toLowerCase());
  }
  if (op === '=') {
    if (isEmpty(expected)) return (actual) => isEmpty(actual) || (isNumericType(field.type) && Number(actual) === 0);
    const want = expectedKey(expected);
    return (actual) => !isEmpty(actual) && actualKey(actual) === want;
  }
  const want = expectedKey(expected);
  if (typeof want === 'number' && Number.isNaN(want)) return () => false;
  const holds = op === '>' ? (order: number) => order > 0 : op === '>=' ? (order: number) => order >= 0 : op === '<' ? (order: number) => order < 0 : op === '<=' ? (order: number) => order <= 0 : () => false;
  return (actual) => {
    if (isEmpty(actual)) return false;
    const have = actualKey(actual);
    if (typeof have === 'number' && Number.isNaN(have)) return false;
    return holds(have === want ? 0 : have < want ? -1 : 1);
  };
}

/** SQL LIKE: `%` any run, `_` one character. The portal's MySQL collation is case-insensitive. */
function likeRegExp(pattern: string): RegExp {
  let source = '';
  for (const char of pattern) {
    if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

function charValue(value: unknown): string {
  if (value === true || value === 1 || value === '1' || value === 'Y' || value === 'y') return 'Y';
  if (value === false || value === 0 || value === '0' || value === 'N' || value === 'n') return 'N';
  return String(value);
}

/** Sign of actual − expected under the field's type; NaN when not comparable. */
export function compare(actual: unknown, expected: unknown, field: FilterField, timeZone: string): number {
  const a = keyFor(field, timeZone, false)(actual);
  const b = keyFor(field, timeZone, false)(expected);
  if ((typeof a === 'number' && Number.isNaN(a)) || (typeof b === 'number' && Number.isNaN(b))) return Number.NaN;
  return a === b ? 0 : a < b ? -1 : 1;
}

// ---- order ----

export interface OrderKey {
  field: FilterField;
  desc: boolean;
}

export interface OrderSchema {
  resolve(name: string): FilterField | undefined;
  onUnknown(name: string): void;
  onBadDirection(name: string, value: unknown): void;
}

export function parseOrder(raw: Record<string, unknown>, schema: OrderSchema): OrderKey[] {
  const keys: OrderKey[] = [];
  for (const [name, direction] of Object.entries(raw)) {
    const field = schema.resolve(name);
    if (!field || field.kind !== 'scalar') {
      schema.onUnknown(name);
      continue;
    }
    const text = String(direction).toUpperCase();
    if (text !== 'ASC' && text !== 'DESC') schema.onBadDirection(name, direction);
    keys.push({ field, desc: text === 'DESC' });
  }
  return keys;
}

/**
 * Sorts rows by `keys`: nulls first ascending (as MySQL sorts them), ties broken by ID ascending.
 * Each row's sort keys are computed once, not per comparison.
 */
export function sortRows<T>(rows: T[], keys: OrderKey[], read: FieldReader<T>, idOf: (row: T) => number, timeZone: string): T[] {
  const makers = keys.map((key) => keyFor(key.field, timeZone, false));
  const decorated = rows.map((row) => ({
    row,
    id: idOf(row),
    keys: keys.map((key, index) => {
      const value = read(row, key.field);
      if (isEmpty(value)) return null;
      const sortKey = (makers[index] as (value: unknown) => number | string)(value);
      return typeof sortKey === 'number' && Number.isNaN(sortKey) ? null : sortKey;
    }),
  }));
  decorated.sort((left, right) => {
    for (let index = 0; index < keys.length; index += 1) {
      const a = left.keys[index] ?? null;
      const b = right.keys[index] ?? null;
      const order = a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1;
      if (order !== 0) return (keys[index] as OrderKey).desc ? -order : order;
    }
    return left.id - right.id;
  });
  return decorated.map((entry) => entry.row);
}
