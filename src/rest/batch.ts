/**
 * `batch` (docs/protocol.md §5.3): up to 50 commands per request, each a string `method?query` in PHP
 * bracket syntax, with `$result[key]…` references to earlier commands of the SAME request. This
 * file holds the pure parts: normalising commands, finding references, cutting any number of
 * commands into requests of ≤ 50 that keep every dependent group together, and reading answers.
 */
import qs from 'qs';
import { B24Error } from '../errors.js';
import type { RestTime } from './operating.js';

/** The portal refuses more commands per batch (ERROR_BATCH_LENGTH_EXCEEDED). */
export const MAX_BATCH_COMMANDS = 50;

/** One command: `{ method, params }` or `[method, params]`. */
export type BatchCommand = { method: string; params?: Record<string, unknown> } | readonly [method: string, params?: Record<string, unknown>];

/** Commands keyed by the caller's names, or a list (keys '0', '1', …). */
export type BatchCommands = Readonly<Record<string, BatchCommand>> | readonly BatchCommand[];

export interface NormalizedCommand {
  key: string;
  method: string;
  params: Record<string, unknown>;
  /** Keys this command references through `$result[…]` and friends. */
  dependsOn: string[];
}

/**
 * References to another command: `$result[key]…` (documented), the core's `$next[key]`,
 * `$total[key]`, `$time[key]`, `$error[key]`, and the `$result_*[key]` spellings some SDKs use.
 */
const REFERENCE = /\$(?:result(?:_error|_total|_next|_time)?|next|total|time|error)\[([^\]]+)\]/g;
const REFERENCE_VALUE = /^\$(?:result(?:_error|_total|_next|_time)?|next|total|time|error)(?:\[[A-Za-z0-9_.:-]+\])+$/;
const KEY_SHAPE = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Keys referenced anywhere in `params` (strings at any depth). */
function referencedKeys(params: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(REFERENCE)) found.add(match[1]!);
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        walk(key);
        walk(inner);
      }
    }
  };
  walk(params);
  return [...found];
}

/**
 * Commands in the caller's order, validated: method names, key shapes (keys appear inside
 * `$result[…]`, so no brackets), no nested batch, references only to EARLIER commands.
 */
export function normalizeCommands(commands: BatchCommands): NormalizedCommand[] {
  const entries: [string, BatchCommand][] = Array.isArray(commands)
    ? (commands as readonly BatchCommand[]).map((command, index) => [String(index), command])
    : Object.entries(commands as Record<string, BatchCommand>);
  const seen = new Set<string>();
  return entries.map(([key, command]) => {
    const method = Array.isArray(command) ? (command as readonly [string])[0] : (command as { method: string }).method;
    const params = (Array.isArray(command) ? (command as readonly [string, Record<string, unknown>?])[1] : (command as { params?: Record<string, unknown> }).params) ?? {};
    if (!KEY_SHAPE.test(key)) invalid(`batch key "${key}" must match ${KEY_SHAPE}`);
    if (typeof method !== 'string' || !/^[A-Za-z0-9_.]+$/.test(method)) invalid(`batch command "${key}" has an invalid method`);
    if (method.toLowerCase() === 'batch') invalid('a batch cannot contain a batch (ERROR_BATCH_METHOD_NOT_ALLOWED)');
    const dependsOn = referencedKeys(params);
    for (const dependency of dependsOn) {
      if (!seen.has(dependency)) invalid(`batch command "${key}" references "${dependency}", which is not an earlier command`);
    }
    seen.add(key);
    return { key, method, params, dependsOn };
  });
}

/**
 * Cuts commands into requests of at most `size`, keeping every group of commands linked by
 * references in one request (a reference cannot cross requests) and the caller's order within
 * each request. A linked group larger than `size` cannot be sent: B24_ERR_INVALID_ARGUMENT.
 */
export function chunkCommands(commands: readonly NormalizedCommand[], size = MAX_BATCH_COMMANDS): NormalizedCommand[][] {
  // union-find over references
  const parent = new Map<string, string>(commands.map((command) => [command.key, command.key]));
  const find = (key: string): string => {
    let root = key;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(key, root);
    return root;
  };
  for (const command of commands) for (const dependency of command.dependsOn) parent.set(find(command.key), find(dependency));

  const groups = new Map<string, NormalizedCommand[]>();
  for (const command of commands) {
    const root = find(command.key);
    const group = groups.get(root) ?? [];
    group.push(command);
    groups.set(root, group);
  }
  const order = new Map(commands.map((command, index) => [command.key, index]));
  const chunks: NormalizedCommand[][] = [];
  let current: NormalizedCommand[] = [];
  for (const group of groups.values()) {
    if (group.length > size) invalid(`${group.length} batch commands reference each other; at most ${size} fit in one request`);
    if (current.length + group.length > size) {
      chunks.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length) chunks.push(current);
  return chunks.map((chunk) => chunk.sort((a, b) => order.get(a.key)! - order.get(b.key)!));
}

/**
 * `method?query` with PHP bracket syntax (docs/protocol.md §4.2, §5.3). `$result[…]` references are left
 * unencoded so that the portal resolves them whether it substitutes before or after decoding.
 */
export function encodeCommand(method: string, params: Record<string, unknown>): string {
  const query = qs.stringify(params, {
    arrayFormat: 'indices',
    encoder: (value: unknown, defaultEncoder: (input: unknown) => string, _charset: string, type: 'key' | 'value') => {
      if (type === 'value' && typeof value === 'string' && REFERENCE_VALUE.test(value)) return value;
      return defaultEncoder(value);
    },
  });
  return query ? `${method}?${query}` : method;
}

/** The `result` of a batch answer; empty sections arrive as `[]` (docs/protocol.md §5.3). */
export interface RawBatchResult {
  result?: Record<string, unknown> | unknown[];
  result_error?: Record<string, { error?: unknown; error_description?: unknown }> | unknown[];
  result_total?: Record<string, number> | unknown[];
  result_next?: Record<string, number> | unknown[];
  result_time?: Record<string, RestTime> | unknown[];
}

export interface ParsedBatch {
  result: Record<string, unknown>;
  errors: Record<string, { error: string; error_description: string }>;
  total: Record<string, number>;
  next: Record<string, number>;
  time: Record<string, RestTime>;
}

/** Reads a batch answer's sections into records (turning `[]` into `{}`). */
export function parseBatchResult(raw: unknown): ParsedBatch {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new B24Error('B24_ERR_BAD_RESPONSE', 'batch: the answer has no result sections', { method: 'batch' });
  }
  const sections = raw as RawBatchResult;
  const record = <T>(value: unknown): Record<string, T> =>
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, T>) : Array.isArray(value) ? Object.fromEntries(value.map((item, index) => [String(index), item as T])) : {};
  const errors: ParsedBatch['errors'] = {};
  for (const [key, value] of Object.entries(record<{ error?: unknown; error_description?: unknown }>(sections.result_error))) {
    errors[key] = { error: typeof value?.error === 'string' ? value.error : '', error_description: typeof value?.error_description === 'string' ? value.error_description : '' };
  }
  return {
    result: record(sections.result),
    errors,
    total: record(sections.result_total),
    next: record(sections.result_next),
    time: record(sections.result_time),
  };
}

function invalid(message: string): never {
  throw new B24Error('B24_ERR_INVALID_ARGUMENT', message, { method: 'batch' });
}
