/**
 * The embedded store: one better-sqlite3 connection per process, WAL, busy_timeout.
 *
 * better-sqlite3 is synchronous and a connection has one transaction at a time, while our
 * transactions are async callbacks. So transactions take an in-process lock, and plain queries
 * issued while a transaction is open wait for it (otherwise they would silently join it).
 * Across processes (and across two stores on one file in one process), `BEGIN IMMEDIATE` takes
 * SQLite's write lock up front. A busy database is retried asynchronously, with backoff, for up to
 * `busyTimeoutMs`, rather than with SQLite's own busy handler: that one sleeps inside the call,
 * blocking the event loop — and with it the lock holder, when it lives in the same process.
 * Keep transactions short anyway: while one is open, every other writer waits.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { B24Error } from '../errors.js';
import { runMigrations } from './migrations.js';
import { activeTransaction, assertOutsideTransaction, normalizeParams, storeError, withoutRowLocks } from './sql.js';
import type { MigrationReport, Queryable, Row, RunResult, SqlValue, Store, Transaction } from './types.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. The directory is created if missing. */
  path: string;
  /** How long to wait for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
}

const STATEMENT_CACHE_SIZE = 256;

class AsyncLock {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  get held(): boolean {
    return this.#held > 0;
  }

  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    this.#held += 1;
    await previous;
    return () => {
      this.#held -= 1;
      release();
    };
  }
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #lock = new AsyncLock();
  readonly #busyTimeoutMs: number;

  constructor(options: SqliteStoreOptions) {
    const file = options.path === ':memory:' ? ':memory:' : path.resolve(options.path);
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.location = `sqlite:${file}`;
    this.#busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    try {
      this.#db = new Database(file);
      // while opening, SQLite's own (blocking) wait is fine: nothing of ours holds a lock yet
      this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
      this.#db.pragma('journal_mode = WAL');
      // WAL + NORMAL: durable across process crashes; a power cut may lose the last commits
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma('foreign_keys = ON');
      this.#db.pragma('busy_timeout = 0');
    } catch (error) {
      throw storeError(error);
    }
  }

  // -- plain queries: run now, or after the open transaction ends

  async all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    assertOutsideTransaction(this, 'all');
    return this.#whenIdle(() => this.allNow<T>(sql, params));
  }

  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    assertOutsideTransaction(this, 'run');
    return this.#whenIdle(() => this.runNow(sql, params));
  }

  async exec(script: string): Promise<void> {
    assertOutsideTransaction(this, 'exec');
    return this.#whenIdle(() => this.execNow(script));
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    assertOutsideTransaction(this, 'transaction');
    const release = await this.#lock.acquire();
    const context = { owner: this, open: true };
    try {
      await this.#retryWhileBusy(() => this.execNow('BEGIN IMMEDIATE'));
      try {
        const result = await activeTransaction.run(context, () => fn(new SqliteTransaction(this, context)));
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      context.open = false;
      release();
    }
  }

  migrate(): Promise<MigrationReport> {
    return runMigrations(this);
  }

  async close(): Promise<void> {
    const release = await this.#lock.acquire();
    try {
      if (this.#db.open) this.#db.close();
    } finally {
      release();
    }
  }

  // -- synchronous primitives, used by plain queries and transactions

  allNow<T>(sql: string, params: readonly SqlValue[]): T[] {
    try {
      const statement = this.#prepare(sql);
      if (!statement.reader) {
        statement.run(...normalizeParams(params));
        return [];
      }
      return statement.all(...normalizeParams(params)) as T[];
    } catch (error) {
      throw storeError(error, sql);
    }
  }

  runNow(sql: string, params: readonly SqlValue[]): RunResult {
    try {
      return { rowCount: this.#prepare(sql).run(...normalizeParams(params)).changes };
    } catch (error) {
      throw storeError(error, sql);
    }
  }

  execNow(script: string): void {
    try {
      this.#db.exec(script);
    } catch (error) {
      throw storeError(error, script);
    }
  }

  async #whenIdle<T>(work: () => T): Promise<T> {
    if (!this.#lock.held) return this.#retryWhileBusy(work);
    const release = await this.#lock.acquire();
    try {
      return await this.#retryWhileBusy(work);
    } finally {
      release();
    }
  }

  /** Retries `work` while another connection holds the write lock, for up to busyTimeoutMs. */
  async #retryWhileBusy<T>(work: () => T): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return work();
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw error;
        await sleep(Math.min(50, 1 + 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(withoutRowLocks(sql));
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

function isBusy(error: unknown): boolean {
  const cause = error instanceof B24Error ? error.cause : error;
  return /^SQLITE_BUSY/.test(String((cause as { code?: unknown } | undefined)?.code ?? ''));
}

class SqliteTransaction implements Queryable {
  readonly dialect = 'sqlite' as const;

  constructor(
    private readonly store: SqliteStore,
    private readonly context: { open: boolean },
  ) {}

  async all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    this.#assertOpen();
    return this.store.allNow<T>(sql, params);
  }

  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    this.#assertOpen();
    return this.store.runNow(sql, params);
  }

  async exec(script: string): Promise<void> {
    this.#assertOpen();
    this.store.execNow(script);
  }

  #assertOpen(): void {
    if (!this.context.open) throw storeError(new Error('the transaction has already ended'));
  }
}
