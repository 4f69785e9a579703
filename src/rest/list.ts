/**
 * List strategies (docs/protocol.md §5.4). Pages hold 50 rows. The fastest correct traversal skips the
 * COUNT query (`start=-1`) and walks an ID cursor (`order {ID:'ASC'}`, `filter {'>ID': last}`);
 * up to 50 such pages are chained inside ONE batch through `$result[prev][49][ID]`, so one request
 * returns up to 2,500 rows. Every list command bills the method's operating budget whether it
 * returns rows or not, so chains are bounded by their range's last ID and sized by the density the
 * data shows (tailCommand, planningDensity, packRequest). Methods without ID ordering (or with the
 * caller's own order) fall back to `start` offsets from the first page's `next`/`total`, 50 pages
 * per batch. Pure functions here; list-reader.ts runs them.
 */
import { B24Error } from '../errors.js';
import { MAX_BATCH_COMMANDS, type NormalizedCommand, type ParsedBatch } from './batch.js';

/** Rows per page of every list method. */
export const PAGE_SIZE = 50;

/** How to walk a method by ID: the ID field, and the key of the rows inside `result`, if any. */
export interface IdCursorShape {
  /** @example 'ID' for crm.deal.list, 'id' for crm.item.list */
  idField: string;
  /** @example 'items' for crm.item.list (`result: {items: […]}`); undefined when `result` is the array */
  itemsKey?: string;
}

const LEGACY = { idField: 'ID' } as const;
/** Methods known to accept `order {ID: 'ASC'}`, `filter {'>ID': n}` and `start=-1`. */
const ID_CURSOR_METHODS: Readonly<Record<string, IdCursorShape>> = Object.freeze({
  'crm.deal.list': LEGACY,
  'crm.lead.list': LEGACY,
  'crm.contact.list': LEGACY,
  'crm.company.list': LEGACY,
  'crm.quote.list': LEGACY,
  'crm.activity.list': LEGACY,
  'crm.requisite.list': LEGACY,
  'crm.product.list': LEGACY,
  'crm.timeline.comment.list': LEGACY,
  'crm.item.list': { idField: 'id', itemsKey: 'items' },
});

export interface ListOptions {
  /**
   * `auto` picks the ID cursor for known methods and for `idCursor`, else offsets.
   * @defaultValue 'auto'
   */
  strategy?: 'auto' | 'id-cursor' | 'offset';
  /** Walk another method by ID (implies the ID cursor when the params allow it). */
  idCursor?: IdCursorShape;
  /** List calls per request (1..50); fewer wastes less when only the first rows are wanted. @defaultValue 50 */
  pagesPerRequest?: number;
  /**
   * Requests of one list in flight at once, once the first request has shown that more than one
   * request's worth is left (each carries chains over its own ID ranges). 1 = strictly sequential.
   * @defaultValue 4
   */
  parallelCursors?: number;
  /**
   * Back-pressure: pages (of ≤ 50 rows) read ahead of the caller, in flight or waiting for the
   * caller to reach them, before no further request is sent. The request the caller waits for is
   * always sent. @defaultValue 2 × parallelCursors × pagesPerRequest (400 pages, 20,000 rows)
   */
  maxBufferedPages?: number;
}

/** The ID-cursor plan: the params every page shares, and where the cursor starts. */
export interface IdCursorPlan {
  kind: 'id-cursor';
  shape: IdCursorShape;
  /** Params without the cursor key, with `order` and `select` fixed up and `start=-1`. */
  base: Record<string, unknown>;
  filterKey: string;
  /** The parameter name that holds the filter (`filter` or `FILTER`, as the caller wrote it). */
  filterParam: string;
  /** Rows with ID > afterId come next. */
  afterId: number;
  /** An upper bound the caller set (`<=ID`), or undefined. */
  upToId: number | undefined;
}

export interface OffsetPlan {
  kind: 'offset';
  shape: { itemsKey?: string };
  base: Record<string, unknown>;
  /** Why the ID cursor was not used, when it could have been. */
  reason?: string;
}

export type ListPlan = IdCursorPlan | OffsetPlan;

function paramName(params: Record<string, unknown>, name: string): string {
  return Object.keys(params).find((key) => key.toLowerCase() === name) ?? name;
}

function asNumber(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isSafeInteger(number) ? number : undefined;
}

/**
 * Picks the strategy for `method` with the caller's `params`. The caller's filter and select are
 * kept (the ID is added to a select that lacks it); a caller's `>ID`/`>=ID` becomes the cursor's
 * start and `<ID`/`<=ID` its end; a caller's order other than ID ascending means offsets (which
 * honour it), unless `strategy: 'id-cursor'` insists — then it is refused.
 */
export function planList(method: string, params: Record<string, unknown>, options: ListOptions = {}): ListPlan {
  const strategy = options.strategy ?? 'auto';
  const shape = options.idCursor ?? ID_CURSOR_METHODS[method.toLowerCase()];
  const offset = (reason?: string): OffsetPlan => {
    const base = { ...params };
    const itemsKey = shape?.itemsKey;
    return { kind: 'offset', shape: itemsKey ? { itemsKey } : {}, base, ...(reason ? { reason } : {}) };
  };
  if (strategy === 'offset') return offset();
  if (!shape) {
    if (strategy === 'id-cursor') refuse(method, `${method} is not known to support an ID cursor; pass idCursor: {idField, itemsKey}`);
    return offset();
  }
  const cannot = (reason: string): OffsetPlan => {
    if (strategy === 'id-cursor') refuse(method, reason);
    return offset(reason);
  };

  const id = shape.idField;
  const idLower = id.toLowerCase();
  const base: Record<string, unknown> = { ...params };
  delete base[paramName(base, 'start')];

  const orderParam = paramName(base, 'order');
  const order = base[orderParam];
  if (order !== undefined && order !== null) {
    const entries = typeof order === 'object' && !Array.isArray(order) ? Object.entries(order as Record<string, unknown>) : [];
    const idAsc = entries.length === 1 && entries[0]![0].toLowerCase() === idLower && String(entries[0]![1]).toUpperCase() === 'ASC';
    if (entries.length > 0 && !idAsc) return cannot(`the order ${JSON.stringify(order)} conflicts with the ID cursor (ID ascending)`);
  }
  delete base[orderParam];
  base.order = { [id]: 'ASC' };

  const filterParam = paramName(base, 'filter');
  const filter: Record<string, unknown> = { ...((base[filterParam] as Record<string, unknown> | undefined) ?? {}) };
  if (typeof base[filterParam] !== 'object' && base[filterParam] !== undefined) return cannot('the filter is not an object');
  let afterId = 0;
  let upToId: number | undefined;
  for (const key of Object.keys(filter)) {
    const lower = key.toLowerCase();
    if (lower === `>${idLower}` || lower === `>=${idLower}`) {
      const value = asNumber(filter[key]);
      if (value === undefined) return cannot(`the filter ${key} is not an integer`);
      afterId = Math.max(afterId, lower.startsWith('>=') ? value - 1 : value);
      delete filter[key];
    } else if (lower === `<${idLower}` || lower === `<=${idLower}`) {
      const value = asNumber(filter[key]);
      if (value === undefined) return cannot(`the filter ${key} is not an integer`);
      const bound = lower.startsWith('<=') ? value : value - 1;
      upToId = upToId === undefined ? bound : Math.min(upToId, bound);
      delete filter[key];
    }
  }
  base[filterParam] = filter;

  const selectParam = paramName(base, 'select');
  const select = base[selectParam];
  if (Array.isArray(select) && select.length > 0) {
    const hasId = select.some((field) => typeof field === 'string' && (field === '*' || field.toLowerCase() === idLower));
    if (!hasId) base[selectParam] = [...select, id];
  }
  base.start = -1;
  return { kind: 'id-cursor', shape, base, filterKey: `>${id}`, filterParam, afterId, upToId };
}

/**
 * What the portal takes for a reference inside a batch: `$result`, `$next`, `$total`, `$time`,
 * `$error` (any case, `$result_error` and the like too) followed by a `[key]` path, anywhere in a
 * string value (CRestUtil::processBatchElement, docs/rest.md "The list strategy").
 */
const BATCH_REFERENCE = /\$(?:result|next|total|time|error)\S*?\[[^\]]+\]/i;

/**
 * Whether any string value in `params`, at any depth, would be replaced by the portal inside a
 * batch. Such params are read with single calls, where the value means what it says.
 */
export function hasBatchReference(params: unknown): boolean {
  if (typeof params === 'string') return BATCH_REFERENCE.test(params);
  if (Array.isArray(params)) return params.some(hasBatchReference);
  if (params !== null && typeof params === 'object') return Object.values(params).some(hasBatchReference);
  return false;
}

/** The rows of one page's `result`: the array itself, or `result[itemsKey]`. */
export function pageRows(result: unknown, itemsKey?: string): Record<string, unknown>[] {
  if (Array.isArray(result)) return result as Record<string, unknown>[];
  if (result && typeof result === 'object') {
    if (itemsKey) {
      const items = (result as Record<string, unknown>)[itemsKey];
      return Array.isArray(items) ? (items as Record<string, unknown>[]) : [];
    }
    // e.g. tasks.task.list → {tasks: […]}: the single array-valued key
    const arrays = Object.values(result as Record<string, unknown>).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as Record<string, unknown>[];
    // PHP serialises a list with holes as an object keyed by index
    const values = Object.values(result as Record<string, unknown>);
    if (values.every((value) => value && typeof value === 'object' && !Array.isArray(value))) return values as Record<string, unknown>[];
  }
  return [];
}

/**
 * `pages` chained list calls after `afterId` (and up to `upToId`): the first filters on the number,
 * each next one on the previous page's 50th row (`$result[prev][49][ID]`, or
 * `$result[prev][items][49][id]`).
 */
export function chainCommands(method: string, plan: IdCursorPlan, afterId: number, pages: number, upToId = plan.upToId, prefix = 'p'): NormalizedCommand[] {
  const count = Math.max(1, Math.min(MAX_BATCH_COMMANDS, Math.floor(pages)));
  const commands: NormalizedCommand[] = [];
  const path = plan.shape.itemsKey ? `[${plan.shape.itemsKey}][${PAGE_SIZE - 1}][${plan.shape.idField}]` : `[${PAGE_SIZE - 1}][${plan.shape.idField}]`;
  for (let index = 0; index < count; index += 1) {
    const key = `${prefix}${index}`;
    const previous = `${prefix}${index - 1}`;
    const filter: Record<string, unknown> = { ...(plan.base[plan.filterParam] as Record<string, unknown>) };
    filter[plan.filterKey] = index === 0 ? afterId : `$result[${previous}]${path}`;
    if (upToId !== undefined) filter[`<=${plan.shape.idField}`] = upToId;
    commands.push({ key, method, params: { ...plan.base, [plan.filterParam]: filter }, dependsOn: index === 0 ? [] : [previous] });
  }
  return commands;
}

export interface ChainOutcome {
  /** Pages in order, up to the first short page or the first failed command. */
  pages: Record<string, unknown>[][];
  /** The cursor after the last page read. */
  lastId: number;
  /** A page had fewer than 50 rows: the range is exhausted. */
  done: boolean;
  /** The first failed command's error, if the chain broke on one. */
  error: { key: string; error: string; error_description: string } | undefined;
}

/**
 * Reads a chain's answer in order and stops at the first short page: commands after it referenced
 * a row that does not exist, and whatever they returned is discarded.
 */
export function readChain(parsed: ParsedBatch, commands: readonly NormalizedCommand[], plan: IdCursorPlan, afterId: number): ChainOutcome {
  const pages: Record<string, unknown>[][] = [];
  let lastId = afterId;
  for (const command of commands) {
    const error = parsed.errors[command.key];
    if (error || !(command.key in parsed.result)) {
      return { pages, lastId, done: false, error: { key: command.key, ...(error ?? { error: '', error_description: 'missing from the batch answer' }) } };
    }
    const rows = pageRows(parsed.result[command.key], plan.shape.itemsKey);
    pages.push(rows);
    if (rows.length > 0) {
      const id = asNumber(rows[rows.length - 1]![plan.shape.idField]);
      if (id === undefined || id <= lastId) {
        throw new B24Error('B24_ERR_BAD_RESPONSE', `${command.method}: rows are not in ascending ${plan.shape.idField} order`, { method: command.method });
      }
      lastId = id;
    }
    if (rows.length < PAGE_SIZE) return { pages, lastId, done: true, error: undefined };
  }
  return { pages, lastId, done: false, error: undefined };
}

/**
 * The tail query of a list's first request: the same selection in descending ID order, so one
 * command returns the (up to) 50 rows with the largest IDs. It tells the reader where the
 * selection ends, and its rows are the selection's last page.
 */
export function tailCommand(method: string, plan: IdCursorPlan, afterId: number, upToId = plan.upToId, key = 'tail'): NormalizedCommand {
  const filter: Record<string, unknown> = { ...(plan.base[plan.filterParam] as Record<string, unknown>), [plan.filterKey]: afterId };
  if (upToId !== undefined) filter[`<=${plan.shape.idField}`] = upToId;
  const base = { ...plan.base };
  delete base[paramName(base, 'order')];
  return { key, method, params: { ...base, order: { [plan.shape.idField]: 'DESC' }, [plan.filterParam]: filter }, dependsOn: [] };
}

/** The ID of a row as a safe integer, or undefined. */
export function rowId(row: Record<string, unknown> | undefined, idField: string): number | undefined {
  return row ? asNumber(row[idField]) : undefined;
}

/** A part of the ID space still to read: IDs > `afterId` and ≤ `upToId`. */
export interface IdRange {
  afterId: number;
  upToId: number;
  /** Expected rows per ID in this range (0 < density ≤ 1: IDs are unique integers). */
  density: number;
  /** The density was measured in this range (the rest of a chain), not estimated from the whole selection. */
  measured?: boolean;
}

/** One chain of a request: `pages` chained pages over `range`. */
export interface ChainPlan {
  range: IdRange;
  pages: number;
}

/**
 * Rows per ID to plan with, from `rows` rows seen over an ID span of `span`. IDs are unique
 * integers, so a range of n IDs holds at most n rows: a density of 1 is an upper bound, and a
 * chain sized by it never runs past a range's end. Below 1 the estimate is lowered by its
 * sampling error (1/√rows) — a chain sized too short leaves a remainder read by a later chain at
 * no extra command, a chain sized too long runs pages past the range's end that return nothing.
 */
export function planningDensity(rows: number, span: number): number {
  if (rows <= 0 || span <= 0) return 1 / PAGE_SIZE;
  const observed = Math.min(1, rows / span);
  if (observed >= 1) return 1;
  return Math.max(observed / 2, observed * (1 - 1 / Math.sqrt(rows)));
}

/** Pages a chain needs to read `range` if it holds `density × width` rows (at least 1). */
export function pagesFor(range: IdRange): number {
  const rows = range.density * (range.upToId - range.afterId);
  return Math.max(1, Math.ceil(rows / PAGE_SIZE - 1e-9));
}

/**
 * Fills one request of up to `slots` pages from the front of `queue` (ranges in ID order), which
 * it consumes: a range whose pages fit is taken whole; the first one that does not fit is cut
 * where its expected rows fill the request, and its rest stays at the front of the queue. So
 * every request but the last carries `slots` pages, and no chain is sized past its range's end.
 */
export function packRequest(queue: IdRange[], slots: number): ChainPlan[] {
  const chains: ChainPlan[] = [];
  let free = Math.max(1, Math.floor(slots));
  while (free > 0 && queue.length > 0) {
    const range = queue[0]!;
    const pages = pagesFor(range);
    if (pages <= free) {
      queue.shift();
      chains.push({ range, pages });
      free -= pages;
      continue;
    }
    const width = Math.max(1, Math.floor((free * PAGE_SIZE) / range.density));
    const cut = range.afterId + width;
    chains.push({ range: { ...range, upToId: cut }, pages: free });
    queue[0] = { ...range, afterId: cut };
    free = 0;
  }
  return chains;
}

/**
 * Splits (afterId, upToId] into `parts` contiguous ranges of about equal ID span, as
 * [afterId, upToId] pairs (a range holds IDs > its first and ≤ its second number).
 */
export function splitIdRange(afterId: number, upToId: number, parts: number): [number, number][] {
  const span = upToId - afterId;
  const count = Math.max(1, Math.min(Math.floor(parts), span));
  if (span <= 0) return [];
  const ranges: [number, number][] = [];
  let low = afterId;
  for (let index = 1; index <= count; index += 1) {
    const high = index === count ? upToId : afterId + Math.floor((span * index) / count);
    if (high > low) ranges.push([low, high]);
    low = high;
  }
  return ranges;
}

/**
 * Offset pages after the first: `start` = next, next+50, … below total, as batch commands of at
 * most 50 (each one page).
 */
export function offsetCommands(method: string, plan: OffsetPlan, firstNext: number, total: number): NormalizedCommand[] {
  const commands: NormalizedCommand[] = [];
  const startParam = paramName(plan.base, 'start');
  for (let start = firstNext; start < total; start += PAGE_SIZE) {
    commands.push({ key: `o${start}`, method, params: { ...plan.base, [startParam]: start }, dependsOn: [] });
  }
  return commands;
}

function refuse(method: string, message: string): never {
  throw new B24Error('B24_ERR_INVALID_ARGUMENT', `${method}: ${message}`, { method });
}
