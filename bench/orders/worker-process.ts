/**
 * One worker process of bench/orders.ts: an app with the orders plugin, written on the public API
 * (b24kit, b24kit/integrations, b24kit/store), running only the worker role against the emulator.
 *
 * Env: DATABASE_URL (+ BENCH_PG_SCHEMA on PostgreSQL), SECRET_KEY_HEX, EMULATOR_URL, CLIENT_ID,
 * CLIENT_SECRET, LEASE_MS. Prints `{"ready":true}` once started; SIGTERM stops it gracefully.
 * The benchmark SIGKILLs one of them mid-run.
 */
import { pino } from 'pino';
import { createApp } from '../../src/index.js';
import { ordersPlugin } from '../../src/integrations/index.js';
import { openStore } from '../../src/store/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const store = await openStore({ url: env('DATABASE_URL'), ...(process.env.BENCH_PG_SCHEMA ? { schema: process.env.BENCH_PG_SCHEMA } : {}) });
const app = createApp({
  store,
  secretKey: Buffer.from(env('SECRET_KEY_HEX'), 'hex'),
  clientId: env('CLIENT_ID'),
  clientSecret: env('CLIENT_SECRET'),
  oauthUrl: env('EMULATOR_URL'),
  logger: pino({ level: 'error' }, pino.destination(2)),
  queue: { leaseMs: Number(env('LEASE_MS')) },
  worker: { pollIntervalMs: 50, shutdownTimeoutMs: 5000 },
});
app.register(ordersPlugin, {});
await app.start({ web: false, worker: true, scheduler: false });
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

process.once('SIGTERM', () => {
  void (async () => {
    await app.stop();
    await store.close();
    process.exit(0);
  })();
});
