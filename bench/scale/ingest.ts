/**
 * Ingest with 1 and with 2 web processes on one PostgreSQL: each web process a child (bench/scale/web-child.ts),
 * each fed by its own load generator (bench/ingest-load.ts, closed loop: 2 × 32 connections against 1 × 64, so
 * the offered concurrency is the same), rounds alternating 1 and 2 processes; events/s summed over the
 * generators, stored inbox rows checked against the 200 answers.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSecretBox } from '../../src/store/crypto.js';
import { PortalRegistry } from '../../src/store/portals.js';
import type { BenchDatabase } from './db.js';

const execFileAsync = promisify(execFile);
const loadScript = fileURLToPath(new URL('../ingest-load.ts', import.meta.url));
const webChild = fileURLToPath(new URL('./web-child.ts', import.meta.url));
const MEMBER = 'a1'.repeat(16);
const DOMAIN = 'bench.bitrix24.test';

interface LoadResult {
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface IngestRow {
  processes: number;
  rounds: number[];
  medianPerSecond: number;
  p99Ms: number;
}

async function startWeb(db: BenchDatabase, keyHex: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', webChild, '--url', db.url, '--key', keyHex, ...(db.schema ? ['--schema', db.schema] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('{"url"')) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`web child exited with ${code}`)));
  });
  return { child, url };
}

async function load(url: string, token: string, args: Record<string, number>): Promise<LoadResult> {
  const argv = ['--import', 'tsx', loadScript, '--url', `${url}/webhooks/${MEMBER}/event`, '--member', MEMBER, '--token', token, '--domain', DOMAIN];
  for (const [key, value] of Object.entries(args)) argv.push(`--${key}`, String(value));
  const { stdout } = await execFileAsync(process.execPath, argv, { timeout: 120_000, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as LoadResult;
}

export async function measureIngest(db: BenchDatabase, rounds = 3): Promise<{ rows: IngestRow[]; stored: number; acknowledged: number; errors: number }> {
  const key = randomBytes(32);
  const token = randomBytes(16).toString('hex');
  const store = await db.open();
  await new PortalRegistry({ store, secrets: createSecretBox(key) }).upsertInstall({
    memberId: MEMBER,
    domain: DOMAIN,
    clientEndpoint: `https://${DOMAIN}/rest/`,
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
    accessToken: randomBytes(16).toString('hex'),
    refreshToken: randomBytes(16).toString('hex'),
    expiresAtMs: Date.now() + 3_600_000,
    scope: ['crm'],
    status: 'L',
    applicationToken: token,
    installedByUserId: 1,
  });
  const webs = [await startWeb(db, key.toString('hex')), await startWeb(db, key.toString('hex'))];
  const runs = new Map<number, LoadResult[][]>([
    [1, []],
    [2, []],
  ]);
  let offset = 0;
  let acknowledged = 0;
  let errors = 0;
  try {
    await load(webs[0]!.url, token, { rate: 0, seconds: 1, concurrency: 16, max: 2000, offset: (offset += 10_000_000) }).then((r) => (acknowledged += r.statuses['200'] ?? 0));
    await load(webs[1]!.url, token, { rate: 0, seconds: 1, concurrency: 16, max: 2000, offset: (offset += 10_000_000) }).then((r) => (acknowledged += r.statuses['200'] ?? 0));
    for (let round = 0; round < rounds; round++) {
      for (const processes of [1, 2]) {
        const results = await Promise.all(
          webs.slice(0, processes).map((web) => load(web.url, token, { rate: 0, seconds: 6, concurrency: 64 / processes, max: 200_000, offset: (offset += 1_000_000) })),
        );
        for (const r of results) {
          acknowledged += r.statuses['200'] ?? 0;
          errors += r.failed + Object.entries(r.statuses).filter(([status]) => status !== '200').reduce((n, [, c]) => n + c, 0);
        }
        runs.get(processes)!.push(results);
      }
    }
    const stored = Number((await store.one<{ n: number }>('SELECT COUNT(*) AS n FROM b24kit_event_inbox'))?.n ?? 0);
    const rows = [...runs.entries()].map(([processes, list]) => {
      const sums = list.map((results) => results.reduce((n, r) => n + r.perSecond, 0));
      const sorted = [...sums].sort((a, b) => a - b);
      return { processes, rounds: sums, medianPerSecond: sorted[Math.floor(sorted.length / 2)]!, p99Ms: Math.max(...list.flat().map((r) => r.p99Ms)) };
    });
    return { rows, stored, acknowledged, errors };
  } finally {
    for (const web of webs) web.child.kill('SIGTERM');
    await Promise.all(webs.map((web) => new Promise((resolve) => (web.child.exitCode !== null ? resolve(undefined) : web.child.once('exit', resolve)))));
    await store.close();
  }
}
