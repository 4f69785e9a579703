import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

type TaskAnswer = Record<string, unknown> & { id: string };

describe('tasks.task.add, .get, .list', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;

  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, { timeZone: 'Europe/Berlin' }, { scope: ['crm', 'task', 'bizproc'] });
  });
  after(() => emu.close());

  // apidocs api-reference/tasks/tasks-task-add.html: result {task: {…camelCase strings…}}
  it('adds a task and answers {task} with camelCase string fields', async () => {
    const answer = await rest(portal, 'tasks.task.add', {
      fields: { TITLE: 'Prepare offer', RESPONSIBLE_ID: 2, DEADLINE: '2026-03-10T18:00:00', UF_CRM_TASK: ['D_1'], AUDITORS: [1] },
    });
    assert.equal(answer.status, 200);
    const task = (answer.body.result as { task: TaskAnswer }).task;
    assert.match(task.id, /^\d+$/);
    assert.equal(task.title, 'Prepare offer');
    assert.equal(task.responsibleId, '2');
    assert.equal(task.createdBy, '1');
    assert.equal(task.status, '2');
    assert.equal(task.priority, '1');
    assert.equal(task.parentId, null);
    assert.equal(task.deadline, '2026-03-10T18:00:00+01:00');
    assert.deepEqual(task.auditors, ['1']);
    assert.match(String(task.guid), /^\{[0-9a-f-]{36}\}$/);
    assert.deepEqual(task.responsible, { id: '2', name: 'Ivan User', link: '/company/personal/user/2/', icon: '/bitrix/images/tasks/default_avatar.png', workPosition: '' });
    // UF_CRM_TASK only when selected (tasks.task.get page)
    assert.equal('ufCrmTask' in task, false);
  });

  it('accepts camelCase field names too', async () => {
    const answer = await rest(portal, 'tasks.task.add', { fields: { title: 'camel', responsibleId: 1, priority: 2 } });
    const task = (answer.body.result as { task: TaskAnswer }).task;
    assert.deepEqual([task.title, task.responsibleId, task.priority], ['camel', '1', '2']);
  });

  it('answers the documented add errors', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{}, '100', 'Could not find value for parameter {fields} (internal error)'],
      [{ fields: { RESPONSIBLE_ID: 1 } }, 'ERROR_CORE', 'Task title is not specified<br>'],
      [{ fields: { TITLE: 'x' } }, 'ERROR_CORE', 'Responsible person not specified<br>'],
      [{ fields: { TITLE: 'x', RESPONSIBLE_ID: 999 } }, 'ERROR_CORE', 'User specified in the "Responsible" field not found<br>'],
      [{ fields: { TITLE: 'x', RESPONSIBLE_ID: 1, PARENT_ID: 999 } }, 'ERROR_CORE', 'Task specified in the "Parent Task" field not found<br>'],
      [{ fields: { TITLE: 'x', RESPONSIBLE_ID: 1, STATUS: 9 } }, 'ERROR_CORE', 'Incorrect status<br>'],
      [
        { fields: { TITLE: 'x', RESPONSIBLE_ID: 1, START_DATE_PLAN: '2026-03-10T10:00:00', END_DATE_PLAN: '2026-03-09T10:00:00' } },
        'ERROR_CORE',
        'The end date in scheduling is earlier than the start date<br>',
      ],
    ];
    for (const [params, code, description] of cases) {
      const answer = await rest(portal, 'tasks.task.add', params);
      assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, code, description]);
    }
  });

  // apidocs api-reference/tasks/tasks-task-get.html
  it('gets a task by taskId, with select', async () => {
    const added = await rest(portal, 'tasks.task.add', { fields: { TITLE: 'Read me', RESPONSIBLE_ID: 1, UF_CRM_TASK: ['D_5', 'C_2'] } });
    const id = (added.body.result as { task: TaskAnswer }).task.id;
    const full = (await rest(portal, 'tasks.task.get', { taskId: id })).body.result as { task: TaskAnswer };
    assert.equal(full.task.title, 'Read me');
    const picked = (await rest(portal, 'tasks.task.get', { taskId: id, select: ['ID', 'TITLE', 'UF_CRM_TASK'] })).body.result as { task: TaskAnswer };
    assert.deepEqual([picked.task.id, picked.task.title, picked.task.ufCrmTask, 'status' in picked.task], [id, 'Read me', ['D_5', 'C_2'], false]);
  });

  it('answers the documented get errors', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, '100'],
      [{ taskId: 'abc' }, '0'],
      [{ taskId: 1, select: 'TITLE' }, '100'],
    ];
    for (const [params, code] of cases) {
      const answer = await rest(portal, 'tasks.task.get', params);
      assert.deepEqual([answer.status, answer.body.error], [400, code], JSON.stringify(params));
    }
    // "Returns an empty array "result":[] if the task does not exist or the user does not have access"
    const unknown = await rest(portal, 'tasks.task.get', { taskId: 999_999 });
    assert.deepEqual([unknown.status, unknown.body.result], [200, []]);
  });

  // tasks.task.get and tasks.task.list pages: "administrators see all tasks, managers see their
  // employees' tasks, others see only the tasks available to them". Seeded: 1 Anna (admin), 2 Ivan
  // (head of Sales), 3 Olga (Support), 4 Peter (Sales).
  it('shows a user only the tasks the access rules give them, over OAuth and over a webhook', async () => {
    const company = await createInstalledPortal(emu, { burst: 1000 }, { scope: ['task'] });
    const add = async (fields: Record<string, unknown>) => Number(((await rest(company, 'tasks.task.add', { fields })).body.result as { task: TaskAnswer }).task.id);
    const olgas = await add({ TITLE: 'Olga responsible', RESPONSIBLE_ID: 3 });
    const peters = await add({ TITLE: 'Peter responsible', RESPONSIBLE_ID: 4 });
    const audited = await add({ TITLE: 'Olga audits', RESPONSIBLE_ID: 1, AUDITORS: [3] });
    const annas = await add({ TITLE: 'Anna alone', RESPONSIBLE_ID: 1 });

    const tokenOf = async (userId: number) => (await control<{ form: { AUTH_ID: string } }>(emu, `/portals/${company.memberId}/frame`, { userId })).form.AUTH_ID;
    const visible = async (token: string) =>
      ((await rest(company, 'tasks.task.list', { select: ['ID'], order: { ID: 'asc' } }, token)).body.result as { tasks: TaskAnswer[] }).tasks.map((t) => Number(t.id));
    const get = async (token: string, taskId: number) => (await rest(company, 'tasks.task.get', { taskId, select: ['ID'] }, token)).body.result;

    const olga = await tokenOf(3);
    assert.deepEqual(await visible(olga), [olgas, audited], 'a member sees her own tasks only');
    assert.deepEqual(await get(olga, peters), [], 'another employee\'s task answers as if it did not exist');
    assert.deepEqual(await get(olga, annas), []);
    assert.equal(((await get(olga, olgas)) as { task: TaskAnswer }).task.id, String(olgas));
    const ivan = await tokenOf(2);
    assert.deepEqual(await visible(ivan), [peters], 'the head of Sales sees his employee\'s task');
    assert.deepEqual(await visible(await tokenOf(1)), [olgas, peters, audited, annas], 'the administrator sees all');

    const { url } = await control<{ url: string }>(emu, `/portals/${company.memberId}/webhooks`, { userId: 3, scope: ['task'] });
    const hooked = await fetch(`${url}tasks.task.list`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"select":["ID"]}' });
    const hookedIds = ((await hooked.json()) as { result: { tasks: TaskAnswer[] } }).result.tasks.map((t) => Number(t.id));
    assert.deepEqual(hookedIds.sort((a, b) => a - b), [olgas, audited], 'a webhook sees what its user sees');
  });

  // apidocs api-reference/tasks/tasks-task-list.html
  it('lists {tasks} with filter, order, select, total and 50-row pages', async () => {
    const other = await createInstalledPortal(emu, { burst: 1000 }, { scope: ['task'] });
    for (let i = 1; i <= 55; i++) {
      await rest(other, 'tasks.task.add', { fields: { TITLE: `Task ${i}`, RESPONSIBLE_ID: i % 2 === 0 ? 2 : 1, PRIORITY: i % 3 } });
    }
    const first = await rest(other, 'tasks.task.list', { select: ['ID', 'TITLE'] });
    const tasks = (first.body.result as { tasks: TaskAnswer[] }).tasks;
    assert.deepEqual([tasks.length, first.body.total, first.body.next], [50, 55, 50]);
    // default order: ID descending
    assert.deepEqual([tasks[0]?.id, tasks[0]?.title, Object.keys(tasks[0] ?? {})], ['55', 'Task 55', ['id', 'title']]);
    const second = await rest(other, 'tasks.task.list', { select: ['ID'], start: 50 });
    assert.deepEqual([(second.body.result as { tasks: TaskAnswer[] }).tasks.length, second.body.total, 'next' in second.body], [5, 55, false]);

    const filtered = await rest(other, 'tasks.task.list', { filter: { RESPONSIBLE_ID: 2, '>ID': 40, PRIORITY: 1 }, order: { ID: 'asc' }, select: ['ID', 'RESPONSIBLE_ID'] });
    const ids = (filtered.body.result as { tasks: TaskAnswer[] }).tasks.map((t) => t.id);
    assert.deepEqual(ids, ['46', '52']);
    assert.equal(filtered.body.total, 2);
    const byTitle = await rest(other, 'tasks.task.list', { filter: { TITLE: 'Task 1%' }, select: ['ID'] });
    assert.equal(byTitle.body.total, 11);
    const notMine = await rest(other, 'tasks.task.list', { filter: { '!RESPONSIBLE_ID': 1 }, select: ['ID'] });
    assert.equal(notMine.body.total, 27);
  });

  it('refuses an unknown sorting key as the page shows', async () => {
    const answer = await rest(portal, 'tasks.task.list', { order: { NOPE: 'asc' } });
    assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, '0', 'Invalid sorting key (internal error)']);
  });

  it('needs the task scope', async () => {
    const crmOnly = await createInstalledPortal(emu, {}, { scope: ['crm'] });
    const answer = await rest(crmOnly, 'tasks.task.list');
    assert.deepEqual([answer.status, answer.body.error], [403, 'insufficient_scope']);
  });
});
