/**
 * The ingest benchmark's load generator, run as a SEPARATE process (bench/ingest.ts spawns it) so
 * that the server under test has its own core. POSTs event forms over undici to one URL on
 * loopback, each with a distinct `data[FIELDS][ID]` (no duplicates) and the current second as `ts`, and prints one JSON line:
 * `{ sent, ok, failed, statuses, seconds, perSecond, p50Ms, p99Ms, maxMs }`.
 *
 * - `--rate N`: open loop, N requests/s on a fixed schedule (latency measured from the scheduled
 *   send time, so a stalled server cannot hide queueing: no coordinated omission);
 * - `--rate 0`: closed loop, `--concurrency` requests in flight, as fast as the server answers.
 * Bounded by `--seconds` and `--max`. `--settle S`: requests scheduled in the first S seconds are
 * sent and counted but left out of the latency percentiles (this process's own start: opening its
 * connections, JIT), which otherwise put the bare route's p99 near 100 ms on a shared machine.
 */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import qs from 'qs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    member: { type: 'string' },
    token: { type: 'string' },
    domain: { type: 'string', default: 'bench.bitrix24.test' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    max: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '64' },
    offset: { type: 'string', default: '0' },
    settle: { type: 'string', default: '0' },
  },
});
const url = new URL(values.url!);
if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error('loopback only');
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const max = Number(values.max);
const concurrency = Number(values.concurrency);
const offset = Number(values.offset);
const settleMs = Number(values.settle) * 1000;
const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });

function body(n: number): string {
  return qs.stringify({
    event: 'ONCRMDEALUPDATE',
    event_handler_id: '1',
    data: { FIELDS: { ID: String(offset + n) } },
    // the second the event happened, as a portal sends it (keys of one portal then arrive in order: dedupe-key.ts)
    ts: String(Math.floor(Date.now() / 1000)),
    auth: { domain: values.domain, member_id: values.member, application_token: values.token, user_id: '1', status: 'L', scope: 'crm' },
  });
}

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let sent = 0;
let failed = 0;

async function post(n: number, scheduledAt: number): Promise<void> {
  try {
    const response = await pool.request({ path: url.pathname, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body(n) });
    await response.body.dump();
    statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    if (scheduledAt - started >= settleMs) latencies.push(performance.now() - scheduledAt);
  } catch {
    failed += 1;
  }
}

const started = performance.now();
const deadline = started + seconds * 1000;
const inflight = new Set<Promise<void>>();
if (rate > 0) {
  const intervalMs = 1000 / rate;
  while (sent < max) {
    const scheduledAt = started + sent * intervalMs;
    if (scheduledAt >= deadline) break;
    const wait = scheduledAt - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const request = post(sent, scheduledAt);
    sent += 1;
    inflight.add(request);
    void request.finally(() => inflight.delete(request));
  }
  await Promise.all(inflight);
} else {
  const worker = async (): Promise<void> => {
    while (sent < max && performance.now() < deadline) {
      const n = sent;
      sent += 1;
      await post(n, performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
const elapsed = (performance.now() - started) / 1000;
await pool.close();
latencies.sort((a, b) => a - b);
const at = (q: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(2));
const ok = statuses['200'] ?? 0;
console.log(JSON.stringify({ sent, ok, failed, statuses, seconds: Number(elapsed.toFixed(2)), perSecond: Math.round(ok / elapsed), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) }));
