/**
 * The example app (examples/integrations/) end to end against the emulator: installed into
 * emulator portals the way a portal does it, driven over HTTP the way a web store and an email
 * service would drive it.
 *
 * - shop: duplicate order POSTs make one job and one deal; every refusal (forged, missing, another
 *   portal's signature, unknown, uninstalled, unconfigured portal, stale timestamp) is the same
 *   401 and stores nothing; a dead job is `retried` by a corrected resend; a changed order while
 *   its job is queued `supersedes` it;
 * - mailer: a new contact reaches the email service; the API-key route marks an unsubscribed contact;
 * - pipeline: the schedule flags overdue deals; install stores the plugin's defaults;
 * - the seam: ingest/enqueue refuse unknown and uninstalled portals, a :memberId route without auth
 *   is a definition error, CLEAN purges the plugins' settings and intake rows, secrets are sealed
 *   at rest and absent from the logs; and a payload that supersedes a job after
 *   its first attempt still reaches the job's ctx.once steps.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { auth, createApp, definePlugin, type AppKit, type B24App } from '../../src/index.js';
import { registerIntegrations } from '../../examples/integrations/integrations.js';
import { ORIGINATOR, type Order, type ShopSettings } from '../../examples/integrations/shop.js';
import type { MailerSettings } from '../../examples/integrations/mailer.js';
import { PIPELINE_DEFAULTS, type PipelineSettings } from '../../examples/integrations/pipeline.js';
import { control } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { countRows, startTestApp, waitFor, type TestApp } from '../app/helpers.js';
import type { Store } from '../../src/store/types.js';

const UNAUTHORIZED = { error: 'B24_ERR_UNAUTHORIZED', message: 'The request is not signed or authorized for this portal' };

/** A secret of `n` random bytes, base64url: what a store or a service hands out. */
const secret = (n = 24): string => randomBytes(n).toString('base64url');

/** The fake email service: records every request. */
interface FakeMailService {
  url: string;
  requests: Array<{ method: string; path: string; authorization: string | undefined; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

async function startMailService(): Promise<FakeMailService> {
  const requests: FakeMailService['requests'] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: request.method ?? '', path: request.url ?? '', authorization: request.headers.authorization, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"subscribed"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the assertions on `text` say what it was
  }
  return { status: response.status, text, json };
}

/** Shopify-style: base64 HMAC-SHA256 of the raw body. */
function shopSignature(body: string, key: string): string {
  return createHmac('sha256', key).update(body).digest('base64');
}

function order(id: number, overrides: Partial<Order> = {}): Order {
  return {
    id,
    name: `#${id}`,
    email: `buyer${id}@shop.test`,
    currency: 'USD',
    total_price: '129.90',
    line_items: [
      { title: 'Mug', quantity: 2, price: '19.95' },
      { title: 'Teapot', quantity: 1, price: '80.00' },
    ],
    ...overrides,
  };
}

interface JobRow {
  id: number;
  name: string;
  state: string;
  payload: string;
  last_error: string | null;
  result: string | null;
  attempts: number;
}

async function jobRow(store: Store, id: number): Promise<JobRow | undefined> {
  const row = await store.one<JobRow>('SELECT id, name, state, payload, last_error, result, attempts FROM b24kit_jobs WHERE id = ?', [id]);
  return row ? { ...row, id: Number(row.id), attempts: Number(row.attempts) } : undefined;
}

async function waitForJob(store: Store, id: number, state: 'succeeded' | 'dead'): Promise<JobRow> {
  return waitFor(
    async () => {
      const row = await jobRow(store, id);
      if (row && row.state !== 'queued' && row.state !== 'running' && row.state !== state) throw new Error(`job ${id} is ${row.state}, not ${state}: ${row.last_error ?? ''}`);
      return row?.state === state ? row : undefined;
    },
    10_000,
    `job ${id} ${state}`,
  );
}

async function dealsOfOrder(app: B24App, memberId: string, orderId: number): Promise<Array<Record<string, string>>> {
  const { result } = await app.client(memberId).call<Array<Record<string, string>>>('crm.deal.list', {
    filter: { ORIGINATOR_ID: ORIGINATOR, ORIGIN_ID: String(orderId) },
    select: ['ID', 'TITLE', 'OPPORTUNITY', 'CURRENCY_ID'],
  });
  return result;
}

async function stateOf(store: Store, memberId: string): Promise<string | undefined> {
  return (await store.one<{ state: string }>('SELECT state FROM portals WHERE member_id = ?', [memberId]))?.state;
}

/** A test-only plugin: the timestamped variant of auth.hmac (Stripe-style `t.body` signing). */
const stampedPlugin = definePlugin({
  name: 'stamped',
  settings: { schema: z.object({ secret: z.string().min(16) }), secrets: ['secret'] },
  setup(kit) {
    kit.route('POST', '/api/v1/:memberId/stamped', () => ({ ok: true }), {
      auth: auth.hmac({ header: 'x-stamped-signature', secret: 'secret', timestampHeader: 'x-stamped-timestamp', toleranceSeconds: 300 }),
    });
  },
});

describe('example app: store orders → deals, contacts ↔ email service', () => {
  let t: TestApp;
  let mail: FakeMailService;
  /** Configured portals. */
  let a: EmulatorInstall;
  let b: EmulatorInstall;
  /** Installed, never configured. */
  let bare: EmulatorInstall;
  /** Configured, then uninstalled (without CLEAN: its settings stay). */
  let gone: EmulatorInstall;
  const secrets = { a: secret(), b: secret(), gone: secret(), stamped: secret() };
  const apiKeys = { a: secret(), b: secret() };
  const ordersUrl = (memberId: string): string => `${t.url}/api/v1/${memberId}/orders`;

  before(async () => {
    mail = await startMailService();
    t = await startTestApp((app) => {
      registerIntegrations(app, { mailer: { serviceUrl: mail.url }, shop: { currencies: ['USD', 'EUR'] } });
      app.register(stampedPlugin);
    });
    [a, b, bare, gone] = [await t.install(), await t.install(), await t.install(), await t.install()];
    await t.app.settings<ShopSettings>(a.memberId, 'shop').set({ signingSecret: secrets.a });
    await t.app.settings<ShopSettings>(b.memberId, 'shop').set({ signingSecret: secrets.b });
    await t.app.settings<ShopSettings>(gone.memberId, 'shop').set({ signingSecret: secrets.gone });
    await t.app.settings<MailerSettings>(a.memberId, 'mailer').set({ apiKey: apiKeys.a, listId: 'list-a' });
    await t.app.settings<MailerSettings>(b.memberId, 'mailer').set({ apiKey: apiKeys.b, listId: 'list-b' });
    await t.app.settings(a.memberId, 'stamped').set({ secret: secrets.stamped });
    await control(t.emu, `/portals/${gone.memberId}/uninstall`, {});
    await waitFor(async () => (await stateOf(t.store, gone.memberId)) === 'uninstalled', 10_000, 'the uninstall to arrive');
  });
  after(async () => {
    await t?.close();
    await mail?.close();
  });

  it('duplicate POSTs of one order: one job, one deal; every answer names the same job', async () => {
    const body = JSON.stringify(order(1001));
    const headers = { 'x-shop-signature': shopSignature(body, secrets.a) };
    const answers = await Promise.all([1, 2, 3].map(() => post(ordersUrl(a.memberId), body, headers)));
    assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 202], answers.map((answer) => answer.text).join('\n'));
    const jobIds = new Set(answers.map((answer) => answer.json.jobId));
    assert.equal(jobIds.size, 1, 'one job for every copy');
    assert.deepEqual(answers.map((answer) => answer.json.outcome).sort(), ['created', 'duplicate', 'duplicate']);
    assert.ok(answers.every((answer) => answer.json.revision === 1));
    const jobId = Number([...jobIds][0]);
    const done = await waitForJob(t.store, jobId, 'succeeded');

    const again = await post(ordersUrl(a.memberId), body, headers);
    assert.deepEqual(again.json, { jobId, outcome: 'duplicate', revision: 1, state: 'succeeded' }, 'a resend after the job ran: the job that did it');
    assert.equal(await countRows(t.store, 'b24kit_intake', a.memberId), 1);
    const jobs = await t.store.all("SELECT id FROM b24kit_jobs WHERE member_id = ? AND name = 'job:shop.order'", [a.memberId]);
    assert.equal(jobs.length, 1);

    const deals = await dealsOfOrder(t.app, a.memberId, 1001);
    assert.equal(deals.length, 1, 'one deal');
    assert.deepEqual(JSON.parse(done.result ?? 'null'), { dealId: Number(deals[0]!.ID) });
    assert.deepEqual({ ...deals[0], ID: undefined }, { ID: undefined, TITLE: 'Order #1001', OPPORTUNITY: '129.90', CURRENCY_ID: 'USD' });
    const { result: rows } = await t.app.client(a.memberId).call<Array<{ PRODUCT_NAME: string; QUANTITY: number }>>('crm.deal.productrows.get', { id: deals[0]!.ID });
    assert.deepEqual(rows.map((row) => [row.PRODUCT_NAME, Number(row.QUANTITY)]), [['Mug', 2], ['Teapot', 1]]);
  });

  it('a changed order after its job ran: `revised`, a new job, the same deal updated', async () => {
    const body = JSON.stringify(order(1001, { total_price: '149.90' }));
    const answer = await post(ordersUrl(a.memberId), body, { 'x-shop-signature': shopSignature(body, secrets.a) });
    assert.equal(answer.status, 202, answer.text);
    assert.deepEqual([answer.json.outcome, answer.json.revision], ['revised', 2]);
    await waitForJob(t.store, Number(answer.json.jobId), 'succeeded');
    const deals = await dealsOfOrder(t.app, a.memberId, 1001);
    assert.deepEqual(deals.map((deal) => deal.OPPORTUNITY), ['149.90'], 'still one deal, with the new total');
  });

  it('a bad body: 400 naming the fields, nothing stored', async () => {
    const before = [await countRows(t.store, 'b24kit_jobs'), await countRows(t.store, 'b24kit_intake')];
    const body = JSON.stringify({ ...order(1002), total_price: 'lots', line_items: 'none' });
    const answer = await post(ordersUrl(a.memberId), body, { 'x-shop-signature': shopSignature(body, secrets.a) });
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error, 'B24_ERR_BAD_REQUEST');
    assert.match(String(answer.json.message), /invalid order: .*total_price.*line_items/);
    assert.deepEqual([await countRows(t.store, 'b24kit_jobs'), await countRows(t.store, 'b24kit_intake')], before);
  });

  it('every refusal is the same 401, byte for byte, and stores nothing', async () => {
    const body = JSON.stringify(order(3003));
    const signedA = shopSignature(body, secrets.a);
    const unknown = randomBytes(16).toString('hex');
    const cases: Array<[string, string, Record<string, string>]> = [
      ['forged signature', ordersUrl(a.memberId), { 'x-shop-signature': shopSignature(body, secret()) }],
      ['a signature of another body', ordersUrl(a.memberId), { 'x-shop-signature': shopSignature(`${body} `, secrets.a) }],
      ['no signature header', ordersUrl(a.memberId), {}],
      ['an empty signature', ordersUrl(a.memberId), { 'x-shop-signature': '' }],
      ['a truncated signature', ordersUrl(a.memberId), { 'x-shop-signature': signedA.slice(0, 24) }],
      ['hex instead of base64', ordersUrl(a.memberId), { 'x-shop-signature': createHmac('sha256', secrets.a).update(body).digest('hex') }],
      ["another portal's secret", ordersUrl(a.memberId), { 'x-shop-signature': shopSignature(body, secrets.b) }],
      ["a portal's own signature under another's URL", ordersUrl(b.memberId), { 'x-shop-signature': signedA }],
      ['an unknown member_id', ordersUrl(unknown), { 'x-shop-signature': signedA }],
      ['a malformed member_id', ordersUrl('not.a.member'), { 'x-shop-signature': signedA }],
      ['an uninstalled portal, its own secret', ordersUrl(gone.memberId), { 'x-shop-signature': shopSignature(body, secrets.gone) }],
      ['a portal that never set its secret', ordersUrl(bare.memberId), { 'x-shop-signature': signedA }],
    ];
    const before = [await countRows(t.store, 'b24kit_jobs'), await countRows(t.store, 'b24kit_intake')];
    const texts = new Set<string>();
    for (const [what, url, headers] of cases) {
      const answer = await post(url, body, headers);
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.deepEqual(answer.json, UNAUTHORIZED, what);
      texts.add(answer.text);
    }
    assert.equal(texts.size, 1, `one body for every refusal: ${[...texts].join(' | ')}`);
    assert.deepEqual([await countRows(t.store, 'b24kit_jobs'), await countRows(t.store, 'b24kit_intake')], before, 'no job, no intake row');
    // the same request, rightly signed, goes through: the refusals were about the signature
    const accepted = await post(ordersUrl(a.memberId), body, { 'x-shop-signature': signedA });
    assert.equal(accepted.status, 202, accepted.text);
  });

  it('a bad currency: the job goes dead; the corrected resend is `retried` and makes the deal', async () => {
    const bad = JSON.stringify(order(4004, { currency: 'usd' }));
    const first = await post(ordersUrl(a.memberId), bad, { 'x-shop-signature': shopSignature(bad, secrets.a) });
    assert.deepEqual([first.status, first.json.outcome], [202, 'created'], first.text);
    const dead = await waitForJob(t.store, Number(first.json.jobId), 'dead');
    assert.match(dead.last_error ?? '', /currency "usd"/);
    assert.equal(dead.attempts, 1, 'dead at once: NonRetryableError');
    assert.deepEqual(await dealsOfOrder(t.app, a.memberId, 4004), []);

    const same = await post(ordersUrl(a.memberId), bad, { 'x-shop-signature': shopSignature(bad, secrets.a) });
    assert.deepEqual([same.json.outcome, same.json.revision], ['retried', 2], 'the same payload after a dead job runs again too');
    await waitForJob(t.store, Number(same.json.jobId), 'dead');

    const fixed = JSON.stringify(order(4004, { currency: 'EUR' }));
    const resent = await post(ordersUrl(a.memberId), fixed, { 'x-shop-signature': shopSignature(fixed, secrets.a) });
    assert.equal(resent.status, 202, resent.text);
    assert.equal(resent.json.outcome, 'retried');
    assert.equal(resent.json.revision, 3);
    assert.notEqual(resent.json.jobId, first.json.jobId, 'a new job');
    await waitForJob(t.store, Number(resent.json.jobId), 'succeeded');
    assert.deepEqual((await dealsOfOrder(t.app, a.memberId, 4004)).map((deal) => deal.CURRENCY_ID), ['EUR']);
  });

  it('auth.hmac with a timestamp: fresh → 200; stale, future or missing timestamp → the same 401', async () => {
    const url = `${t.url}/api/v1/${a.memberId}/stamped`;
    const body = '{"ping":1}';
    const nowSeconds = Math.floor(t.emu.emulator.clock.nowMs() / 1000);
    const signed = (stamp: number | string): Record<string, string> => ({
      'x-stamped-timestamp': String(stamp),
      'x-stamped-signature': createHmac('sha256', secrets.stamped).update(`${stamp}.${body}`).digest('hex'),
    });
    const fresh = await post(url, body, signed(nowSeconds));
    assert.deepEqual([fresh.status, fresh.json], [200, { ok: true }], fresh.text);
    for (const [what, headers] of [
      ['stale by 10 minutes', signed(nowSeconds - 600)],
      ['10 minutes ahead', signed(nowSeconds + 600)],
      ['no timestamp', { 'x-stamped-signature': signed(nowSeconds)['x-stamped-signature']! }],
      ['a timestamp not signed', { ...signed(nowSeconds - 600), 'x-stamped-timestamp': String(nowSeconds) }],
    ] as const) {
      const answer = await post(url, body, headers);
      assert.deepEqual([answer.status, answer.json], [401, UNAUTHORIZED], what);
    }
  });

  it('mailer: a new contact is put on the portal list at the email service, with its key', async () => {
    const { result: contactId } = await t.app.client(a.memberId).call<number>('crm.contact.add', { fields: { NAME: 'Ada', LAST_NAME: 'Lovelace', EMAIL: [{ VALUE: 'Ada@Example.test' }] } });
    await control(t.emu, `/portals/${a.memberId}/events/flush`, {});
    const request = await waitFor(() => mail.requests.find((entry) => entry.body.externalId === String(contactId)), 10_000, 'the email service call');
    assert.deepEqual(request, {
      method: 'PUT',
      path: '/lists/list-a/members/ada%40example.test',
      authorization: `Bearer ${apiKeys.a}`,
      body: { email: 'Ada@Example.test', firstName: 'Ada', lastName: 'Lovelace', externalId: String(contactId) },
    });
  });

  it('mailer: the unsubscribe route takes only the portal key, and marks the contact', async () => {
    const { result: contactId } = await t.app.client(a.memberId).call<number>('crm.contact.add', { fields: { NAME: 'Bob', EMAIL: [{ VALUE: 'bob@example.test' }] } });
    const url = `${t.url}/api/v1/${a.memberId}/unsubscribes`;
    const body = JSON.stringify({ externalId: String(contactId), email: 'bob@example.test' });
    const before = await countRows(t.store, 'b24kit_intake');
    for (const [what, headers] of [
      ['no key', {}],
      ['a wrong key', { authorization: `Bearer ${secret()}` }],
      ["another portal's key", { authorization: `Bearer ${apiKeys.b}` }],
      ['the key without Bearer', { authorization: apiKeys.a }],
      ['the key but its last character', { authorization: `Bearer ${apiKeys.a.slice(0, -1)}` }],
      ['the key and one more character', { authorization: `Bearer ${apiKeys.a}x` }],
      ['the key in another header', { 'x-api-key': apiKeys.a }],
    ] as const) {
      const answer = await post(url, body, headers);
      assert.deepEqual([answer.status, answer.json], [401, UNAUTHORIZED], what);
    }
    assert.equal(await countRows(t.store, 'b24kit_intake'), before);
    const accepted = await post(url, body, { authorization: `Bearer ${apiKeys.a}` });
    assert.equal(accepted.status, 202, accepted.text);
    assert.equal(accepted.json.outcome, 'created');
    await waitForJob(t.store, Number(accepted.json.jobId), 'succeeded');
    const { result: contact } = await t.app.client(a.memberId).call<Record<string, unknown>>('crm.contact.get', { id: contactId });
    assert.equal(contact.UF_CRM_EMAIL_OPT_OUT, 'Y');
  });

  it('ingest and enqueue refuse an uninstalled portal (410) and an unknown one (404)', async () => {
    const payload = order(5005);
    for (const call of [() => t.app.ingest(gone.memberId, 'shop.order', '5005', payload), () => t.app.enqueue(gone.memberId, 'shop.order', payload)]) {
      await assert.rejects(call(), { name: 'B24Error', code: 'B24_ERR_PORTAL_UNINSTALLED', status: 410 });
    }
    const unknown = randomBytes(16).toString('hex');
    for (const call of [() => t.app.ingest(unknown, 'shop.order', '5005', payload), () => t.app.enqueue(unknown, 'shop.order', payload)]) {
      await assert.rejects(call(), { name: 'B24Error', code: 'B24_ERR_PORTAL_NOT_FOUND', status: 404 });
    }
    assert.equal(await countRows(t.store, 'b24kit_intake', gone.memberId), 0);
  });

  it('secrets are sealed at rest and never logged', async () => {
    const row = await t.store.one<{ value: string; sealed: number }>("SELECT value, sealed FROM b24kit_portal_values WHERE member_id = ? AND namespace = 'shop' AND name = 'signingSecret'", [a.memberId]);
    assert.ok(row, 'the secret is stored');
    assert.equal(Number(row.sealed), 1);
    assert.ok(!row.value.includes(secrets.a), 'the raw row does not hold the secret');
    assert.ok(!row.value.includes(Buffer.from(JSON.stringify(secrets.a)).toString('base64')), 'nor its JSON in base64');
    const listRow = await t.store.one<{ value: string; sealed: number }>("SELECT value, sealed FROM b24kit_portal_values WHERE member_id = ? AND namespace = 'mailer' AND name = 'listId'", [a.memberId]);
    assert.deepEqual([listRow?.value, Number(listRow?.sealed)], ['"list-a"', 0], 'a plain setting is stored as JSON');
    assert.equal((await t.app.settings<ShopSettings>(a.memberId, 'shop').get()).signingSecret, secrets.a, 'and opens again');

    const logs = t.logs.join('\n');
    assert.ok(logs.includes('shop order received'), 'the logs were captured');
    for (const [name, value] of Object.entries({ ...secrets, apiKeyA: apiKeys.a, apiKeyB: apiKeys.b })) {
      assert.ok(!logs.includes(value), `secret ${name} is not in the logs`);
    }
  });

  it('uninstall with CLEAN=1 purges the plugins\' settings and intake rows', async () => {
    const c = await t.install();
    await t.app.settings<ShopSettings>(c.memberId, 'shop').set({ signingSecret: secret() });
    const body = JSON.stringify(order(6006));
    const { signingSecret } = await t.app.settings<ShopSettings>(c.memberId, 'shop').get();
    const answer = await post(ordersUrl(c.memberId), body, { 'x-shop-signature': shopSignature(body, signingSecret) });
    await waitForJob(t.store, Number(answer.json.jobId), 'succeeded');
    assert.ok((await countRows(t.store, 'b24kit_portal_values', c.memberId)) >= 3, 'shop secret and the pipeline defaults');
    assert.equal(await countRows(t.store, 'b24kit_intake', c.memberId), 1);

    await control(t.emu, `/portals/${c.memberId}/uninstall`, { clean: true });
    await waitFor(async () => (await stateOf(t.store, c.memberId)) === undefined, 10_000, 'the purge');
    assert.equal(await countRows(t.store, 'b24kit_portal_values', c.memberId), 0);
    assert.equal(await countRows(t.store, 'b24kit_intake', c.memberId), 0);
    assert.equal(await countRows(t.store, 'b24kit_jobs', c.memberId), 0);
    assert.ok(await countRows(t.store, 'b24kit_portal_values', a.memberId) > 0, "the other portals' settings stay");
    const hook = t.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.memberId === c.memberId && line.plugin === 'pipeline' && line.clean === true);
    assert.match(String(hook?.msg), /uninstalled; the portal asked to delete its data/);
  });
});

describe('example app: a changed order while its job waits', () => {
  let t: TestApp;
  let a: EmulatorInstall;
  const signingSecret = secret();

  before(async () => {
    // no worker: every job stays queued
    t = await startTestApp((app) => void registerIntegrations(app, { mailer: { serviceUrl: 'http://127.0.0.1:9' } }), { roles: { worker: false } });
    a = await t.install();
    await t.app.settings<ShopSettings>(a.memberId, 'shop').set({ signingSecret });
  });
  after(() => t?.close());

  it('`superseded`: the same job carries the newest order; the same resend again is `duplicate`', async () => {
    const send = async (value: Order): Promise<Answer> => {
      const body = JSON.stringify(value);
      return post(`${t.url}/api/v1/${a.memberId}/orders`, body, { 'x-shop-signature': shopSignature(body, signingSecret) });
    };
    const first = await send(order(7007));
    assert.deepEqual([first.status, first.json.outcome, first.json.revision, first.json.state], [202, 'created', 1, 'queued'], first.text);
    const changed = await send(order(7007, { total_price: '99.00' }));
    assert.deepEqual([changed.json.outcome, changed.json.revision, changed.json.jobId], ['superseded', 2, first.json.jobId]);
    const again = await send(order(7007, { total_price: '99.00' }));
    assert.deepEqual([again.json.outcome, again.json.revision, again.json.jobId], ['duplicate', 2, first.json.jobId]);
    const row = await jobRow(t.store, Number(first.json.jobId));
    assert.equal((JSON.parse(row!.payload) as Order).total_price, '99.00', 'the queued job carries the new payload');
    assert.equal(await countRows(t.store, 'b24kit_jobs', a.memberId), 1);
  });
});

describe('example app: the pipeline robot on a schedule', () => {
  let t: TestApp;
  let a: EmulatorInstall;

  before(async () => {
    t = await startTestApp((app) => void registerIntegrations(app, { mailer: { serviceUrl: 'http://127.0.0.1:9' }, pipeline: { cron: '* * * * *' } }), {
      roles: { scheduler: true },
      config: { scheduler: { intervalMs: 100 } },
    });
    a = await t.install({ timeZone: 'UTC' });
  });
  after(() => t?.close());

  it('install stores the plugin defaults', async () => {
    assert.deepEqual(await t.app.settings<PipelineSettings>(a.memberId, 'pipeline').get(), PIPELINE_DEFAULTS);
  });

  it('a run flags the open deals past their close date, and only those', async () => {
    const b24 = t.app.client(a.memberId);
    const runs = async (): Promise<Array<{ fireTimeMs: number; result: { open: number; overdue: number; flagged: number } }>> =>
      (await t.store.all<{ payload: string; result: string }>("SELECT payload, result FROM b24kit_jobs WHERE member_id = ? AND name = 'schedule:pipeline.overdue' AND state = 'succeeded' ORDER BY id", [a.memberId])).map((row) => ({
        fireTimeMs: (JSON.parse(row.payload) as { fireTimeMs: number }).fireTimeMs,
        result: JSON.parse(row.result) as { open: number; overdue: number; flagged: number },
      }));
    const pending = async (): Promise<number> =>
      Number((await t.store.one<{ n: number }>("SELECT COUNT(*) AS n FROM b24kit_jobs WHERE member_id = ? AND name = 'schedule:pipeline.overdue' AND state IN ('queued', 'running')", [a.memberId]))?.n);
    // the install's slot first (it may wait for a retry: the scheduler can fire before the
    // onInstall hook stored the defaults); the clock must not jump under a running job, whose
    // lease would expire
    await waitFor(async () => (await runs()).length > 0 && (await pending()) === 0, 10_000, "the install's slot");

    const add = async (fields: Record<string, unknown>): Promise<number> => (await b24.call<number>('crm.deal.add', { fields })).result;
    const overdue = [await add({ TITLE: 'late 1', CLOSEDATE: '2001-01-01' }), await add({ TITLE: 'late 2', CLOSEDATE: '2001-02-01' })];
    const won = await add({ TITLE: 'won long ago', CLOSEDATE: '2001-01-01', STAGE_ID: 'WON' });
    const future = await add({ TITLE: 'not yet', CLOSEDATE: '2999-01-01' });
    // the next minute's slot, after the deals exist: the scheduler fires it on its next tick
    await control(t.emu, '/clock', { advanceSeconds: 60 });
    const slotMs = Math.floor(t.emu.emulator.clock.nowMs() / 60_000) * 60_000;
    const run = await waitFor(async () => (await pending()) === 0 && (await runs()).find((entry) => entry.fireTimeMs >= slotMs), 10_000, 'the run of the next slot');
    // (flagged: 2 unless the real clock crossed a minute while the deals were added: then an earlier run did it)
    assert.deepEqual([run.result.open, run.result.overdue], [3, 2], 'won deals are not open; future ones not overdue');
    const deals = await b24.call<Array<{ ID: string; UF_CRM_OVERDUE?: string | null }>>('crm.deal.list', { select: ['ID', 'UF_CRM_OVERDUE'] });
    const flagged = deals.result.filter((deal) => deal.UF_CRM_OVERDUE === 'Y').map((deal) => Number(deal.ID));
    assert.deepEqual(flagged.sort(), [...overdue].sort());
    assert.ok(!flagged.includes(won) && !flagged.includes(future));
  });
});

describe('example app: definitions', () => {
  it('a :memberId route without auth is refused when it is declared', () => {
    const app = createApp();
    const leaky = definePlugin({
      name: 'leaky',
      setup(kit) {
        kit.route('POST', '/api/v1/:memberId/orders', () => ({ ok: true }));
      },
    });
    assert.throws(() => app.register(leaky), { code: 'B24_ERR_APP_DEFINITION', message: /POST \/api\/v1\/:memberId\/orders has :memberId but no auth/ });
    assert.throws(() => app.route('GET', '/api/v1/:memberId/status', () => ({})), { code: 'B24_ERR_APP_DEFINITION', message: /:memberId but no auth/ });
    // an auth that reads a setting the plugin does not declare
    const undeclared = definePlugin({
      name: 'undeclared',
      setup(kit) {
        kit.route('POST', '/api/v1/:memberId/x', () => ({}), { auth: auth.apiKey({ secret: 'apiKey' }) });
      },
    });
    assert.throws(() => app.register(undeclared), { code: 'B24_ERR_APP_DEFINITION', message: /reads the setting apiKey/ });
  });
});

describe('seam: a changed payload for a job that already made an attempt', () => {
  let t: TestApp;
  let a: EmulatorInstall;
  const notified: string[] = [];
  /** A job that notifies once per job (ctx.once), then fails its first attempt. */
  const probe = definePlugin({
    name: 'probe',
    setup(kit: AppKit<Record<string, unknown>, { 'probe.notify': { text: string } }>) {
      kit.job(
        'probe.notify',
        async (ctx) => {
          await ctx.once('notify', () => void notified.push(ctx.payload.text));
          if (ctx.job.attempt === 1) throw new Error('flaky first attempt');
        },
        // the retry waits (full jitter up to an hour): the job stays queued until the test moves it
        { maxAttempts: 3, baseDelayMs: 3_600_000, capDelayMs: 3_600_000 },
      );
    },
  });

  before(async () => {
    t = await startTestApp((app) => void app.register(probe));
    a = await t.install();
  });
  after(() => t?.close());

  it(
    'the new payload is what runs: ctx.once memos of the old payload do not skip its effects',
    async () => {
      const first = await t.app.ingest(a.memberId, 'probe.notify', 'item-1', { text: 'v1' });
      await waitFor(async () => ((await jobRow(t.store, first.job.id))?.attempts ?? 0) >= 1 && (await jobRow(t.store, first.job.id))?.state === 'queued', 10_000, 'the first attempt to fail');
      // the same job, due now with a fresh budget and without the old payload's memos
      const changed = await t.app.ingest(a.memberId, 'probe.notify', 'item-1', { text: 'v2' });
      assert.equal(changed.outcome, 'superseded');
      assert.equal(changed.job.id, first.job.id);
      const open = "SELECT COUNT(*) AS n FROM b24kit_jobs WHERE member_id = ? AND state IN ('queued', 'running')";
      await waitFor(
        async () => {
          await t.store.run("UPDATE b24kit_jobs SET run_at_ms = 0 WHERE member_id = ? AND state = 'queued'", [a.memberId]); // retries due now
          return Number((await t.store.one<{ n: number }>(open, [a.memberId]))?.n) === 0;
        },
        10_000,
        'the jobs to run',
      );
      assert.deepEqual(notified, ['v1', 'v2'], 'v2 was notified too');
    },
  );
});
