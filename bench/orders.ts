/**
 * `npm run bench -- orders`: 10,000 store orders over 5 portals become deals, with 5% of each
 * portal's REST requests failing (the emulator's fault injection: 500 INTERNAL_SERVER_ERROR) and one
 * of the two worker processes SIGKILLed mid-run and replaced.
 *
 * This process runs the emulator and the app's web role: it installs the portals and POSTs every
 * order, signed, to `POST /api/v1/:memberId/orders` (queued, not yet run). Then two real child
 * processes (bench/orders/worker-process.ts, the worker role only) run them over one database (a
 * PostgreSQL schema with DATABASE_URL, else a SQLite file). When a third of the orders are done, one
 * child is SIGKILLed and a new one started: the jobs it held come back when their leases expire.
 *
 * Judged at the emulator: every order exactly one deal (deals read back by ORIGINATOR_ID and counted
 * by ORIGIN_ID), no duplicates, and the portal's own request counts. Not time-compressed: the
 * portals have Bitrix24's real limits (the request bucket: 2 requests/s, burst 50 per portal,
 * docs/protocol.md §5.1), which bind; the emulator's cost model is zero (no simulated server time).
 *
 * Env: BENCH_ORDERS (default 10000), BENCH_ORDERS_PORTALS (5), BENCH_ORDERS_FAULT_RATE (0.05).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ordersPlugin } from '../src/integrations/index.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/types.js';
import { emulatorControl, startTestApp, type TestApp } from '../src/testing/index.js';
import type { BenchSection } from './run.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 10_000);
const PORTALS = Number(process.env.BENCH_ORDERS_PORTALS ?? 5);
const FAULT_RATE = Number(process.env.BENCH_ORDERS_FAULT_RATE ?? 0.05);
const DRAIN_PER_SECOND = 2;
const BURST = 50;
/** The workers' lease: how long the killed worker's jobs wait before another worker takes them. */
const LEASE_MS = 5_000;
const POST_CONCURRENCY = 16;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Database {
  url: string;
  childEnv: Record<string, string>;
  label: string;
  open(): Promise<Store>;
  drop(): Promise<void>;
}

function database(): Database {
  const url = process.env.DATABASE_URL ?? '';
  if (/^postgres(ql)?:\/\//.test(url)) {
    const schema = `bench_orders_${randomBytes(4).toString('hex')}`;
    return {
      url,
      childEnv: { DATABASE_URL: url, BENCH_PG_SCHEMA: schema },
      label: 'PostgreSQL',
      open: () => openStore({ url, schema }),
      async drop() {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-bench-orders-'));
  const file = path.join(dir, 'app.db');
  return { url: file, childEnv: { DATABASE_URL: file }, label: 'SQLite (one file)', open: () => openStore({ url: file }), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

interface PortalStats {
  requests: number;
  commands: number;
  byStatus: Record<string, number>;
}

const fmt = (value: number, digits = 2): string => value.toFixed(digits);
const int = (value: number): string => Math.round(value).toLocaleString('en-US');

export async function run(): Promise<BenchSection> {
  const db = database();
  const store = await db.open();
  const secretKey = randomBytes(32);
  const signingSecret = randomBytes(24).toString('base64url');
  const children: ChildProcess[] = [];
  let t: TestApp | undefined;
  try {
    t = await startTestApp((app) => void app.register(ordersPlugin, {}), {
      roles: { worker: false, scheduler: false },
      portal: { drainPerSecond: DRAIN_PER_SECOND, burst: BURST },
      config: { store, secretKey },
    });
    const app = t.app;
    const emulator = t.emulator;
    const portals = [t.portal.memberId];
    while (portals.length < PORTALS) portals.push((await t.installPortal({ drainPerSecond: DRAIN_PER_SECOND, burst: BURST })).memberId);
    for (const memberId of portals) await app.settings(memberId, 'orders').set({ signingSecret });

    // 1. the stores send every order (queued; no worker runs yet)
    const postStarted = performance.now();
    let next = 0;
    const post = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= ORDERS) return;
        const memberId = portals[i % PORTALS]!;
        // about one order in three from a returning customer: found by e-mail instead of added
        const customer = i % 3 === 0 ? Math.floor(i / 3) % 500 : 1000 + i;
        const body = JSON.stringify({
          id: `B${i}`,
          number: `#${i}`,
          status: i % 4 === 0 ? 'processing' : 'pending',
          currency: 'USD',
          total: `${(10 + (i % 90)).toFixed(2)}`,
          customer: { email: `customer-${customer}@example.test`, phone: null, firstName: 'Buyer', lastName: String(customer) },
          items: [{ name: 'Widget', sku: 'W-1', price: `${(10 + (i % 90)).toFixed(2)}`, quantity: 1 }],
        });
        const stamp = String(Math.floor(Date.now() / 1000));
        const signature = `sha256=${createHmac('sha256', signingSecret).update(`${stamp}.${body}`).digest('hex')}`;
        const response = await fetch(`${t!.url}/api/v1/${memberId}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-b24kit-timestamp': stamp, 'x-b24kit-signature': signature },
          body,
        });
        if (response.status !== 202) throw new Error(`order B${i}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: POST_CONCURRENCY }, post));
    const postSeconds = (performance.now() - postStarted) / 1000;
    console.log(`  posted ${ORDERS} orders in ${fmt(postSeconds)} s`);

    // 2. the portals fail 5% of requests from now on; their stats start at zero
    for (const memberId of portals) {
      await emulatorControl(emulator, `/portals/${memberId}/stats/reset`, {});
      await emulatorControl(emulator, `/portals/${memberId}/faults`, { errorRate: FAULT_RATE, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' }, 'PUT');
    }

    const startChild = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/orders/worker-process.ts'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...db.childEnv,
          SECRET_KEY_HEX: secretKey.toString('hex'),
          EMULATOR_URL: emulator.url,
          CLIENT_ID: emulator.emulator.options.clientId,
          CLIENT_SECRET: emulator.emulator.options.clientSecret,
          LEASE_MS: String(LEASE_MS),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.includes('"ready"')) resolve();
        });
        child.once('exit', (code, signal) => reject(new Error(`a worker process exited early (${code ?? signal})`)));
      });
      return child;
    };
    const counts = async (): Promise<Record<string, number>> => {
      const rows = await store.all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM b24kit_jobs GROUP BY state');
      return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
    };

    // 3. two worker processes; one SIGKILLed when a third is done, and replaced
    const started = performance.now();
    const [victim] = await Promise.all([startChild(), startChild()]);
    let killedAt: { seconds: number; done: number; running: number } | undefined;
    let replacedAfterSeconds = 0;
    for (;;) {
      const state = await counts();
      const done = state.succeeded ?? 0;
      if (!killedAt && done >= ORDERS / 3) {
        victim!.kill('SIGKILL');
        killedAt = { seconds: (performance.now() - started) / 1000, done, running: state.running ?? 0 };
        console.log(`  SIGKILLed a worker at ${fmt(killedAt.seconds)} s: ${done} done, ${killedAt.running} running`);
        const replaceStarted = performance.now();
        await startChild();
        replacedAfterSeconds = (performance.now() - replaceStarted) / 1000;
      }
      if (done + (state.dead ?? 0) >= ORDERS) break;
      if ((performance.now() - started) / 1000 > 1800) throw new Error(`not done after 30 min: ${JSON.stringify(state)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const seconds = (performance.now() - started) / 1000;
    const final = await counts();
    const dead = final.dead ?? 0;
    const loadAverage = os.loadavg();

    // 4. judged at the emulator: faults off, every deal of the orders read back, counted by ORIGIN_ID
    const stats: PortalStats[] = [];
    for (const memberId of portals) stats.push(await emulatorControl<PortalStats>(emulator, `/portals/${memberId}/stats`, undefined, 'GET'));
    for (const memberId of portals) await emulatorControl(emulator, `/portals/${memberId}/faults`, { errorRate: 0 }, 'PUT');
    const perOrigin = new Map<string, number>();
    for (const memberId of portals) {
      const perPortal = Math.ceil(ORDERS / PORTALS) + 50;
      const pages = Math.ceil(perPortal / 50);
      const client = app.client(memberId);
      for (let first = 0; first < pages; first += 50) {
        const commands = Object.fromEntries(
          Array.from({ length: Math.min(50, pages - first) }, (_, k) => [
            `p${first + k}`,
            ['crm.deal.list', { filter: { ORIGINATOR_ID: 'b24kit.orders.generic' }, select: ['ID', 'ORIGIN_ID'], order: { ID: 'ASC' }, start: (first + k) * 50 }] as const,
          ]),
        );
        const answer = await client.batch(commands);
        for (const rows of Object.values(answer.result) as Array<Array<{ ORIGIN_ID: string }>>) {
          for (const row of rows) perOrigin.set(`${memberId}:${row.ORIGIN_ID}`, (perOrigin.get(`${memberId}:${row.ORIGIN_ID}`) ?? 0) + 1);
        }
      }
    }
    const deals = [...perOrigin.values()].reduce((sum, n) => sum + n, 0);
    const duplicated = [...perOrigin.values()].filter((n) => n > 1).length;
    const missing = ORDERS - perOrigin.size;
    const requests = stats.reduce((sum, s) => sum + s.requests, 0);
    const commands = stats.reduce((sum, s) => sum + s.commands, 0);
    const faults = stats.reduce((sum, s) => sum + (s.byStatus['500'] ?? 0), 0);
    const refused = stats.reduce((sum, s) => sum + (s.byStatus['503'] ?? 0), 0);
    const ordersPerSecond = ORDERS / seconds;
    const limit = PORTALS * DRAIN_PER_SECOND;
    // the fastest the buckets allow for the requests this run made: each portal's burst at once, the rest at the drain
    const bucketSeconds = Math.max(...stats.map((s) => Math.max(0, s.requests - BURST) / DRAIN_PER_SECOND));
    const exact = missing === 0 && duplicated === 0 && deals === ORDERS && dead === 0;
    console.log(`  ${fmt(seconds)} s, ${requests} requests (${faults} faults), ${deals} deals, ${duplicated} duplicated, ${missing} missing, ${dead} dead`);

    const markdown = [
      `${int(ORDERS)} store orders (generic format, signed, POSTed to the route and queued first) over ${PORTALS} portals, run by two`,
      `worker processes (bench/orders/worker-process.ts) over ${db.label}; ${fmt(FAULT_RATE * 100, 0)}% of every portal's REST requests`,
      `answer 500 INTERNAL_SERVER_ERROR (the emulator's fault injection); one worker SIGKILLed when a third of the orders were done`,
      `and a new one started (lease ${LEASE_MS / 1000} s). The portals have the real limits, **not time-compressed**: the request bucket,`,
      `${DRAIN_PER_SECOND} requests/s with a burst of ${BURST} per portal (docs/protocol.md §5.1), the binding limit; the emulator's cost model`,
      `is zero. The orders plugin's batch job takes up to 12 queued orders of a portal per run: one read batch + one write batch.`,
      '',
      '| measure | value |',
      '|---|---|',
      `| orders → deals | ${int(perOrigin.size)} orders with a deal, ${int(deals)} deals, **${duplicated} duplicated, ${missing} missing**, ${dead} dead jobs — ${exact ? 'every order exactly one deal' : '**NOT exactly once**'} |`,
      `| SIGKILL | at ${fmt(killedAt?.seconds ?? 0, 1)} s, ${int(killedAt?.done ?? 0)} orders done, ${killedAt?.running ?? 0} jobs running (leased); replacement ready after ${fmt(replacedAfterSeconds, 1)} s |`,
      `| wall time (workers start → last order done) | ${fmt(seconds, 1)} s |`,
      `| **orders/s** | **${fmt(ordersPerSecond, 1)}** (${fmt(ordersPerSecond / PORTALS, 2)} per portal) |`,
      `| **orders/s ÷ the binding limit** (${PORTALS} × ${DRAIN_PER_SECOND} requests/s) | **${fmt(ordersPerSecond / limit)}** orders per request of budget |`,
      `| requests per order (at the portals, faults included) | ${fmt(requests / ORDERS, 3)} (${int(requests)} requests, ${int(commands)} commands; ${int(faults)} × 500 injected, ${int(refused)} × 503) |`,
      `| requests/s ÷ the limit | ${fmt(requests / seconds / limit)} (the buckets alone allow this run's requests in ${fmt(bucketSeconds, 1)} s: ${fmt(bucketSeconds / seconds)} of the wall time) |`,
      `| posting (this process, ${POST_CONCURRENCY} at once, before the workers) | ${int(ORDERS)} orders in ${fmt(postSeconds, 1)} s: ${fmt(ORDERS / postSeconds, 0)} orders/s |`,
      '',
      `What the numbers mean: one order alone costs 2 requests, so unbatched the limit would allow ${fmt(limit / 2, 0)} orders/s; batched, a`,
      `request carries up to 12 orders' commands. Orders/s ÷ the limit above is the orders each request of the portals' budget carried`,
      `on average (faults, the SIGKILL's lease wait and the race guard included). Load average at the end: ${loadAverage.map((v) => fmt(v)).join(', ')} on`,
      `a shared ${os.cpus().length}-core machine (other engineers' work ran alongside).`,
    ].join('\n');
    if (!exact) console.error('orders benchmark: NOT exactly once');
    return { title: 'Orders → deals under load (bench/orders.ts)', markdown };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    await t?.close();
    await store.close();
    await db.drop();
  }
}
