/**
 * A store outage answers 503 B24_ERR_STORE with Retry-After — not 500 — on every route that
 * writes: the event receiver (portal lookup or inbox write), a plugin's route that ingests, and the
 * install. The answer has no stack and no SQL; the log has the driver's error as an Error object.
 * Nothing was stored, so once the store is back the same requests are accepted: the same delivery
 * is `queued` (not `duplicate`), the same item `created`, and each lands once.
 *
 * An install is different once its refresh token is redeemed: the new pair lives nowhere else, so its
 * write waits the outage out (up to 10 s) instead of answering 503. On SQLite (reads go on, the write
 * is what fails) an install sent during the outage is answered 200 once the store is back, and the
 * portal works with the pair it stored, no reinstall. On PostgreSQL the portal lookup before the
 * redemption fails first: 503, nothing redeemed, and the same install form is accepted afterwards.
 *
 * SQLite: another connection holds the write lock beyond busy_timeout. PostgreSQL: the app reaches
 * the server through a TCP proxy that the test cuts (connections reset, new ones refused at once),
 * then makes unreachable (connections accepted, never answered: the pool's connect timeout).
 * Before this, each of these answered 500 B24_ERR_INTERNAL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { InboxWriter } from '../../src/events/inbox.js';
import { JobQueue } from '../../src/queue/index.js';
import { openStore } from '../../src/store/index.js';
import { isStoreUnavailable } from '../../src/store/sql.js';
import type { Store } from '../../src/store/types.js';
import { countRows, eventForm, startTestApp, type TestApp } from '../app/helpers.js';
import { createTestDatabase, databaseUrl, onPostgres, type TestDatabase } from '../contract/helpers/store.js';
import { emulatorInstall, installForm, startAppUnderTest, type EmulatorInstall } from '../portals/helpers.js';
import { UNLIMITED_PORTAL } from '../helpers/emulator.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

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
  install: 'waits for the store' | 'refused before redeeming',
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
  let installed: Promise<Answer> | undefined;
  if (install === 'refused before redeeming') {
    assertUnavailable(await postForm(`${t.url}/install`, installForm(late)), `${label}: install`);
  } else {
    // the refresh token is redeemed, then the write meets the outage and is tried again until the store is back
    installed = postForm(`${t.url}/install`, installForm(late));
    const retrying = async (): Promise<boolean> => t.logs.slice(logStart).some((line) => line.includes('retrying the write of the portal'));
    for (const deadline = Date.now() + 5_000; !(await retrying()); ) {
      assert.ok(Date.now() < deadline, `${label}: the install's write is retried during the outage`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const failures = t.logs.slice(logStart).map((line) => JSON.parse(line) as { level: number; msg: string; code?: string; err?: { type?: string; message?: string; cause?: unknown } });
  const logged = failures.filter((line) => line.code === 'B24_ERR_STORE' && line.level >= 50);
  assert.ok(logged.length >= (installed ? 3 : 4), `${label}: each 503 logged at error level (${logged.length})`);
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
  if (installed) {
    const answer = await installed;
    assert.equal(answer.status, 200, `${label}: the install sent during the outage is stored once the store is back: ${answer.text}`);
    const retried = failures.find((line) => line.msg.startsWith('the store is unavailable; retrying the write'));
    assert.match(JSON.stringify(retried?.err), expectedCause, `${label}: the retry's warning carries the driver's error`);
  } else {
    // nothing was redeemed: the same install form is accepted now
    const answer = await postForm(`${t.url}/install`, installForm(late));
    assert.equal(answer.status, 200, `${label}: the same install is accepted once the store is back: ${answer.text}`);
  }
  assert.equal((await store.one<{ state: string }>('SELECT state FROM portals WHERE member_id = ?', [late.memberId]))?.state, 'active');
  // the stored pair is the live one: the portal answers a call made with it
  const { result: profile } = await t.app.client(late.memberId).call<{ ID: string }>('profile');
  assert.ok(profile.ID, `${label}: a call with the stored tokens works`);
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
        'waits for the store',
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

describe('store outage → 503 B24_ERR_STORE, then the same requests are accepted: PostgreSQL', { skip: !onPostgres && 'PostgreSQL only (npm run test:pg)' }, () => {
  let db: TestDatabase;
  let store: Store;
  let t: TestApp;
  let proxy: TcpProxy;
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
    await outageScenario(t, store, { cut: () => proxy.set('cut'), restore: () => proxy.set('open') }, 'PostgreSQL down', /ECONNRESET|Connection terminated/, 'refused before redeeming');
  });

  it('the server is unreachable: connections accepted, never answered (the pool gives up after connectTimeoutMs)', async () => {
    await outageScenario(t, store, { cut: () => proxy.set('blackhole'), restore: () => proxy.set('open') }, 'PostgreSQL unreachable', /timeout exceeded when trying to connect|Connection terminated/, 'refused before redeeming');
  });
});

describe('store outage longer than an install waits', { skip: onPostgres && 'SQLite run (without DATABASE_URL)' }, () => {
  it('answers 503 once the wait is over, and the error log says the redeemed pair is lost and what brings a new one', async () => {
    // 2 s: tries after pauses of 100, 200, 400 and 800 ms fit in it with room for slow busy waits
    const app = await startAppUnderTest({ busyTimeoutMs: 100, installStoreRetryMs: 2000 });
    const blocker = new Database(app.db.storeOptions.url);
    try {
      const portal = await emulatorInstall(app.emu, null, UNLIMITED_PORTAL);
      blocker.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const answer = await postForm(`${app.url}/install`, installForm(portal));
      const elapsedMs = performance.now() - started;
      assertUnavailable(answer, 'install after the wait');
      assert.ok(elapsedMs >= 2000, `waited the outage out for storeRetryMs before answering (${Math.round(elapsedMs)} ms)`);
      const lines = app.logs.map((line) => JSON.parse(line) as { level: number; msg: string; memberId?: string; attempts?: number; err?: { type?: string; message?: string } });
      const retries = lines.filter((line) => line.msg.startsWith('the store is unavailable; retrying the write'));
      assert.equal(retries.length, 1, 'one warning when the retries start, not one per try');
      const lost = lines.find((line) => line.level >= 50 && line.msg.startsWith("the portal's new tokens could not be stored"));
      assert.ok(lost, 'an error line when the wait is over');
      assert.equal(lost.memberId, portal.memberId);
      assert.ok((lost.attempts ?? 0) >= 3, `tried again during the wait (${lost.attempts} tries)`);
      assert.match(lost.msg, /installed again/);
      assert.match(String(lost.err?.message), /Store failure/, 'the store error as an Error object');
      blocker.exec('ROLLBACK');
      // the first try redeemed the offered pair: the same form is refused now, as the log line says (the
      // emulator ends the old access token with the refresh, so app.info refuses it; were it alive, the
      // spent refresh token would be refused next)
      const again = await postForm(`${app.url}/install`, installForm(portal));
      assert.equal(again.status, 403, again.text);
      assert.match(String(again.body.message), /invalid_token/);
      assert.equal(await countRows(app.store, 'portals', portal.memberId), 0, 'nothing stored');
    } finally {
      blocker.close();
      await app.close();
    }
  });
});
