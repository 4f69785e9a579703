/**
 * crm.{deal,contact,company,lead}.userfield.* (b24restdocs api-reference/crm/deals/user-defined-fields/
 * crm-deal-userfield-{add,get,list,update,delete}.md) and the UF_CRM_* values the entity methods
 * then accept, filter and return (crm-deal-list.md `UF_*`, crm-company-fields.md `isDynamic`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('emulator: CRM user fields', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
  });
  after(() => emu.close());

  it('userfield.add prefixes FIELD_NAME with UF_CRM_, answers the new ID, and get/list show the definition', async () => {
    const added = await rest(portal, 'crm.deal.userfield.add', { fields: { FIELD_NAME: 'size', USER_TYPE_ID: 'string', LABEL: 'Size' } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(typeof added.body.result, 'number');
    const got = (await rest(portal, 'crm.deal.userfield.get', { id: added.body.result })).body.result as Row;
    assert.deepEqual([got.ENTITY_ID, got.FIELD_NAME, got.USER_TYPE_ID, got.MULTIPLE, got.SORT, got.EDIT_FORM_LABEL], ['CRM_DEAL', 'UF_CRM_SIZE', 'string', 'N', '100', 'Size']);
    const listed = await rest(portal, 'crm.deal.userfield.list', { filter: { FIELD_NAME: 'UF_CRM_SIZE' } });
    assert.deepEqual([(listed.body.result as Row[]).length, listed.body.total], [1, 1]);
    assert.ok(!('EDIT_FORM_LABEL' in (listed.body.result as Row[])[0]!), 'labels only with filter.LANG');
    assert.deepEqual(((await rest(portal, 'crm.contact.userfield.list')).body.result as Row[]), [], 'another entity has its own fields');
  });

  it('refuses bad input with the documented errors', async () => {
    const call = async (fields: Row) => {
      const answer = await rest(portal, 'crm.deal.userfield.add', { fields });
      return [answer.status, answer.body.error, answer.body.error_description];
    };
    assert.deepEqual(await call({ USER_TYPE_ID: 'string' }), [400, '', "The 'FIELD_NAME' field is not found."]);
    assert.deepEqual(await call({ FIELD_NAME: 'X1' }), [400, '', "The 'USER_TYPE_ID' field is not found."]);
    assert.deepEqual(await call({ FIELD_NAME: 'X1', USER_TYPE_ID: 'nope' }), [400, 'ERROR_CORE', 'Incorrect custom type specified.']);
    assert.deepEqual(await call({ FIELD_NAME: 'bad-name', USER_TYPE_ID: 'string' }), [400, 'ERROR_CORE', 'Field name contains invalid characters. Allowed characters are: A-Z, 0-9 and _.']);
    assert.deepEqual(await call({ FIELD_NAME: 'X'.repeat(44), USER_TYPE_ID: 'string' }), [400, 'ERROR_CORE', 'Field name is too long (more than 50 characters).']);
    const duplicate = await call({ FIELD_NAME: 'UF_SIZE', USER_TYPE_ID: 'string' });
    assert.deepEqual(duplicate.slice(0, 2), [400, 'ERROR_CORE'], 'UF_SIZE is UF_CRM_SIZE, which exists');
    assert.deepEqual((await rest(portal, 'crm.deal.userfield.get', { id: 9999 })).body.error, 'ERROR_NOT_FOUND');
    const frame = await control<{ form: Record<string, string> }>(emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const denied = await rest(portal, 'crm.deal.userfield.add', { fields: { FIELD_NAME: 'Y1', USER_TYPE_ID: 'string' } }, frame.form.AUTH_ID);
    assert.deepEqual([denied.status, denied.body.error_description], [403, 'Access denied.']);
  });

  it('typed values: crm.deal.add accepts UF_CRM_*, get/list return them typed, filters compare by type, fields lists them', async () => {
    const add = async (FIELD_NAME: string, USER_TYPE_ID: string, extra: Row = {}) =>
      (await rest(portal, 'crm.deal.userfield.add', { fields: { FIELD_NAME, USER_TYPE_ID, ...extra } })).body.result as number;
    await add('QTY', 'integer');
    await add('RATE', 'double');
    await add('VIP', 'boolean');
    await add('DUE', 'date');
    await add('TAGS', 'string', { MULTIPLE: 'Y' });
    const colorId = await add('COLOR', 'enumeration', { LIST: [{ VALUE: 'Red' }, { VALUE: 'Green', DEF: 'Y' }, { VALUE: 'Blue', DEF: 'Y' }, { VALUE: '' }] });
    const color = (await rest(portal, 'crm.deal.userfield.get', { id: colorId })).body.result as { LIST: Row[] };
    assert.deepEqual(color.LIST.map((item) => [item.VALUE, item.DEF]), [['Red', 'N'], ['Green', 'Y'], ['Blue', 'N']], 'the empty VALUE is ignored; the first DEF=Y is the default of a single field');
    const green = color.LIST[1]!.ID;

    const id = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'typed', UF_CRM_QTY: '12', UF_CRM_RATE: '2.5', UF_CRM_VIP: 'Y', UF_CRM_DUE: '2026-03-01', UF_CRM_TAGS: ['a', 'b'], UF_CRM_COLOR: green, UF_CRM_SIZE: 'XL' } })).body.result as number;
    const other = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'plain', UF_CRM_QTY: 3 } })).body.result as number;
    const deal = (await rest(portal, 'crm.deal.get', { id })).body.result as Row;
    assert.deepEqual([deal.UF_CRM_QTY, deal.UF_CRM_RATE, deal.UF_CRM_VIP, deal.UF_CRM_TAGS, deal.UF_CRM_COLOR, deal.UF_CRM_SIZE], [12, 2.5, true, ['a', 'b'], green, 'XL']);
    assert.match(String(deal.UF_CRM_DUE), /^2026-03-01/);
    const plain = (await rest(portal, 'crm.deal.get', { id: other })).body.result as Row;
    assert.deepEqual([plain.UF_CRM_RATE, plain.UF_CRM_TAGS], [null, []], 'declared fields without a value');

    const ids = async (filter: Row) => ((await rest(portal, 'crm.deal.list', { filter, select: ['ID'] })).body.result as Row[]).map((row) => Number(row.ID));
    assert.deepEqual(await ids({ '>UF_CRM_QTY': 5 }), [id], 'integer compare, not string: "12" > "5" would fail');
    assert.deepEqual(await ids({ UF_CRM_VIP: 1 }), [id]);
    assert.deepEqual(await ids({ UF_CRM_TAGS: 'b' }), [id]);
    assert.deepEqual(await ids({ UF_CRM_COLOR: green }), [id]);
    const selected = (await rest(portal, 'crm.deal.list', { filter: { ID: id }, select: ['ID', 'UF_*'] })).body.result as Row[];
    assert.equal(selected[0]!.UF_CRM_QTY, 12);
    const star = (await rest(portal, 'crm.deal.list', { filter: { ID: id }, select: ['*'] })).body.result as Row[];
    assert.ok(!('UF_CRM_QTY' in star[0]!), '* alone has no user fields');

    const fields = (await rest(portal, 'crm.deal.fields')).body.result as Record<string, Row>;
    assert.deepEqual([fields.UF_CRM_QTY?.type, fields.UF_CRM_QTY?.isDynamic, fields.UF_CRM_TAGS?.isMultiple], ['integer', true, true]);
    const item = (await rest(portal, 'crm.item.get', { entityTypeId: 2, id })).body.result as { item: Row };
    assert.deepEqual([item.item.ufCrm_QTY, item.item.ufCrm_VIP], [12, true]);
  });

  it('contacts and companies: each entity its own fields, accepted, typed, filtered and returned by its own methods', async () => {
    for (const [entity, entityId] of [['contact', 'CRM_CONTACT'], ['company', 'CRM_COMPANY']] as const) {
      const fieldId = (await rest(portal, `crm.${entity}.userfield.add`, { fields: { FIELD_NAME: 'LEVEL', USER_TYPE_ID: 'integer' } })).body.result as number;
      const definition = (await rest(portal, `crm.${entity}.userfield.get`, { id: fieldId })).body.result as Row;
      assert.deepEqual([definition.ENTITY_ID, definition.FIELD_NAME], [entityId, 'UF_CRM_LEVEL']);
      const high = (await rest(portal, `crm.${entity}.add`, { fields: { TITLE: 'high', NAME: 'high', UF_CRM_LEVEL: '10' } })).body.result as number;
      await rest(portal, `crm.${entity}.add`, { fields: { TITLE: 'low', NAME: 'low', UF_CRM_LEVEL: '9' } });
      assert.equal(((await rest(portal, `crm.${entity}.get`, { id: high })).body.result as Row).UF_CRM_LEVEL, 10);
      const listed = (await rest(portal, `crm.${entity}.list`, { filter: { '>UF_CRM_LEVEL': 9 }, select: ['ID', 'UF_CRM_LEVEL'] })).body.result as Row[];
      assert.deepEqual(listed.map((row) => [Number(row.ID), row.UF_CRM_LEVEL]), [[high, 10]], 'an integer compare: "10" > "9" fails as strings');
      const fields = (await rest(portal, `crm.${entity}.fields`)).body.result as Record<string, Row>;
      assert.deepEqual([fields.UF_CRM_LEVEL?.type, fields.UF_CRM_LEVEL?.isDynamic], ['integer', true]);
      assert.equal((await rest(portal, `crm.${entity}.userfield.update`, { id: fieldId, fields: { SORT: 200 } })).body.result, true);
      assert.equal(((await rest(portal, `crm.${entity}.userfield.list`, { filter: { FIELD_NAME: 'UF_CRM_LEVEL' } })).body.result as Row[])[0]?.SORT, '200');
    }
    const companyField = ((await rest(portal, 'crm.company.userfield.list', { filter: { FIELD_NAME: 'UF_CRM_LEVEL' } })).body.result as Row[])[0]!;
    assert.equal((await rest(portal, 'crm.company.userfield.delete', { id: companyField.ID })).body.result, true);
    assert.equal(((await rest(portal, 'crm.contact.userfield.list', { filter: { FIELD_NAME: 'UF_CRM_LEVEL' } })).body.result as Row[]).length, 1, 'the contact\'s field stays');
  });

  it('update changes the definition; delete removes it and its values', async () => {
    const fieldId = (await rest(portal, 'crm.lead.userfield.add', { fields: { FIELD_NAME: 'SCORE', USER_TYPE_ID: 'integer' } })).body.result as number;
    const lead = (await rest(portal, 'crm.lead.add', { fields: { UF_CRM_SCORE: 7 } })).body.result as number;
    const updated = await rest(portal, 'crm.lead.userfield.update', { id: fieldId, fields: { SORT: 300, MANDATORY: 'Y', FIELD_NAME: 'IGNORED' } });
    assert.equal(updated.body.result, true);
    const got = (await rest(portal, 'crm.lead.userfield.get', { id: fieldId })).body.result as Row;
    assert.deepEqual([got.SORT, got.MANDATORY, got.FIELD_NAME], ['300', 'Y', 'UF_CRM_SCORE']);
    const wrongEntity = await rest(portal, 'crm.deal.userfield.get', { id: fieldId });
    assert.equal(wrongEntity.status, 403);
    assert.equal((await rest(portal, 'crm.lead.userfield.delete', { id: fieldId })).body.result, true);
    assert.equal((await rest(portal, 'crm.lead.userfield.get', { id: fieldId })).body.error, 'ERROR_NOT_FOUND');
    const after = (await rest(portal, 'crm.lead.get', { id: lead })).body.result as Row;
    assert.ok(!('UF_CRM_SCORE' in after), 'the value went with the field');
    assert.deepEqual((await rest(portal, 'crm.lead.userfield.delete', { id: 0 })).body.error_description, 'ID is not defined or invalid.');
  });
});
