/**
 * Smart processes: crm.type.{add,get,list} (b24restdocs api-reference/crm/universal/
 * user-defined-object-types/crm-type-*.md) and crm.item.* / crm.item.fields for their entity types
 * (api-reference/crm/universal/crm-item-*.md), over HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { appClient } from '../helpers/app-client.js';
import { control, createInstalledPortal, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('emulator: smart processes', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
  });
  after(() => emu.close());

  it('crm.type.add answers {type} with the documented defaults; get by id; an automatic entityTypeId is even and ≥ 1030', async () => {
    const added = await rest(portal, 'crm.type.add', { fields: { title: 'Orders', isStagesEnabled: 'Y' } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const type = (added.body.result as { type: Row }).type;
    assert.equal(type.title, 'Orders');
    assert.equal(type.isStagesEnabled, 'Y');
    assert.equal(type.isSetOpenPermissions, 'Y');
    assert.equal(type.isClientEnabled, 'N');
    assert.equal(type.createdBy, 1);
    const entityTypeId = type.entityTypeId as number;
    assert.ok(entityTypeId >= 1030 && entityTypeId % 2 === 0, String(entityTypeId));
    const got = (await rest(portal, 'crm.type.get', { id: type.id })).body.result as { type: Row };
    assert.equal(got.type.entityTypeId, entityTypeId);
  });

  it('crm.type.add and get refuse bad input as documented', async () => {
    const range = await rest(portal, 'crm.type.add', { fields: { title: 'X', entityTypeId: 1031 } });
    assert.deepEqual([range.status, range.body.error, range.body.error_description], [400, 'INVALID_ARG_VALUE', 'entityTypeId is out of allowed range']);
    assert.equal((await rest(portal, 'crm.type.add', { fields: { title: 'Low', entityTypeId: 150 } })).status, 200);
    assert.equal((await rest(portal, 'crm.type.add', { fields: { title: 'Again', entityTypeId: 150 } })).body.error, 'INVALID_ARG_VALUE');
    const missing = await rest(portal, 'crm.type.add', {});
    assert.deepEqual([missing.status, missing.body.error, missing.body.error_description], [400, 100, 'Could not find value for parameter {fields}']);
    const unknown = await rest(portal, 'crm.type.get', { id: 999 });
    assert.deepEqual([unknown.status, unknown.body.error, unknown.body.error_description], [400, 0, 'SPA not found']);
    const frame = await control<{ form: Record<string, string> }>(emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    const denied = await rest(portal, 'crm.type.add', { fields: { title: 'Nope' } }, frame.form.AUTH_ID);
    assert.deepEqual([denied.status, denied.body.error], [400, 'ACCESS_DENIED']);
  });

  it('crm.item.* serve the new entityTypeId: add, get, update, list with filter, delete; fields has upperName', async () => {
    const type = ((await rest(portal, 'crm.type.add', { fields: { title: 'Projects' } })).body.result as { type: Row }).type;
    const entityTypeId = type.entityTypeId as number;
    const added = await rest(portal, 'crm.item.add', { entityTypeId, fields: { title: 'Alpha', opportunity: 120.5, assignedById: 2, observers: [1, 3], noSuchField: 1 } });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const item = (added.body.result as { item: Row }).item;
    assert.deepEqual([item.title, item.opportunity, item.assignedById, item.createdBy, item.entityTypeId], ['Alpha', 120.5, 2, 1, entityTypeId]);
    assert.deepEqual(item.observers, [1, 3]);
    assert.match(String(item.stageId), new RegExp(`^DT${entityTypeId}_\\d+:NEW$`));
    assert.ok(!('noSuchField' in item));
    await rest(portal, 'crm.item.add', { entityTypeId, fields: { title: 'Beta', opportunity: 10 } });

    const updated = await rest(portal, 'crm.item.update', { entityTypeId, id: item.id, fields: { title: 'Alpha 2' } });
    assert.equal((updated.body.result as { item: Row }).item.title, 'Alpha 2');
    const got = await rest(portal, 'crm.item.get', { entityTypeId, id: item.id });
    assert.equal((got.body.result as { item: Row }).item.title, 'Alpha 2');

    const listed = await rest(portal, 'crm.item.list', { entityTypeId, filter: { '>opportunity': 50 }, select: ['id', 'title'] });
    assert.deepEqual((listed.body.result as { items: Row[] }).items, [{ id: item.id, title: 'Alpha 2' }]);
    assert.equal(listed.body.total, 1);
    const badFilter = await rest(portal, 'crm.item.list', { entityTypeId, filter: { nope: 1 } });
    assert.deepEqual([badFilter.status, badFilter.body.error], [400, 'INVALID_ARG_VALUE']);

    const fields = (await rest(portal, 'crm.item.fields', { entityTypeId })).body.result as { fields: Record<string, Row> };
    assert.deepEqual([fields.fields.title?.upperName, fields.fields.observers?.isMultiple], ['TITLE', true]);
    const dealFields = (await rest(portal, 'crm.item.fields', { entityTypeId: 2 })).body.result as { fields: Record<string, Row> };
    assert.equal(dealFields.fields.stageId?.upperName, 'STAGE_ID');

    assert.deepEqual((await rest(portal, 'crm.item.delete', { entityTypeId, id: item.id })).body.result, []);
    const gone = await rest(portal, 'crm.item.get', { entityTypeId, id: item.id });
    assert.deepEqual([gone.status, gone.body.error, gone.body.error_description], [400, 'NOT_FOUND', 'Item not found']);
    const noType = await rest(portal, 'crm.item.list', { entityTypeId: 1098 });
    assert.deepEqual([noType.status, noType.body.error, noType.body.error_description], [400, 'NOT_FOUND', 'Smart process not found']);
  });

  it('crm.type.list pages by 50 with total and next, filters camelCase fields, and B24Client.listAll reads every type', async () => {
    const fresh = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    for (let index = 0; index < 55; index += 1) await rest(fresh, 'crm.type.add', { fields: { title: `Type ${index}` } });
    const first = await rest(fresh, 'crm.type.list');
    assert.deepEqual([(first.body.result as { types: Row[] }).types.length, first.body.total, first.body.next], [50, 55, 50]);
    const filtered = await rest(fresh, 'crm.type.list', { filter: { '%title': '5' }, order: { id: 'DESC' } });
    assert.deepEqual((filtered.body.result as { types: Row[] }).types.map((row) => row.title), ['Type 54', 'Type 53', 'Type 52', 'Type 51', 'Type 50', 'Type 45', 'Type 35', 'Type 25', 'Type 15', 'Type 5']);
    const bad = await rest(fresh, 'crm.type.list', { filter: { nope: 1 } });
    assert.deepEqual([bad.status, bad.body.error], [400, 'INVALID_ARG_VALUE']);
    const all = await appClient(fresh).listAll<Row>('crm.type.list');
    assert.equal(all.length, 55);
    assert.equal(new Set(all.map((row) => row.entityTypeId)).size, 55);
  });
});
