import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createInstalledPortal, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;
type Item = Record<string, unknown> & { id: number; fm?: Row[] };

describe('crm.item.* over the same rows as the legacy methods', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
  });
  after(() => emu.close());

  it('crm.item.add returns {item} with camelCase typed fields, and crm.deal.get sees the same row', async () => {
    const contact = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'C' } })).body.result as number;
    const { status, body } = await rest(portal, 'crm.item.add', {
      entityTypeId: 2,
      fields: { title: 'Item deal', opportunity: 99.5, currencyId: 'EUR', contactIds: [contact], companyId: 0, assignedById: 2, originatorId: 'shop', originId: 'o-9', unknownThing: 1 },
    });
    assert.equal(status, 200, JSON.stringify(body));
    const item = (body.result as { item: Item }).item;
    assert.equal(typeof item.id, 'number');
    assert.equal(item.title, 'Item deal');
    assert.equal(item.opportunity, 99.5);
    assert.equal(item.currencyId, 'EUR');
    assert.deepEqual(item.contactIds, [contact]);
    assert.equal(item.contactId, contact);
    assert.equal(item.assignedById, 2);
    assert.equal(item.createdBy, 1);
    assert.equal(item.stageId, 'NEW');
    assert.equal(item.categoryId, 0);
    assert.equal(item.originatorId, 'shop');
    assert.equal(item.entityTypeId, 2);
    assert.match(String(item.createdTime), /T\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.ok(!('unknownThing' in item));

    const legacy = (await rest(portal, 'crm.deal.get', { id: item.id })).body.result as Row;
    assert.equal(legacy.TITLE, 'Item deal');
    assert.equal(legacy.OPPORTUNITY, '99.50');
    assert.equal(legacy.CONTACT_ID, String(contact));
    assert.equal(legacy.ORIGIN_ID, 'o-9');
    assert.equal(legacy.DATE_CREATE, item.createdTime);
  });

  it('legacy rows are visible to crm.item.get and crm.item.list, and item updates to crm.*.get', async () => {
    const id = (await rest(portal, 'crm.lead.add', { fields: { TITLE: 'Legacy lead', STATUS_ID: 'IN_PROCESS', NAME: 'Ann' } })).body.result as number;
    const got = (await rest(portal, 'crm.item.get', { entityTypeId: 1, id })).body.result as { item: Item };
    assert.equal(got.item.title, 'Legacy lead');
    assert.equal(got.item.stageId, 'IN_PROCESS', 'a lead STATUS_ID is stageId');
    assert.equal(got.item.name, 'Ann');
    const updated = await rest(portal, 'crm.item.update', { entityTypeId: 1, id, fields: { title: 'Renamed', stageId: 'PROCESSED' } });
    assert.equal((updated.body.result as { item: Item }).item.title, 'Renamed');
    const legacy = (await rest(portal, 'crm.lead.get', { id })).body.result as Row;
    assert.deepEqual([legacy.TITLE, legacy.STATUS_ID, legacy.NAME], ['Renamed', 'PROCESSED', 'Ann']);
    const listed = (await rest(portal, 'crm.item.list', { entityTypeId: 1, filter: { id } })).body as Row;
    assert.deepEqual(((listed.result as { items: Item[] }).items).map((row) => row.title), ['Renamed']);
    assert.equal(listed.total, 1);
  });

  it('fm: add an array, update by n0/id keys, delete with an empty value, ignore items without typeId', async () => {
    const added = (await rest(portal, 'crm.item.add', {
      entityTypeId: 3,
      fields: {
        name: 'Klaus',
        fm: [
          { typeId: 'EMAIL', valueType: 'WORK', value: 'work@x.test' },
          { typeId: 'EMAIL', valueType: 'HOME', value: 'home@x.test' },
          { typeId: 'PHONE', valueType: 'WORK', value: '+1000' },
          { typeId: 'PHONE', valueType: 'MOBILE', value: '+2000' },
        ],
      },
    })).body.result as { item: Item };
    const fm = added.item.fm!;
    assert.equal(fm.length, 4);
    assert.deepEqual(Object.keys(fm[0]!), ['id', 'valueType', 'value', 'typeId']);
    const [work, home, phoneWork, mobile] = fm as [Row, Row, Row, Row];
    await rest(portal, 'crm.item.update', {
      entityTypeId: 3,
      id: added.item.id,
      fields: {
        fm: {
          [String(work.id)]: { typeId: 'EMAIL', valueType: 'WORK', value: 'new-work@x.test' },
          [String(home.id)]: { typeId: 'EMAIL', valueType: 'HOME', value: '' },
          [String(mobile.id)]: { valueType: 'MOBILE', value: '' },
          n0: { typeId: 'PHONE', valueType: 'HOME', value: '+3000' },
        },
      },
    });
    const after = ((await rest(portal, 'crm.item.get', { entityTypeId: 3, id: added.item.id })).body.result as { item: Item }).item.fm!;
    assert.deepEqual(after.map((item) => [item.typeId, item.valueType, item.value]), [
      ['EMAIL', 'WORK', 'new-work@x.test'],
      ['PHONE', 'WORK', '+1000'],
      ['PHONE', 'MOBILE', '+2000'],
      ['PHONE', 'HOME', '+3000'],
    ]);
    assert.equal(after[0]!.id, work.id);
    assert.equal(after[1]!.id, phoneWork.id);
    const legacy = (await rest(portal, 'crm.contact.get', { id: added.item.id })).body.result as Row;
    assert.deepEqual((legacy.EMAIL as Row[]).map((email) => email.VALUE), ['new-work@x.test']);
  });

  it('crm.item.list: fm only with select *, filter/order/paging like the legacy lists', async () => {
    for (let index = 0; index < 55; index += 1) await rest(portal, 'crm.item.add', { entityTypeId: 4, fields: { title: `Co ${String(index).padStart(2, '0')}`, originId: index % 2 ? 'odd' : 'even' } });
    const star = (await rest(portal, 'crm.item.list', { entityTypeId: 4, select: ['*'], filter: { originId: 'odd' } })).body as Row;
    const items = (star.result as { items: Item[] }).items;
    assert.equal(star.total, 27);
    assert.ok(Array.isArray(items[0]!.fm));
    const named = (await rest(portal, 'crm.item.list', { entityTypeId: 4, select: ['id', 'title'], order: { title: 'DESC' } })).body as Row;
    const page = (named.result as { items: Item[] }).items;
    assert.equal(page.length, 50);
    assert.equal(named.total, 55);
    assert.equal(named.next, 50);
    assert.deepEqual(Object.keys(page[0]!).sort(), ['id', 'title']);
    assert.equal(page[0]!.title, 'Co 54');
    const fast = (await rest(portal, 'crm.item.list', { entityTypeId: 4, select: ['id'], order: { id: 'ASC' }, filter: { '>id': 0, '%title': 'Co 5' }, start: -1 })).body as Row;
    assert.equal(((fast.result as { items: Item[] }).items).length, 5);
    assert.equal(fast.total, 0);
    assert.ok(!('next' in fast));
    const logicOr = (await rest(portal, 'crm.item.list', { entityTypeId: 4, select: ['title'], filter: { '0': { logic: 'OR', title: 'Co 01', '=title': 'Co 02' } } })).body as Row;
    assert.deepEqual(((logicOr.result as { items: Item[] }).items).map((item) => item.title), ['Co 01', 'Co 02']);
  });

  it('crm.item.delete returns [] and the row is gone for both APIs', async () => {
    const id = ((await rest(portal, 'crm.item.add', { entityTypeId: 2, fields: { title: 'bye' } })).body.result as { item: Item }).item.id;
    const removed = await rest(portal, 'crm.item.delete', { entityTypeId: 2, id });
    assert.deepEqual(removed.body.result, []);
    assert.deepEqual((await rest(portal, 'crm.deal.get', { id })).body, { error: '', error_description: 'Not found' });
    const again = await rest(portal, 'crm.item.get', { entityTypeId: 2, id });
    assert.deepEqual([again.status, again.body], [400, { error: 'NOT_FOUND', error_description: 'Item not found' }]);
  });

  it('answers the documented errors for bad entityTypeId, id, fields, filter and order', async () => {
    const unknownType = await rest(portal, 'crm.item.list', { entityTypeId: 999 });
    assert.deepEqual([unknownType.status, unknownType.body], [400, { error: 'NOT_FOUND', error_description: 'Smart process not found' }]);
    const missingType = await rest(portal, 'crm.item.get', { id: 1 });
    assert.deepEqual([missingType.status, missingType.body], [400, { error: 100, error_description: 'Could not find value for parameter {entityTypeId}' }]);
    const textType = await rest(portal, 'crm.item.get', { entityTypeId: 'deal', id: 1 });
    assert.equal(textType.status, 400);
    assert.equal(textType.body.error, 100);
    const missingId = await rest(portal, 'crm.item.get', { entityTypeId: 2 });
    assert.deepEqual(missingId.body, { error: 100, error_description: 'Could not find value for parameter {id}' });
    const textId = await rest(portal, 'crm.item.update', { entityTypeId: 2, id: 'abc', fields: {} });
    assert.equal(textId.status, 400);
    const badFields = await rest(portal, 'crm.item.add', { entityTypeId: 2, fields: 'title=x' });
    assert.equal(badFields.status, 400);
    assert.equal(badFields.body.error, 100);
    const noFields = await rest(portal, 'crm.item.add', { entityTypeId: 2 });
    assert.deepEqual(noFields.body, { error: 100, error_description: 'Could not find value for parameter {fields}' });
    const badFilter = await rest(portal, 'crm.item.list', { entityTypeId: 2, filter: { noSuchField: 1 } });
    assert.deepEqual(badFilter.body, { error: 'INVALID_ARG_VALUE', error_description: "Invalid filter: field 'noSuchField' is not allowed in filter" });
    const badOrder = await rest(portal, 'crm.item.list', { entityTypeId: 2, order: { id: 'UP' } });
    assert.equal(badOrder.body.error, 'INVALID_ARG_VALUE');
    const badOrderField = await rest(portal, 'crm.item.list', { entityTypeId: 2, order: { nope: 'ASC' } });
    assert.equal(badOrderField.body.error_description, "Invalid order: field 'nope' is not allowed in order");
    const filterText = await rest(portal, 'crm.item.list', { entityTypeId: 2, filter: 'x' });
    assert.equal(filterText.status, 400);
  });
});
