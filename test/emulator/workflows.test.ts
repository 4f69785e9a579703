import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { advanceClock, control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface Workflow {
  id: string;
  template_id: number;
  state: string;
  step: number;
  event_tokens: string[];
  log: Array<{ message: string }>;
}

/**
 * Templates, started workflows and the robot steps they run hang together: bizproc.workflow.start
 * runs the template's robots one after another, bizproc.activity.log and bizproc.event.send answer
 * them, and bizproc.workflow.instances lists the workflow while it runs.
 */
describe('workflow templates and instances', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  const workflows = () => control<Workflow[]>(emu, `/portals/${portal.memberId}/workflows`, undefined, 'GET');
  const flush = () => control(emu, `/portals/${portal.memberId}/events/flush`);

  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
    portal = await createInstalledPortal(emu);
    for (const [code, subscription] of [['score', 'Y'], ['notify', 'N']] as const) {
      const added = await rest(portal, 'bizproc.robot.add', {
        CODE: code,
        HANDLER: `${hooks.url}/robot/${code}`,
        NAME: code,
        USE_SUBSCRIPTION: subscription,
        PROPERTIES: { level: { Name: 'Level', Type: 'int' } },
        RETURN_PROPERTIES: { score: { Name: 'Score', Type: 'int' } },
      });
      assert.equal(added.body.result, true);
    }
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });

  // apidocs api-reference/bizproc/template/bizproc-workflow-template-list.html
  it('lists the portal templates: default SELECT [ID], chosen fields, filter, order, total', async () => {
    const ids = await rest(portal, 'bizproc.workflow.template.list');
    assert.deepEqual(ids.body.result, [{ ID: '1' }, { ID: '2' }, { ID: '3' }, { ID: '4' }]);
    assert.equal(ids.body.total, 4);
    const deals = await rest(portal, 'bizproc.workflow.template.list', {
      SELECT: ['id', 'NAME', 'MODULE_ID', 'ENTITY', 'DOCUMENT_TYPE', 'nonsense'],
      FILTER: { DOCUMENT_TYPE: 'DEAL' },
      ORDER: { ID: 'DESC' },
    });
    assert.deepEqual(deals.body.result, [{ ID: '1', NAME: 'Deal approval', MODULE_ID: 'crm', ENTITY: 'CCrmDocumentDeal', DOCUMENT_TYPE: 'DEAL' }]);
  });

  it('adds a template through the control API; automation templates stay out of the list', async () => {
    const created = await control<{ id: number }>(emu, `/portals/${portal.memberId}/workflows/templates`, {
      name: 'Score then notify',
      documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'],
      robots: [{ code: 'score', properties: { level: 3 } }, { code: 'notify' }],
    });
    assert.equal(created.id, 5);
    await control(emu, `/portals/${portal.memberId}/workflows/templates`, { name: 'Robots of stage NEW', documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'], autoExecute: 8 });
    const listed = await rest(portal, 'bizproc.workflow.template.list', { SELECT: ['ID', 'NAME', 'TEMPLATE'], FILTER: { '>ID': 4 } });
    const rows = listed.body.result as Array<{ ID: string; NAME: string; TEMPLATE: Array<{ Children: Array<{ Type: string }> }> }>;
    assert.deepEqual(rows.map((r) => [r.ID, r.NAME]), [['5', 'Score then notify']]);
    assert.deepEqual(rows[0]?.TEMPLATE[0]?.Children.map((c) => c.Type), ['rest_score', 'rest_notify']);
    // another portal does not see it: templates are per portal
    const other = await createInstalledPortal(emu);
    assert.equal((await rest(other, 'bizproc.workflow.template.list')).body.total, 4);
  });

  it('runs the robot steps in order, lists the running workflow, and completes it after the last step', async () => {
    hooks.received.length = 0;
    const started = await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 5, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_7'] });
    const id = started.body.result as string;
    await flush();
    const [call] = hooks.at('/robot/score');
    assert.ok(call, 'the first step POSTed to its robot');
    const body = call.body as { workflow_id: string; event_token: string; properties: Record<string, string>; document_id: string[] };
    assert.deepEqual([body.workflow_id, body.document_id, body.properties], [id, ['crm', 'CCrmDocumentDeal', 'DEAL_7'], { level: '3' }]);
    assert.equal(hooks.at('/robot/notify').length, 0, 'the second step waits for the first');

    // apidocs api-reference/bizproc/bizproc-workflow-instances.html: default SELECT ID, MODIFIED, OWNED_UNTIL
    const running = await rest(portal, 'bizproc.workflow.instances');
    const rows = running.body.result as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(rows[0] ?? {}), ['ID', 'MODIFIED', 'OWNED_UNTIL']);
    assert.deepEqual([rows[0]?.ID, rows[0]?.OWNED_UNTIL, running.body.total], [id, null, 1]);
    const full = await rest(portal, 'bizproc.workflow.instances', {
      select: ['ID', 'MODULE_ID', 'ENTITY', 'DOCUMENT_ID', 'TEMPLATE_ID', 'STARTED_BY'],
      filter: { TEMPLATE_ID: 5 },
    });
    assert.deepEqual(full.body.result, [{ ID: id, MODULE_ID: 'crm', ENTITY: 'CCrmDocumentDeal', DOCUMENT_ID: 'DEAL_7', TEMPLATE_ID: '5', STARTED_BY: '1' }]);
    // the old alias answers the same
    assert.deepEqual((await rest(portal, 'bizproc.workflow.instance.list', { select: ['ID'] })).body.result, [{ ID: id }]);

    // apidocs bizproc-activity-log.html, then bizproc-event-send.html close the step
    assert.equal((await rest(portal, 'bizproc.activity.log', { event_token: body.event_token, log_message: 'scoring…' })).body.result, true);
    assert.equal((await rest(portal, 'bizproc.event.send', { event_token: body.event_token, return_values: { score: 7 } })).body.result, true);
    await flush();
    assert.equal(hooks.at('/robot/notify').length, 1, 'the second step ran after event.send');
    const [workflow] = (await workflows()).filter((w) => w.id === id);
    assert.deepEqual([workflow?.state, workflow?.step, workflow?.event_tokens.length], ['completed', 2, 2]);
    const run = await control<{ log: Array<{ message: string }>; return_values: Record<string, unknown> }>(
      emu,
      `/portals/${portal.memberId}/robots/runs/${id}`,
      undefined,
      'GET',
    );
    assert.equal(run.return_values.score, undefined, 'the latest run of the workflow is the notify step');
    // finished workflows leave the instances list, as the core deletes their row
    assert.equal((await rest(portal, 'bizproc.workflow.instances')).body.total, 0);
  });

  it('a step whose robot times out moves the workflow on once the clock passes it', async () => {
    const created = await control<{ id: number }>(emu, `/portals/${portal.memberId}/workflows/templates`, {
      name: 'Score with timeout',
      documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'],
      robots: [{ code: 'score', timeoutSeconds: 60 }],
    });
    const id = (await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: created.id, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_8'] })).body.result as string;
    await flush();
    assert.equal((await rest(portal, 'bizproc.workflow.instances', { filter: { ID: id } })).body.total, 1);
    await advanceClock(emu, 61);
    assert.equal((await rest(portal, 'bizproc.workflow.instances', { filter: { ID: id } })).body.total, 0);
    const [workflow] = (await workflows()).filter((w) => w.id === id);
    assert.equal(workflow?.state, 'completed');
    assert.ok(workflow?.log.some((line) => line.message === 'Step 1 (score) timed_out'));
  });

  it('a workflow whose robot is gone is terminated and not listed', async () => {
    const created = await control<{ id: number }>(emu, `/portals/${portal.memberId}/workflows/templates`, {
      name: 'Missing robot',
      documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'],
      robots: [{ code: 'not_installed' }],
    });
    const id = (await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: created.id, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_9'] })).body.result as string;
    const [workflow] = (await workflows()).filter((w) => w.id === id);
    assert.equal(workflow?.state, 'terminated');
    assert.equal((await rest(portal, 'bizproc.workflow.instances', { filter: { ID: id } })).body.total, 0);
  });

  it('bizproc.activity.log answers the documented errors', async () => {
    // apidocs bizproc-activity-log.html: ERROR_EMPTY_LOG_MESSAGE "Empty log message!"; a bad token → ACCESS_DENIED
    const run = await control<{ event_token: string }>(emu, `/portals/${portal.memberId}/robots/score/run`, {});
    const empty = await rest(portal, 'bizproc.activity.log', { event_token: run.event_token, log_message: '' });
    assert.deepEqual([empty.status, empty.body.error, empty.body.error_description], [400, 'ERROR_EMPTY_LOG_MESSAGE', 'Empty log message!']);
    const bad = await rest(portal, 'bizproc.activity.log', { event_token: 'nope', log_message: 'x' });
    assert.deepEqual([bad.status, bad.body.error], [403, 'ACCESS_DENIED']);
  });

  it('template.list and instances are for administrators', async () => {
    const frame = await control<{ form: { AUTH_ID: string } }>(emu, `/portals/${portal.memberId}/frame`, { userId: 2 });
    for (const method of ['bizproc.workflow.template.list', 'bizproc.workflow.instances']) {
      const answer = await rest(portal, method, {}, frame.form.AUTH_ID);
      assert.deepEqual([answer.status, answer.body.error], [403, 'ACCESS_DENIED'], method);
    }
  });
});
