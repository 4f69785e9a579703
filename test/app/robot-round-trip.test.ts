/**
 * A robot round trip with the emulator: the app registers its robot at install, the emulator runs
 * it (POST /robots/:memberId/:code), the handler runs in a job, its return values go back with
 * bizproc.event.send, and the run is completed with them. The call's tokens (the robot user's
 * access and refresh tokens, the application_token) never reach the store or the handler.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import type { RobotCall } from '../../src/app/types.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

describe('robot round trip', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let runs = 0;
  let seen: RobotCall | undefined;
  before(async () => {
    t = await startTestApp((app) =>
      app.robot(
        { code: 'score', name: 'Score', properties: { weight: { Name: 'Weight', Type: 'int' } }, returnProperties: { score: { Name: 'Score', Type: 'int' } } },
        (ctx) => {
          runs += 1;
          seen = ctx.robot;
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
    assert.equal(seen?.workflowId, run.workflow_id);
    assert.equal(seen?.auth.memberId, portal.memberId);
    assert.deepEqual(Object.keys(seen!.auth).filter((key) => /token|expires/i.test(key)), [], 'ctx.robot.auth carries no token');
  });

  it('the stored job payload holds none of the tokens the robot call carried', async () => {
    const log = await control<unknown>(t.emu, `/portals/${portal.memberId}/events/log?limit=50`, undefined, 'GET');
    const entries = (Array.isArray(log) ? log : ((log as { entries?: unknown[] }).entries ?? [])) as Array<{ kind: string; payload: unknown }>;
    const delivered = entries.find((entry) => entry.kind === 'robot');
    assert.ok(delivered, 'the robot call is in the delivery log');
    const secrets = collectTokens(delivered.payload);
    assert.ok(secrets.length >= 3, `the call carried access, refresh and application tokens (found ${secrets.length})`);
    const rows = await t.store.all<{ payload: string }>("SELECT payload FROM b24kit_jobs WHERE name = 'robot:score'");
    assert.equal(rows.length, 1);
    for (const secret of secrets) assert.ok(!rows[0]!.payload.includes(secret), 'a token of the call was stored');
    assert.match(rows[0]!.payload, /"eventToken"/, 'the event_token stays: bizproc.event.send needs it');
  });
});

/** The values of token-like keys (`access_token`, `auth[refresh_token]`, …) anywhere in a delivered payload. */
function collectTokens(value: unknown, key = ''): string[] {
  if (typeof value === 'string') {
    if (/(access|refresh|application)_token/.test(key) && value !== '') return [value];
    // a form body as text: auth%5Baccess_token%5D=…
    return [...value.matchAll(/(?:access|refresh|application)_token(?:%5D|\])?=([^&]+)/g)].map((match) => decodeURIComponent(match[1]!));
  }
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => collectTokens(v, k));
  return [];
}
