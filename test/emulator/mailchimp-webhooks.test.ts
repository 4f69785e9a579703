import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMailchimpEmulator, type RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { subscriberHash } from '../../src/emulator/mailchimp/store.js';
import { mcApi, mcControl, startHookReceiver } from '../helpers/mailchimp.js';

type Receiver = Awaited<ReturnType<typeof startHookReceiver>>;

describe('Mailchimp emulator: list webhooks', () => {
  let mc: RunningMailchimpEmulator;
  let hooks: Receiver;
  let listId: string;
  /** The POSTs received since the last call (each checked for Mailchimp's content type and user agent), after every delivery in flight has landed. */
  const drain = async (): Promise<URLSearchParams[]> => {
    await mcControl(mc, 'GET', '/deliveries');
    const posts = hooks.received.filter((hook) => hook.method === 'POST');
    hooks.received.length = 0;
    for (const post of posts) {
      assert.equal(post.contentType, 'application/x-www-form-urlencoded');
      assert.equal(post.userAgent, 'MailChimp.com');
    }
    return posts.map((hook) => hook.form);
  };

  before(async () => {
    mc = await startMailchimpEmulator();
    hooks = await startHookReceiver();
    listId = String((await mcControl(mc, 'POST', '/lists', { name: 'Hooks' })).body.id);
  });
  after(async () => {
    await mc.close();
    await hooks.close();
  });

  it('checks the URL with a GET when the webhook is registered, and refuses a dead URL', async () => {
    const dead = await mcApi(mc, 'POST', `/lists/${listId}/webhooks`, { url: 'http://127.0.0.1:1/nothing' });
    assert.equal(dead.status, 400);
    assert.equal((dead.body.errors as { field: string }[])[0]?.field, 'url');
    const created = await mcApi(mc, 'POST', `/lists/${listId}/webhooks`, { url: hooks.url });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.sources, { user: true, admin: true, api: true });
    assert.equal(hooks.received[0]?.method, 'GET');
    assert.match(hooks.received[0]?.userAgent ?? '', /MailChimp\.com WebHook Validator/);
    assert.equal((await mcApi(mc, 'DELETE', `/lists/${listId}/webhooks/${String(created.body.id)}`)).status, 204);
    // what a syncing app registers: every event, but not its own API writes
    const syncing = await mcApi(mc, 'POST', `/lists/${listId}/webhooks`, { url: hooks.url, sources: { user: true, admin: true, api: false } });
    assert.deepEqual(syncing.body.sources, { user: true, admin: true, api: false });
    hooks.received.length = 0;
  });

  it('a contact signing up fires `subscribe` as a form-encoded POST with data[merges][…]', async () => {
    const fired = await mcControl(mc, 'PUT', `/lists/${listId}/members/eve@example.com`, { merge_fields: { FNAME: 'Eve', LNAME: 'Moss', PHONE: '+44 20 7946 0000' } });
    assert.deepEqual(fired.body.fired, ['subscribe']);
    const [form, ...rest] = await drain();
    assert.equal(rest.length, 0);
    assert.equal(form?.get('type'), 'subscribe');
    assert.match(form?.get('fired_at') ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(form?.get('data[id]'), subscriberHash('eve@example.com'));
    assert.equal(form?.get('data[list_id]'), listId);
    assert.equal(form?.get('data[email]'), 'eve@example.com');
    assert.equal(form?.get('data[merges][EMAIL]'), 'eve@example.com');
    assert.equal(form?.get('data[merges][FNAME]'), 'Eve');
    assert.equal(form?.get('data[merges][LNAME]'), 'Moss');
    assert.equal(form?.get('data[merges][PHONE]'), '+44 20 7946 0000');
  });

  it('a profile edit fires `profile`, an unsubscribe `unsubscribe` with action and reason', async () => {
    await mcControl(mc, 'PUT', `/lists/${listId}/members/eve@example.com`, { merge_fields: { LNAME: 'Hart' }, source: 'admin' });
    await mcControl(mc, 'POST', `/lists/${listId}/members/eve@example.com/unsubscribe`, {});
    const forms = await drain();
    assert.deepEqual(forms.map((form) => form.get('type')), ['profile', 'unsubscribe']);
    assert.equal(forms[0]?.get('data[merges][LNAME]'), 'Hart');
    assert.equal(forms[1]?.get('data[action]'), 'unsub');
    assert.equal(forms[1]?.get('data[reason]'), 'manual');
    assert.equal(forms[1]?.get('data[email]'), 'eve@example.com');
    const member = await mcApi(mc, 'GET', `/lists/${listId}/members/${subscriberHash('eve@example.com')}`);
    assert.equal(member.body.status, 'unsubscribed');
  });

  it('an address change fires `upemail` with old and new address; a bounce fires `cleaned` with the reason', async () => {
    await mcControl(mc, 'PUT', `/lists/${listId}/members/fay@example.com`, {});
    await drain();
    await mcControl(mc, 'POST', `/lists/${listId}/members/fay@example.com/email`, { newEmail: 'fay.new@example.com' });
    await mcControl(mc, 'POST', `/lists/${listId}/members/fay.new@example.com/clean`, { reason: 'abuse' });
    const [upemail, cleaned] = await drain();
    assert.equal(upemail?.get('type'), 'upemail');
    assert.equal(upemail?.get('data[old_email]'), 'fay@example.com');
    assert.equal(upemail?.get('data[new_email]'), 'fay.new@example.com');
    assert.equal(upemail?.get('data[new_id]'), subscriberHash('fay.new@example.com'));
    assert.equal(cleaned?.get('type'), 'cleaned');
    assert.equal(cleaned?.get('data[reason]'), 'abuse');
    assert.equal(cleaned?.get('data[email]'), 'fay.new@example.com');
    assert.equal((await mcApi(mc, 'GET', `/lists/${listId}/members/${subscriberHash('fay@example.com')}`)).status, 404);
  });

  it('API writes fire nothing while sources.api is off, and fire once a webhook enables it', async () => {
    const email = 'gus@example.com';
    const path = `/lists/${listId}/members/${subscriberHash(email)}`;
    await mcApi(mc, 'PUT', path, { email_address: email, status_if_new: 'subscribed' });
    assert.deepEqual(await drain(), []);
    const apiHook = await mcApi(mc, 'POST', `/lists/${listId}/webhooks`, { url: `${hooks.url}&api=1`, events: { subscribe: false }, sources: { user: false, admin: false, api: true } });
    assert.deepEqual(apiHook.body.events, { subscribe: false, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: true });
    await drain();
    await mcApi(mc, 'PUT', path, { email_address: email, merge_fields: { FNAME: 'Gus' } });
    const forms = await drain();
    assert.deepEqual(forms.map((form) => form.get('type')), ['profile']);
    // the new webhook does not hear user changes, and the first one does not hear API ones
    await mcApi(mc, 'PUT', `/lists/${listId}/members/${subscriberHash('hal@example.com')}`, { email_address: 'hal@example.com', status_if_new: 'subscribed' });
    assert.deepEqual(await drain(), [], 'subscribe is disabled on the API webhook');
    const listed = await mcApi(mc, 'GET', `/lists/${listId}/webhooks`);
    assert.equal(listed.body.total_items, 2);
    assert.equal((await mcApi(mc, 'DELETE', `/lists/${listId}/webhooks/${String(apiHook.body.id)}`)).status, 204);
  });

  it('a PUT that changes nothing fires nothing', async () => {
    await mcControl(mc, 'PUT', `/lists/${listId}/members/ivy@example.com`, { merge_fields: { FNAME: 'Ivy' } });
    await drain();
    const same = await mcControl(mc, 'PUT', `/lists/${listId}/members/ivy@example.com`, { merge_fields: { FNAME: 'Ivy' } });
    assert.deepEqual(same.body.fired, []);
    assert.deepEqual(await drain(), []);
  });

  it('counts delivered webhooks in the stats', async () => {
    const stats = (await mcControl(mc, 'GET', '/stats')).body;
    assert.ok(Number(stats.webhooksDelivered) >= 6);
    assert.equal(stats.webhooksFailed, 0);
  });
});
