/**
 * What a job row costs SQLite by the shape of its idempotency key (= the event's dedupe key,
 * src/events/dedupe-key.ts) and with or without the per-row heads trigger (migration 0010): the
 * receiver's jobs INSERT (64 rows per statement, RETURNING, one transaction each) on the migrated
 * schema, CPU time of this process per row (user + system: a crowded machine stretches wall time,
 * not this), rounds alternating between the variants, medians.
 *
 *   node --import tsx bench/ingest-keys.ts [--rows 128000] [--rounds 3]
 *
 * Variants: `random` — the hash alone (`e1:` keys, before); `ts-ordered` — `e2:` + ts + hash, ts
 * advancing one second per 2,000 events as a portal's would; `ts-ordered, no heads trigger`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openStore } from '../src/store/index.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '128000' }, rounds: { type: 'string', default: '3' } } });
const ROWS_PER_STATEMENT = 64;
const batches = Math.ceil(Number(values.rows) / ROWS_PER_STATEMENT);
const WARM_UP_BATCHES = 100;

type Variant = 'random' | 'ts-ordered' | 'ts-ordered, no heads trigger';
const VARIANTS: Variant[] = ['random', 'ts-ordered', 'ts-ordered, no heads trigger'];

function key(variant: Variant, n: number): string {
  const hash = createHash('sha256').update(String(n)).digest('base64url');
  if (variant === 'random') return `e1:${hash}`;
  return `e2:${String(1767225600 + Math.floor(n / 2000)).padStart(10, '0')}:${hash}`;
}

async function microsPerRow(variant: Variant): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-ingest-keys-'));
  try {
    const file = path.join(dir, 'keys.sqlite');
    await (await openStore({ url: file })).close();
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // the fsync is not what is measured here
    if (variant === 'ts-ordered, no heads trigger') db.exec('DROP TRIGGER b24kit_jobs_head_insert');
    const insert = db.prepare(
      `INSERT INTO b24kit_jobs (member_id, name, payload, idempotency_key, state, attempts, max_attempts, run_at_ms, created_at_ms, updated_at_ms)
       VALUES ${new Array(ROWS_PER_STATEMENT).fill("(?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)").join(', ')}
       ON CONFLICT (member_id, name, idempotency_key) DO NOTHING RETURNING id, member_id, name, idempotency_key`,
    );
    const memberId = 'b'.repeat(32);
    const payload = JSON.stringify({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '1' } }, ts: '1767225600', auth: { member_id: memberId } });
    let n = 0;
    let startedMs = 0;
    for (let batch = 0; batch < batches + WARM_UP_BATCHES; batch++) {
      if (batch === WARM_UP_BATCHES) startedMs = cpuMs();
      const params: Array<string | number> = [];
      const now = Date.now();
      for (let i = 0; i < ROWS_PER_STATEMENT; i++) params.push(memberId, 'on.ONCRMDEALUPDATE', payload, key(variant, n++), 8, now, now, now);
      db.exec('BEGIN IMMEDIATE');
      insert.all(...params);
      db.exec('COMMIT');
    }
    const micros = ((cpuMs() - startedMs) * 1000) / (batches * ROWS_PER_STATEMENT);
    db.close();
    return micros;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

const results = new Map<Variant, number[]>(VARIANTS.map((variant) => [variant, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const variant of VARIANTS) results.get(variant)!.push(await microsPerRow(variant));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${batches * ROWS_PER_STATEMENT} job rows per variant after ${WARM_UP_BATCHES * ROWS_PER_STATEMENT} of warm-up; CPU µs per row, median (rounds)`);
for (const [variant, xs] of results) console.log(`${variant.padEnd(30)} ${median(xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(', ')})`);
