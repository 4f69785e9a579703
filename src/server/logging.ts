/**
 * The web server's logger: pino with secrets redacted by how a key is SPELLED, not by a list of
 * exact names. Secrets that reach the server: access and refresh tokens (`auth[…]`, `AUTH_ID`,
 * `REFRESH_ID`), `application_token`, the OAuth `code` and `state`, our client_secret, and whatever
 * a caller (or an attacker) sends as `access-token`, `apikey`, `X-Api-Key`, `Access_Token%00`, …
 * Routes never log bodies; this is the second line of defence.
 *
 * The rule (one predicate, `isSecretKey`, used for log objects, URLs and message text):
 *
 * - A key is NORMALIZED: percent-decoded (up to 3 times), NFKC, lower-cased, then everything but
 *   `a-z0-9` stripped (`_`, `-`, brackets, NUL, spaces). `auth[Access-Token]%00` → `authaccesstoken`.
 * - It is secret when the normalized name contains `token`, `secret`, `passw`, `pwd`, `auth`, `key`,
 *   `signature`, `cookie`, `session`, `credential`, `refreshid`, `jwt` or `code`, or ends in `sid`
 *   (`APP_SID`, `PHPSESSID`). Over-matching is accepted (`author`, `dedupeKey`, `idempotencyKey`
 *   and `barcode` are redacted too): a redacted non-secret costs a little reading, a leaked secret
 *   costs a portal. One word is excused, because it is ours and logged on purpose: the `auth` of
 *   `needs_reauth` (a portal state; the startup line counts portals by state). Another term in the
 *   same key still counts (`needs_reauth_token` is secret).
 * - Query parameters (request URLs, URLs inside strings): also `state` (the OAuth state), as a whole
 *   key or one bracket segment. A secret parameter's value becomes `%5Bredacted%5D`.
 * - Log objects, headers included, at any depth (bounded): a secret key's value becomes
 *   `[redacted]`, whole (an `auth: {…}` object goes at once). One exception keeps error codes
 *   readable: when `code` is the ONLY term a key matches (`code`, `err.code`, `bitrixCode`), a
 *   value shaped like an error code is kept — `B24_ERR_FORBIDDEN`, `QUERY_LIMIT_EXCEEDED`,
 *   `ECONNREFUSED`, `expired_token`, a SQLSTATE, an integer below 100000 — and anything else (an OAuth code is random text with digits)
 *   is redacted. `state` in objects is a portal's state and stays.
 * - Errors are logged as `{ type, message, code, bitrixCode, status, cause }` (no stack, no other own
 *   fields: they may hold request data); message text, like every logged string holding `?`, has
 *   secret query values redacted. An `err` that is not an Error still becomes `{ type, message }`.
 * - Bounds (the hot path logs rarely, but a caller may log something huge): depth 6, 200 keys per
 *   object, 100 array items, 2,000 values per line; past a bound the rest becomes `[truncated]`,
 *   never unredacted.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/** What a secret value is replaced with in log objects. */
const REDACTED = '[redacted]';
const REDACTED_PARAM = '%5Bredacted%5D';
const TRUNCATED = '[truncated]';

/**
 * Spellings of secrets known to reach us (Bitrix24's install and event payloads, OAuth, HTTP).
 * Not the rule: `isSecretKey` matches each of these by pattern, and every other spelling of them.
 */
export const SECRET_KEYS: readonly string[] = [
  'access_token',
  'refresh_token',
  'application_token',
  'client_secret',
  'auth_id',
  'refresh_id',
  'auth',
  'accesstoken',
  'refreshtoken',
  'applicationtoken',
  'clientsecret',
  'authorization',
  'cookie',
  'password',
];

const SECRET_TERMS = /token|secret|passw|pwd|auth|key|signature|cookie|session|credential|refreshid|jwt|sid$/g;
/**
 * Words that hold a secret term but name no secret: the portal state `needs_reauth` (the startup
 * line logs the portals' counts by state). Only that one `auth` is excused: any other term in the
 * same key (`needs_reauth_token`, `tokeneedsreauth`) still makes it secret.
 */
const EXCUSED_WORDS: readonly { word: string; term: string }[] = [{ word: 'needsreauth', term: 'auth' }];
const CODE_TERM = /code/;
/** Error codes: ours (`B24_ERR_…`), Bitrix24's (`QUERY_LIMIT_EXCEEDED`, `expired_token`), Node's (`ECONNRESET`). */
const ERROR_CODE_SHAPE = /^(?:(?:[A-Z][A-Z0-9]*_)*[A-Z]+|[a-z]+(?:_[a-z]+)+)$/;

const MAX_DEPTH = 6;
const MAX_KEYS = 200;
const MAX_ITEMS = 100;
const MAX_VALUES = 2000;

/** A key as compared: percent-decoded, NFKC, lower-case, only `a-z0-9`. */
function normalizeKeyName(name: string): string {
  let text = name;
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    for (let round = 0; round < 3 && text.includes('%'); round++) {
      const decoded = percentDecode(text);
      if (decoded === text) break;
      text = decoded;
    }
    text = text.normalize('NFKC');
  }
  return text.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // malformed sequences (`%E0%A4%A`) would throw: decode byte by byte instead
    return text.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/** True when a normalized key holds a secret term outside the excused words. */
function hasSecretTerm(normalized: string): boolean {
  for (const match of normalized.matchAll(SECRET_TERMS)) {
    const excused = EXCUSED_WORDS.some(({ word, term }) => match[0] === term && normalized.startsWith(word, match.index - word.indexOf(term)));
    if (!excused) return true;
  }
  return false;
}

/** True when a value under this key (a log field, header or query parameter) may be a secret. */
export function isSecretKey(name: string): boolean {
  const normalized = normalizeKeyName(name);
  return hasSecretTerm(normalized) || CODE_TERM.test(normalized);
}

/** True for a key in a log object whose value must be replaced (see the header: error codes stay). */
function redactsField(name: string, value: unknown): boolean {
  const normalized = normalizeKeyName(name);
  if (hasSecretTerm(normalized)) return true;
  if (!CODE_TERM.test(normalized)) return false;
  return !isErrorCodeValue(value);
}

/** An error code, not a secret: a code-shaped string, a SQLSTATE (`23505`), a small number (errno, status). */
function isErrorCodeValue(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 100_000;
  return typeof value === 'string' && value.length <= 64 && (ERROR_CODE_SHAPE.test(value) || /^[0-9A-Z]{5}$/.test(value));
}

/** True for a query parameter whose value must be replaced: a secret key, or the OAuth `state`. */
function isSecretParam(name: string): boolean {
  if (isSecretKey(name)) return true;
  // `state`, `STATE`, `data[state]`: the segments one by one, so that `statement` stays readable
  return name.split(/[[\]]+/).some((segment) => segment !== '' && normalizeKeyName(segment) === 'state');
}

/** A query string (without `?`) with the values of secret parameters replaced; other bytes as they were. */
function redactQuery(query: string): string {
  // a value runs to the next `&` or `;`, `=` included (base64 padding, `a=b=c`): no tail of a secret is left
  return query.replace(/([^&;=]*)=([^&;]*)/g, (pair, key: string, value: string) => (value !== '' && isSecretParam(key) ? `${key}=${REDACTED_PARAM}` : pair));
}

/** A URL (path + query) with the values of secret query parameters replaced. */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return url;
  const hash = url.indexOf('#', index);
  const end = hash < 0 ? url.length : hash;
  return `${url.slice(0, index + 1)}${redactQuery(url.slice(index + 1, end))}${url.slice(end)}`;
}

/** Free text (a message, an error's message) with the query strings in it redacted. */
function redactText(text: string): string {
  if (!text.includes('?')) return text;
  return text.replace(/\?([^\s#"'<>`]+)/g, (_match, query: string) => `?${redactQuery(query)}`);
}

interface WalkBudget {
  values: number;
}

/**
 * A copy of `value` fit to log: secret fields replaced, strings' query strings redacted, errors
 * reduced to `{ type, message, code }`, within the bounds of the header.
 */
function redactForLog(value: unknown, depth = 0, budget: WalkBudget = { values: 0 }): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (++budget.values > MAX_VALUES || depth >= MAX_DEPTH) return TRUNCATED;
  if (value instanceof Error) return describeError(value);
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => redactForLog(item, depth + 1, budget));
    if (value.length > MAX_ITEMS) items.push(`${TRUNCATED} ${value.length - MAX_ITEMS} more`);
    return items;
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return redactForLog(withJson.toJSON(), depth + 1, budget); // Date, URL
  const copy: Record<string, unknown> = {};
  let count = 0;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (++count > MAX_KEYS) {
      copy[TRUNCATED] = true;
      break;
    }
    const field = (value as Record<string, unknown>)[key];
    copy[key] = redactsField(key, field) ? REDACTED : redactForLog(field, depth + 1, budget);
  }
  return copy;
}

/** Causes followed below an error (`B24_ERR_NETWORK` ← `ECONNREFUSED`). */
const MAX_CAUSES = 3;

/**
 * An error as logged: its type, message (query strings redacted), code, Bitrix24's code and the
 * HTTP status (codes only when shaped like one), and its cause, described the same way.
 */
function describeError(error: Error & { code?: unknown; bitrixCode?: unknown; status?: unknown }, depth = 0): Record<string, unknown> {
  const cause: unknown = error.cause;
  return {
    type: error.name,
    message: redactText(String(error.message)),
    ...(error.code !== undefined ? { code: redactsField('code', error.code) ? REDACTED : error.code } : {}),
    ...(error.bitrixCode !== undefined ? { bitrixCode: redactsField('bitrixCode', error.bitrixCode) ? REDACTED : error.bitrixCode } : {}),
    ...(typeof error.status === 'number' ? { status: error.status } : {}),
    ...(cause !== undefined && cause !== null && depth < MAX_CAUSES ? { cause: cause instanceof Error ? describeError(cause, depth + 1) : describeNonError(cause) } : {}),
  };
}

/**
 * What is logged when `err` is not an Error (a caller passed a string or a plain object): still
 * `{ type, message }`, so a log query on `err.message` finds it. An error-like object (an Error
 * from another realm, a driver's plain error) is described like an Error.
 */
function describeNonError(value: unknown): Record<string, unknown> {
  if (value !== null && typeof value === 'object') {
    const like = value as { name?: unknown; type?: unknown; message?: unknown };
    if (typeof like.message === 'string') {
      // `type`: an error this module already described (the log formatter runs before the serializer)
      const name = typeof like.name === 'string' ? like.name : typeof like.type === 'string' ? like.type : 'Object';
      return describeError({ ...(value as object), name, message: like.message } as Error);
    }
    return { type: value.constructor?.name ?? 'Object', message: '[not an Error]', value: redactForLog(value, 1) };
  }
  return { type: typeof value, message: redactText(String(value)) };
}

/** Top-level keys that pino serializes itself (below): the Fastify request and reply are not walked. */
const SERIALIZED = new Set(['req', 'res']);

function redactLogObject(object: Record<string, unknown>): Record<string, unknown> {
  const budget: WalkBudget = { values: 0 };
  const copy: Record<string, unknown> = {};
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const value = object[key];
    copy[key] = SERIALIZED.has(key) ? value : redactsField(key, value) ? REDACTED : redactForLog(value, 1, budget);
  }
  return copy;
}

export interface ServerLoggerOptions {
  /** @defaultValue 'info' */
  level?: string;
  /** Where lines go (tests capture them). @defaultValue stdout */
  destination?: DestinationStream;
  /** @defaultValue 'b24kit' */
  name?: string;
}

/** A pino logger for the process and the web server, with secrets redacted (see the header). */
export function createServerLogger(options: ServerLoggerOptions = {}): PinoLogger {
  const logger = pino(
    {
      name: options.name ?? 'b24kit',
      level: options.level ?? 'info',
      // every line's object passes the walk; a child's bindings pass it in `child` below
      formatters: { log: redactLogObject },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
          method: req.method,
          url: redactUrl(req.url ?? ''),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        // messages and codes only: a stack or an error's own fields could carry request data
        err: (err: unknown) => (err instanceof Error ? describeError(err) : describeNonError(err)),
        // the message itself: Fastify and Node put URLs into some ("Route GET:/x?token=… not found")
        msg: (msg: unknown) => (typeof msg === 'string' ? redactText(msg) : msg),
      },
    },
    options.destination,
  );
  // pino skips `formatters.bindings` for children; children are created from the root by prototype,
  // so this one override covers `logger.child(…).child(…)` too
  const child = logger.child;
  logger.child = function redactedChild(this: PinoLogger, bindings: Record<string, unknown>, childOptions?: Parameters<PinoLogger['child']>[1]) {
    return child.call(this, redactLogObject(bindings), childOptions);
  } as PinoLogger['child'];
  return logger;
}
