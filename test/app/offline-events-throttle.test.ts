/**
 * The ping throttle has no blind spot: the portal pings ONOFFLINEEVENT at most once per
 * `minTimeout` seconds (docs/protocol.md §3.6) and never afterwards for records queued meanwhile. A
 * change made during the throttle, after the ping's drain already ran, must still be drained soon
 * after the throttle ends — not at the next cron (switched off here, so waiting for it would fail).
 * The ping handler queues a trailing drain for the end of the throttle (offline-events.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

const THROTTLE_SECONDS = 3;

describe('offline events: a change during the ping throttle is drained when the throttle ends', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let webhook: string;
  const runs: Array<{ id: string; title: string; atMs: number }> = [];

  const update = async (id: number, title: string): Promise<void> => {
    const response = await fetch(`${webhook}crm.deal.update.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, fields: { TITLE: title } }) });
    assert.equal(response.status, 200, await response.text());
  };
  const pings = async (): Promise<number> => {
    const log = await control<Array<{ event: string }>>(t.emu, `/portals/${portal.memberId}/events/log?limit=100`, undefined, 'GET');
    return log.filter((entry) => entry.event === 'ONOFFLINEEVENT').length;
  };

  before(async () => {
    t = await startTestApp(
      (app) =>
        app.on(
          'ONCRMDEALUPDATE',
          async (ctx) => {
            const id = (ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID;
            const { result } = await ctx.b24.call<{ TITLE: string }>('crm.deal.get', { id });
            runs.push({ id, title: result.TITLE, atMs: Date.now() });
          },
          { offline: true },
        ),
      { config: { offlineEvents: { notifyMinTimeoutSeconds: THROTTLE_SECONDS, coalesceMs: 200, drainCron: false } } },
    );
    portal = await t.install();
    webhook = (await control<{ url: string }>(t.emu, `/portals/${portal.memberId}/webhooks`, { userId: 1, scope: ['crm'] })).url;
    await control(t.emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'deal', count: 2 });
  });
  after(() => t.close());

  it('the ping\'s drain takes the first change; the one made during the throttle follows when it ends, without a new ping', async () => {
    const first = Date.now();
    await update(1, 'first');
    await waitFor(() => runs.some((run) => run.title === 'first'), 10_000, 'the first change drained after its ping');
    assert.ok(Date.now() - first < THROTTLE_SECONDS * 1000, 'still inside the throttle (a slow machine would make this test meaningless)');
    await update(2, 'during the throttle');
    await control(t.emu, `/portals/${portal.memberId}/events/flush`, {});
    assert.equal(await pings(), 1, 'the portal pinged once: the second record came during the throttle');
    const run = await waitFor(() => runs.find((candidate) => candidate.title === 'during the throttle'), THROTTLE_SECONDS * 1000 + 8_000, 'the change made during the throttle drained');
    assert.ok(run.atMs - first >= THROTTLE_SECONDS * 1000 - 500, 'drained once the throttle ended');
    assert.equal(await pings(), 1, 'no further ping was needed');
  });
});
