/**
 * Resident memory of one app process (web + worker + scheduler) by installed portals: a child process
 * per count (bench/scale/memory-child.ts, --expose-gc), each over a fresh PostgreSQL schema, so the
 * database's cache is not in the process (on SQLite it would be). RSS and heap after GC, once every
 * portal's scheduled job has run.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchDatabase } from './db.js';

const execFileAsync = promisify(execFile);
const child = fileURLToPath(new URL('./memory-child.ts', import.meta.url));

export interface MemoryRow {
  portals: number;
  jobs: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  seconds: number;
}

export async function measureMemory(openDatabase: () => Promise<BenchDatabase>, counts: number[]): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const portals of counts) {
    const db = await openDatabase();
    try {
      const argv = ['--expose-gc', '--import', 'tsx', child, '--url', db.url, '--portals', String(portals), ...(db.schema ? ['--schema', db.schema] : [])];
      const { stdout } = await execFileAsync(process.execPath, argv, { timeout: 900_000, maxBuffer: 1 << 20 });
      rows.push(JSON.parse(stdout.trim().split('\n').pop()!) as MemoryRow);
      console.log(JSON.stringify(rows[rows.length - 1]));
    } finally {
      await db.drop();
    }
  }
  return rows;
}
