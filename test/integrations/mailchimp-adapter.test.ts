import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { startMailchimpEmulator, type RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { DEFAULT_MAILCHIMP_API_KEY } from '../../src/emulator/mailchimp/mailchimp-emulator.js';
import { subscriberHash as emulatorHash } from '../../src/emulator/mailchimp/store.js';
import { B24Error } from '../../src/errors.js';
import { EmailServiceError, MailchimpAdapter, subscriberHash, type MailchimpAdapterOptions } from '../../src/integrations/contacts/mailchimp.js';
import { WebhookRejected } from '../../src/integrations/contacts/mailchimp-webhook.js';
import type { ServiceMember } from '../../src/integrations/contacts/email-service.js';
import { mcApi, mcControl, startHookReceiver } from '../helpers/mailchimp.js';

type Receiver = Awaited<ReturnType<typeof startHookReceiver>>;
type Stats = { requests: number; byRoute: Record<string, number>; byStatus: Record<string, number>; concurrencyRefusals: number };

const KEY = DEFAULT_MAILCHIMP_API_KEY;
const SECRET = 's3cret';

describe('Mailchimp adapter against the Mailchimp emulator', () => {
  let mc: RunningMailchimpEmulator;
  let hooks: Receiver;
  let listId: string;
  const adapter = (options: Partial<MailchimpAdapterOptions> = {}): MailchimpAdapter =>
    new MailchimpAdapter({ apiKey: KEY, baseUrl: `${mc.url}/3.0`, backoff: { baseMs: 5, capMs: 20 }, ...options });
  const stats = async (): Promise<Stats> => (await mcControl(mc, 'GET', '/stats')).body as unknown as Stats;
  const newList = async (body: Record<string, unknown> = {}): Promise<string> => String((await mcControl(mc, 'POST', '/lists', body)).body.id);

  before(async () => {
    mc = await startMailchimpEmulator();
    hooks = await startHookReceiver();
  });
  after(async () => {
    await mc.close();
    await hooks.close();
  });
  beforeEach(async () => {
    listId = await newList();
    await mcControl(mc, 'DELETE', '/faults');
    await mcControl(mc, 'DELETE', '/stats');
  });

  it('hashes the lower-cased e-mail with md5, as the member URL needs', async () => {
    assert.equal(subscriberHash('Ann.Lee@Example.COM'), 'ac22d1dff811ced3068af057a3ed7029');
    assert.equal(subscriberHash('Ann.Lee@Example.COM'), emulatorHash('ann.lee@example.com'));
    await adapter().upsertMember(listId, { email: 'Ann.Lee@Example.COM', statusIfNew: 'subscribed' });
    const byHash = await mcApi(mc, 'GET', `/lists/${listId}/members/${emulatorHash('ann.lee@example.com')}`);
    assert.equal(byHash.status, 200);
    assert.equal(byHash.body.email_address, 'ann.lee@example.com');
  });

  it('creates a member with status_if_new, merge fields and tags, and updates it without touching its status', async () => {
    const mailchimp = adapter();
    const created = await mailchimp.upsertMember(listId, { email: 'bob@example.com', statusIfNew: 'pending', firstName: 'Bob', lastName: 'Ray', phone: '+1 555 0100', tags: ['crm'] });
    assert.equal(created.status, 'pending');
    assert.deepEqual([created.firstName, created.lastName, created.phone, created.tags], ['Bob', 'Ray', '+1 555 0100', ['crm']]);

    // the contact unsubscribes in Mailchimp; a later CRM edit must not subscribe them again
    await mcControl(mc, 'POST', `/lists/${listId}/members/bob@example.com/unsubscribe`, {});
    const updated = await mailchimp.upsertMember(listId, { email: 'bob@example.com', statusIfNew: 'subscribed', lastName: 'Roy', tags: ['crm', 'vip'] });
    assert.equal(updated.status, 'unsubscribed');
    assert.deepEqual([updated.firstName, updated.lastName, updated.phone], ['Bob', 'Roy', '+1 555 0100']);

    const stored = await mcApi(mc, 'GET', `/lists/${listId}/members/${subscriberHash('bob@example.com')}`);
    assert.equal(stored.body.status, 'unsubscribed');
    assert.deepEqual((stored.body.tags as { name: string }[]).map((tag) => tag.name).sort(), ['crm', 'vip']);
    // a PUT's tags apply only on creation: the new tag went through the tags route, once
    assert.equal((await stats()).byRoute['POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags'], 1);
  });

  it('reads every member changed since a moment, page by page to total_items', async () => {
    const mailchimp = adapter();
    for (let index = 0; index < 20; index += 1) await mailchimp.upsertMember(listId, { email: `old${index}@example.com`, statusIfNew: 'subscribed' });
    await mcControl(mc, 'POST', '/clock', { advanceSeconds: 3600 });
    const since = new Date((Number((await mcControl(mc, 'GET', '/clock')).body.now) - 1) * 1000);
    const changed = new Set<string>();
    for (let index = 0; index < 12; index += 1) changed.add(`new${index}@example.com`);
    for (const index of [3, 7, 11]) changed.add(`old${index}@example.com`);
    for (const email of changed) await mailchimp.upsertMember(listId, { email, statusIfNew: 'subscribed', firstName: 'Changed' });
    await mcControl(mc, 'DELETE', '/stats');

    const pages: ServiceMember[][] = [];
    for await (const page of mailchimp.changesSince(listId, since, { pageSize: 4 })) pages.push(page);
    assert.deepEqual(pages.map((page) => page.length), [4, 4, 4, 3]);
    assert.deepEqual(new Set(pages.flat().map((member) => member.email)), changed);
    assert.ok(pages.flat().every((member) => member.firstName === 'Changed' && member.lastChanged.getTime() >= since.getTime()));
    assert.equal((await stats()).byRoute['GET /3.0/lists/{list_id}/members'], 4);
  });

  it('keeps at most 10 requests in flight: 50 parallel upserts meet no connection refusal', async () => {
    await mcControl(mc, 'PUT', '/faults', { latencyMs: 30 }); // every request holds its slot a while
    // one attempt only: a refused request would fail the upsert, not hide behind a retry
    const mailchimp = adapter({ backoff: { maxAttempts: 1 } });
    const results = await Promise.all(Array.from({ length: 50 }, (_, index) => mailchimp.upsertMember(listId, { email: `p${index}@example.com`, statusIfNew: 'subscribed' })));
    assert.equal(results.length, 50);
    const after = await stats();
    assert.equal(after.concurrencyRefusals, 0);
    assert.equal(after.byRoute['PUT /3.0/lists/{list_id}/members/{subscriber_hash}'], 50);
  });

  it('retries 429 and 5xx answers with backoff until the request succeeds', async () => {
    const mailchimp = adapter();
    await mcControl(mc, 'PUT', '/faults', { errorStatus: 429, errorCount: 2 });
    const first = await mailchimp.upsertMember(listId, { email: 'retry@example.com', statusIfNew: 'subscribed', firstName: 'R' });
    assert.equal(first.firstName, 'R');
    await mcControl(mc, 'PUT', '/faults', { errorStatus: 503, errorCount: 2 });
    const pages: ServiceMember[][] = [];
    for await (const page of mailchimp.changesSince(listId, new Date(0))) pages.push(page);
    assert.deepEqual(pages.flat().map((member) => member.email), ['retry@example.com']);
    const after = await stats();
    assert.equal(after.byStatus['429'], 2);
    assert.equal(after.byStatus['503'], 2);
    assert.equal(after.byStatus['200'], 2);
  });

  it('surfaces a permanent 400 at once, with the field at fault', async () => {
    const narrow = await newList({ mergeTags: ['FNAME', 'LNAME'] }); // no PHONE merge field in this audience
    const error = await adapter()
      .upsertMember(narrow, { email: 'carl@example.com', statusIfNew: 'subscribed', phone: '555' })
      .then(() => assert.fail('the upsert should fail'), (caught: unknown) => caught);
    assert.ok(error instanceof EmailServiceError);
    assert.equal(error.code, 'B24_ERR_EMAIL_SERVICE');
    assert.equal(error.status, 400);
    assert.equal(error.title, 'Invalid Resource');
    assert.deepEqual(error.fields.map((field) => field.field), ['merge_fields.PHONE']);
    assert.match(error.message, /merge_fields\.PHONE/);
    assert.equal((await stats()).requests, 1); // not retried
  });

  it('registers the webhook with API-made changes off, once, so our own writes do not echo back', async () => {
    const mailchimp = adapter();
    const registered = await mailchimp.registerWebhook(listId, hooks.url);
    assert.equal(registered.excludesApiChanges, true);
    const again = await mailchimp.registerWebhook(listId, hooks.url);
    assert.equal(again.id, registered.id);
    const listed = await mcApi(mc, 'GET', `/lists/${listId}/webhooks`);
    assert.equal(listed.body.total_items, 1);
    const [webhook] = listed.body.webhooks as { sources: Record<string, boolean>; events: Record<string, boolean> }[];
    assert.deepEqual(webhook!.sources, { user: true, admin: true, api: false });
    assert.deepEqual(webhook!.events, { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false });

    await mailchimp.upsertMember(listId, { email: 'quiet@example.com', statusIfNew: 'subscribed' });
    await mcControl(mc, 'PUT', `/lists/${listId}/members/loud@example.com`, { merge_fields: { FNAME: 'Loud' } });
    const deliveries = (await mcControl(mc, 'GET', '/deliveries')).body.deliveries as { listId: string; type: string; source: string }[];
    assert.deepEqual(deliveries.filter((delivery) => delivery.listId === listId).map((delivery) => [delivery.type, delivery.source]), [['subscribe', 'user']]);
  });

  it('parses the webhooks the emulator really delivers into typed events', async () => {
    await adapter().registerWebhook(listId, hooks.url);
    await mcControl(mc, 'PUT', `/lists/${listId}/members/dana@example.com`, { merge_fields: { FNAME: 'Dana', LNAME: 'Fox', PHONE: '+44 20 7946 0000' } });
    await mcControl(mc, 'PUT', `/lists/${listId}/members/dana@example.com`, { merge_fields: { LNAME: 'Wolf' } });
    await mcControl(mc, 'POST', `/lists/${listId}/members/dana@example.com/unsubscribe`, {});
    await mcControl(mc, 'POST', `/lists/${listId}/members/dana@example.com/email`, { newEmail: 'Dana.Wolf@example.com' });
    await mcControl(mc, 'POST', `/lists/${listId}/members/dana.wolf@example.com/clean`, { reason: 'hard' });
    const deliveries = ((await mcControl(mc, 'GET', '/deliveries')).body.deliveries as { listId: string; body: string }[]).filter((delivery) => delivery.listId === listId);
    assert.ok(hooks.received.some((hook) => hook.method === 'POST' && hook.contentType === 'application/x-www-form-urlencoded'));

    const secret = new URL(hooks.url).searchParams.get('secret') ?? undefined;
    const mailchimp = adapter();
    const events = deliveries.map((delivery) => mailchimp.parseWebhook({ body: delivery.body, contentType: 'application/x-www-form-urlencoded', presentedSecret: secret }, SECRET));
    const withoutTime = events.map((event) => {
      assert.ok(event.firedAt instanceof Date && !Number.isNaN(event.firedAt.getTime()));
      const { firedAt: _firedAt, ...rest } = event;
      return rest;
    });
    const base = { audienceId: listId };
    assert.deepEqual(withoutTime, [
      { ...base, type: 'subscribe', email: 'dana@example.com', fields: { firstName: 'Dana', lastName: 'Fox', phone: '+44 20 7946 0000' } },
      { ...base, type: 'profile', email: 'dana@example.com', fields: { firstName: 'Dana', lastName: 'Wolf', phone: '+44 20 7946 0000' } },
      { ...base, type: 'unsubscribe', email: 'dana@example.com', fields: { firstName: 'Dana', lastName: 'Wolf', phone: '+44 20 7946 0000' }, action: 'unsub', reason: 'manual' },
      { ...base, type: 'upemail', oldEmail: 'dana@example.com', newEmail: 'dana.wolf@example.com' },
      { ...base, type: 'cleaned', email: 'dana.wolf@example.com', reason: 'hard' },
    ]);

    // the secret is the only proof a delivery came from the portal's audience
    const subscribe = deliveries[0]!.body;
    for (const presentedSecret of [undefined, '', 'wrong']) {
      assert.throws(
        () => mailchimp.parseWebhook({ body: subscribe, contentType: 'application/x-www-form-urlencoded', presentedSecret }, SECRET),
        (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_UNAUTHORIZED' && error.status === 401,
      );
    }
    const noEmail = new URLSearchParams(subscribe);
    noEmail.delete('data[email]');
    assert.throws(
      () => mailchimp.parseWebhook({ body: noEmail.toString(), contentType: 'application/x-www-form-urlencoded', presentedSecret: SECRET }, SECRET),
      (error: unknown) => error instanceof WebhookRejected && error.code === 'B24_ERR_BAD_REQUEST' && error.field === 'data[email]',
    );
    const unknownType = new URLSearchParams(subscribe);
    unknownType.set('type', 'campaign');
    assert.throws(
      () => mailchimp.parseWebhook({ body: unknownType.toString(), contentType: 'application/x-www-form-urlencoded', presentedSecret: SECRET }, SECRET),
      (error: unknown) => error instanceof WebhookRejected && error.field === 'type',
    );
    assert.throws(
      () => mailchimp.parseWebhook({ body: subscribe, contentType: 'application/json', presentedSecret: SECRET }, SECRET),
      (error: unknown) => error instanceof WebhookRejected && error.status === 400,
    );
  });

  it('closes its kept-alive connections on close()', async () => {
    const own = await startMailchimpEmulator(); // a server of its own: no other client's sockets in the count
    try {
      const connections = (): Promise<number> => new Promise((resolve, reject) => own.server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
      const ownList = own.mailchimp.store.createList().id;
      const mailchimp = new MailchimpAdapter({ apiKey: KEY, baseUrl: `${own.url}/3.0` });
      await mailchimp.upsertMember(ownList, { email: 'close@example.com', statusIfNew: 'subscribed' });
      assert.equal(await connections(), 1); // kept alive after the answer
      await mailchimp.close();
      for (let wait = 0; wait < 100 && (await connections()) > 0; wait += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(await connections(), 0);
    } finally {
      await own.close();
    }
  });

  it('never puts the API key in an error', async () => {
    const base64 = Buffer.from(`b24kit:${KEY}`).toString('base64');
    const errors: unknown[] = [];
    const capture = (promise: Promise<unknown>): Promise<void> => promise.then(() => assert.fail('should fail'), (error: unknown) => void errors.push(error));
    const narrow = await newList({ mergeTags: ['FNAME'] });
    await capture(adapter().upsertMember(narrow, { email: 'x@example.com', statusIfNew: 'subscribed', phone: '1' })); // 400
    await mcControl(mc, 'PUT', '/faults', { errorStatus: 500, errorCount: 3 });
    await capture(adapter({ backoff: { maxAttempts: 3, baseMs: 1 } }).upsertMember(listId, { email: 'y@example.com', statusIfNew: 'subscribed' })); // 5xx exhausted
    await capture(adapter({ apiKey: 'ffffffffffffffffffffffffffffffff-us9' }).upsertMember(listId, { email: 'z@example.com', statusIfNew: 'subscribed' })); // 401
    await capture(adapter({ baseUrl: 'http://127.0.0.1:1/3.0', backoff: { maxAttempts: 2, baseMs: 1 } }).upsertMember(listId, { email: 'w@example.com', statusIfNew: 'subscribed' })); // refused
    await capture(Promise.resolve().then(() => new MailchimpAdapter({ apiKey: '0123456789abcdef0123456789abcdef' }))); // no data center
    assert.equal(errors.length, 5);
    assert.deepEqual(errors.map((error) => (error as B24Error).code), ['B24_ERR_EMAIL_SERVICE', 'B24_ERR_EMAIL_SERVICE', 'B24_ERR_EMAIL_SERVICE', 'B24_ERR_EMAIL_SERVICE', 'B24_ERR_CONFIG']);
    assert.deepEqual(errors.slice(0, 3).map((error) => (error as B24Error).status), [400, 500, 401]);
    for (const error of errors) {
      for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10, showHidden: true }), (error as Error).stack ?? '']) {
        for (const secret of [KEY, KEY.split('-')[0]!, 'ffffffffffffffffffffffffffffffff', '0123456789abcdef0123456789abcdef', base64]) {
          assert.ok(!text.includes(secret), `an error shows the key: ${text.slice(0, 200)}`);
        }
      }
    }
  });
});
