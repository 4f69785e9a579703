import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, seedCrm, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('crm product rows, duplicates, statuses and bad input', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
  });
  after(() => emu.close());

  it('crm.deal.productrows.set replaces all rows and .get reads them back', async () => {
    const id = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'With products' } })).body.result;
    const set = await rest(portal, 'crm.deal.productrows.set', {
      id,
      rows: [
        { PRODUCT_NAME: 'Widget', PRICE: 899.1, QUANTITY: 2, DISCOUNT_TYPE_ID: 2, DISCOUNT_RATE: 10 },
        { PRODUCT_ID: 0, PRODUCT_NAME: 'Service', PRICE: 100 },
      ],
    });
    assert.deepEqual([set.status, set.body.result], [200, true]);
    const rows = (await rest(portal, 'crm.deal.productrows.get', { id })).body.result as Row[];
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.OWNER_ID, String(id));
    assert.equal(rows[0]!.OWNER_TYPE, 'D');
    assert.equal(rows[0]!.PRICE, 899.1);
    assert.equal(rows[0]!.PRICE_NETTO, 999);
    assert.equal(rows[0]!.DISCOUNT_SUM, 99.9);
    assert.equal(rows[0]!.MEASURE_NAME, 'pcs');
    assert.match(String(rows[0]!.ID), /^\d+$/);
    const deal = (await rest(portal, 'crm.deal.get', { id })).body.result as Row;
    assert.equal(deal.OPPORTUNITY, '1898.20', 'the amount follows the products unless set manually');

    await rest(portal, 'crm.deal.productrows.set', { id, rows: [{ PRODUCT_NAME: 'Only', PRICE: 5 }] });
    const replaced = (await rest(portal, 'crm.deal.productrows.get', { id })).body.result as Row[];
    assert.deepEqual(replaced.map((row) => row.PRODUCT_NAME), ['Only']);
    await rest(portal, 'crm.deal.productrows.set', { id, rows: [] });
    assert.deepEqual((await rest(portal, 'crm.deal.productrows.get', { id })).body.result, []);
  });

  it('product rows answer the documented errors', async () => {
    const id = (await rest(portal, 'crm.deal.add', { fields: {} })).body.result;
    assert.deepEqual((await rest(portal, 'crm.deal.productrows.get', { id: 'x' })).body, { error: '', error_description: 'The parameter id is invalid or not defined.' });
    assert.deepEqual((await rest(portal, 'crm.deal.productrows.get', { id: 999_999 })).body, { error: '', error_description: 'Not found' });
    const discount = await rest(portal, 'crm.deal.productrows.set', { id, rows: [{ PRICE: 1, DISCOUNT_TYPE_ID: 1 }] });
    assert.equal(discount.status, 400);
    assert.equal(discount.body.error, 'ERROR_CORE');
    assert.equal((await rest(portal, 'crm.deal.productrows.set', { id, rows: 'x' })).status, 400);
  });

  it('crm.duplicate.findbycomm finds contacts, leads and companies by e-mail and phone', async () => {
    const contact = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'D', EMAIL: [{ VALUE: 'Dup@Example.test' }], PHONE: [{ VALUE: '+1 (555) 010-20' }] } })).body.result;
    const lead = (await rest(portal, 'crm.lead.add', { fields: { TITLE: 'D', EMAIL: [{ VALUE: 'dup@example.test' }] } })).body.result;
    const company = (await rest(portal, 'crm.company.add', { fields: { TITLE: 'D', PHONE: [{ VALUE: '+1555 01020 ext. 7' }] } })).body.result;
    const byEmail = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL', values: ['dup@example.test', 'none@example.test'] });
    assert.deepEqual(byEmail.body.result, { LEAD: [lead], CONTACT: [contact] });
    const byPhone = await rest(portal, 'crm.duplicate.findbycomm', { type: 'PHONE', values: ['+15550102 0'] });
    assert.deepEqual(byPhone.body.result, { CONTACT: [contact], COMPANY: [company] });
    const onlyContacts = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL', values: ['dup@example.test'], entity_type: 'CONTACT' });
    assert.deepEqual(onlyContacts.body.result, { CONTACT: [contact] });
    const nothing = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL', values: ['nobody@example.test'] });
    assert.deepEqual(nothing.body.result, []);
  });

  it('crm.duplicate.findbycomm stops after a type with 20 or more matches', async () => {
    await seedCrm(emu, portal, 'lead', 25, { EMAIL: [{ VALUE: 'many@example.test' }] });
    await rest(portal, 'crm.contact.add', { fields: { NAME: 'M', EMAIL: [{ VALUE: 'many@example.test' }] } });
    const { body } = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL', values: ['many@example.test'] });
    const result = body.result as Record<string, number[]>;
    assert.equal(result.LEAD!.length, 20);
    assert.ok(!('CONTACT' in result));
  });

  it('crm.duplicate.findbycomm answers the documented errors', async () => {
    assert.deepEqual((await rest(portal, 'crm.duplicate.findbycomm', { values: ['a@b.c'] })).body, { error: 'Communication type is not defined', error_description: "Parameter 'type' is required." });
    const noValues = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL' });
    assert.deepEqual([noValues.status, noValues.body.error], [400, 'Communication values is not defined']);
    const badType = await rest(portal, 'crm.duplicate.findbycomm', { type: 'FAX', values: ['1'] });
    assert.equal(badType.status, 400);
    const tooMany = await rest(portal, 'crm.duplicate.findbycomm', { type: 'EMAIL', values: Array.from({ length: 21 }, (_, i) => `u${i}@x.test`) });
    assert.equal(tooMany.status, 400);
  });

  it('crm.status.list filters by ENTITY_ID and returns realistic rows', async () => {
    const stages = await rest(portal, 'crm.status.list', { filter: { ENTITY_ID: 'DEAL_STAGE' }, order: { SORT: 'ASC' } });
    const rows = stages.body.result as Row[];
    assert.deepEqual(rows.map((row) => row.STATUS_ID), ['NEW', 'PREPARATION', 'PREPAYMENT_INVOICE', 'EXECUTING', 'FINAL_INVOICE', 'WON', 'LOSE', 'APOLOGY']);
    assert.equal(stages.body.total, 8);
    assert.deepEqual(rows[5]!.EXTRA, { SEMANTICS: 'success', COLOR: '#7BD500' });
    for (const entityId of ['STATUS', 'SOURCE', 'DEAL_TYPE', 'CONTACT_TYPE', 'COMPANY_TYPE', 'INDUSTRY', 'EMPLOYEES', 'HONORIFIC']) {
      const list = (await rest(portal, 'crm.status.list', { filter: { ENTITY_ID: entityId } })).body.result as Row[];
      assert.ok(list.length > 0, entityId);
      assert.ok(list.every((row) => row.ENTITY_ID === entityId));
    }
    const one = (await rest(portal, 'crm.status.list', { filter: { ENTITY_ID: 'SOURCE', STATUS_ID: 'WEB' } })).body.result as Row[];
    assert.deepEqual(one.map((row) => row.NAME), ['Website']);
    assert.equal((await rest(portal, 'crm.status.list', { filter: 'x' })).status, 400);
  });

  it('never crashes on hostile input: every answer is a 2xx or a 4xx envelope', async () => {
    const calls: Array<[string, Row]> = [
      ['crm.deal.add', { fields: [] }],
      ['crm.deal.add', { fields: { TITLE: { nested: true }, OPPORTUNITY: 'lots', CONTACT_IDS: 'x', BEGINDATE: 'not a date', EMAIL: 'x' } }],
      ['crm.contact.add', { fields: { EMAIL: 'plain@string.test', PHONE: [null, 5, { VALUE: null }] } }],
      ['crm.contact.update', { id: 1, fields: { EMAIL: [{ ID: 'abc', VALUE: 'x@y.z' }] } }],
      ['crm.deal.list', { filter: { '>ID': 'abc', '@STAGE_ID': 'NEW', '%TITLE': ['a', 'b'], '': 1 }, order: { TITLE: 'sideways' }, select: 'TITLE', start: 'x' }],
      ['crm.deal.list', { filter: [], order: [], select: {} }],
      ['crm.deal.list', { filter: { LOGIC: 'OR', 0: { ID: 1 }, 1: { ID: 2 } } }],
      ['crm.item.list', { entityTypeId: 2, filter: { '>=createdTime': {}, logic: 'OR' }, select: 'id', start: -5 }],
      ['crm.item.add', { entityTypeId: 3, fields: { fm: 'x' } }],
      ['crm.item.add', { entityTypeId: 3, fields: { fm: [null, 1, { typeId: 'EMAIL' }] } }],
      ['crm.item.get', { entityTypeId: [2], id: { a: 1 } }],
      ['crm.duplicate.findbycomm', { type: ['EMAIL'], values: 'a@b.c' }],
      ['crm.deal.productrows.set', { id: 1, rows: [null, 'x'] }],
      ['crm.status.list', { order: 'x' }],
    ];
    for (const [method, params] of calls) {
      const { status, body } = await rest(portal, method, params);
      assert.ok(status < 500, `${method} ${JSON.stringify(params)} → ${status} ${JSON.stringify(body)}`);
      if (status >= 400) assert.equal(typeof body.error_description, 'string', method);
    }
  });

  it('works through an incoming webhook and inside batch', async () => {
    const hook = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 2 });
    const added = await fetch(`${hook.url}crm.deal.add.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fields: { TITLE: 'hook' } }) });
    const id = ((await added.json()) as Row).result;
    const deal = (await rest(portal, 'crm.deal.get', { id })).body.result as Row;
    assert.equal(deal.CREATED_BY_ID, '2', 'CREATED_BY_ID is the calling user');
    const batch = await rest(portal, 'batch', { halt: 0, cmd: { a: `crm.deal.get?id=${id}`, b: 'crm.deal.list?filter[ID]=' + id + '&select[]=TITLE', c: 'crm.deal.get?id=0' } });
    const result = batch.body.result as { result: Record<string, Row>; result_error: Record<string, Row> };
    assert.equal(result.result.a!.TITLE, 'hook');
    assert.deepEqual(result.result_error.c, { error: '', error_description: 'ID is not defined or invalid.' });
  });
});
