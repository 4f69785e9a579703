/**
 * One event's path under load, profiled: starts ONE ingest target in this process (bench/ingest.ts:
 * `bare`, `sqlite` or `postgres`), drives it from the separate load process (bench/ingest-load.ts)
 * while V8's sampling profiler runs (bench/cpu-profile.ts), and prints the self time by step of the
 * path — form parsing, portal lookup and token check, dedupe key, the inserts and commit, logging —
 * and by function. `npm run bench -- ingest` puts the same summary into bench/README.md.
 *
 *   node --import tsx bench/ingest-profile.ts sqlite [--rate 0] [--seconds 8] [--top 40] [--out file.cpuprofile]
 *     [--synchronous NORMAL] [--fsync-in-commit]
 *
 * `--rate 0` (default): closed loop, 64 in flight (the max-throughput rounds); `--rate N`: N events/s.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from '../src/emulator/server.js';
import { openStore } from '../src/store/index.js';
import { profile, summarize } from './cpu-profile.js';
import { appTarget, bareTarget, load, postgresTarget, type Target } from './ingest.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '8' },
    top: { type: 'string', default: '40' },
    out: { type: 'string' },
    synchronous: { type: 'string' },
    'fsync-in-commit': { type: 'boolean', default: false },
  },
});
const kind = positionals[0] ?? 'sqlite';

const emu = await startEmulator({ port: 0, host: '127.0.0.1' });
const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-ingest-profile-'));
let target: Target | undefined;
try {
  if (kind === 'bare') target = await bareTarget();
  else if (kind === 'sqlite') {
    const synchronous = values.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL';
    const sqlite = await openStore({ url: path.join(dir, 'ingest.sqlite'), synchronous, fsyncOffEventLoop: !values['fsync-in-commit'] });
    target = await appTarget('sqlite', emu, sqlite, () => sqlite.close());
  } else if (kind === 'postgres') {
    const made = await postgresTarget(emu);
    if (typeof made === 'string') throw new Error(made);
    target = made;
  } else throw new Error(`unknown target ${kind}: bare, sqlite or postgres`);
  const running = target;
  // warm up (JIT, statement caches) before the profiler starts
  await load(running, { rate: 0, seconds: 2, concurrency: 16, max: 4000, offset: 9_000_000 });
  const { result, profile: cpu } = await profile(() => load(running, { rate: Number(values.rate), seconds: Number(values.seconds), concurrency: 64, max: 500_000, offset: 1_000_000, settle: 1 }));
  if (values.out) writeFileSync(values.out, JSON.stringify(cpu));
  const summary = summarize(cpu);
  const pct = (share: number) => `${(100 * share).toFixed(1)}%`.padStart(6);
  console.log(`${kind}: ${JSON.stringify(result)}`);
  console.log(`profiled ${summary.seconds.toFixed(1)} s, idle ${pct(summary.idleShare)}; shares of the busy time\n`);
  for (const [step, share] of summary.steps) console.log(`${pct(share)}  ${step}`);
  console.log('');
  for (const [name, share] of summary.functions.slice(0, Number(values.top))) console.log(`${pct(share)}  ${name}`);
} finally {
  await target?.close().catch(() => undefined);
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
}
