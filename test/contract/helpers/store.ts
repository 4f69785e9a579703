/**
 * Dialect selection for the contract tests: `DATABASE_URL=postgres://…` runs them on PostgreSQL
 * (each test file in a schema of its own, dropped afterwards), anything else on a temp SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type OpenStoreOptions } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';

export interface TestDatabase {
  dialect: 'sqlite' | 'postgres';
  /** What openStore needs to reach the same database (also from a child process). */
  storeOptions: { url: string; schema?: string };
  /** Environment for child processes opening the same database. */
  childEnv: Record<string, string>;
  open(options?: Omit<OpenStoreOptions, 'url' | 'schema'>): Promise<Store>;
  /** Closes nothing it did not open; drops the schema / deletes the file. */
  drop(): Promise<void>;
}

export const databaseUrl = process.env.DATABASE_URL ?? '';
export const onPostgres = /^postgres(ql)?:\/\//.test(databaseUrl);

export function createTestDatabase(): TestDatabase {
  if (onPostgres) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    return {
      dialect: 'postgres',
      storeOptions: { url: databaseUrl, schema },
      childEnv: { DATABASE_URL: databaseUrl, TEST_PG_SCHEMA: schema },
      open: (options = {}) => openStore({ ...options, url: databaseUrl, schema }),
      async drop() {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-contract-'));
  const file = path.join(dir, 'b24kit.sqlite');
  return {
    dialect: 'sqlite',
    storeOptions: { url: file },
    childEnv: { DATABASE_URL: file },
    open: (options = {}) => openStore({ ...options, url: file }),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
