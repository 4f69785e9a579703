import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

interface TriggerState {
  triggers: Array<{ CODE: string; NAME: string }>;
  executions: Array<{ code: string; owner_type_id: number; owner_id: number }>;
}

/**
 * crm.automation.trigger.{add,list,delete,execute} as the pages under
 * apidocs api-reference/crm/automation/triggers/ describe them: the app's own triggers, codes
 * checked, executions answered `true` and recorded for the control API.
 */
describe('crm.automation.trigger.*', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const state = () => control<TriggerState>(emu, `/portals/${portal.memberId}/automation/triggers`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('adds, renames on a second add, lists and deletes the app triggers', async () => {
    assert.deepEqual((await rest(portal, 'crm.automation.trigger.list')).body.result, []);
    assert.equal((await rest(portal, 'crm.automation.trigger.add', { CODE: 'call_done', NAME: 'Call' })).body.result, true);
    assert.equal((await rest(portal, 'crm.automation.trigger.add', { CODE: 'call_done', NAME: 'Call completed' })).body.result, true);
    assert.equal((await rest(portal, 'crm.automation.trigger.add', { code: 'paid', name: 'Payment received' })).body.result, true);
    assert.deepEqual((await rest(portal, 'crm.automation.trigger.list')).body.result, [
      { NAME: 'Call completed', CODE: 'call_done' },
      { NAME: 'Payment received', CODE: 'paid' },
    ]);
    assert.equal((await rest(portal, 'crm.automation.trigger.delete', { CODE: 'paid' })).body.result, true);
    const again = await rest(portal, 'crm.automation.trigger.delete', { CODE: 'paid' });
    assert.deepEqual([again.status, again.body.error, again.body.error_description], [400, '', 'Trigger not found']);
    assert.deepEqual((await state()).triggers, [{ CODE: 'call_done', NAME: 'Call completed' }]);
  });

  it('refuses empty and malformed codes and an empty name with the documented texts', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ NAME: 'x' }, 'Empty trigger code!'],
      [{ CODE: '0', NAME: 'x' }, 'Empty trigger code!'],
      [{ CODE: 'call done!', NAME: 'x' }, 'Wrong trigger code!'],
      [{ CODE: 'ok' }, 'Empty trigger name!'],
    ];
    for (const [params, text] of cases) {
      const answer = await rest(portal, 'crm.automation.trigger.add', params);
      assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, '', text], JSON.stringify(params));
    }
  });

  it('executes a registered trigger for an owner: true, recorded; checks code, type and id', async () => {
    const ok = await rest(portal, 'crm.automation.trigger.execute', { CODE: 'call_done', OWNER_TYPE_ID: 2, OWNER_ID: 6 });
    assert.equal(ok.body.result, true); // "returns true even if … there is no object with this OWNER_ID"
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ CODE: 'nope', OWNER_TYPE_ID: 2, OWNER_ID: 6 }, 'Trigger with code nope is not registered.'],
      [{ CODE: 'call_done', OWNER_TYPE_ID: 99, OWNER_ID: 6 }, 'Incorrect parameter OWNER_TYPE_ID.'],
      [{ CODE: 'call_done', OWNER_TYPE_ID: 2 }, 'Incorrect parameter OWNER_ID.'],
      [{ CODE: 'call_done', OWNER_TYPE_ID: 2, OWNER_ID: 0 }, 'Incorrect parameter OWNER_ID.'],
    ];
    for (const [params, text] of cases) {
      const answer = await rest(portal, 'crm.automation.trigger.execute', params);
      assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, '', text], JSON.stringify(params));
    }
    assert.deepEqual(
      (await state()).executions.map(({ code, owner_type_id, owner_id }) => ({ code, owner_type_id, owner_id })),
      [{ code: 'call_done', owner_type_id: 2, owner_id: 6 }],
    );
  });

  it('answers a webhook 403 "Application context required" and drops the triggers with an uninstall', async () => {
    const hook = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1, scope: ['crm'] });
    const response = await fetch(`${hook.url}crm.automation.trigger.list.json`, { method: 'POST' });
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual([response.status, body.error, body.error_description], [403, 'ACCESS_DENIED', 'Access denied! Application context required']);
    await control(emu, `/portals/${portal.memberId}/uninstall`, {});
    const installed = await control<{ access_token: string }>(emu, `/portals/${portal.memberId}/install`, {});
    const list = await rest(portal, 'crm.automation.trigger.list', {}, installed.access_token);
    assert.deepEqual(list.body.result, []);
  });
});
