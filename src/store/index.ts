/** Opening a store: the dialect follows the URL. */
import type { Logger } from '../log/logger.js';
import { DEFAULT_DATABASE_URL, databaseLocation } from './database-url.js';
import { openPostgresStore } from './postgres.js';
import { SqliteStore, type SqliteSynchronous } from './sqlite.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /**
   * `postgres://…` (or `postgresql://…`) for PostgreSQL; anything else is a SQLite file path
   * (a `file:` prefix is allowed; `:memory:` works). @defaultValue './data/b24kit.sqlite'
   */
  url?: string;
  /** PostgreSQL only: the schema to work in (created if missing). */
  schema?: string;
  /** Apply pending migrations before returning. `b24kit migrate` opens with false and calls `migrate()`. @defaultValue true */
  migrate?: boolean;
  /** SQLite only: wait for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /**
   * SQLite only: `FULL` fsyncs every commit, so an acknowledged event survives a power loss or OS
   * crash; `NORMAL` is cheaper per commit and survives a killed process, but a power loss or OS crash
   * may lose the last acknowledged commits (docs/store.md, Durability). PostgreSQL always commits
   * with the server's `synchronous_commit` (on by default). @defaultValue 'FULL'
   */
  synchronous?: SqliteSynchronous;
  /**
   * SQLite with `synchronous: 'FULL'` only: fsync the WAL on libuv's thread pool and resolve each
   * write once it is on disk (true), or let SQLite fsync inside COMMIT, on the event loop (false).
   * The same guarantee either way (src/store/sqlite-wal-sync.ts). @defaultValue true
   */
  fsyncOffEventLoop?: boolean;
  /** PostgreSQL only: pool size. @defaultValue 10 */
  maxConnections?: number;
  /** PostgreSQL only: how long to wait for a connection before failing (503 at the web server), in ms. @defaultValue 10000 */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Opens (and by default migrates) the store named by `url`. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const location = databaseLocation(options.url ?? DEFAULT_DATABASE_URL);
  const store: Store =
    location.kind === 'postgres'
      ? await openPostgresStore({
          url: location.url,
          ...(options.schema !== undefined ? { schema: options.schema } : {}),
          ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
          ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
          ...(options.logger !== undefined ? { logger: options.logger } : {}),
        })
      : new SqliteStore({
          path: location.path,
          ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
          ...(options.synchronous !== undefined ? { synchronous: options.synchronous } : {}),
          ...(options.fsyncOffEventLoop !== undefined ? { fsyncOffEventLoop: options.fsyncOffEventLoop } : {}),
        });
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
  }
  return store;
}

export type { Store, Transaction, Queryable, Dialect, SqlValue, Row, RunResult, MigrationReport } from './types.js';
export { isUniqueViolation } from './sql.js';
export { runMigrations, loadMigrations } from './migrations.js';
