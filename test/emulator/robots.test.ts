import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface RobotBody {
  workflow_id: string;
  code: string;
  document_id: string[];
  document_type: string[];
  event_token: string;
  properties: Record<string, unknown>;
  use_subscription: string;
  timeout_duration: string;
  ts: string;
  auth: Record<string, string>;
}

describe('robots', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  const robot = (code: string, extra: Record<string, unknown> = {}) => ({
    CODE: code,
    HANDLER: `${hooks.url}/robot/${code}`,
    NAME: { en: 'Send SMS' },
    USE_SUBSCRIPTION: 'Y',
    PROPERTIES: { phone: { Name: 'Phone', Type: 'string', Required: 'Y' }, text: { Name: 'Text', Type: 'text', Default: 'Hi' } },
    RETURN_PROPERTIES: { messageId: { Name: 'Message ID', Type: 'string' } },
    ...extra,
  });
  const run = (code: string, body: Record<string, unknown> = {}) =>
    control<{ workflow_id: string; event_token: string; delivery: { status: string; http_status: number } }>(emu, `/portals/${portal.memberId}/robots/${code}/run`, body);
  const state = (id: string) => control<Record<string, unknown>>(emu, `/portals/${portal.memberId}/robots/runs/${id}`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
    portal = await createInstalledPortal(emu);
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });

  it('adds, refuses duplicates, lists, updates and deletes', async () => {
    assert.equal((await rest(portal, 'bizproc.robot.add', robot('sms.send'))).body.result, true);
    const dup = await rest(portal, 'bizproc.robot.add', robot('sms.send'));
    assert.deepEqual([dup.status, dup.body.error], [400, 'ERROR_ACTIVITY_ALREADY_INSTALLED']);
    await rest(portal, 'bizproc.robot.add', robot('other_robot'));
    assert.deepEqual((await rest(portal, 'bizproc.robot.list')).body.result, ['sms.send', 'other_robot']);
    const updated = await rest(portal, 'bizproc.robot.update', { CODE: 'other_robot', FIELDS: { NAME: 'Renamed', USE_SUBSCRIPTION: 'N' } });
    assert.equal(updated.body.result, true);
    const empty = await rest(portal, 'bizproc.robot.update', { CODE: 'other_robot', FIELDS: {} });
    assert.deepEqual([empty.body.error, empty.body.error_description], ['ERROR_ACTIVITY_VALIDATION_FAILURE', 'No fields to update']);
    assert.equal((await rest(portal, 'bizproc.robot.delete', { CODE: 'other_robot' })).body.result, true);
    const gone = await rest(portal, 'bizproc.robot.delete', { CODE: 'other_robot' });
    assert.deepEqual([gone.status, gone.body.error], [400, 'ERROR_ACTIVITY_NOT_FOUND']);
    const missingUpdate = await rest(portal, 'bizproc.robot.update', { CODE: 'nope', FIELDS: { NAME: 'x' } });
    assert.equal(missingUpdate.body.error, 'ERROR_ACTIVITY_NOT_FOUND');
  });

  it('answers the documented validation errors', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{}, 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Empty data!'],
      [robot(''), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Empty activity code!'],
      [robot('bad code!'), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Wrong activity code!'],
      [robot('r1', { NAME: '' }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Empty activity NAME!'],
      [robot('r2', { HANDLER: 'nohost' }), 'ERROR_WRONG_HANDLER_URL', 'Wrong handler URL'],
      [robot('r3', { HANDLER: 'ftp://app.example.com/r' }), 'ERROR_UNSUPPORTED_PROTOCOL', 'Unsupported handler protocol'],
      [robot('r4', { PROPERTIES: { '1bad': { Name: 'x' } } }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Wrong property key 1bad!'],
      [robot('r5', { PROPERTIES: { good: { Type: 'string' } } }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Empty property NAME good!'],
      [robot('r6', { PROPERTIES: 'nope' }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Wrong properties array!'],
      [robot('r7', { DOCUMENT_TYPE: ['crm'] }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Wrong activity DOCUMENT_TYPE!'],
      [robot('r8', { FILTER: { WHATEVER: 1 } }), 'ERROR_ACTIVITY_VALIDATION_FAILURE', 'Wrong activity FILTER!'],
    ];
    for (const [params, code, description] of cases) {
      const answer = await rest(portal, 'bizproc.robot.add', params);
      assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, code, description], description);
    }
  });

  it('needs an app: webhooks get ACCESS_DENIED "Application context required"; non-admins ACCESS_DENIED', async () => {
    const hook = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1 });
    const viaHook = await fetch(`${hook.url}bizproc.robot.add.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(robot('hooked')),
    });
    const body = (await viaHook.json()) as { error: string; error_description: string };
    // the robot pages' error tables and their "HTTP status: 400", not the WRONG_AUTH_TYPE of event.bind
    assert.deepEqual([viaHook.status, body.error, body.error_description], [400, 'ACCESS_DENIED', 'Application context required']);
    for (const method of ['bizproc.robot.update', 'bizproc.robot.delete', 'bizproc.robot.list']) {
      const answer = await fetch(`${hook.url}${method}.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ CODE: 'hooked' }) });
      const refused = (await answer.json()) as { error: string; error_description: string };
      assert.deepEqual([answer.status, refused.error, refused.error_description], [400, 'ACCESS_DENIED', 'Application context required'], method);
    }
    const userToken = emu.emulator.tokens.issue(portal.memberId, 2, ['bizproc']).accessToken;
    const nonAdmin = await rest(portal, 'bizproc.robot.list', {}, userToken);
    assert.deepEqual([nonAdmin.status, nonAdmin.body.error], [403, 'ACCESS_DENIED']);
  });

  it('runs: POSTs the documented payload, bizproc.event.send completes it, a second send is refused', async () => {
    await rest(portal, 'bizproc.robot.add', robot('sms_run', { AUTH_USER_ID: 1 }));
    const replies: Array<{ status: number; body: Record<string, unknown> }> = [];
    hooks.onPost('/robot/sms_run', async (post) => {
      const payload = post.body as unknown as RobotBody;
      replies.push(
        await rest(portal, 'bizproc.activity.log', { event_token: payload.event_token, log_message: 'sending…' }, payload.auth.access_token),
      );
      replies.push(
        await rest(
          portal,
          'bizproc.event.send',
          { event_token: payload.event_token, return_values: { MESSAGEID: 'm-1', unknown: 'dropped' }, log_message: 'sent' },
          payload.auth.access_token,
        ),
      );
    });
    const started = await run('sms_run', { documentId: ['crm', 'CCrmDocumentDeal', 'DEAL_77'], properties: { phone: '+4912345' }, timeoutSeconds: 600 });
    assert.equal(started.delivery.status, 'delivered');
    const payload = hooks.at('/robot/sms_run')[0]!.body as unknown as RobotBody;
    assert.equal(payload.workflow_id, started.workflow_id);
    assert.equal(payload.event_token, started.event_token);
    assert.equal(payload.code, 'sms_run');
    assert.deepEqual(payload.document_id, ['crm', 'CCrmDocumentDeal', 'DEAL_77']);
    assert.deepEqual(payload.document_type, ['crm', 'CCrmDocumentDeal', 'DEAL']);
    assert.deepEqual(payload.properties, { phone: '+4912345', text: 'Hi' });
    assert.equal(payload.use_subscription, 'Y');
    assert.equal(payload.timeout_duration, '600');
    assert.match(payload.ts, /^\d+$/);
    assert.match(payload.event_token, /^[^|]+\|A[\d_]+\|[^|]+$/);
    for (const key of ['access_token', 'refresh_token', 'expires', 'expires_in', 'scope', 'domain', 'server_endpoint', 'status', 'client_endpoint', 'member_id', 'user_id', 'application_token']) {
      assert.ok(payload.auth[key], `auth[${key}]`);
    }
    assert.equal(payload.auth.application_token, portal.applicationToken);
    assert.deepEqual(replies.map((r) => r.body.result), [true, true]);

    const done = await state(started.workflow_id);
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.return_values, { messageId: 'm-1' });
    assert.ok((done.log as Array<{ message: string }>).some((line) => line.message === 'sending…'));
    const again = await rest(portal, 'bizproc.event.send', { event_token: started.event_token, return_values: {} });
    assert.deepEqual([again.status, again.body.error], [403, 'ACCESS_DENIED']);
    const bogus = await rest(portal, 'bizproc.event.send', { event_token: 'nope', return_values: {} });
    assert.deepEqual([bogus.status, bogus.body.error], [403, 'ACCESS_DENIED']);
  });

  it('times out on the emulator clock and then ignores a late send', async () => {
    await rest(portal, 'bizproc.robot.add', robot('slow_robot'));
    const started = await run('slow_robot', { timeoutSeconds: 60 });
    assert.equal((await state(started.workflow_id)).state, 'running');
    await control(emu, '/clock', { advanceSeconds: 61 });
    assert.equal((await state(started.workflow_id)).state, 'timed_out');
    const late = await rest(portal, 'bizproc.event.send', { event_token: started.event_token, return_values: { messageId: 'late' } });
    assert.equal(late.status, 200);
    const after = await state(started.workflow_id);
    assert.deepEqual([after.state, after.return_values, after.ignored_sends], ['timed_out', {}, 1]);
  });

  it('completes fire-and-forget robots (USE_SUBSCRIPTION N) at once', async () => {
    await rest(portal, 'bizproc.robot.add', robot('fire_forget', { USE_SUBSCRIPTION: 'N' }));
    const started = await run('fire_forget');
    const payload = hooks.at('/robot/fire_forget')[0]!.body as unknown as RobotBody;
    assert.equal(payload.use_subscription, 'N');
    assert.equal((await state(started.workflow_id)).state, 'completed');
  });

  it('starts workflows from the fixed templates with the documented errors', async () => {
    const ok = await rest(portal, 'bizproc.workflow.start', { TEMPLATE_ID: 1, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_777'], PARAMETERS: { x: 'user_1' } });
    assert.match(String(ok.body.result), /^[0-9a-f]{13,14}\.\d{8}$/);
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_1'] }, 'ERROR_WRONG_WORKFLOW_ID', 'Empty TEMPLATE_ID'],
      [{ TEMPLATE_ID: 99, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', 'DEAL_1'] }, 'ERROR_WRONG_WORKFLOW_ID', 'Template not found'],
      [{ TEMPLATE_ID: 1, DOCUMENT_ID: 'DEAL_1' }, '', 'Wrong DOCUMENT_ID!'],
      [{ TEMPLATE_ID: 1, DOCUMENT_ID: ['crm', 'CCrmDocumentNothing', 'X_1'] }, '', 'Incorrect document type!'],
      [{ TEMPLATE_ID: 1, DOCUMENT_ID: ['crm', 'CCrmDocumentLead', 'LEAD_1'] }, '', 'Template type and DOCUMENT_ID mismatch!'],
    ];
    for (const [params, code, description] of cases) {
      const answer = await rest(portal, 'bizproc.workflow.start', params);
      assert.deepEqual([answer.status, answer.body.error, answer.body.error_description], [400, code, description], description);
    }
  });

  it('404s a run of an unknown robot and an unknown run id', async () => {
    const missing = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/robots/none/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(missing.status, 404);
    const noRun = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/robots/runs/nothing`);
    assert.equal(noRun.status, 404);
  });
});
