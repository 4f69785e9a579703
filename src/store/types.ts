/**
 * The store: one interface over embedded SQLite and PostgreSQL. Every cross-process arrow of
 * b24kit (tokens, jobs, events, rate-limit state) goes through it.
 *
 * How to write SQL for both dialects (the adapters hide the rest):
 * - Placeholders are `?` everywhere (rewritten to `$1…` on PostgreSQL). Don't use the jsonb `?`
 *   operators; use `jsonb_exists()` if ever needed.
 * - `INSERT … ON CONFLICT (…) DO UPDATE SET x = excluded.x` and `RETURNING` work on both.
 * - `SELECT … FOR UPDATE [SKIP LOCKED | NOWAIT]` at the end of a statement locks rows on PostgreSQL;
 *   SQLite drops the clause, because its transactions (`BEGIN IMMEDIATE`) already hold the
 *   database's single write lock, so nothing else can change or lock those rows meanwhile.
 * - Times are integers: epoch milliseconds in `BIGINT` columns named `…_ms`, passed as parameters
 *   from the caller's clock (never `now()`: the dialects differ and tests move the clock).
 *   `BIGINT`/`COUNT(*)` come back as JS numbers on both.
 * - Booleans are `INTEGER` 0/1; boolean parameters are sent as 1/0.
 * - Keep transactions short and free of network calls: on SQLite a transaction blocks every
 *   other writer, in every process, until it ends.
 */

export type Dialect = 'sqlite' | 'postgres';
export type SqlValue = string | number | bigint | boolean | null | Buffer;
export type Row = Record<string, unknown>;

export interface RunResult {
  /** Rows inserted, updated or deleted (for `… RETURNING`, the rows returned). */
  rowCount: number;
}

/** The query surface shared by the store and a transaction. */
export interface Queryable {
  readonly dialect: Dialect;
  /** All rows of a statement (a SELECT or anything with RETURNING). */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement run for its effect. */
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
  /** A parameterless script of one or more statements (DDL, migrations). */
  exec(script: string): Promise<void>;
}

/** A transaction in progress; valid only inside the `transaction()` callback. */
export type Transaction = Queryable;

export interface MigrationReport {
  /** Migrations this call applied, in order. */
  applied: Array<{ version: number; name: string }>;
  /** The schema version after the call. */
  version: number;
}

export interface Store extends Queryable {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * Use only `tx` inside; calling the store itself there throws (on SQLite it would deadlock,
   * on PostgreSQL it would run outside the transaction). No nesting.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Applies pending migrations; safe when several processes call it at once. */
  migrate(): Promise<MigrationReport>;
  /** Closes the connection(s). */
  close(): Promise<void>;
  /** Where the data lives, without credentials, e.g. `sqlite:/app/data/b24kit.sqlite`. */
  readonly location: string;
}
