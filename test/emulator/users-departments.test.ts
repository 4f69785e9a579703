/**
 * user.get (b24restdocs api-reference/user/user-get.md, user-scope.md) and department.get
 * (api-reference/departments/department-get.md) over HTTP, on the seeded company structure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { appClient } from '../helpers/app-client.js';
import { control, createInstalledPortal, portalStats, rest, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('emulator: users and departments', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm', 'user', 'department'] });
  });
  after(() => emu.close());

  it('user.get lists every employee by ID with total, in the shape of user-get.md', async () => {
    const { status, body } = await rest(portal, 'user.get');
    assert.equal(status, 200, JSON.stringify(body));
    const rows = body.result as Row[];
    assert.deepEqual(rows.map((row) => row.ID), ['1', '2', '3', '4']);
    assert.equal(body.total, 4);
    assert.equal(rows[0]!.ACTIVE, true);
    assert.deepEqual(rows[1]!.UF_DEPARTMENT, [2]);
    assert.equal(rows[1]!.USER_TYPE, 'employee');
    assert.equal(rows[1]!.EMAIL, 'user@example.test');
  });

  it('user.get filters: top-level UF_DEPARTMENT, ACTIVE, the % prefix, "Iv%" in a plain NAME, FILTER with NOT', async () => {
    const ids = async (params: Row) => ((await rest(portal, 'user.get', params)).body.result as Row[]).map((row) => row.ID);
    assert.deepEqual(await ids({ UF_DEPARTMENT: 2 }), ['2', '4']);
    assert.deepEqual(await ids({ UF_DEPARTMENT: 2, ACTIVE: true }), ['2']);
    assert.deepEqual(await ids({ FILTER: { '%LAST_NAME': 'iva' } }), ['3']);
    assert.deepEqual(await ids({ filter: { NAME: 'Iv%' } }), ['2']);
    assert.deepEqual(await ids({ filter: { '!%LAST_NAME': 'er' } }), ['1', '3']);
    assert.deepEqual(await ids({ filter: { '@ID': [1, 3] } }), ['1', '3']);
    assert.deepEqual(await ids({ EMAIL: 'olga@example.test' }), ['3']);
    assert.deepEqual(await ids({ SORT: 'ID', ORDER: 'desc' }), ['4', '3', '2', '1']);
  });

  it('user.get needs user, user_basic or user_brief; user_brief answers without contact details (user-scope.md)', async () => {
    const brief = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm', 'user_brief'] });
    const rows = (await rest(brief, 'user.get', { ID: 2 })).body.result as Row[];
    assert.equal(rows[0]!.NAME, 'Ivan');
    assert.ok(!('EMAIL' in rows[0]!), 'user_brief has no EMAIL');
    const none = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm'] });
    const refused = await rest(none, 'user.get');
    assert.deepEqual([refused.status, refused.body.error], [403, 'insufficient_scope']);
  });

  it('user.get refused for want of a user scope is not a served command (the registry checks it first)', async () => {
    const none = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm'] });
    const before = await portalStats(emu, none.memberId);
    const refused = await rest(none, 'user.get');
    assert.deepEqual([refused.status, refused.body.error], [403, 'insufficient_scope']);
    const after = await portalStats(emu, none.memberId);
    assert.equal(after.commands, before.commands, 'a refused call is no command');
    assert.equal((after.byMethod as Record<string, number>)['user.get'] ?? 0, 0);
  });

  it('user.current admits user, user_basic and user_brief, each with its own fields (user-current.md, user-scope.md)', async () => {
    const current = async (scope: string[]) => rest(await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope }), 'user.current');
    for (const scope of ['user', 'user_basic']) {
      const { status, body } = await current([scope]);
      assert.equal(status, 200, `${scope}: ${JSON.stringify(body)}`);
      const me = body.result as Row;
      assert.deepEqual([me.ID, me.NAME, typeof me.EMAIL], ['1', 'Anna', 'string'], scope);
    }
    const whole = (await current(['user'])).body.result as Row;
    assert.equal(whole.USER_TYPE, 'employee', 'user sees every field');
    const brief = await current(['user_brief']);
    assert.equal(brief.status, 200);
    const me = brief.body.result as Row;
    assert.equal(me.NAME, 'Anna');
    assert.ok(!('EMAIL' in me) && !('USER_TYPE' in me), `user_brief has no contact details: ${JSON.stringify(me)}`);
    const refused = await current(['crm']);
    assert.deepEqual([refused.status, refused.body.error], [403, 'insufficient_scope']);
  });

  it('scope with full=true lists every scope a served method needs, task and department included (scope.md)', async () => {
    const { status, body } = await rest(portal, 'scope', { full: true });
    assert.equal(status, 200);
    const all = body.result as string[];
    for (const scope of ['basic', 'crm', 'bizproc', 'task', 'department', 'user', 'user_basic', 'user_brief']) assert.ok(all.includes(scope), `${scope} in ${all.join(',')}`);
    assert.deepEqual((await rest(portal, 'scope')).body.result, ['crm', 'user', 'department'], 'without full: the token\'s own');
  });

  it('users added through the control API page by 50 with next, and B24Client.listAll reads them all', async () => {
    for (let index = 0; index < 60; index += 1) await control(emu, `/portals/${portal.memberId}/users`, { NAME: `Temp${index}`, UF_DEPARTMENT: [3] });
    const first = await rest(portal, 'user.get', { UF_DEPARTMENT: 3 });
    assert.deepEqual([(first.body.result as Row[]).length, first.body.total, first.body.next], [50, 61, 50]);
    const second = await rest(portal, 'user.get', { UF_DEPARTMENT: 3, start: 50 });
    assert.deepEqual([(second.body.result as Row[]).length, second.body.next], [11, undefined]);
    const client = appClient(portal);
    const all = await client.listAll<Row>('user.get', { FILTER: { UF_DEPARTMENT: 3 } });
    assert.equal(all.length, 61);
    assert.equal(new Set(all.map((row) => row.ID)).size, 61);
  });

  it('department.get lists the structure and filters on PARENT and ID; it needs the department scope', async () => {
    const all = await rest(portal, 'department.get');
    assert.deepEqual((all.body.result as Row[]).map((row) => [row.ID, row.NAME, row.PARENT]), [['1', 'Company', ''], ['2', 'Sales', '1'], ['3', 'Support', '1']]);
    assert.equal(all.body.total, 3);
    assert.equal((all.body.result as Row[])[1]!.UF_HEAD, '2');
    assert.equal((all.body.result as Row[])[1]!.SORT, 500);
    const children = await rest(portal, 'department.get', { PARENT: 1, sort: 'NAME', order: 'DESC' });
    assert.deepEqual((children.body.result as Row[]).map((row) => row.NAME), ['Support', 'Sales']);
    assert.deepEqual(((await rest(portal, 'department.get', { ID: 3 })).body.result as Row[]).map((row) => row.NAME), ['Support']);
    const none = await createInstalledPortal(emu, UNLIMITED_PORTAL, { scope: ['crm', 'user'] });
    assert.equal((await rest(none, 'department.get')).status, 403);
  });
});
