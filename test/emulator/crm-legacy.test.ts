import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createInstalledPortal, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('crm legacy methods (crm.deal/contact/company/lead.*)', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const events: Array<{ name: string; data: Row; userId: number | undefined }> = [];
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    // spy on emit and keep delivery working
    const portalEvents = emu.emulator.portal(portal.memberId)!.events;
    const emit = portalEvents.emit.bind(portalEvents);
    portalEvents.emit = (name, data, opts = {}) => {
      events.push({ name, data, userId: opts.userId });
      return emit(name, data, opts);
    };
  });
  after(() => emu.close());

  it('crm.deal.add returns a new int ID and get returns realistic string values and defaults', async () => {
    const added = await rest(portal, 'crm.deal.add', { fields: { TITLE: 'First', OPPORTUNITY: 1500.5, CURRENCY_ID: 'EUR', NO_SUCH_FIELD: 'x', UF_CRM_COLOR: 'red' } });
    assert.equal(added.status, 200);
    assert.equal(typeof added.body.result, 'number');
    const id = added.body.result as number;
    const second = await rest(portal, 'crm.deal.add', { FIELDS: { TITLE: 'Second' } });
    assert.equal(second.body.result, id + 1);

    const { status, body } = await rest(portal, 'crm.deal.get', { id });
    assert.equal(status, 200);
    const deal = body.result as Row;
    assert.equal(deal.ID, String(id));
    assert.equal(deal.TITLE, 'First');
    assert.equal(deal.OPPORTUNITY, '1500.50');
    assert.equal(deal.CURRENCY_ID, 'EUR');
    assert.equal(deal.STAGE_ID, 'NEW');
    assert.equal(deal.STAGE_SEMANTIC_ID, 'P');
    assert.equal(deal.CATEGORY_ID, '0');
    assert.equal(deal.CREATED_BY_ID, '1');
    assert.equal(deal.MODIFY_BY_ID, '1');
    assert.equal(deal.ASSIGNED_BY_ID, '1');
    assert.equal(deal.CLOSED, 'N');
    assert.equal(deal.ORIGINATOR_ID, null);
    assert.equal(deal.UF_CRM_COLOR, 'red');
    assert.ok(!('NO_SUCH_FIELD' in deal));
    assert.ok(!('CONTACT_IDS' in deal), 'CONTACT_IDS is not part of the legacy answer');
    assert.match(String(deal.DATE_CREATE), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.equal(deal.DATE_CREATE, deal.DATE_MODIFY);
  });

  it('untitled deals and leads get the portal default title', async () => {
    const deal = await rest(portal, 'crm.deal.add', { fields: {} });
    const got = await rest(portal, 'crm.deal.get', { id: deal.body.result });
    assert.equal((got.body.result as Row).TITLE, `Deal #${deal.body.result}`);
    const lead = await rest(portal, 'crm.lead.add', { fields: { NAME: 'L' } });
    const gotLead = (await rest(portal, 'crm.lead.get', { ID: lead.body.result })).body.result as Row;
    assert.equal(gotLead.TITLE, `Lead #${lead.body.result}`);
    assert.equal(gotLead.STATUS_ID, 'NEW');
    assert.equal(gotLead.OPPORTUNITY, '0.00');
  });

  it('DATE_CREATE follows the emulator clock', async () => {
    const before = await rest(portal, 'crm.deal.add', { fields: { TITLE: 'clock' } });
    await fetch(`${emu.url}/_emulator/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: 1200 }) });
    const later = await rest(portal, 'crm.deal.add', { fields: { TITLE: 'clock' } });
    const a = Date.parse(String(((await rest(portal, 'crm.deal.get', { id: before.body.result })).body.result as Row).DATE_CREATE));
    const b = Date.parse(String(((await rest(portal, 'crm.deal.get', { id: later.body.result })).body.result as Row).DATE_CREATE));
    // the token lives an hour, so the clock moves less than that
    assert.ok(b - a >= 1_199_000, `clock advanced: ${b - a}`);
  });

  it('update returns true, changes only the given fields, and stamps DATE_MODIFY/MODIFY_BY_ID', async () => {
    const id = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'Before', COMMENTS: 'keep' } })).body.result;
    const updated = await rest(portal, 'crm.deal.update', { ID: id, fields: { TITLE: 'After', STAGE_ID: 'WON' } });
    assert.deepEqual([updated.status, updated.body.result], [200, true]);
    const deal = (await rest(portal, 'crm.deal.get', { id })).body.result as Row;
    assert.equal(deal.TITLE, 'After');
    assert.equal(deal.COMMENTS, 'keep');
    assert.equal(deal.STAGE_SEMANTIC_ID, 'S');
    assert.equal(deal.CLOSED, 'Y');
  });

  it('delete returns true, then get answers 400 Not found', async () => {
    const id = (await rest(portal, 'crm.company.add', { fields: { TITLE: 'Gone' } })).body.result;
    const removed = await rest(portal, 'crm.company.delete', { id });
    assert.deepEqual([removed.status, removed.body.result], [200, true]);
    const missing = await rest(portal, 'crm.company.get', { id });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body, { error: '', error_description: 'Not found' });
  });

  it('answers the documented errors for a missing, non-numeric or unknown ID', async () => {
    for (const params of [{}, { id: 'abc' }, { id: -3 }, { id: 0 }, { id: 1.5 }, { id: { a: 1 } }]) {
      const { status, body } = await rest(portal, 'crm.deal.get', params);
      assert.equal(status, 400, JSON.stringify(params));
      assert.deepEqual(body, { error: '', error_description: 'ID is not defined or invalid.' });
    }
    assert.deepEqual((await rest(portal, 'crm.deal.get', { id: 999_999 })).body, { error: '', error_description: 'Not found' });
    assert.deepEqual((await rest(portal, 'crm.contact.update', { id: 999_999, fields: {} })).body, { error: '', error_description: 'Contact is not found' });
    assert.deepEqual((await rest(portal, 'crm.deal.delete', { id: 999_999 })).body, { error: '', error_description: 'Not found' });
    assert.deepEqual((await rest(portal, 'crm.deal.delete', { id: 'x' })).body, { error: '', error_description: 'ID is not defined or invalid.' });
  });

  it("answers \"Parameter 'fields' must be array.\" for fields that are not an object", async () => {
    for (const fields of ['text', 5, true, null]) {
      const { status, body } = await rest(portal, 'crm.contact.add', { fields });
      assert.equal(status, 400);
      assert.deepEqual(body, { error: '', error_description: "Parameter 'fields' must be array." });
    }
    assert.equal((await rest(portal, 'crm.contact.add', {})).status, 400);
    const id = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'x' } })).body.result;
    assert.equal((await rest(portal, 'crm.contact.update', { id, fields: 'bad' })).status, 400);
    assert.deepEqual((await rest(portal, 'crm.deal.add', { fields: {}, params: 'bad' })).body, { error: '', error_description: "Parameter 'params' must be array." });
  });

  it('rejects an invalid currency and a malformed e-mail as the portal does', async () => {
    const currency = await rest(portal, 'crm.deal.add', { fields: { CURRENCY_ID: 'euro' } });
    assert.equal(currency.status, 400);
    assert.equal(currency.body.error_description, 'Invalid value for the "Currency" field');
    const email = await rest(portal, 'crm.contact.add', { fields: { EMAIL: [{ VALUE: 'not-an-address', VALUE_TYPE: 'WORK' }] } });
    assert.equal(email.status, 400);
    assert.equal(email.body.error, 'ERROR_CORE');
  });

  it('a rejected update changes nothing and fires nothing', async () => {
    const id = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'Stable', EMAIL: [{ VALUE: 'ok@x.test' }] } })).body.result;
    events.length = 0;
    const rejected = await rest(portal, 'crm.contact.update', { id, fields: { NAME: 'Changed', EMAIL: [{ VALUE: 'broken' }] } });
    assert.equal(rejected.status, 400);
    const contact = (await rest(portal, 'crm.contact.get', { id })).body.result as Row;
    assert.equal(contact.NAME, 'Stable');
    assert.deepEqual((contact.EMAIL as Row[]).map((email) => email.VALUE), ['ok@x.test']);
    assert.equal(events.length, 0);
  });

  it('accepts form-encoded bodies with PHP brackets', async () => {
    const body = new URLSearchParams({ 'fields[TITLE]': 'Form deal', 'fields[OPPORTUNITY]': '10', auth: portal.accessToken });
    const response = await fetch(`${portal.clientEndpoint}crm.deal.add.json`, { method: 'POST', body });
    const json = (await response.json()) as Row;
    assert.equal(response.status, 200);
    const deal = (await rest(portal, 'crm.deal.get', { id: json.result })).body.result as Row;
    assert.equal(deal.TITLE, 'Form deal');
    assert.equal(deal.OPPORTUNITY, '10.00');
  });

  it('stores multi-fields on add and reads them back as {ID, VALUE_TYPE, VALUE, TYPE_ID}', async () => {
    const id = (await rest(portal, 'crm.contact.add', {
      fields: {
        NAME: 'Klaus',
        EMAIL: [{ VALUE: 'klaus@example.test', VALUE_TYPE: 'WORK' }],
        PHONE: [{ VALUE: '+4930123', VALUE_TYPE: 'MOBILE' }, { VALUE: '+4930999' }],
        WEB: [{ VALUE: 'example.test', VALUE_TYPE: 'WORK' }],
        IM: [{ VALUE: 'klaus', VALUE_TYPE: 'TELEGRAM' }],
      },
    })).body.result;
    const contact = (await rest(portal, 'crm.contact.get', { id })).body.result as Row;
    const emails = contact.EMAIL as Row[];
    assert.equal(emails.length, 1);
    assert.deepEqual(Object.keys(emails[0]!), ['ID', 'VALUE_TYPE', 'VALUE', 'TYPE_ID']);
    assert.equal(emails[0]!.TYPE_ID, 'EMAIL');
    assert.match(String(emails[0]!.ID), /^\d+$/);
    const phones = contact.PHONE as Row[];
    assert.deepEqual(phones.map((phone) => [phone.VALUE, phone.VALUE_TYPE]), [['+4930123', 'MOBILE'], ['+4930999', 'WORK']]);
    assert.equal((contact.WEB as Row[])[0]!.VALUE, 'example.test');
    assert.equal((contact.IM as Row[])[0]!.VALUE_TYPE, 'TELEGRAM');
    assert.equal(contact.HAS_EMAIL, 'Y');
    assert.equal(contact.HAS_PHONE, 'Y');
  });

  it('multi-field update: without ID added, with ID changed, DELETE or empty VALUE deleted, omitted kept', async () => {
    const id = (await rest(portal, 'crm.contact.add', {
      fields: { NAME: 'Multi', EMAIL: [{ VALUE: 'a@x.test' }, { VALUE: 'b@x.test' }, { VALUE: 'c@x.test' }, { VALUE: 'd@x.test' }] },
    })).body.result;
    const before = ((await rest(portal, 'crm.contact.get', { id })).body.result as Row).EMAIL as Row[];
    const [a, b, c] = before as [Row, Row, Row, Row];
    const updated = await rest(portal, 'crm.contact.update', {
      id,
      fields: {
        EMAIL: [
          { ID: a.ID, VALUE: 'a2@x.test', VALUE_TYPE: 'HOME' },
          { ID: b.ID, DELETE: 'Y' },
          { ID: c.ID, VALUE: '' },
          { VALUE: 'e@x.test', VALUE_TYPE: 'OTHER' },
        ],
      },
    });
    assert.equal(updated.body.result, true);
    const after = ((await rest(portal, 'crm.contact.get', { id })).body.result as Row).EMAIL as Row[];
    assert.deepEqual(after.map((email) => [email.VALUE, email.VALUE_TYPE]), [['a2@x.test', 'HOME'], ['d@x.test', 'WORK'], ['e@x.test', 'OTHER']]);
    assert.equal(after[0]!.ID, a.ID);

    const untouched = await rest(portal, 'crm.contact.update', { id, fields: { NAME: 'Renamed' } });
    assert.equal(untouched.body.result, true);
    const still = ((await rest(portal, 'crm.contact.get', { id })).body.result as Row).EMAIL as Row[];
    assert.equal(still.length, 3);

    await rest(portal, 'crm.contact.update', { id, fields: { EMAIL: after.map((email) => ({ ID: email.ID, DELETE: 'Y' })) } });
    const none = (await rest(portal, 'crm.contact.get', { id })).body.result as Row;
    assert.ok(!('EMAIL' in none), 'a contact without e-mails has no EMAIL key');
    assert.equal(none.HAS_EMAIL, 'N');
  });

  it('multi-fields work on companies and leads too', async () => {
    for (const entity of ['company', 'lead']) {
      const id = (await rest(portal, `crm.${entity}.add`, { fields: { TITLE: 'T', PHONE: [{ VALUE: '+100', VALUE_TYPE: 'WORK' }] } })).body.result;
      const row = (await rest(portal, `crm.${entity}.get`, { id })).body.result as Row;
      assert.equal((row.PHONE as Row[])[0]!.VALUE, '+100', entity);
    }
  });

  it('crm.*.fields describes the fields with the documented flags', async () => {
    const deal = (await rest(portal, 'crm.deal.fields')).body.result as Record<string, Row>;
    assert.deepEqual(deal.ID, { type: 'integer', isRequired: false, isReadOnly: true, isImmutable: false, isMultiple: false, isDynamic: false, title: 'ID' });
    assert.equal(deal.STAGE_ID!.statusType, 'DEAL_STAGE');
    assert.equal(deal.ORIGINATOR_ID!.type, 'string');
    assert.equal(deal.CONTACT_IDS!.isMultiple, true);
    const contact = (await rest(portal, 'crm.contact.fields')).body.result as Record<string, Row>;
    assert.equal(contact.EMAIL!.type, 'crm_multifield');
    for (const entity of ['company', 'lead']) assert.equal((await rest(portal, `crm.${entity}.fields`)).status, 200);
  });

  it('emits ONCRM*ADD/UPDATE/DELETE with only {FIELDS: {ID}} and the caller as user', async () => {
    events.length = 0;
    const id = (await rest(portal, 'crm.lead.add', { fields: { TITLE: 'evt' } })).body.result as number;
    await rest(portal, 'crm.lead.update', { id, fields: { TITLE: 'evt2' } });
    await rest(portal, 'crm.lead.delete', { id });
    const contact = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'evt' } })).body.result;
    assert.deepEqual(events.map((event) => event.name), ['ONCRMLEADADD', 'ONCRMLEADUPDATE', 'ONCRMLEADDELETE', 'ONCRMCONTACTADD']);
    assert.deepEqual(events[0]!.data, { FIELDS: { ID: String(id) } });
    assert.deepEqual(events[3]!.data, { FIELDS: { ID: String(contact) } });
    assert.equal(events[0]!.userId, 1);
    events.length = 0;
    await rest(portal, 'crm.deal.get', { id: 1 });
    await rest(portal, 'crm.deal.update', { id: 999_999, fields: {} });
    assert.equal(events.length, 0, 'reads and failed writes emit nothing');
  });

  it('needs the crm scope', async () => {
    const other = await createInstalledPortal(emu, {}, { scope: ['user_brief'] });
    const { status, body } = await rest(other, 'crm.deal.list');
    assert.equal(status, 403);
    assert.equal(body.error, 'insufficient_scope');
  });
});
