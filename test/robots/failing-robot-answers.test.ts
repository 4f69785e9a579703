/**
 * A robot whose handler fails for good answers the workflow with the error (bizproc.event.send
 * with a log message), so that the step completes instead of hanging in `running`; a failure that
 * will be retried answers nothing, and a later success answers with the values. Judged by the
 * emulator's robot runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, emulatorControl, type TestApp } from '../../src/testing/index.js';
import { NonRetryableError } from '../../src/queue/errors.js';
import { waitFor } from '../app/helpers.js';

interface RunState {
  state: 'running' | 'completed' | 'timed_out';
  return_values: Record<string, unknown>;
  log: Array<{ message: string }>;
}

describe('a robot that fails for good answers with the error', () => {
  let t: TestApp;
  const calls: Record<string, number> = {};
  const count = (code: string): number => (calls[code] = (calls[code] ?? 0) + 1);

  before(async () => {
    t = await startTestApp(
      (app) => {
        const returnProperties = { score: { name: 'Score', type: 'int' as const } };
        app.robot({ code: 'refused', name: 'Refused', returnProperties }, () => {
          count('refused');
          throw new NonRetryableError('the credit bureau does not know this company');
        });
        app.robot({ code: 'flaky', name: 'Always failing', returnProperties }, () => {
          count('flaky');
          throw new Error('credit bureau unreachable');
        });
        app.robot({ code: 'recovers', name: 'Fails once', returnProperties }, () => (count('recovers') === 1 ? Promise.reject(new Error('first try fails')) : { score: 7 }));
      },
      { config: { queue: { defaults: { maxAttempts: 3, baseDelayMs: 20, capDelayMs: 50 } } } },
    );
  });
  after(() => t?.close());

  const run = async (code: string): Promise<string> =>
    (await emulatorControl<{ workflow_id: string }>(t.emulator, `/portals/${t.portal.memberId}/robots/${code}/run`, { timeoutSeconds: 3600 })).workflow_id;
  const state = (workflowId: string) => emulatorControl<RunState>(t.emulator, `/portals/${t.portal.memberId}/robots/runs/${workflowId}`, undefined, 'GET');
  const finished = async (workflowId: string): Promise<RunState> => {
    await waitFor(async () => (await state(workflowId)).state !== 'running', 10_000, `robot run ${workflowId}`);
    return state(workflowId);
  };

  it('a non-retryable failure: answered at once, the step completes with the error in its log', async () => {
    const done = await finished(await run('refused'));
    assert.equal(done.state, 'completed');
    assert.ok(done.log.some((line) => line.message.includes('the credit bureau does not know this company')), JSON.stringify(done.log));
    assert.equal(calls.refused, 1);
  });

  it('a failure on every attempt: answered after the last one, not before', async () => {
    const done = await finished(await run('flaky'));
    assert.equal(done.state, 'completed');
    assert.equal(calls.flaky, 3, 'answered only when the last attempt failed');
    assert.ok(done.log.some((line) => line.message.includes('credit bureau unreachable')), JSON.stringify(done.log));
  });

  it('a failure then a success: the retry answers with the values, no error line', async () => {
    const done = await finished(await run('recovers'));
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.return_values, { score: 7 });
    assert.ok(!done.log.some((line) => line.message.includes('first try fails')), JSON.stringify(done.log));
    assert.equal(calls.recovers, 2);
  });
});

describe('isFinalRobotFailure', () => {
  it('final for a non-retryable error, a permanent portal error and the last attempt; never while the portal is unavailable', async () => {
    const { isFinalRobotFailure } = await import('../../src/robots/failure.js');
    const { B24Error } = await import('../../src/errors.js');
    assert.equal(isFinalRobotFailure(new NonRetryableError('no'), 1, 8), true);
    assert.equal(isFinalRobotFailure(new Error('down'), 1, 8), false);
    assert.equal(isFinalRobotFailure(new Error('down'), 8, 8), true);
    assert.equal(isFinalRobotFailure(new B24Error('B24_ERR_RATE_LIMITED', 'slow down'), 8, 8), false);
  });
});
