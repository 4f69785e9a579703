/**
 * Conformance of answers whose shape the docs and the official SDKs pin down (issue 14): the OAuth
 * server's app.info, the `time` block, date-only CRM fields, crm.item.list with select, refused
 * requests and the bucket, and webhook auth errors. docs/emulator.md names the source of each
 * expectation in its sections OAuth (app.info), REST calls (time), CRM (date-only fields, crm.item),
 * Limits (refused requests) and Webhook auth errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { verifyWithAppInfo } from '../../src/oauth/app-info.js';
import { advanceClock, control, createInstalledPortal, portalStats, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;
const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;

async function put(emu: RunningEmulator, path: string, body: unknown): Promise<{ status: number; body: Row }> {
  const response = await fetch(`${emu.url}/_emulator${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Row };
}

async function hook(url: string, method: string): Promise<{ status: number; body: Row }> {
  const response = await fetch(`${url}${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: response.status, body: (await response.json()) as Row };
}

describe('documented shapes (issue 14)', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('OAuth server app.info: the official Python SDK model field by field, and our reader parses it', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm', 'user'], version: 3 });
    const response = await fetch(`${emu.url}/rest/app.info?auth=${portal.accessToken}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { result: Row & { install: Row }; time: Row };
    assert.deepEqual(Object.keys(body).sort(), ['result', 'time']);
    const { result, time } = body;
    assert.deepEqual(Object.keys(result).sort(), ['client_id', 'expires', 'install', 'scope', 'user_id']);
    assert.equal(result.client_id, emu.emulator.options.clientId);
    assert.equal(result.scope, 'crm,user');
    assert.equal(result.user_id, 1);
    // b24pysdk reads expires with datetime.fromisoformat; the token lives an hour
    assert.equal(typeof result.expires, 'string');
    assert.match(String(result.expires), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const expiresInSeconds = (Date.parse(String(result.expires)) - emu.emulator.clock.nowMs()) / 1000;
    assert.ok(expiresInSeconds > 3500 && expiresInSeconds <= 3600, `expires in ${expiresInSeconds} s`);
    assert.deepEqual(result.install, {
      installed: true,
      version: 3,
      status: 'L',
      scope: 'crm,user',
      domain: portal.domain,
      uri: `${emu.url}/${portal.domain}`,
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      member_type: 'PORTAL',
    });
    assert.deepEqual(Object.keys(time).sort(), ['date_finish', 'date_start', 'duration', 'finish', 'processing', 'start']);
    for (const key of ['start', 'finish', 'duration', 'processing']) assert.equal(typeof time[key], 'number', `time.${key}`);
    assert.match(String(time.date_start), ISO_WITH_OFFSET);

    const verified = await verifyWithAppInfo({ serverEndpoint: `${emu.url}/rest/`, accessToken: portal.accessToken, clientId: emu.emulator.options.clientId, memberId: portal.memberId, domain: portal.domain });
    assert.equal(verified.expiresAtMs, Date.parse(String(result.expires)));
    assert.equal(verified.userId, 1);
    assert.equal(verified.scope, 'crm,user');
  });

  it('time block: dates in the portal offset, like its CRM dates; duration and processing are measured doubles', async () => {
    const portal = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, timeZone: 'Asia/Tokyo' });
    const added = await rest(portal, 'crm.deal.add', { fields: { TITLE: 'Offset' } });
    const got = await rest(portal, 'crm.deal.get', { id: added.body.result });
    const time = got.body.time as { start: number; finish: number; duration: number; processing: number; date_start: string; date_finish: string };
    assert.match(time.date_start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$/);
    assert.match(time.date_finish, /\+09:00$/);
    assert.match(String((got.body.result as Row).DATE_CREATE), /\+09:00$/, 'the same offset as the CRM dates');
    assert.equal(Date.parse(time.date_start), Math.floor(time.start) * 1000);
    // the emulator's cost model is zero here: what remains is the handler's real time, never a bare 0
    assert.ok(time.duration > 0 && time.processing > 0, JSON.stringify(time));
    assert.ok(time.processing <= time.duration);
    assert.ok(Math.abs(time.finish - time.start - time.duration) < 2e-6);
  });

  it('date-only fields: midnight UTC of the day in the portal offset, as the docs examples write them; filters compare days', async () => {
    const berlin = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, timeZone: 'Europe/Berlin' });
    const id = (await rest(berlin, 'crm.deal.add', { fields: { TITLE: 'Dated', BEGINDATE: '2024-08-30', CLOSEDATE: '09.09.2024' } })).body.result;
    const deal = (await rest(berlin, 'crm.deal.get', { id })).body.result as Row;
    // crm-deal-get.md: "BEGINDATE": "2024-08-30T02:00:00+02:00", "CLOSEDATE": "2024-09-09T02:00:00+02:00"
    assert.equal(deal.BEGINDATE, '2024-08-30T02:00:00+02:00');
    assert.equal(deal.CLOSEDATE, '2024-09-09T02:00:00+02:00');
    const item = (await rest(berlin, 'crm.item.get', { entityTypeId: 2, id })).body.result as { item: Row };
    assert.equal(item.item.begindate, '2024-08-30T02:00:00+02:00');
    const contact = (await rest(berlin, 'crm.contact.add', { fields: { NAME: 'Winter', BIRTHDATE: '2000-01-01' } })).body.result;
    assert.equal(((await rest(berlin, 'crm.contact.get', { id: contact })).body.result as Row).BIRTHDATE, '2000-01-01T01:00:00+01:00');
    // a value read back is written back unchanged
    await rest(berlin, 'crm.deal.update', { id, fields: { BEGINDATE: deal.BEGINDATE } });
    assert.equal(((await rest(berlin, 'crm.deal.get', { id })).body.result as Row).BEGINDATE, '2024-08-30T02:00:00+02:00');

    const tokyo = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, timeZone: 'Asia/Tokyo' });
    const tokyoId = (await rest(tokyo, 'crm.deal.add', { fields: { BEGINDATE: '2024-08-30' } })).body.result;
    assert.equal(((await rest(tokyo, 'crm.deal.get', { id: tokyoId })).body.result as Row).BEGINDATE, '2024-08-30T09:00:00+09:00');

    const ids = async (filter: Row) => ((await rest(berlin, 'crm.deal.list', { filter, select: ['ID'] })).body.result as Row[]).map((row) => Number(row.ID));
    assert.deepEqual(await ids({ BEGINDATE: '2024-08-30' }), [id]);
    assert.deepEqual(await ids({ '>=BEGINDATE': '2024-08-30', '<=BEGINDATE': '30.08.2024' }), [id]);
    assert.deepEqual(await ids({ '<BEGINDATE': '2024-08-30' }), []);
    assert.deepEqual(await ids({ '>BEGINDATE': '2024-08-29' }), [id]);
  });

  it('crm.item.list with select answers the selected fields only, entityTypeId included only when selected', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await rest(portal, 'crm.item.add', { entityTypeId: 1, fields: { title: 'Lead #1', name: 'Klaus' } });
    const items = async (params: Row) => ((await rest(portal, 'crm.item.list', { entityTypeId: 1, ...params })).body.result as { items: Row[] }).items;
    assert.deepEqual(Object.keys((await items({ select: ['id', 'title', 'name'] }))[0]!).sort(), ['id', 'name', 'title']);
    assert.deepEqual(Object.keys((await items({ select: ['id', 'entityTypeId'] }))[0]!).sort(), ['entityTypeId', 'id']);
    assert.equal((await items({}))[0]!.entityTypeId, 1, 'without select every field comes back, entityTypeId too');
  });

  it('refused requests fill the bucket by default; PUT limits turns that off per portal', async () => {
    // one slot per 100 s of the emulator clock: nothing drains in real time, however slow the machine
    const counted = await createInstalledPortal(emu, { burst: 3, drainPerSecond: 0.01 });
    const lenient = await createInstalledPortal(emu, { burst: 3, drainPerSecond: 0.01 });
    const switched = await put(emu, `/portals/${lenient.memberId}/limits`, { countRefusedRequests: false });
    assert.equal(switched.status, 200);
    assert.equal((switched.body.limits as Row).countRefusedRequests, false);
    assert.equal(((await control<Row>(emu, '/portals', {})).limits as Row).countRefusedRequests, true, 'the default of a new portal');

    for (const portal of [counted, lenient]) {
      for (let i = 0; i < 3; i += 1) assert.equal((await rest(portal, 'profile')).status, 200);
      for (let i = 0; i < 5; i += 1) assert.equal((await rest(portal, 'profile')).status, 503);
    }
    assert.ok((await portalStats(emu, counted.memberId)).bucketLevel > 7, 'eight requests in the bucket');
    assert.ok((await portalStats(emu, lenient.memberId)).bucketLevel <= 3, 'the refused five left no trace');

    await advanceClock(emu, 100);
    assert.equal((await rest(lenient, 'profile')).status, 200, '100 s free a slot when refusals do not count');
    assert.equal((await rest(counted, 'profile')).status, 503, 'still five above the burst when they do');

    const bad = await put(emu, `/portals/${lenient.memberId}/limits`, { countRefusedRequests: 'no' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'CONTROL_BAD_REQUEST');
  });

  it('webhook auth errors: a wrong code is 401 NO_AUTH_FOUND, a method outside the scope 403 insufficient_scope about the webhook token', async () => {
    const portal: TestPortal = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['user_brief'] });
    const { url } = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1, scope: ['user_brief'] });
    const wrongCode = await hook(url.replace(/\/[0-9a-f]+\/$/, '/0123456789abcdef/'), 'user.current');
    assert.equal(wrongCode.status, 401);
    assert.deepEqual(wrongCode.body, { error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' });
    const outside = await hook(url, 'crm.deal.list');
    assert.equal(outside.status, 403);
    assert.deepEqual(outside.body, { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the webhook token' });
    const app = await rest(portal, 'crm.deal.list');
    assert.equal(app.status, 403);
    assert.deepEqual(app.body, { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token' });
  });
});
