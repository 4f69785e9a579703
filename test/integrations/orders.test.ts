/**
 * The built-in orders plugin (src/integrations/orders/) end to end against the emulator: orders
 * POSTed as the generic format, WooCommerce and Shopify send them (their real header schemes, the
 * sample payloads' shapes in fixtures/), each becoming exactly one deal with its contact and rows.
 * Judged by the emulator's data (read back over REST) and its request stats.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startTestApp, emulatorControl, type TestApp } from '../../src/testing/index.js';
import { DEFAULT_STAGES, ordersPlugin, type Order } from '../../src/integrations/index.js';
import { runOrderJob } from '../../src/integrations/orders/job.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import type { Store } from '../../src/store/types.js';
import type { Job, Json } from '../../src/queue/types.js';
import { appInternals } from '../../src/app/internals.js';
import { countRows, waitFor } from '../app/helpers.js';

const UNAUTHORIZED = '{"error":"B24_ERR_UNAUTHORIZED","message":"The request is not signed or authorized for this portal"}';
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const secret = (): string => randomBytes(24).toString('base64url');

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

interface Deal {
  ID: string;
  TITLE: string;
  STAGE_ID: string;
  CURRENCY_ID: string;
  OPPORTUNITY: string;
  CONTACT_ID: string | null;
  ORIGINATOR_ID: string;
  ORIGIN_ID: string;
}

describe('orders plugin: store orders → deals', () => {
  let t: TestApp;
  let store: Store;
  let db: TestDatabase;
  let portalA: string;
  let portalB: string;
  const secretA = secret();
  const secretB = secret();

  before(async () => {
    // SQLite, or PostgreSQL under `npm run test:pg` (DATABASE_URL)
    db = createTestDatabase();
    store = await db.open();
    t = await startTestApp((app) => void app.register(ordersPlugin, {}), { config: { store } });
    portalA = t.portal.memberId;
    portalB = (await t.installPortal()).memberId;
    await t.app.settings(portalA, 'orders').set({ signingSecret: secretA });
    await t.app.settings(portalB, 'orders').set({ signingSecret: secretB });
  });
  after(async () => {
    await t?.close();
    await store?.close();
    await db?.drop();
  });

  const url = (memberId: string): string => `${t.url}/api/v1/${memberId}/orders`;
  const post = async (memberId: string, body: string, headers: Record<string, string>): Promise<Answer> => {
    const response = await fetch(url(memberId), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // the assertions on `text` say what it was
    }
    return { status: response.status, text, json };
  };
  /** The generic format's headers: `sha256=` hex HMAC of `timestamp.body`. */
  const genericHeaders = (body: string, key: string, nowMs = Date.now()): Record<string, string> => {
    const stamp = String(Math.floor(nowMs / 1000));
    return { 'x-b24kit-timestamp': stamp, 'x-b24kit-signature': `sha256=${createHmac('sha256', key).update(`${stamp}.${body}`).digest('hex')}` };
  };
  const base64Hmac = (body: string, key: string): string => createHmac('sha256', key).update(body).digest('base64');
  const wooHeaders = (body: string, key: string, topic = 'order.created'): Record<string, string> => ({
    'x-wc-webhook-source': 'https://shop.example.test/',
    'x-wc-webhook-topic': topic,
    'x-wc-webhook-resource': 'order',
    'x-wc-webhook-event': topic.split('.')[1]!,
    'x-wc-webhook-signature': base64Hmac(body, key),
    'x-wc-webhook-id': '12',
    'x-wc-webhook-delivery-id': String(Math.floor(Math.random() * 1e6)),
  });
  const shopifyHeaders = (body: string, key: string, topic = 'orders/create'): Record<string, string> => ({
    'x-shopify-topic': topic,
    'x-shopify-hmac-sha256': base64Hmac(body, key),
    'x-shopify-shop-domain': 'example.myshopify.com',
    'x-shopify-api-version': '2025-10',
    'x-shopify-webhook-id': randomBytes(16).toString('hex'),
  });
  const genericOrder = (id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    id,
    number: `#${id}`,
    status: 'pending',
    currency: 'USD',
    total: '120.50',
    customer: { email: `buyer-${id}@example.test`, phone: `+1 (555) 010-${id}`, firstName: 'Grace', lastName: 'Hopper' },
    items: [
      { name: 'Keyboard', sku: 'KB-1', price: '100.00', quantity: 1 },
      { name: 'Cable', price: 10.25, quantity: 2 },
    ],
    ...overrides,
  });

  const queue = async () => (await appInternals(t.app).services()).queue;
  const finished = (jobId: number): Promise<Job> =>
    waitFor(
      async () => {
        const job = await (await queue()).get(jobId);
        return job && (job.state === 'dead' || job.state === 'succeeded') ? job : undefined;
      },
      15_000,
      `job ${jobId} to finish`,
    );
  const stats = (memberId: string) => emulatorControl<{ requests: number; byMethod: Record<string, number> }>(t.emulator, `/portals/${memberId}/stats`, undefined, 'GET');
  const deals = async (memberId: string, filter: Record<string, unknown>): Promise<Deal[]> =>
    (await t.app.client(memberId).call<Deal[]>('crm.deal.list', { filter, select: ['*'], order: { ID: 'ASC' } })).result;
  const contactsByEmail = async (memberId: string, email: string): Promise<number[]> => {
    const { result } = await t.app.client(memberId).call<{ CONTACT?: number[] } | []>('crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'EMAIL', values: [email] });
    return Array.isArray(result) ? [] : (result.CONTACT ?? []);
  };
  const stored = async (): Promise<[number, number]> => [await countRows(store, 'b24kit_jobs'), await countRows(store, 'b24kit_intake')];

  it('the same order sent 5 times at once → one job, one deal, one contact, in 2 requests', async () => {
    const body = JSON.stringify(genericOrder('5001'));
    const before = await stats(portalA);
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(portalA, body, genericHeaders(body, secretA))));
    assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 202, 202, 202]);
    assert.deepEqual(answers.map((answer) => answer.json.outcome).sort(), ['created', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    assert.equal(new Set(answers.map((answer) => answer.json.jobId)).size, 1, 'one job');
    const job = await finished(answers[0]!.json.jobId as number);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    const after = await stats(portalA);
    assert.equal(after.requests - before.requests, 2, 'a new order costs 2 requests');
    assert.equal((after.byMethod['crm.deal.add'] ?? 0) - (before.byMethod['crm.deal.add'] ?? 0), 1);

    const found = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: '5001' });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.STAGE_ID, 'NEW');
    assert.equal(found[0]!.CURRENCY_ID, 'USD');
    assert.equal(Number(found[0]!.OPPORTUNITY), 120.5);
    const contacts = await contactsByEmail(portalA, 'buyer-5001@example.test');
    assert.equal(contacts.length, 1, 'one contact');
    assert.equal(found[0]!.CONTACT_ID, String(contacts[0]));
    const { result: rows } = await t.app.client(portalA).call<Array<{ PRODUCT_NAME: string; QUANTITY: number | string }>>('crm.deal.productrows.get', { id: found[0]!.ID });
    assert.deepEqual(rows.map((row) => [row.PRODUCT_NAME, Number(row.QUANTITY)]), [['Keyboard', 1], ['Cable', 2]]);
  });

  it('a status update of the same order moves the deal to the mapped stage, in 2 requests, still one deal', async () => {
    const first = JSON.stringify(genericOrder('5002'));
    const created = await post(portalA, first, genericHeaders(first, secretA));
    assert.equal((await finished(created.json.jobId as number)).state, 'succeeded');
    const before = await stats(portalA);
    const update = JSON.stringify(genericOrder('5002', { status: 'completed' }));
    const revised = await post(portalA, update, genericHeaders(update, secretA));
    assert.equal(revised.status, 202);
    assert.equal(revised.json.outcome, 'revised');
    const job = await finished(revised.json.jobId as number);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    const after = await stats(portalA);
    assert.equal(after.requests - before.requests, 2, 'an update costs 2 requests');
    const found = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: '5002' });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.STAGE_ID, 'WON');
    assert.equal((after.byMethod['crm.deal.add'] ?? 0) - (before.byMethod['crm.deal.add'] ?? 0), 0);
  });

  it('the stage mapping is a per-portal setting', async () => {
    await t.app.settings(portalB, 'orders').set({ stages: { pending: 'PREPAYMENT_INVOICE' } });
    const body = JSON.stringify(genericOrder('5003'));
    const answer = await post(portalB, body, genericHeaders(body, secretB));
    assert.equal((await finished(answer.json.jobId as number)).state, 'succeeded');
    const found = await deals(portalB, { ORIGIN_ID: '5003' });
    assert.equal(found[0]!.STAGE_ID, 'PREPAYMENT_INVOICE');
  });

  it('a WooCommerce order.created webhook (X-WC-Webhook-Signature) becomes a deal; its creation ping is answered 200 and stores nothing', async () => {
    const before = await stored();
    const ping = await fetch(url(portalA), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'WooCommerce/9.4.2 Hookshot (WordPress/6.7)' },
      body: 'webhook_id=12',
    });
    assert.equal(ping.status, 200);
    assert.deepEqual(await stored(), before, 'the ping stored nothing');

    const body = fixture('woocommerce-order.json');
    const answer = await post(portalA, body, wooHeaders(body, secretA));
    assert.equal(answer.status, 202, answer.text);
    const job = await finished(answer.json.jobId as number);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    const [deal] = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.woocommerce', ORIGIN_ID: '727' });
    assert.ok(deal);
    assert.equal(deal.TITLE, 'Order 727');
    assert.equal(deal.CURRENCY_ID, 'EUR');
    assert.equal(Number(deal.OPPORTUNITY), 29.35);
    assert.equal(deal.STAGE_ID, 'PREPARATION');
    assert.deepEqual(await contactsByEmail(portalA, 'ada.lovelace@example.test'), [Number(deal.CONTACT_ID)]);
    const { result: rows } = await t.app.client(portalA).call<Array<{ PRODUCT_NAME: string; PRICE: number | string }>>('crm.deal.productrows.get', { id: deal.ID });
    assert.deepEqual(rows.map((row) => Number(row.PRICE)), [3, 12]);

    // order.updated with a new status: the same deal moves
    const completed = JSON.stringify({ ...JSON.parse(body), status: 'completed' });
    const updated = await post(portalA, completed, wooHeaders(completed, secretA, 'order.updated'));
    assert.equal(updated.json.outcome, 'revised');
    assert.equal((await finished(updated.json.jobId as number)).state, 'succeeded');
    const after = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.woocommerce', ORIGIN_ID: '727' });
    assert.deepEqual(after.map((row) => [row.ID, row.STAGE_ID]), [[deal.ID, 'WON']]);
  });

  it('a Shopify orders/create webhook (X-Shopify-Hmac-Sha256) becomes a deal; its id is read exactly from admin_graphql_api_id', async () => {
    const body = fixture('shopify-order.json');
    const answer = await post(portalA, body, shopifyHeaders(body, secretA));
    assert.equal(answer.status, 202, answer.text);
    const job = await finished(answer.json.jobId as number);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    const [deal] = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.shopify', ORIGIN_ID: '820982911946154508' });
    assert.ok(deal, 'found by the exact id (JSON.parse of the number would give ...500)');
    assert.equal(deal.TITLE, 'Order #9999');
    assert.equal(Number(deal.OPPORTUNITY), 398);
    assert.equal(deal.STAGE_ID, 'EXECUTING', 'financial_status paid');
    assert.deepEqual(await contactsByEmail(portalA, 'jon@example.test'), [Number(deal.CONTACT_ID)]);
  });

  it('an update older than one already taken (Shopify does not promise order; or a replay) is answered 200 stale: the deal does not move back', async () => {
    const created = JSON.parse(fixture('shopify-order.json')) as Record<string, unknown>;
    const withStatus = (updatedAt: string, extra: Record<string, unknown>) => JSON.stringify({ ...created, id: 820982911946154600, admin_graphql_api_id: 'gid://shopify/Order/820982911946154600', name: '#9998', updated_at: updatedAt, ...extra });
    const paid = withStatus('2026-11-30T13:00:00-05:00', { financial_status: 'paid' });
    const first = await post(portalA, paid, shopifyHeaders(paid, secretA));
    assert.equal((await finished(first.json.jobId as number)).state, 'succeeded');
    const fulfilled = withStatus('2026-11-30T14:00:00-05:00', { financial_status: 'paid', fulfillment_status: 'fulfilled' });
    const later = await post(portalA, fulfilled, shopifyHeaders(fulfilled, secretA, 'orders/updated'));
    assert.equal(later.json.outcome, 'revised');
    assert.equal((await finished(later.json.jobId as number)).state, 'succeeded');
    // edited at the store in a field the plugin does not read: a newer time alone is no new work
    const touched = withStatus('2026-11-30T14:05:00-05:00', { financial_status: 'paid', fulfillment_status: 'fulfilled', note: 'gift wrap' });
    const again = await post(portalA, touched, shopifyHeaders(touched, secretA, 'orders/updated'));
    assert.deepEqual([again.json.outcome, again.json.jobId], ['duplicate', later.json.jobId], again.text);
    const before = await stored();
    // the 13:30 update (still pending payment, say) arrives last
    const late = withStatus('2026-11-30T13:30:00-05:00', { financial_status: 'pending' });
    const answer = await post(portalA, late, shopifyHeaders(late, secretA, 'orders/updated'));
    assert.deepEqual([answer.status, answer.json.outcome, answer.json.jobId], [200, 'stale', later.json.jobId], answer.text);
    assert.deepEqual(await stored(), before, 'no job, no intake change');
    const [deal] = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.shopify', ORIGIN_ID: '820982911946154600' });
    assert.equal(deal?.STAGE_ID, 'WON', 'still fulfilled');
    // a time that is not one: 400 naming the field
    const bad = withStatus('yesterday', {});
    const refused = await post(portalA, bad, shopifyHeaders(bad, secretA, 'orders/updated'));
    assert.deepEqual([refused.status, refused.json.field], [400, 'updated_at'], refused.text);
  });

  it('a contact is found by e-mail, else by the phone reduced to digits, before one is added', async () => {
    const first = JSON.stringify(genericOrder('5101', { customer: { email: 'repeat@example.test', phone: '+44 20 7946 0000', firstName: 'Rita' } }));
    const a = await post(portalA, first, genericHeaders(first, secretA));
    assert.equal((await finished(a.json.jobId as number)).state, 'succeeded');
    // same phone, written differently, and no e-mail: the same contact
    const second = JSON.stringify(genericOrder('5102', { customer: { phone: '442079460000', firstName: 'Rita' } }));
    const b = await post(portalA, second, genericHeaders(second, secretA));
    assert.equal((await finished(b.json.jobId as number)).state, 'succeeded');
    const contacts = await contactsByEmail(portalA, 'repeat@example.test');
    assert.equal(contacts.length, 1);
    const [dealA] = await deals(portalA, { ORIGIN_ID: '5101' });
    const [dealB] = await deals(portalA, { ORIGIN_ID: '5102' });
    assert.deepEqual([dealA!.CONTACT_ID, dealB!.CONTACT_ID], [String(contacts[0]), String(contacts[0])]);
  });

  it('a wrong signature, another portal\'s secret, a stale generic timestamp or no signature → the uniform 401, nothing stored', async () => {
    const body = JSON.stringify(genericOrder('5201'));
    const woo = fixture('woocommerce-order.json');
    const shop = fixture('shopify-order.json');
    const before = await stored();
    const dealsBefore = await stats(portalA);
    const refused = [
      await post(portalA, body, genericHeaders(body, secretB)),
      await post(portalA, body, genericHeaders(body, 'x'.repeat(32))),
      await post(portalA, body, genericHeaders(body, secretA, Date.now() - 3600_000)),
      await post(portalA, body, {}),
      await post(portalA, woo, wooHeaders(woo, secretB)),
      await post(portalA, woo, { ...wooHeaders(woo, secretA), 'x-wc-webhook-signature': base64Hmac(woo + ' ', secretA) }),
      await post(portalA, shop, shopifyHeaders(shop, secretB)),
      await post(portalA, shop, { 'x-shopify-topic': 'orders/create' }),
      // a ping's shape does not open a portal that is not this app's
      await post('0'.repeat(32), 'webhook_id=1', { 'content-type': 'application/x-www-form-urlencoded' }),
    ];
    assert.deepEqual(refused.map((answer) => answer.status), refused.map(() => 401));
    assert.deepEqual(new Set(refused.map((answer) => answer.text)), new Set([UNAUTHORIZED]));
    assert.deepEqual(await stored(), before, 'no job, no intake row');
    assert.equal((await stats(portalA)).requests, dealsBefore.requests, 'the portal was not called');
  });

  it('an unknown topic or a malformed body → 400 B24_ERR_BAD_REQUEST naming the field, nothing stored', async () => {
    const woo = JSON.parse(fixture('woocommerce-order.json')) as Record<string, unknown> & { line_items: Array<Record<string, unknown>> };
    const badQuantity = JSON.stringify({ ...woo, line_items: [{ ...woo.line_items[0], quantity: 'two' }] });
    const noCurrency = JSON.stringify({ ...genericOrder('5301'), currency: undefined });
    const badEmail = JSON.stringify(genericOrder('5302', { customer: { email: 'not-an-address' } }));
    const shop = fixture('shopify-order.json');
    const wooBody = fixture('woocommerce-order.json');
    const before = await stored();
    const cases: Array<[Answer, string]> = [
      [await post(portalA, wooBody, wooHeaders(wooBody, secretA, 'order.deleted')), 'X-WC-Webhook-Topic'],
      [await post(portalA, shop, shopifyHeaders(shop, secretA, 'products/create')), 'X-Shopify-Topic'],
      [await post(portalA, badQuantity, wooHeaders(badQuantity, secretA)), 'line_items.0.quantity'],
      [await post(portalA, noCurrency, genericHeaders(noCurrency, secretA)), 'currency'],
      [await post(portalA, badEmail, genericHeaders(badEmail, secretA)), 'customer.email'],
      [await post(portalA, '[1,2]', genericHeaders('[1,2]', secretA)), '(body)'],
    ];
    for (const [answer, field] of cases) {
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.json.error, 'B24_ERR_BAD_REQUEST');
      assert.equal(answer.json.field, field, answer.text);
      assert.ok(String(answer.json.message).includes(field), answer.text);
    }
    assert.deepEqual(await stored(), before, 'nothing stored');
  });

  it('a generic signature reused as a WooCommerce one over a form body (the formats share the secret) → 400 content-type, nothing stored', async () => {
    // the customer typed form fields into a name; the shop signed the generic delivery as usual
    const body = JSON.stringify(genericOrder('5901', { customer: { email: 'buyer-5901@example.test', firstName: 'x&id=5901&status=cancelled&currency=USD&total=0&' } }));
    const headers = genericHeaders(body, secretA);
    assert.equal((await post(portalA, body, headers)).status, 202);
    const before = await stored();
    // whoever saw that delivery: `${timestamp}.${body}` under the same secret is a valid WooCommerce body
    const forgedBody = `${headers['x-b24kit-timestamp']}.${body}`;
    const signature = Buffer.from(headers['x-b24kit-signature']!.slice('sha256='.length), 'hex').toString('base64');
    assert.equal(signature, base64Hmac(forgedBody, secretA), 'the same HMAC');
    const forged = await post(portalA, forgedBody, { ...wooHeaders(forgedBody, secretA, 'order.updated'), 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(forged.status, 400, forged.text);
    assert.equal(forged.json.field, 'content-type', forged.text);
    assert.deepEqual(await stored(), before, 'nothing stored');
  });

  it('a bad currency is permanent: dead after 1 attempt with the portal\'s message; the corrected resend is retried and makes the deal', async () => {
    const bad = JSON.stringify(genericOrder('5401', { currency: 'EURO' }));
    const answer = await post(portalA, bad, genericHeaders(bad, secretA));
    assert.equal(answer.status, 202);
    const dead = await finished(answer.json.jobId as number);
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, 1);
    assert.equal(dead.lastError, 'B24_ERR_REST: crm.deal.add: Invalid value for the "Currency" field');
    assert.deepEqual(await deals(portalA, { ORIGIN_ID: '5401' }), []);

    const fixed = JSON.stringify(genericOrder('5401', { currency: 'EUR' }));
    const retried = await post(portalA, fixed, genericHeaders(fixed, secretA));
    assert.equal(retried.json.outcome, 'retried');
    assert.equal((await finished(retried.json.jobId as number)).state, 'succeeded');
    const found = await deals(portalA, { ORIGIN_ID: '5401' });
    assert.equal(found.length, 1);
    assert.equal(found[0]!.CURRENCY_ID, 'EUR');
    assert.equal((await contactsByEmail(portalA, 'buyer-5401@example.test')).length, 1, 'the contact of the first run is reused');
  });

  it('a job that runs again after its worker died past crm.deal.add finds the deal by ORIGIN_ID: still one deal', async () => {
    // what the dead worker left: the deal, added, with its job never marked done
    const { result: leftId } = await t.app.client(portalA).call<number>('crm.deal.add', {
      fields: { TITLE: 'Order #5501', ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: '5501', CURRENCY_ID: 'USD', OPPORTUNITY: 120.5 },
    });
    const body = JSON.stringify(genericOrder('5501', { status: 'processing' }));
    const answer = await post(portalA, body, genericHeaders(body, secretA));
    const job = await finished(answer.json.jobId as number);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    assert.deepEqual(job.result, { dealId: leftId, contactId: null, created: false, stageId: 'PREPARATION' });
    // and the same work run twice more (a lease lost after the add, a retry)
    for (let run = 0; run < 2; run++) {
      const again = await t.app.enqueue(portalA, 'orders.order', job.payload as Json);
      assert.equal((await finished(again.id)).state, 'succeeded');
    }
    const found = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: '5501' });
    assert.deepEqual(found.map((deal) => [Number(deal.ID), deal.STAGE_ID]), [[leftId, 'PREPARATION']]);
  });

  it('two runs of one order at the same moment (a lease that expired while the first still ran) leave one deal', async () => {
    const order: Order = {
      source: 'generic',
      id: '5601',
      number: '5601',
      status: 'paid',
      currency: 'USD',
      total: '10.00',
      customer: { email: null, phone: null, firstName: '', lastName: '' },
      items: [{ name: 'Pen', sku: null, price: '10.00', quantity: 1 }],
    };
    const client = t.app.client(portalA);
    const runs = await Promise.all(Array.from({ length: 3 }, () => runOrderJob(client, order, { stages: { ...DEFAULT_STAGES } }, 'b24kit.orders')));
    const found = await deals(portalA, { ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: '5601' });
    assert.equal(found.length, 1, `deals: ${found.map((deal) => deal.ID).join(', ')}`);
    assert.deepEqual(new Set(runs.map((run) => run.dealId)), new Set([Number(found[0]!.ID)]), 'every run reports the deal that stays');
    assert.equal(found[0]!.STAGE_ID, 'EXECUTING');
  });

  /** Orders queued in one transaction, so the worker's next claim sees them all (as a backlog under load does). */
  const queueOrders = async (memberId: string, orders: Order[]): Promise<number[]> => {
    const jobs = await queue();
    const results = await store.transaction((tx) => jobs.enqueueMany(tx, orders.map((order) => ({ memberId, name: 'job:orders.order', payload: order as unknown as Json }))));
    return results.map((result) => result.id);
  };
  const plainOrder = (id: string, overrides: Partial<Order> = {}): Order => ({
    source: 'generic',
    id,
    number: id,
    status: 'paid',
    currency: 'USD',
    total: '10.00',
    customer: { email: `batch-${id}@example.test`, phone: null, firstName: 'Ada', lastName: 'Lovelace' },
    items: [{ name: 'Pen', sku: null, price: '10.00', quantity: 1 }],
    ...overrides,
  });

  it('orders queued together run as one batch: 8 new orders → 8 deals and 8 contacts in 2 requests (not 16)', async () => {
    await t.app.settings(portalB, 'orders').set({ stages: { paid: 'EXECUTING', completed: 'WON' } });
    const before = await stats(portalB);
    const ids = await queueOrders(portalB, Array.from({ length: 8 }, (_, i) => plainOrder(`5700${i}`)));
    const jobs = await Promise.all(ids.map((id) => finished(id)));
    assert.deepEqual(jobs.map((job) => job.state), Array(8).fill('succeeded'), jobs.map((job) => job.lastError).join('; '));
    const after = await stats(portalB);
    assert.equal(after.requests - before.requests, 2, 'one read batch and one write batch');
    assert.equal((after.byMethod.batch ?? 0) - (before.byMethod.batch ?? 0), 2);
    for (let i = 0; i < 8; i++) {
      const found = await deals(portalB, { ORIGINATOR_ID: 'b24kit.orders.generic', ORIGIN_ID: `5700${i}` });
      assert.equal(found.length, 1, `order 5700${i}`);
      assert.equal(found[0]!.STAGE_ID, 'EXECUTING');
      const contacts = await contactsByEmail(portalB, `batch-5700${i}@example.test`);
      assert.equal(contacts.length, 1);
      assert.equal(found[0]!.CONTACT_ID, String(contacts[0]));
      assert.deepEqual(jobs[i]!.result, { dealId: Number(found[0]!.ID), contactId: contacts[0], created: true, stageId: 'EXECUTING' });
    }
    // and the batch again (a worker that died before recording it): found by ORIGIN_ID, updated, still one deal each
    const again = await queueOrders(portalB, Array.from({ length: 8 }, (_, i) => plainOrder(`5700${i}`, { status: 'completed' })));
    for (const job of await Promise.all(again.map((id) => finished(id)))) assert.equal(job.state, 'succeeded', job.lastError ?? '');
    for (let i = 0; i < 8; i++) {
      assert.deepEqual((await deals(portalB, { ORIGIN_ID: `5700${i}` })).map((deal) => deal.STAGE_ID), ['WON']);
    }
  });

  it('one bad order among good ones in a batch: only it is dead, with the portal\'s message; its neighbours get their deals', async () => {
    const before = await stats(portalB);
    const orders = [plainOrder('57101'), plainOrder('57102', { currency: 'EURO' }), plainOrder('57103')];
    const [good1, bad, good2] = await Promise.all((await queueOrders(portalB, orders)).map((id) => finished(id)));
    assert.equal(bad!.state, 'dead');
    assert.equal(bad!.attempts, 1);
    assert.equal(bad!.lastError, 'B24_ERR_REST: crm.deal.add: Invalid value for the "Currency" field');
    assert.equal(good1!.state, 'succeeded', good1!.lastError ?? '');
    assert.equal(good2!.state, 'succeeded', good2!.lastError ?? '');
    assert.equal((await stats(portalB)).requests - before.requests, 2, 'the bad order cost its neighbours nothing');
    assert.equal((await deals(portalB, { ORIGIN_ID: '57101' })).length, 1);
    assert.equal((await deals(portalB, { ORIGIN_ID: '57103' })).length, 1);
    assert.deepEqual(await deals(portalB, { ORIGIN_ID: '57102' }), []);
  });

  it('two new orders of one new customer in one batch share one contact', async () => {
    const customer = { email: 'twice@example.test', phone: '+1 555 010 7777', firstName: 'Twice', lastName: 'Buyer' };
    const ids = await queueOrders(portalB, [plainOrder('57201', { customer }), plainOrder('57202', { customer })]);
    const jobs = await Promise.all(ids.map((id) => finished(id)));
    assert.deepEqual(jobs.map((job) => job.state), ['succeeded', 'succeeded'], jobs.map((job) => job.lastError).join('; '));
    const contacts = await contactsByEmail(portalB, 'twice@example.test');
    assert.equal(contacts.length, 1);
    for (const id of ['57201', '57202']) assert.equal((await deals(portalB, { ORIGIN_ID: id }))[0]!.CONTACT_ID, String(contacts[0]));
  });
});
