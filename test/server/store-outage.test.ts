/**
 * A store outage answers 503 B24_ERR_STORE with Retry-After — not 500 — on every route that
 * writes: the event receiver (portal lookup or inbox write), a plugin's route that ingests, and the
 * install. The answer has no stack and no SQL; the log has the driver's error as an Error object.
 * Nothing was stored, so once the store is back the same requests are accepted: the same delivery
 * is `queued` (not `duplicate`), the same item `created`, and each lands once.
 *
 * SQLite: another connection holds the write lock beyond busy_timeout. PostgreSQL: the app reaches
 * the server through a TCP proxy that the test cuts (connections reset, new ones refused at once),
 * then makes unreachable (connections accepted, never answered: the pool's connect timeout).
 * Before this, each of these answered 500 B24_ERR_INTERNAL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Database from 'better-sqlite3';
import { InboxWriter } from '../../src/events/inbox.js';
import { JobQueue } from '../../src/queue/index.js';
import { openStore } from '../../src/store/index.js';
import { isStoreUnavailable } from '../../src/store/sql.js';
import type { Store } from '../../src/store/types.js';
import { countRows, eventForm, startTestApp, type TestApp } from '../app/helpers.js';
import { createTestDatabase, databaseUrl, onPostgres, type TestDatabase } from '../contract/helpers/store.js';
import { emulatorInstall, installForm, type EmulatorInstall } from '../portals/helpers.js';
import { control, UNLIMITED_PORTAL } from '../helpers/emulator.js';

interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
  body: Record<string, unknown>;
}

async function post(url: string, body: string, type: string): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), text, body: JSON.parse(text) as Record<string, unknown> };
}

async function postForm(url: string, form: Record<string, unknown>): Promise<Answer> {
  const { default: qs } = await import('qs');
  return post(url, qs.stringify(form, { arrayFormat: 'indices' }), 'application/x-www-form-urlencoded');
}

function assertUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: ${answer.text}`);
  assert.equal(answer.body.error, 'B24_ERR_STORE', what);
  assert.match(String(answer.body.message), /store is unavailable/, what);
  assert.equal(answer.retryAfter, '5', `${what}: Retry-After`);
  assert.doesNotMatch(answer.text, /stack|\bat \w|SELECT|INSERT|ECONN|SQLITE/i, `${what}: no stack, no SQL, no driver detail in the answer`);
}

/** An app whose ONCRMDEALADD has a handler and whose `/api/v1/:memberId/orders` ingests; no worker (jobs stay queued). */
function startApp(store: Store): Promise<TestApp> {
  return startTestApp(
    (app) => {
      app.on('ONCRMDEALADD', () => undefined);
      app.job('orders.sync', () => undefined);
      app.route(
        'POST',
        '/api/v1/:memberId/orders',
        async (ctx) => {
          const { id } = ctx.body as { id: string };
          const { outcome } = await ctx.ingest('orders.sync' as never, id, ctx.body as never);
          ctx.status(202);
          return { outcome };
        },
        { auth: 'none' },
      );
    },
    { config: { store }, roles: { worker: false } },
  );
}

/**
 * The outage scenario, the same on both dialects: `cut()` starts the outage, `restore()` ends it.
 * `warm` is a portal whose application_token is in the auth cache (its event fails at the inbox
 * write), `cold` one whose first event comes during the outage (fails at the portal lookup on
 * PostgreSQL; SQLite reads on through another connection's write lock, so it fails at the write).
 */
async function outageScenario(
  t: TestApp,
  store: Store,
  outage: { cut(): Promise<void> | void; restore(): Promise<void> | void },
  label: string,
  expectedCause: RegExp,
): Promise<void> {
  const warm = await t.install();
  const cold = await t.install();
  const webhook = (portal: EmulatorInstall) => `${t.url}/webhooks/${portal.memberId}/event`;
  const first = await postForm(webhook(warm), eventForm(warm, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }));
  assert.deepEqual([first.status, first.body], [200, { status: 'queued' }]);

  // a portal created now, installed during the outage
  const late = await emulatorInstall(t.emu, null, UNLIMITED_PORTAL);
  const warmEvent = eventForm(warm, 'ONCRMDEALADD', { FIELDS: { ID: '2' } });
  const coldEvent = eventForm(cold, 'ONCRMDEALADD', { FIELDS: { ID: '3' } });
  const order = JSON.stringify({ id: 'A-1', total: 10 });
  const logStart = t.logs.length;

  await outage.cut();
  assertUnavailable(await postForm(webhook(warm), warmEvent), `${label}: event, token cached`);
  assertUnavailable(await postForm(webhook(cold), coldEvent), `${label}: event, first of its portal`);
  assertUnavailable(await post(`${t.url}/api/v1/${warm.memberId}/orders`, order, 'application/json'), `${label}: plugin route ingesting`);
  assertUnavailable(await postForm(`${t.url}/install`, installForm(late)), `${label}: install`);

  const failures = t.logs.slice(logStart).map((line) => JSON.parse(line) as { level: number; msg: string; code?: string; err?: { type?: string; message?: string; cause?: unknown } });
  const logged = failures.filter((line) => line.code === 'B24_ERR_STORE' && line.level >= 50);
  assert.ok(logged.length >= 4, `${label}: each 503 logged at error level (${logged.length})`);
  for (const line of logged) {
    assert.match(line.msg, /^store unavailable, answered 503: Store failure: /, label);
    assert.equal(line.err?.type, 'B24Error', `${label}: logged as an Error object`);
    assert.match(JSON.stringify(line.err?.cause), expectedCause, `${label}: with the driver's error as its cause`);
  }

  await outage.restore();
  const again = await postForm(webhook(warm), warmEvent);
  assert.deepEqual([again.status, again.body], [200, { status: 'queued' }], `${label}: the same delivery is accepted once the store is back`);
  const againCold = await postForm(webhook(cold), coldEvent);
  assert.deepEqual([againCold.status, againCold.body], [200, { status: 'queued' }], label);
  const againOrder = await post(`${t.url}/api/v1/${warm.memberId}/orders`, order, 'application/json');
  assert.deepEqual([againOrder.status, againOrder.body], [202, { outcome: 'created' }], label);
  // the failed install may have redeemed its refresh token (the install proves it) before the write
  // failed: the portal's next install (a reinstall, or the admin opening the app) brings a new pair
  const reinstall = await control<{ delivery: { status: number } }>(t.emu, `/portals/${late.memberId}/install`, { appUrl: t.url });
  assert.equal(reinstall.delivery.status, 200, `${label}: the next install is accepted`);
  assert.equal((await store.one<{ state: string }>('SELECT state FROM portals WHERE member_id = ?', [late.memberId]))?.state, 'active');
  // each accepted once: nothing doubled, nothing from the outage half-written
  assert.equal(await countRows(store, 'b24kit_event_inbox', warm.memberId), 2);
  assert.equal(await countRows(store, 'b24kit_event_inbox', cold.memberId), 1);
  const replay = await postForm(webhook(warm), warmEvent);
  assert.deepEqual(replay.body, { status: 'duplicate' });
}

describe('store outage → 503 B24_ERR_STORE, then the same requests are accepted: SQLite', { skip: onPostgres && 'SQLite run (without DATABASE_URL)' }, () => {
  let db: TestDatabase;
  let store: Store;
  let t: TestApp;
  before(async () => {
    db = createTestDatabase();
    // a short busy timeout keeps the test short; the default (5 s) behaves the same, later
    store = await db.open({ busyTimeoutMs: 300 });
    t = await startApp(store);
  });
  after(async () => {
    await t?.close();
    await store?.close();
    await db?.drop();
  });

  it('another connection holds the write lock beyond busy_timeout', async () => {
    const blocker = new Database(db.storeOptions.url);
    try {
      await outageScenario(
        t,
        store,
        {
          cut: () => void blocker.exec('BEGIN IMMEDIATE'),
          restore: () => void blocker.exec('ROLLBACK'),
        },
        'SQLite busy',
        /SQLITE_BUSY/,
      );
    } finally {
      blocker.close();
    }
  });
});

describe('store outage: a group commit of the inbox that meets it', { skip: onPostgres && 'SQLite run (without DATABASE_URL)' }, () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    db = createTestDatabase();
    store = await db.open({ busyTimeoutMs: 300 });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('fails all its deliveries at once (one transaction), not after one more busy wait each', async () => {
    let transactions = 0;
    const counted = new Proxy(store, {
      get(target, property) {
        if (property === 'transaction') {
          return (fn: Parameters<Store['transaction']>[0]) => {
            transactions += 1;
            return target.transaction(fn);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const writer = new InboxWriter({ store: counted, queue: new JobQueue({ store }), nowMs: Date.now });
    const entries = Array.from({ length: 10 }, (_, n) => ({ memberId: 'a'.repeat(32), dedupeKey: `e2:1767225600:key-${n}`, event: 'ONCRMDEALADD', job: { name: 'on.ONCRMDEALADD', payload: { n } } }));
    const blocker = new Database(db.storeOptions.url);
    try {
      blocker.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const outcomes = await Promise.allSettled(entries.map((entry) => writer.record(entry)));
      const elapsedMs = performance.now() - started;
      assert.deepEqual(outcomes.map((outcome) => outcome.status), new Array(10).fill('rejected'));
      for (const outcome of outcomes) assert.ok(isStoreUnavailable((outcome as PromiseRejectedResult).reason), 'each with the outage (answered 503)');
      assert.equal(transactions, 1, 'one transaction for the batch, no one-by-one retries');
      assert.ok(elapsedMs < 5 * 300, `answered after one busy timeout, not ten (${Math.round(elapsedMs)} ms)`);
      blocker.exec('ROLLBACK');
      const again = await Promise.all(entries.map((entry) => writer.record(entry)));
      assert.deepEqual(again.map((outcome) => outcome.status), new Array(10).fill('queued'), 'the same deliveries are accepted afterwards');
    } finally {
      blocker.close();
    }
  });
});

/** A TCP proxy to PostgreSQL: `cut` resets every connection and refuses new ones; `blackhole` accepts and never answers. */
async function startProxy(target: { host: string; port: number }) {
  let mode: 'open' | 'cut' | 'blackhole' = 'open';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode === 'cut') return void client.resetAndDestroy();
    if (mode === 'blackhole') return; // accepted, never answered
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    set(next: typeof mode) {
      mode = next;
      if (next !== 'open') for (const socket of sockets) socket.resetAndDestroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('store outage → 503 B24_ERR_STORE, then the same requests are accepted: PostgreSQL', { skip: !onPostgres && 'PostgreSQL only (npm run test:pg)' }, () => {
  let db: TestDatabase;
  let store: Store;
  let t: TestApp;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  before(async () => {
    db = createTestDatabase();
    const target = new URL(databaseUrl);
    proxy = await startProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = new URL(databaseUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    store = await openStore({ url: proxied.toString(), schema: db.storeOptions.schema!, connectTimeoutMs: 1000 });
    t = await startApp(store);
  });
  after(async () => {
    await t?.close();
    await store?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('the server is down: connections reset, new ones refused', async () => {
    await outageScenario(t, store, { cut: () => proxy.set('cut'), restore: () => proxy.set('open') }, 'PostgreSQL down', /ECONNRESET|Connection terminated/);
  });

  it('the server is unreachable: connections accepted, never answered (the pool gives up after connectTimeoutMs)', async () => {
    await outageScenario(t, store, { cut: () => proxy.set('blackhole'), restore: () => proxy.set('open') }, 'PostgreSQL unreachable', /timeout exceeded when trying to connect|Connection terminated/);
  });
});
