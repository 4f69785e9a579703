/**
 * A robot round trip with the emulator: the app registers its robot at install, the emulator runs
 * it (POST /robots/:memberId/:code), the handler runs in a job, its return values go back with
 * bizproc.event.send, and the run is completed with them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

describe('robot round trip', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let runs = 0;
  before(async () => {
    t = await startTestApp((app) =>
      app.robot(
        { code: 'score', name: 'Score', properties: { weight: { Name: 'Weight', Type: 'int' } }, returnProperties: { score: { Name: 'Score', Type: 'int' } } },
        (ctx) => {
          runs += 1;
          return { score: 10 * Number(ctx.robot.properties.weight) };
        },
      ),
    );
    portal = await t.install();
  });
  after(() => t.close());

  it('run → handler → bizproc.event.send → completed with the return values', async () => {
    const run = await control<{ workflow_id: string; delivery: { status: string } }>(t.emu, `/portals/${portal.memberId}/robots/score/run`, { properties: { weight: '4' } });
    assert.equal(run.delivery.status, 'delivered');
    const state = await waitFor(
      async () => {
        const answer = await control<{ state: string; return_values: Record<string, unknown> }>(t.emu, `/portals/${portal.memberId}/robots/runs/${run.workflow_id}`, undefined, 'GET');
        return answer.state === 'completed' ? answer : undefined;
      },
      10_000,
      'the robot run to complete',
    );
    assert.deepEqual(state.return_values, { score: 40 });
    assert.equal(runs, 1);
  });
});
