/**
 * Versioned migrations shared by both dialects. Each is a file `src/store/migrations/NNNN_name.sql`
 * in portable SQL; a dialect may override one with `NNNN_name.sqlite.sql` or `NNNN_name.postgres.sql`.
 * Applied versions are recorded in `b24kit_migrations`. Never edit an applied migration: add one.
 *
 * Concurrency: all pending migrations run in ONE transaction that first takes the migration lock —
 * a PostgreSQL advisory lock scoped to the schema, or SQLite's write lock (BEGIN IMMEDIATE) — so two
 * processes starting at once apply each migration exactly once, and a failure applies nothing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { B24Error } from '../errors.js';
import type { Dialect, MigrationReport, Store } from './types.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$/;

/**
 * The migrations folder: next to this module when run from src/, or the packaged
 * `src/store/migrations` when run from dist/ (tsc does not copy .sql files).
 */
function migrationsDir(): string {
  const candidates = [new URL('./migrations/', import.meta.url), new URL('../../src/store/migrations/', import.meta.url)];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(dir)) return dir;
  }
  throw new B24Error('B24_ERR_STORE', 'The migrations folder (src/store/migrations) is missing from the installation');
}

/** The migrations for a dialect, by version. */
export function loadMigrations(dialect: Dialect, dir = migrationsDir()): Migration[] {
  const byVersion = new Map<number, Migration & { specific: boolean }>();
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    const [, digits, name, only] = match;
    if (only !== undefined && only !== dialect) continue;
    const version = Number(digits);
    const existing = byVersion.get(version);
    if (existing && (existing.specific || only === undefined)) {
      if (existing.specific && only === undefined) continue;
      throw new B24Error('B24_ERR_STORE', `Two migrations share version ${version}`);
    }
    byVersion.set(version, { version, name: name ?? '', sql: readFileSync(`${dir}/${file}`, 'utf8'), specific: only !== undefined });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version).map(({ version, name, sql }) => ({ version, name, sql }));
}

/** Applies pending migrations (what `b24kit migrate` runs; `openStore` runs it too). */
export async function runMigrations(store: Store, nowMs: () => number = Date.now): Promise<MigrationReport> {
  const migrations = loadMigrations(store.dialect);
  return store.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      // held until commit; keyed by schema so test schemas don't queue behind each other
      await tx.run("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.b24kit_migrations'))");
    }
    await tx.exec('CREATE TABLE IF NOT EXISTS b24kit_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)');
    const done = new Set((await tx.all<{ version: number }>('SELECT version FROM b24kit_migrations')).map((row) => Number(row.version)));
    const applied: MigrationReport['applied'] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await tx.exec(migration.sql);
      await tx.run('INSERT INTO b24kit_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)', [migration.version, migration.name, nowMs()]);
      applied.push({ version: migration.version, name: migration.name });
    }
    const versions = [...done, ...applied.map((m) => m.version)];
    return { applied, version: versions.length > 0 ? Math.max(...versions) : 0 };
  });
}
