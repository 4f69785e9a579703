import type { MethodContext, MethodRegistry, MethodResult, Params } from './registry.js';
import { BATCH_MAX_LENGTH, executeCommand } from '../rest/dispatch.js';
import { parsePhpQuery } from '../params.js';
import { RestError } from '../rest-error.js';

/** Methods the core refuses inside a batch. */
const NOT_IN_BATCH = new Set(['batch', 'upload', 'download']);

const batchLengthExceeded = (): RestError => new RestError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded');
const batchMethodNotAllowed = (): RestError => new RestError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage');

/** The reference roots the core exposes: `$result[cmd]…`, `$next[cmd]`, `$total[cmd]`, `$time[cmd]…`, `$error[cmd]…`. */
type SectionName = 'result' | 'next' | 'total' | 'time' | 'error';
type Sections = Record<SectionName, Map<string, unknown>>;

/**
 * `batch` (docs/protocol.md §5.3), after the portal core (CORE: rest/classes/general/rest_provider.php
 * `methodsBatch`, rest_util.php `ParseBatchQuery`/`processBatchElement`; D:settings/how-to-call-rest-api/batch.md):
 *
 * - `cmd` (any key case) is an object or array of `"method?query"` strings; the query uses PHP bracket
 *   syntax. Entries that are not strings are skipped.
 * - The first 50 commands run; every later one gets ERROR_BATCH_LENGTH_EXCEEDED in `result_error`
 *   (the request itself still answers 200: "batch does not return a single error for the entire batch").
 * - `batch`, `upload` and `download` inside a batch give ERROR_BATCH_METHOD_NOT_ALLOWED (rest ≥ 24.0.0).
 * - `halt` is read with PHP truthiness: "0", "" and 0 are false, any other non-empty value is true.
 * - Each section is a PHP array: an empty one is serialized `[]`, keys 0..n-1 in order give a JSON list.
 */
export function registerBatchMethod(registry: MethodRegistry): void {
  registry.define('batch', { scope: 'basic', handler: runBatch });
}

async function runBatch(ctx: MethodContext): Promise<MethodResult> {
  const { emulator, portal, auth } = ctx;
  const cmd = paramCaseInsensitive(ctx.params, 'cmd');
  const halt = phpBool(paramCaseInsensitive(ctx.params, 'halt'));
  const sections: Sections = { result: new Map(), next: new Map(), total: new Map(), time: new Map(), error: new Map() };

  // sub-commands run one after another on the emulator's time line: each starts when the last finished
  let cursorMs = ctx.nowMs;
  // a command's time.finish includes the handler's measured time: the next one starts no earlier
  let lastFinishMs = ctx.nowMs;
  let count = 0;
  for (const [key, call] of commandEntries(cmd)) {
    count += 1;
    let error: RestError | undefined;
    if (count > BATCH_MAX_LENGTH) {
      error = batchLengthExceeded();
    } else {
      if (typeof call !== 'string') continue;
      const { method, query } = splitCall(call);
      const params = substituteReferences(parsePhpQuery(query), sections) as Params;
      if (NOT_IN_BATCH.has(method)) {
        error = batchMethodNotAllowed();
      } else {
        const ownConnector = typeof params.auth_connector === 'string' ? params.auth_connector : ctx.authConnector;
        for (const reserved of ['auth', 'access_token', 'auth_connector', 'state']) delete params[reserved];
        const startMs = Math.max(cursorMs, lastFinishMs, emulator.clock.nowMs());
        const outcome = await executeCommand(emulator, portal, auth, method, params, ownConnector, startMs);
        cursorMs = startMs + outcome.costMs;
        lastFinishMs = outcome.time ? outcome.time.finish * 1000 : cursorMs;
        if (outcome.ok) {
          sections.result.set(key, outcome.result.result);
          if (outcome.result.next !== undefined) sections.next.set(key, outcome.result.next);
          if (outcome.result.total !== undefined) sections.total.set(key, outcome.result.total);
          sections.time.set(key, outcome.time);
        } else {
          error = outcome.error;
        }
      }
    }
    if (error) {
      sections.error.set(key, error.toBody());
      if (halt) break;
    }
  }
  ctx.work.nestedMs = cursorMs - ctx.nowMs;

  return {
    result: {
      result: phpArray(sections.result),
      result_error: phpArray(sections.error),
      result_total: phpArray(sections.total),
      result_next: phpArray(sections.next),
      result_time: phpArray(sections.time),
    },
  };
}

function paramCaseInsensitive(params: Params, name: string): unknown {
  // the core upper-cases the batch's own keys (array_change_key_case)
  for (const [key, value] of Object.entries(params)) if (key.toUpperCase() === name.toUpperCase()) return value;
  return undefined;
}

function commandEntries(cmd: unknown): Array<[string, unknown]> {
  if (Array.isArray(cmd)) return cmd.map((value, index) => [String(index), value]);
  if (cmd !== null && typeof cmd === 'object') return Object.entries(cmd);
  return [];
}

/** `"crm.deal.list?filter[>ID]=5"` → method and query, as PHP `parse_url` splits them. */
function splitCall(call: string): { method: string; query: string } {
  const mark = call.indexOf('?');
  const path = mark === -1 ? call : call.slice(0, mark);
  const query = mark === -1 ? '' : call.slice(mark + 1).replace(/#.*$/, '');
  return { method: path.trim().toLowerCase(), query };
}

/** PHP `(bool)`: false for undefined/null/false/0/"0"/""/empty array, true otherwise (so `"false"` is true). */
export function phpBool(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '' || value === '0') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * A PHP array as `json_encode` writes it: `[]` when empty, a list when the keys are 0..n-1 in
 * order, an object otherwise. This is why empty batch sections arrive as `[]` (docs/protocol.md §5.3).
 */
export function phpArray(entries: Map<string, unknown>): unknown[] | Record<string, unknown> {
  const keys = [...entries.keys()];
  if (keys.every((key, index) => key === String(index))) return [...entries.values()];
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) object[key] = value;
  return object;
}

const REFERENCE = /\$(result|next|total|time|error)(\S*)/gi;
const PATH_STEP = /\[([^\]]+)\]/g;

/** Walks parsed sub-command params and resolves `$result[cmd][field]…` references in string values. */
export function substituteReferences(value: unknown, sections: Sections): unknown {
  if (typeof value === 'string') return substituteInString(value, sections);
  if (Array.isArray(value)) return value.map((item) => substituteReferences(item, sections));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = substituteReferences(item, sections);
    return out;
  }
  return value;
}

/**
 * One string parameter, as the core's `processBatchElement` treats it:
 * - the path is followed key by key while the key exists (PHP `isset`); at the first missing key
 *   the walk STOPS and keeps the deepest value found. `$result[list][49][ID]` on a list of 10 rows
 *   therefore resolves to the whole list, and `$result[cmd][ID]` for a command that failed or did
 *   not run resolves to the whole `result` section so far (every earlier command's result);
 * - when the reference is the whole value, the value is replaced by what was found, whatever its type
 *   (string, number, array, null);
 * - inside a longer string it is replaced only by a string or number; anything else leaves the
 *   reference text as it was.
 * The root name is case-insensitive in the pattern but looked up as written, so `$RESULT[…]` is null.
 * The client should therefore never reference past what a command can return (see docs/emulator.md).
 */
function substituteInString(text: string, sections: Sections): unknown {
  let current: unknown = text;
  for (const match of text.matchAll(REFERENCE)) {
    const whole = match[0];
    const root = match[1] ?? '';
    const path = [...(match[2] ?? '').matchAll(PATH_STEP)].map((step) => step[1] ?? '');
    if (path.length === 0) continue;
    let found: unknown = root in sections ? sections[root as SectionName] : null;
    for (const key of path) {
      if (!phpIsset(found, key)) break;
      found = phpIndex(found, key);
    }
    if (found instanceof Map) found = phpArray(found);
    if (current === whole) {
      current = found;
      continue;
    }
    if (typeof current !== 'string') continue;
    const replacement = typeof found === 'number' ? String(found) : found;
    if (typeof replacement !== 'string') continue;
    current = current.split(whole).join(replacement);
  }
  return current;
}

function phpIsset(container: unknown, key: string): boolean {
  if (container instanceof Map) return container.has(key) && container.get(key) !== null && container.get(key) !== undefined;
  if (typeof container === 'string') {
    if (!/^-?\d+$/.test(key)) return false;
    const index = Number(key) < 0 ? container.length + Number(key) : Number(key);
    return index >= 0 && index < container.length;
  }
  if (container === null || typeof container !== 'object') return false;
  if (!Object.prototype.hasOwnProperty.call(container, key)) return false;
  const value = (container as Record<string, unknown>)[key];
  return value !== null && value !== undefined;
}

function phpIndex(container: unknown, key: string): unknown {
  if (container instanceof Map) return container.get(key);
  if (typeof container === 'string') {
    const index = Number(key) < 0 ? container.length + Number(key) : Number(key);
    return container[index];
  }
  return (container as Record<string, unknown>)[key];
}
