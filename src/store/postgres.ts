/**
 * The PostgreSQL store: a `pg` Pool; a transaction holds one pooled client from BEGIN to
 * COMMIT/ROLLBACK. Row locks (`FOR UPDATE`) and advisory locks work as PostgreSQL defines them.
 */
import pg from 'pg';
import { runMigrations } from './migrations.js';
import { activeTransaction, assertOutsideTransaction, normalizeParams, storeError, toPostgresPlaceholders } from './sql.js';
import type { MigrationReport, Queryable, Row, RunResult, SqlValue, Store, Transaction } from './types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /**
   * Schema to use (created if missing; becomes the search_path of every connection). Tests use a
   * fresh schema per run. @defaultValue the server's search_path (usually `public`)
   */
  schema?: string;
  /** Pool size. @defaultValue 10 */
  maxConnections?: number;
  /**
   * How long a statement waits for a connection — a new one to be made, or a pooled one to be free —
   * before it fails with B24_ERR_STORE (which the web server answers 503). Without a limit, a server
   * that is unreachable rather than down (packets dropped, no refusal) would hold every request until
   * the OS gives up on the TCP connect, minutes later. @defaultValue 10000
   */
  connectTimeoutMs?: number;
  logger?: Logger;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const INT8_OID = 20;

/** int8 (BIGINT, COUNT(*)) as a JS number: our int8 values are epoch ms and counters, far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const logger = options.logger ?? silentLogger;
  if (options.schema !== undefined) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw storeError(new Error('schema must be a lower-case SQL identifier'));
    const client = new pg.Client({ connectionString: options.url });
    try {
      await client.connect();
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    } catch (error) {
      // a concurrent CREATE SCHEMA IF NOT EXISTS may still lose the race on the catalog
      if ((error as { code?: string }).code !== '23505') throw storeError(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    types,
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // an idle client's error (server restart) must not crash the process; the next query reconnects
  pool.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL pool: idle client error'));
  return new PostgresStore(pool, redact(options.url, options.schema));
}

function redact(url: string, schema: string | undefined): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.username = parsed.username ? parsed.username : '';
    return `postgres://${parsed.username ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname}${schema ? `#${schema}` : ''}`;
  } catch {
    return 'postgres://(invalid url)';
  }
}

async function query<T>(client: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[]): Promise<{ rows: T[]; rowCount: number }> {
  try {
    const result = await client.query(toPostgresPlaceholders(sql), normalizeParams(params));
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  } catch (error) {
    throw storeError(error, sql);
  }
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
  ) {}

  async all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    assertOutsideTransaction(this, 'all');
    return (await query<T>(this.pool, sql, params)).rows;
  }

  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    assertOutsideTransaction(this, 'run');
    return { rowCount: (await query(this.pool, sql, params)).rowCount };
  }

  async exec(script: string): Promise<void> {
    assertOutsideTransaction(this, 'exec');
    try {
      await this.pool.query(script);
    } catch (error) {
      throw storeError(error, script);
    }
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    assertOutsideTransaction(this, 'transaction');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    const context = { owner: this, open: true };
    let broken = false;
    // pg-pool listens for a client's errors only while it is idle: a checked-out client whose
    // connection the server ends between two statements (a restart, pg_terminate_backend) emits
    // 'error' with no listener, which would crash the process. The next statement fails instead.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await query(client, 'BEGIN', []);
      try {
        const result = await activeTransaction.run(context, () => fn(new PostgresTransaction(client, context)));
        await query(client, 'COMMIT', []);
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is unusable: destroy it instead of returning it to the pool
        }
        throw error;
      }
    } finally {
      context.open = false;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  migrate(): Promise<MigrationReport> {
    return runMigrations(this);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PostgresTransaction implements Queryable {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly context: { open: boolean },
  ) {}

  async all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    this.#assertOpen();
    return (await query<T>(this.client, sql, params)).rows;
  }

  async one<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<RunResult> {
    this.#assertOpen();
    return { rowCount: (await query(this.client, sql, params)).rowCount };
  }

  async exec(script: string): Promise<void> {
    this.#assertOpen();
    try {
      await this.client.query(script);
    } catch (error) {
      throw storeError(error, script);
    }
  }

  #assertOpen(): void {
    if (!this.context.open) throw storeError(new Error('the transaction has already ended'));
  }
}
