import type { CommandWork } from '../limits/cost-model.js';
import type { CrmRecord, CrmTable } from './store.js';
import { lowerBound } from './store.js';
import { compileFilter, sortRows, type Condition, type FieldReader, type Group, type OrderKey } from './filter.js';

/** Legacy list page size: fixed at 50 (docs/protocol.md §5.4). */
export const PAGE_SIZE = 50;

export interface ListRequest {
  filter: Group;
  order: OrderKey[];
  /** `start`: an offset ≥ 0, or -1 to skip the COUNT query. */
  start: number;
  timeZone: string;
}

export interface ListPage {
  rows: CrmRecord[];
  /** Rows matching the filter; 0 when start=-1 skipped the COUNT (D:settings/performance/huge-data.md). */
  total: number;
  /** The next `start`, only when more rows follow. */
  next?: number;
}

/** The `start` param: non-numeric → 0; any negative → -1 (no COUNT). */
export function parseStart(raw: unknown): number {
  const value = Number(raw ?? 0);
  if (!Number.isFinite(value)) return 0;
  if (value < 0) return -1;
  return Math.floor(value);
}

export const readRecordField: FieldReader<CrmRecord> = (record, field) => {
  if (field.kind === 'multi') return record.fm.filter((item) => item.typeId === field.name).map((item) => item.value);
  if (field.kind === 'array') return ((record.links[field.name] ?? record.uf?.[field.name] ?? []) as unknown[]).map(String);
  const value = record.fields[field.name];
  return value !== undefined || !record.uf ? value : record.uf[field.name];
};

interface IdRange {
  /** Inclusive bounds. */
  lo: number;
  hi: number;
  rest: Group;
}

/** Pulls `>ID`, `>=ID`, `<ID`, `<=ID` and `=ID` out of the top-level AND, so they become index bounds. */
function idRange(filter: Group): IdRange {
  let lo = -Infinity;
  let hi = Infinity;
  if (filter.logic !== 'AND') return { lo, hi, rest: filter };
  const rest: Group = { kind: 'group', logic: 'AND', children: [] };
  for (const child of filter.children) {
    const bound = child.kind === 'condition' && child.field.name === 'ID' ? numericBound(child) : undefined;
    if (!bound) {
      rest.children.push(child);
      continue;
    }
    lo = Math.max(lo, bound.lo);
    hi = Math.min(hi, bound.hi);
  }
  return { lo, hi, rest };
}

function numericBound(condition: Condition): { lo: number; hi: number } | undefined {
  if (Array.isArray(condition.value) || condition.value === null || typeof condition.value === 'object' || condition.value === '') return undefined;
  const value = Number(condition.value);
  if (!Number.isFinite(value)) return undefined;
  switch (condition.op) {
    case '>':
      return { lo: Math.floor(value) + 1, hi: Infinity };
    case '>=':
      return { lo: Math.ceil(value), hi: Infinity };
    case '<':
      return { lo: -Infinity, hi: Math.ceil(value) - 1 };
    case '<=':
      return { lo: -Infinity, hi: Math.floor(value) };
    case '=':
      return Number.isInteger(value) ? { lo: value, hi: value } : { lo: 1, hi: 0 };
    default:
      return undefined;
  }
}

/**
 * Runs a list query and bills it. Rows live in ID order, so the documented fast traversal
 * (`>ID` + `order ID ASC` + `start=-1`, docs/protocol.md §5.4) is a binary search and a scan that stops at
 * 50 matches. Any list with `start ≥ 0` runs the COUNT over the table (`countedTableRows`).
 */
export function runList(table: CrmTable, request: ListRequest, work: CommandWork): ListPage {
  const { filter, order, start, timeZone } = request;
  const withCount = start >= 0;
  const offset = withCount ? start : 0;
  const { lo, hi, rest } = idRange(filter);
  const from = lowerBound(table.ids, lo);
  const to = hi === Infinity ? table.ids.length : lowerBound(table.ids, hi + 1);
  const idOrder = order.length === 0 || (order.length === 1 && order[0]?.field.name === 'ID');
  const descending = idOrder && order[0]?.desc === true;
  const test = compileFilter(rest, readRecordField, timeZone);

  let rows: CrmRecord[] = [];
  let total = 0;
  if (from >= to) {
    rows = [];
  } else if (idOrder && rest.children.length === 0) {
    // only ID bounds: the count is the index range, the page a slice of it
    total = to - from;
    const ids = descending ? pageIds(table.ids, to - 1 - offset, Math.max(from, to - offset - PAGE_SIZE), -1) : table.ids.slice(from + offset, Math.min(to, from + offset + PAGE_SIZE));
    rows = ids.map((id) => table.rows.get(id) as CrmRecord);
  } else if (idOrder) {
    const step = descending ? -1 : 1;
    for (let index = descending ? to - 1 : from; descending ? index >= from : index < to; index += step) {
      const record = table.rows.get(table.ids[index] as number) as CrmRecord;
      if (!test(record)) continue;
      if (total >= offset && rows.length < PAGE_SIZE) rows.push(record);
      total += 1;
      if (!withCount && rows.length === PAGE_SIZE) break;
    }
  } else {
    const found: CrmRecord[] = [];
    for (let index = from; index < to; index += 1) {
      const record = table.rows.get(table.ids[index] as number) as CrmRecord;
      if (test(record)) found.push(record);
    }
    total = found.length;
    rows = sortRows(found, order, readRecordField, (record) => record.id, timeZone).slice(offset, offset + PAGE_SIZE);
  }

  work.rowsReturned = rows.length;
  if (!withCount) return { rows, total: 0 };
  work.countedTableRows = table.size;
  const page: ListPage = { rows, total };
  if (offset + PAGE_SIZE < total) page.next = offset + PAGE_SIZE;
  return page;
}

function pageIds(ids: readonly number[], first: number, last: number, step: -1): number[] {
  const out: number[] = [];
  for (let index = first; index >= last; index += step) out.push(ids[index] as number);
  return out;
}
