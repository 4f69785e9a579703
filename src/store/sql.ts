/** SQL text rewriting between the portable form (see types.ts) and each dialect. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { B24Error } from '../errors.js';
import type { Dialect, SqlValue } from './types.js';

/**
 * Rewrites `?` placeholders to `$1, $2, …` for PostgreSQL, leaving `?` inside string literals,
 * quoted identifiers and comments alone.
 */
export function toPostgresPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length - 1 : end;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
    } else {
      out += c;
    }
  }
  return out;
}

function closingQuote(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 1; // doubled quote escapes itself
      else return i;
    }
  }
  return sql.length - 1;
}

const ROW_LOCK_CLAUSE = /\s+FOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE)(\s+OF\s+[\w\s,."]+?)?(\s+SKIP\s+LOCKED|\s+NOWAIT)?\s*;?\s*$/i;

/**
 * SQLite has no row locks: a transaction holds the database's write lock (BEGIN IMMEDIATE),
 * which is at least as strong, so a trailing `FOR UPDATE …` is dropped.
 */
export function withoutRowLocks(sql: string): string {
  return sql.replace(ROW_LOCK_CLAUSE, '');
}

/** Booleans travel as 1/0 (portable `INTEGER` flags). */
export function normalizeParams(params: readonly SqlValue[]): SqlValue[] {
  return params.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value));
}

/** Wraps a driver error; the SQL text is kept, the parameters (which may hold secrets) are not. */
export function storeError(error: unknown, sql?: string): B24Error {
  if (error instanceof B24Error) return error;
  const message = error instanceof Error ? error.message : String(error);
  const statement = sql ? ` in: ${sql.replace(/\s+/g, ' ').trim().slice(0, 200)}` : '';
  return new B24Error('B24_ERR_STORE', `Store failure: ${message}${statement}`, { cause: error });
}

/** True when a store error is a unique or primary-key violation (both dialects). */
export function isUniqueViolation(error: unknown): boolean {
  const cause = error instanceof B24Error ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Driver error codes that mean the store cannot be reached or cannot take a write right now, as
 * opposed to a fault in the statement: the same request may succeed later. PostgreSQL: the socket
 * (refused, reset, unreachable, DNS), SQLSTATE class 08 (connection exception), 57P01–57P03 (the
 * server is shutting down, crashed or starting), 53300 (too many connections). SQLite: another
 * connection held the write lock beyond busy_timeout, or the disk is full.
 */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  '57P01', '57P02', '57P03', '53300',
  'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED', 'SQLITE_FULL',
]);

/**
 * pg's own errors when a connection is lost or cannot be made carry no code, only these messages;
 * and PostgreSQL's answer while a database refuses connections (`ALTER DATABASE … ALLOW_CONNECTIONS
 * false` for maintenance) is SQLSTATE 55000, a class shared with faults of a statement, so it is
 * told by its message.
 */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|database ".*" is not currently accepting connections)/;

/**
 * True when `error` is a store error (B24_ERR_STORE, or one in its `cause` chain) caused by an
 * outage of the store — PostgreSQL down or unreachable, SQLite busy beyond its timeout — rather than
 * by a fault of the statement. The web server answers those 503 (server/error-handler.ts): retry
 * later. A portal's network error (B24_ERR_NETWORK over ECONNRESET) is not one.
 */
export function isStoreUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current instanceof B24Error && current.code === 'B24_ERR_STORE') return isOutage(current.cause);
    current = current.cause;
  }
  return false;
}

function isOutage(cause: unknown): boolean {
  let current: unknown = cause;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The transaction whose callback is running, per store; used to refuse store calls inside it. */
export const activeTransaction = new AsyncLocalStorage<{ owner: object; open: boolean }>();

export function assertOutsideTransaction(owner: object, what: string): void {
  const current = activeTransaction.getStore();
  if (current && current.owner === owner && current.open) {
    throw new B24Error('B24_ERR_STORE', `store.${what}() was called inside store.transaction(): use the transaction argument instead`);
  }
}

/**
 * How a multi-row statement over `n` rows is cut into chunks. PostgreSQL: as few statements as
 * possible (each is a round trip; the text is not cached, so its length varies freely), up to
 * `maxPostgres` rows each. SQLite: no round trips, but each distinct text is a prepared statement in
 * the store's cache, so chunks are powers of two up to 64 (at most 7 texts per statement shape).
 */
export function chunkSizes(dialect: Dialect, n: number, maxPostgres = 1000): number[] {
  const sizes: number[] = [];
  let left = n;
  if (dialect === 'postgres') {
    while (left > 0) {
      const size = Math.min(left, maxPostgres);
      sizes.push(size);
      left -= size;
    }
    return sizes;
  }
  for (let size = 64; left > 0; ) {
    if (left >= size) {
      sizes.push(size);
      left -= size;
    } else size /= 2;
  }
  return sizes;
}

/** A VALUES list of `rows` copies of `row`, e.g. `valuesRows(2, '(?, ?)')` → `(?, ?), (?, ?)`. */
export function valuesRows(rows: number, row: string): string {
  return new Array<string>(rows).fill(row).join(', ');
}
