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
 *
 * Durability: WAL with `synchronous=FULL` by default, so a COMMIT returns (and an event is
 * acknowledged) only once the WAL is fsynced: it survives a power loss or an OS crash, not only a
 * killed process. Group commit (events/inbox.ts) makes that one fsync per group of deliveries.
 * Checkpoints run in a worker thread (sqlite-checkpointer.ts), not inside a COMMIT on this thread.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { B24Error } from '../errors.js';
import { runMigrations } from './migrations.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { WalSync } from './sqlite-wal-sync.js';
import { activeTransaction, assertOutsideTransaction, normalizeParams, storeError, withoutRowLocks } from './sql.js';
import type { MigrationReport, Queryable, Row, RunResult, SqlValue, Store, Transaction } from './types.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:`. The directory is created if missing. */
  path: string;
  /** How long to wait for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /**
   * When a commit counts as done (SQLite's `PRAGMA synchronous`, WAL mode). `FULL`: the WAL is
   * fsynced at every commit, so whatever was acknowledged survives a power loss or an OS crash.
   * `NORMAL`: no fsync at commit (only at checkpoints): cheaper per commit and still safe when the
   * process is killed, but a power loss or OS crash may lose the last commits — events already
   * answered 200, which the portal will not send again. @defaultValue 'FULL'
   */
  synchronous?: SqliteSynchronous;
  /**
   * `FULL` on a file only: where the fsync of a commit runs. true: the connection writes the commit
   * at `synchronous=NORMAL` and the store awaits an `fdatasync` of the WAL on libuv's thread pool
   * before the transaction (or a plain write) resolves — the same guarantee as SQLite's FULL, without
   * stopping the event loop for the fsync, and commits made during one fsync share the next
   * (sqlite-wal-sync.ts). false: SQLite's own `synchronous=FULL`, the fsync inside COMMIT on the
   * event loop. @defaultValue true
   */
  fsyncOffEventLoop?: boolean;
  /**
   * WAL checkpoints in a worker thread with its own connection (sqlite-checkpointer.ts) instead of
   * SQLite's automatic one inside a COMMIT on the event loop. Started after the store's first
   * CHECKPOINTER_AFTER_COMMITS transactions (a store that writes little never starts a thread).
   * @defaultValue true for a file, false for `:memory:`
   */
  backgroundCheckpoint?: boolean;
}

export type SqliteSynchronous = 'FULL' | 'NORMAL';

/** Transactions before the background checkpointer starts (until then SQLite's default, 1,000 pages, applies). */
export const CHECKPOINTER_AFTER_COMMITS = 64;
/**
 * `wal_autocheckpoint` of the writer while the background checkpointer runs, in pages (~40 MB at
 * 4 KiB): only a backstop, reached if the worker falls far behind.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000;
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

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
  readonly #file: string;
  readonly #synchronous: SqliteSynchronous;
  readonly #backgroundCheckpoint: boolean;
  #commits = 0;
  #checkpointer: WalCheckpointer | undefined;
  /** Set when FULL's fsync runs off the event loop. */
  readonly #walSync: WalSync | undefined;
  /** A statement since the last check wrote (or may have written) to the database. */
  #wrote = false;

  constructor(options: SqliteStoreOptions) {
    const file = options.path === ':memory:' ? ':memory:' : path.resolve(options.path);
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.location = `sqlite:${file}`;
    this.#busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    this.#file = file;
    this.#synchronous = options.synchronous ?? 'FULL';
    if (this.#synchronous !== 'FULL' && this.#synchronous !== 'NORMAL') {
      throw new B24Error('B24_ERR_CONFIG', `SQLite synchronous must be FULL or NORMAL, not ${String(this.#synchronous)}`);
    }
    this.#backgroundCheckpoint = file !== ':memory:' && options.backgroundCheckpoint !== false;
    let walSync: WalSync | undefined;
    try {
      this.#db = new Database(file);
      // while opening, SQLite's own (blocking) wait is fine: nothing of ours holds a lock yet
      this.#db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
      const journalMode = this.#db.pragma('journal_mode = WAL', { simple: true });
      // only a WAL holds every commit in one file to fsync; a database that stays in another
      // journal mode (a filesystem without shared memory) gets SQLite's own FULL instead
      if (this.#synchronous === 'FULL' && journalMode === 'wal' && options.fsyncOffEventLoop !== false) walSync = new WalSync(file);
      // FULL: a commit returns once the WAL is on disk (an acknowledged event survives a power cut);
      // NORMAL: a killed process loses nothing, a power cut or OS crash may lose the last commits
      // (off the event loop, FULL's fsync is the store's own: the connection itself commits at NORMAL)
      this.#db.pragma(`synchronous = ${walSync ? 'NORMAL' : this.#synchronous}`);
      this.#db.pragma('foreign_keys = ON');
      this.#db.pragma('busy_timeout = 0');
    } catch (error) {
      throw storeError(error);
    }
    this.#walSync = walSync;
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
    let wrote = false;
    let result: T;
    try {
      await this.#retryWhileBusy(() => this.execNow('BEGIN IMMEDIATE'));
      this.#wrote = false;
      try {
        result = await activeTransaction.run(context, () => fn(new SqliteTransaction(this, context)));
        wrote = this.#wrote;
        this.#db.exec('COMMIT');
        if (++this.#commits === CHECKPOINTER_AFTER_COMMITS) this.#startCheckpointer();
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      context.open = false;
      release();
    }
    // after the lock: the next transaction commits while this fsync runs, and shares the next one
    if (wrote) await this.#durable();
    return result;
  }

  migrate(): Promise<MigrationReport> {
    return runMigrations(this);
  }

  /** fsyncs of the WAL run off the event loop so far (FULL with fsyncOffEventLoop; else 0). */
  get walSyncs(): number {
    return this.#walSync?.syncs ?? 0;
  }

  /** Background checkpoints that copied pages so far (0 until the checkpointer started). */
  get backgroundCheckpoints(): number {
    return this.#checkpointer?.checkpoints ?? 0;
  }

  async close(): Promise<void> {
    const release = await this.#lock.acquire();
    try {
      // the checkpointer's connection first: the last connection to close checkpoints and removes the WAL
      await this.#checkpointer?.stop();
      this.#checkpointer = undefined;
      await this.#walSync?.close();
      if (this.#db.open) this.#db.close();
    } finally {
      release();
    }
  }

  // -- synchronous primitives, used by plain queries and transactions

  allNow<T>(sql: string, params: readonly SqlValue[]): T[] {
    try {
      const statement = this.#prepare(sql);
      if (!statement.readonly) this.#wrote = true;
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
      const statement = this.#prepare(sql);
      if (!statement.readonly) this.#wrote = true;
      return { rowCount: statement.run(...normalizeParams(params)).changes };
    } catch (error) {
      throw storeError(error, sql);
    }
  }

  execNow(script: string): void {
    try {
      this.#wrote = true; // a script may write
      this.#db.exec(script);
    } catch (error) {
      throw storeError(error, script);
    }
  }

  async #whenIdle<T>(work: () => T): Promise<T> {
    let result: T;
    let wrote: boolean;
    const tracked = () => {
      this.#wrote = false;
      const value = work();
      wrote = this.#wrote;
      return value;
    };
    if (!this.#lock.held) result = await this.#retryWhileBusy(tracked);
    else {
      const release = await this.#lock.acquire();
      try {
        result = await this.#retryWhileBusy(tracked);
      } finally {
        release();
      }
    }
    if (wrote!) await this.#durable();
    return result;
  }

  /** FULL off the event loop: resolves once what was committed before this call is on disk. */
  async #durable(): Promise<void> {
    if (!this.#walSync) return;
    try {
      await this.#walSync.afterNow();
    } catch (error) {
      throw storeError(error);
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

  #startCheckpointer(): void {
    if (!this.#backgroundCheckpoint || !this.#db.open) return;
    try {
      this.#checkpointer = new WalCheckpointer({
        file: this.#file,
        synchronous: this.#synchronous,
        onFailure: () => {
          // back to SQLite's own checkpoints (inside commits, on this thread): slower, never unbounded
          if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
        },
      });
      this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
    } catch {
      this.#checkpointer = undefined; // no worker thread: SQLite's own checkpoints stay
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
