/** The scale benchmark's databases: a PostgreSQL schema of its own (dropped afterwards) or a temp SQLite file. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

export const PG_URL = process.env.DATABASE_URL && /^postgres/.test(process.env.DATABASE_URL) ? process.env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test';

export interface BenchDatabase {
  dialect: 'sqlite' | 'postgres';
  /** What openStore (or a child process's DATABASE_URL + schema) needs. */
  url: string;
  schema: string | undefined;
  open(maxConnections?: number): Promise<Store>;
  drop(): Promise<void>;
}

export function sqliteDatabase(): BenchDatabase {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-bench-scale-'));
  const url = path.join(dir, 'scale.sqlite');
  return {
    dialect: 'sqlite',
    url,
    schema: undefined,
    open: () => openStore({ url }),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh schema `bench_scale_<hex>`; undefined when PostgreSQL is not reachable. */
export async function postgresDatabase(): Promise<BenchDatabase | string> {
  const schema = `bench_scale_${randomBytes(4).toString('hex')}`;
  try {
    const probe = await openStore({ url: PG_URL, schema });
    await probe.close();
  } catch (error) {
    return `PostgreSQL not reachable at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return {
    dialect: 'postgres',
    url: PG_URL,
    schema,
    open: (maxConnections = 10) => openStore({ url: PG_URL, schema, maxConnections }),
    async drop() {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Median and 95th percentile of a sample, in its unit. */
export function percentiles(sample: number[]): { p50: number; p95: number; max: number } {
  const sorted = [...sample].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] ?? NaN };
}

export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');
