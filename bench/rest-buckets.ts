/**
 * Micro-benchmark of the store-backed leaky bucket: reservations per second (one `modify`
 * transaction each) on ONE portal's row — the worst case, every caller contending for one lock —
 * from one process, then from 4 processes at once.
 *
 *   node --import tsx bench/rest-buckets.ts                       # SQLite (temp file)
 *   node --import tsx bench/rest-buckets.ts postgres://postgres@127.0.0.1:5432/test
 *
 * Not part of `npm run bench` (that one measures against the portal's limits, not the store).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../src/store/index.js';
import { createStoreRateLimiter } from '../src/rest/store-bucket.js';

const DURATION_MS = Number(process.env.DURATION_MS ?? 3000);
const CALLERS = Number(process.env.CALLERS ?? 8);
const PROCESSES = 4;

async function measure(url: string, schema: string | undefined): Promise<{ reservations: number; ms: number }> {
  const store = await openStore({ url, ...(schema ? { schema } : {}) });
  // limits far above the rate reached: every reservation is granted without a wait
  const limiter = createStoreRateLimiter({ store, planAware: false, defaultLimits: { drainPerSecond: 1e9, burst: 1e9 } });
  await limiter.reserve('bench'); // warm up: migrations done, row created, statements prepared
  let reservations = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() - start < DURATION_MS) {
        await limiter.reserve('bench');
        reservations += 1;
      }
    }),
  );
  const ms = performance.now() - start;
  await store.close();
  return { reservations, ms };
}

if (process.env.BENCH_WORKER) {
  process.stdout.write(`${JSON.stringify(await measure(process.env.BENCH_URL!, process.env.BENCH_SCHEMA || undefined))}\n`);
} else {
  const given = process.argv[2];
  const onPg = given !== undefined && /^postgres(ql)?:\/\//.test(given);
  const dir = onPg ? undefined : mkdtempSync(path.join(tmpdir(), 'b24kit-bench-'));
  const url = given ?? path.join(dir!, 'bench.sqlite');
  const schema = onPg ? `bench_${randomBytes(4).toString('hex')}` : undefined;
  try {
    (await openStore({ url, ...(schema ? { schema } : {}) })).close(); // migrate once
    const single = await measure(url, schema);
    const self = fileURLToPath(import.meta.url);
    const runs = await Promise.all(
      Array.from(
        { length: PROCESSES },
        () =>
          new Promise<{ reservations: number; ms: number }>((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', self], {
              env: { ...process.env, BENCH_WORKER: '1', BENCH_URL: url, BENCH_SCHEMA: schema ?? '' },
              stdio: ['ignore', 'pipe', 'inherit'],
            });
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
            child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { reservations: number; ms: number }) : reject(new Error(`worker exited ${code}`))));
          }),
      ),
    );
    const combined = runs.reduce((sum, run) => sum + run.reservations / (run.ms / 1000), 0);
    const dialect = onPg ? 'postgres' : 'sqlite';
    console.log(`${dialect}: 1 process × ${CALLERS} callers: ${Math.round(single.reservations / (single.ms / 1000))} reservations/s (${((single.ms * 1000) / single.reservations).toFixed(0)} µs each)`);
    console.log(`${dialect}: ${PROCESSES} processes × ${CALLERS} callers, one portal: ${Math.round(combined)} reservations/s combined`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (schema) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }
}
