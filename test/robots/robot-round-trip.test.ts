import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { B24Client } from '../../src/rest/client.js';
import { reconcileBindings } from '../../src/events/bindings.js';
import { parseRobotRequest, robotCallDedupeKey, robotDeadlineMs, type RobotCall } from '../../src/robots/robot-request.js';
import { logRobotProgress, RobotTokenRejectedError, sendRobotResult } from '../../src/robots/reply.js';
import { NonRetryableError, isNonRetryable } from '../../src/queue/errors.js';
import type { RobotDefinition } from '../../src/robots/definition.js';
import { control, createInstalledPortal, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer, type ReceivedPost } from '../helpers/handler-server.js';
import { appClient } from '../helpers/app-client.js';

const ROBOT: RobotDefinition = {
  code: 'check.credit',
  name: 'Check credit',
  properties: {
    inn: { name: 'Tax number', required: true },
    managers: { name: 'Managers', type: 'user', multiple: true },
  },
  returnProperties: { score: { name: 'Score', type: 'int' }, verdict: { name: 'Verdict' } },
};

interface RunState {
  state: 'running' | 'completed' | 'timed_out';
  return_values: Record<string, unknown>;
  log: Array<{ message: string }>;
  ignored_sends: number;
}

describe('robot round trip: run → handler → parseRobotRequest → sendRobotResult → completed', () => {
  let emu: RunningEmulator;
  let app: HandlerServer;
  let portal: TestPortal;
  let client: B24Client;
  let posts: ReceivedPost[];

  const run = (body: Record<string, unknown> = {}) =>
    control<{ workflow_id: string; event_token: string }>(emu, `/portals/${portal.memberId}/robots/${ROBOT.code}/run`, body);
  const runState = (workflowId: string) => control<RunState>(emu, `/portals/${portal.memberId}/robots/runs/${workflowId}`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
    app = await startHandlerServer();
  });
  after(async () => {
    await app.close();
    await emu.close();
  });
  beforeEach(async () => {
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    client = appClient(portal);
    await reconcileBindings({ client, appUrl: app.url, memberId: portal.memberId, events: [], robots: [ROBOT] });
    posts = [];
    app.onPost(`/robots/${portal.memberId}/${ROBOT.code}`, (post) => void posts.push(post));
  });
  afterEach(() => client.close());

  it('completes the robot with the handler’s return values', async () => {
    const started = await run({ properties: { inn: '7701234567', managers: ['user_1', 'user_3'] }, documentId: ['crm', 'CCrmDocumentDeal', 'DEAL_42'], timeoutSeconds: 600 });
    assert.equal(posts.length, 1);

    const call: RobotCall = parseRobotRequest(posts[0]!.body, { memberId: portal.memberId, code: ROBOT.code });
    assert.equal(call.workflowId, started.workflow_id);
    assert.equal(call.eventToken, started.event_token);
    assert.equal(call.code, 'check.credit');
    assert.deepEqual(call.documentId, ['crm', 'CCrmDocumentDeal', 'DEAL_42']);
    assert.deepEqual(call.documentType, ['crm', 'CCrmDocumentDeal', 'DEAL']);
    assert.deepEqual(call.properties, { inn: '7701234567', managers: ['user_1', 'user_3'] });
    assert.equal(call.useSubscription, true);
    assert.equal(call.timeoutSeconds, 600);
    assert.equal(robotDeadlineMs(call), (call.ts + 600) * 1000);
    assert.equal(call.auth.memberId, portal.memberId);
    assert.equal(call.auth.applicationToken, portal.applicationToken);
    assert.ok(call.auth.accessToken && call.auth.refreshToken, 'robot calls carry full tokens (docs/protocol.md §7.2)');
    assert.ok(call.auth.scope.includes('bizproc'));

    await logRobotProgress(client, { eventToken: call.eventToken, message: 'asking the bureau' });
    assert.equal((await runState(call.workflowId)).state, 'running');

    // keys are matched case-insensitively and stored under the registered spelling; unknown ones dropped
    await sendRobotResult(client, { eventToken: call.eventToken, returnValues: { SCORE: 712, verdict: 'ok', extra: 'dropped' }, logMessage: 'credit checked' });

    const state = await runState(call.workflowId);
    assert.equal(state.state, 'completed');
    assert.deepEqual(state.return_values, { score: 712, verdict: 'ok' });
    const messages = state.log.map((entry) => entry.message);
    assert.ok(messages.includes('asking the bureau'));
    assert.ok(messages.includes('credit checked'));
  });

  it('refuses a consumed event_token with a non-retryable error', async () => {
    await run({ properties: { inn: '1' } });
    const call = parseRobotRequest(posts[0]!.body, { memberId: portal.memberId });
    await sendRobotResult(client, { eventToken: call.eventToken, returnValues: { verdict: 'first' } });

    await assert.rejects(sendRobotResult(client, { eventToken: call.eventToken, returnValues: { verdict: 'second' } }), (error: unknown) => {
      assert.ok(error instanceof RobotTokenRejectedError);
      assert.ok(error instanceof NonRetryableError);
      assert.ok(isNonRetryable(error));
      assert.equal(error.code, 'B24_ERR_JOB_NON_RETRYABLE');
      assert.equal((error.cause as { code?: string }).code, 'B24_ERR_ACCESS_DENIED');
      assert.ok(!error.message.includes(call.eventToken));
      return true;
    });
    await assert.rejects(logRobotProgress(client, { eventToken: call.eventToken, message: 'late' }), RobotTokenRejectedError);
    assert.deepEqual((await runState(call.workflowId)).return_values, { verdict: 'first' });
  });

  it('a fire-and-forget robot refuses results, so its token is rejected too', async () => {
    await reconcileBindings({
      client,
      appUrl: app.url,
      memberId: portal.memberId,
      events: [],
      robots: [{ code: 'notify', name: 'Notify', useSubscription: false }],
    });
    app.onPost(`/robots/${portal.memberId}/notify`, (post) => void posts.push(post));
    const started = await control<{ workflow_id: string }>(emu, `/portals/${portal.memberId}/robots/notify/run`, {});
    const call = parseRobotRequest(posts[0]!.body, { memberId: portal.memberId, code: 'notify' });
    assert.equal(call.useSubscription, false);
    assert.equal((await runState(started.workflow_id)).state, 'completed');
    await assert.rejects(sendRobotResult(client, { eventToken: call.eventToken }), RobotTokenRejectedError);
  });

  it('gives every execution its own dedupe key, and a repeated delivery the same one', async () => {
    await run({ properties: { inn: '1' } });
    await run({ properties: { inn: '1' } });
    const [first, second] = posts.map((post) => parseRobotRequest(post.body));
    const again = parseRobotRequest(structuredClone(posts[0]!.body));
    assert.notEqual(robotCallDedupeKey(first!), robotCallDedupeKey(second!));
    assert.equal(robotCallDedupeKey(first!), robotCallDedupeKey(again));
    assert.match(robotCallDedupeKey(first!), new RegExp(`^robot:${portal.memberId}:[0-9a-f]{64}$`));
    assert.ok(!robotCallDedupeKey(first!).includes(first!.eventToken));
  });

  it('a result sent after the timeout is accepted and ignored by the portal', async () => {
    await run({ properties: { inn: '1' }, timeoutSeconds: 30 });
    const call = parseRobotRequest(posts[0]!.body);
    await control(emu, '/clock', { advanceSeconds: 31 });
    await sendRobotResult(client, { eventToken: call.eventToken, returnValues: { verdict: 'late' } });
    const state = await runState(call.workflowId);
    assert.equal(state.state, 'timed_out');
    assert.equal(state.ignored_sends, 1);
  });
});
