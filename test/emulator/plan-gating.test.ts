import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator } from '../helpers/emulator.js';

const DEAL = ['crm', 'CCrmDocumentDeal', 'DEAL_1'];

/**
 * apidocs api-reference/bizproc/bizproc-workflow-start.html: "You can only start a business process
 * using REST on paid plans, demo licenses, and NFR licenses." No other method of this part states a
 * plan rule, so nothing else is gated.
 */
describe('plan gating', () => {
  let emu: RunningEmulator;

  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('a free portal cannot start a workflow: the method is not there (404 ERROR_METHOD_NOT_FOUND)', async () => {
    const portal = await createInstalledPortal(emu, { plan: 'free' });
    const answer = await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: DEAL });
    assert.deepEqual([answer.status, answer.body.error], [404, 'ERROR_METHOD_NOT_FOUND']);
    const listed = await control<unknown[]>(emu, `/portals/${portal.memberId}/workflows`, undefined, 'GET');
    assert.deepEqual(listed, []);
  });

  it('every paid plan can', async () => {
    for (const plan of ['basic', 'standard', 'professional', 'enterprise']) {
      const portal = await createInstalledPortal(emu, { plan });
      const answer = await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: DEAL });
      assert.equal(answer.status, 200, plan);
      assert.match(String(answer.body.result), /^[0-9a-f]{13,14}\.\d{8}$/, plan);
    }
  });

  it('follows a plan change of the portal', async () => {
    const portal = await createInstalledPortal(emu, { plan: 'professional' });
    assert.equal((await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: DEAL })).status, 200);
    await control(emu, `/portals/${portal.memberId}/limits`, { plan: 'free' }, 'PUT');
    assert.equal((await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: DEAL })).body.error, 'ERROR_METHOD_NOT_FOUND');
    await control(emu, `/portals/${portal.memberId}/limits`, { plan: 'basic' }, 'PUT');
    assert.equal((await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: DEAL })).status, 200);
  });

  it('does not gate what the docs do not gate', async () => {
    const portal = await createInstalledPortal(emu, { plan: 'free' }, { scope: ['crm', 'task', 'bizproc'] });
    const deal = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'x' } })).body.result as number;
    const calls: Array<[string, Record<string, unknown>]> = [
      ['bizproc.workflow.template.list', {}],
      ['bizproc.workflow.instances', {}],
      ['crm.activity.todo.add', { ownerTypeId: 2, ownerId: deal, deadline: '2026-01-01T10:00:00' }],
      ['crm.timeline.comment.add', { fields: { ENTITY_TYPE: 'deal', ENTITY_ID: deal, COMMENT: 'x' } }],
      ['tasks.task.add', { fields: { TITLE: 'x', RESPONSIBLE_ID: 1 } }],
    ];
    for (const [method, params] of calls) assert.equal((await rest(portal, method, params)).status, 200, method);
  });
});
