import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMailchimpEmulator, type RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { subscriberHash } from '../../src/emulator/mailchimp/store.js';
import { mcApi, mcControl } from '../helpers/mailchimp.js';

const hashOf = (email: string): string => subscriberHash(email);

describe('Mailchimp emulator: members over the Marketing API', () => {
  let mc: RunningMailchimpEmulator;
  let listId: string;

  before(async () => {
    mc = await startMailchimpEmulator();
    listId = String((await mcControl(mc, 'POST', '/lists', { name: 'Customers' })).body.id);
  });
  after(() => mc.close());

  it('answers GET /3.0/ping with the documented health status', async () => {
    const answer = await mcApi(mc, 'GET', '/ping');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { health_status: "Everything's Chimpy!" });
  });

  it('refuses a missing or wrong API key with 401 problem+json', async () => {
    const missing = await mcApi(mc, 'GET', '/ping', undefined, null);
    assert.equal(missing.status, 401);
    assert.match(missing.contentType, /^application\/problem\+json/);
    assert.equal(missing.body.title, 'API Key Missing');
    const wrong = await mcApi(mc, 'GET', `/lists/${listId}/members`, undefined, 'ffffffffffffffffffffffffffffffff-us21');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.title, 'API Key Invalid');
    for (const field of ['type', 'title', 'status', 'detail', 'instance']) assert.ok(field in wrong.body, field);
  });

  it('PUT creates a member with status_if_new, keyed by md5 of the lower-cased e-mail', async () => {
    const email = 'Ann.Lee@Example.com';
    const created = await mcApi(mc, 'PUT', `/lists/${listId}/members/${hashOf(email)}`, {
      email_address: email,
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'Ann', LNAME: 'Lee', PHONE: '+1 555 0100' },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.id, hashOf('ann.lee@example.com'));
    assert.equal(created.body.status, 'subscribed');
    assert.deepEqual(created.body.merge_fields, { FNAME: 'Ann', LNAME: 'Lee', ADDRESS: '', PHONE: '+1 555 0100', BIRTHDAY: '' });
    assert.match(String(created.body.last_changed), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  });

  it('PUT on an existing member ignores status_if_new, changes status only when given, keeps unsent merge fields', async () => {
    const email = 'bob@example.com';
    const path = `/lists/${listId}/members/${hashOf(email)}`;
    await mcApi(mc, 'PUT', path, { email_address: email, status_if_new: 'unsubscribed', merge_fields: { FNAME: 'Bob', LNAME: 'Ray' } });
    const updated = await mcApi(mc, 'PUT', path, { email_address: email, status_if_new: 'subscribed', merge_fields: { LNAME: 'Stone' } });
    assert.equal(updated.body.status, 'unsubscribed');
    assert.equal((updated.body.merge_fields as Record<string, string>).FNAME, 'Bob');
    assert.equal((updated.body.merge_fields as Record<string, string>).LNAME, 'Stone');
    const resubscribed = await mcApi(mc, 'PUT', path, { email_address: email, status: 'subscribed' });
    assert.equal(resubscribed.body.status, 'subscribed');
    const read = await mcApi(mc, 'GET', path);
    assert.equal(read.status, 200);
    assert.equal(read.body.status, 'subscribed');
  });

  it('PUT for a new member with neither status_if_new nor status is 400 Invalid Resource naming the field', async () => {
    const email = 'nostatus@example.com';
    const answer = await mcApi(mc, 'PUT', `/lists/${listId}/members/${hashOf(email)}`, { email_address: email });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.title, 'Invalid Resource');
    assert.deepEqual((answer.body.errors as { field: string }[]).map((error) => error.field), ['status_if_new']);
    assert.equal((await mcApi(mc, 'GET', `/lists/${listId}/members/${hashOf(email)}`)).status, 404);
  });

  it('PUT whose path hash is not md5(lower(email_address)) is 400 and stores nothing', async () => {
    const answer = await mcApi(mc, 'PUT', `/lists/${listId}/members/${hashOf('someone-else@example.com')}`, {
      email_address: 'carol@example.com',
      status_if_new: 'subscribed',
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.title, 'Invalid Resource');
    assert.equal((answer.body.errors as { field: string }[])[0]?.field, 'email_address');
    assert.equal((await mcApi(mc, 'GET', `/lists/${listId}/members/${hashOf('carol@example.com')}`)).status, 404);
  });

  it('rejects unknown merge tags and bad statuses with one error per field', async () => {
    const email = 'dan@example.com';
    const answer = await mcApi(mc, 'PUT', `/lists/${listId}/members/${hashOf(email)}`, {
      email_address: email,
      status_if_new: 'maybe',
      merge_fields: { NICKNAME: 'D' },
    });
    assert.equal(answer.status, 400);
    assert.deepEqual((answer.body.errors as { field: string }[]).map((error) => error.field).sort(), ['merge_fields.NICKNAME', 'status_if_new']);
  });

  it('answers 404 Resource Not Found for an unknown list or member', async () => {
    const list = await mcApi(mc, 'GET', '/lists/nosuchlist/members');
    assert.equal(list.status, 404);
    assert.equal(list.body.title, 'Resource Not Found');
    assert.equal((await mcApi(mc, 'GET', `/lists/${listId}/members/${hashOf('ghost@example.com')}`)).status, 404);
  });

  it('adds and removes tags with POST …/tags (204) and shows them on the member', async () => {
    const email = 'tagged@example.com';
    const path = `/lists/${listId}/members/${hashOf(email)}`;
    await mcApi(mc, 'PUT', path, { email_address: email, status_if_new: 'subscribed' });
    const added = await mcApi(mc, 'POST', `${path}/tags`, { tags: [{ name: 'crm', status: 'active' }, { name: 'vip', status: 'active' }] });
    assert.equal(added.status, 204);
    await mcApi(mc, 'POST', `${path}/tags`, { tags: [{ name: 'vip', status: 'inactive' }] });
    const member = await mcApi(mc, 'GET', path);
    assert.deepEqual((member.body.tags as { name: string }[]).map((tag) => tag.name), ['crm']);
    assert.equal(member.body.tags_count, 1);
    const bad = await mcApi(mc, 'POST', `${path}/tags`, { tags: [{ name: '', status: 'on' }] });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body.errors as { field: string }[]).map((error) => error.field), ['tags[0].name', 'tags[0].status']);
  });

  it('counts requests by path template and API writes per member', async () => {
    await mcControl(mc, 'DELETE', '/stats');
    const email = 'counted@example.com';
    const path = `/lists/${listId}/members/${hashOf(email)}`;
    await mcApi(mc, 'PUT', path, { email_address: email, status_if_new: 'subscribed' });
    await mcApi(mc, 'PUT', path, { email_address: email, merge_fields: { FNAME: 'C' } });
    await mcApi(mc, 'GET', path);
    const stats = (await mcControl(mc, 'GET', '/stats')).body;
    assert.equal((stats.byRoute as Record<string, number>)['PUT /3.0/lists/{list_id}/members/{subscriber_hash}'], 2);
    assert.equal((stats.byRoute as Record<string, number>)['GET /3.0/lists/{list_id}/members/{subscriber_hash}'], 1);
    assert.deepEqual(stats.writesByMember, { [`${listId}/${hashOf(email)}`]: 2 });
    assert.equal(stats.writes, 2);
  });
});

describe('Mailchimp emulator: reading changes page by page', () => {
  let mc: RunningMailchimpEmulator;
  let listId: string;
  const emails = Array.from({ length: 7 }, (_, index) => `reader${index}@example.com`);

  before(async () => {
    mc = await startMailchimpEmulator();
    listId = String((await mcControl(mc, 'POST', '/lists', { id: 'pagelist01' })).body.id);
    for (const email of emails.slice(0, 4)) {
      await mcApi(mc, 'PUT', `/lists/${listId}/members/${subscriberHash(email)}`, { email_address: email, status_if_new: 'subscribed' });
    }
    await mcControl(mc, 'POST', '/clock', { advanceSeconds: 3600 });
    for (const email of emails.slice(4)) {
      await mcApi(mc, 'PUT', `/lists/${listId}/members/${subscriberHash(email)}`, { email_address: email, status_if_new: 'subscribed' });
    }
  });
  after(() => mc.close());

  it('pages with count and offset and reports total_items for the whole match', async () => {
    const first = await mcApi(mc, 'GET', `/lists/${listId}/members?count=3&offset=0`);
    const second = await mcApi(mc, 'GET', `/lists/${listId}/members?count=3&offset=3`);
    const third = await mcApi(mc, 'GET', `/lists/${listId}/members?count=3&offset=6`);
    assert.equal(first.body.total_items, 7);
    assert.equal(third.body.total_items, 7);
    const seen = [first, second, third].flatMap((page) => (page.body.members as { email_address: string }[]).map((member) => member.email_address));
    assert.deepEqual(seen, emails);
    assert.equal((await mcApi(mc, 'GET', `/lists/${listId}/members`)).body.members instanceof Array, true);
    assert.equal(((await mcApi(mc, 'GET', `/lists/${listId}/members`)).body.members as unknown[]).length, 7, 'default count is 10');
  });

  it('filters with since_last_changed on the emulator clock, and an edit moves an old member into the window', async () => {
    const late = (await mcApi(mc, 'GET', `/lists/${listId}/members/${subscriberHash(emails[4]!)}`)).body.last_changed as string;
    const recent = await mcApi(mc, 'GET', `/lists/${listId}/members?since_last_changed=${encodeURIComponent(late)}`);
    assert.equal(recent.body.total_items, 3);
    await mcApi(mc, 'PUT', `/lists/${listId}/members/${subscriberHash(emails[0]!)}`, { email_address: emails[0], merge_fields: { FNAME: 'Edited' } });
    const after = await mcApi(mc, 'GET', `/lists/${listId}/members?since_last_changed=${encodeURIComponent(late)}&count=2&offset=2`);
    assert.equal(after.body.total_items, 4);
    assert.deepEqual((after.body.members as { email_address: string }[]).map((member) => member.email_address), [emails[5], emails[6]]);
  });

  it('does not move last_changed for a PUT that changes nothing', async () => {
    const path = `/lists/${listId}/members/${subscriberHash(emails[1]!)}`;
    const before = (await mcApi(mc, 'GET', path)).body.last_changed;
    await mcControl(mc, 'POST', '/clock', { advanceSeconds: 60 });
    const same = await mcApi(mc, 'PUT', path, { email_address: emails[1], status_if_new: 'subscribed', merge_fields: { FNAME: '' } });
    assert.equal(same.body.last_changed, before);
  });

  it('answers a malformed since_last_changed or count with 400 naming the field', async () => {
    const answer = await mcApi(mc, 'GET', `/lists/${listId}/members?since_last_changed=yesterday&count=-1`);
    assert.equal(answer.status, 400);
    assert.deepEqual((answer.body.errors as { field: string }[]).map((error) => error.field).sort(), ['count', 'since_last_changed']);
  });
});
