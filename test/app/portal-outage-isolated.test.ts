/**
 * 1,000 events over 3 portals, one of which answers every REST call with 503: the other two
 * portals' jobs all complete, and the broken portal's jobs wait — postponed, attempts not burned,
 * none dead — until it recovers; then they complete too.
 */
import { appInternals } from '../../src/app/internals.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { countRows, startTestApp, waitFor, type TestApp } from './helpers.js';

const EVENTS = 1000;

describe('a portal answering 503 does not hold up the others', () => {
  let t: TestApp;
  let portals: EmulatorInstall[];
  const done = new Map<string, number>();
  before(async () => {
    t = await startTestApp(
      (app) =>
        app.on('ONCRMDEALUPDATE', async (ctx) => {
          await ctx.b24.call('user.current');
          done.set(ctx.portal.memberId, (done.get(ctx.portal.memberId) ?? 0) + 1);
        }),
      { config: { worker: { pollIntervalMs: 20, concurrency: 8, shutdownTimeoutMs: 5000 } } },
    );
    portals = [await t.install(), await t.install(), await t.install()];
    await control(t.emu, `/portals/${portals[2]!.memberId}/faults`, { errorRate: 1, errorStatus: 503 }, 'PUT');
  });
  after(() => t.close());

  it(`${EVENTS} events: the healthy portals' jobs all complete; the broken one's wait with attempts intact`, async () => {
    const fire = async (index: number): Promise<void> => {
      const portal = portals[index % 3]!;
      await control(t.emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: String(index + 1) } }, userId: 1 });
    };
    for (let start = 0; start < EVENTS; start += 50) await Promise.all(Array.from({ length: Math.min(50, EVENTS - start) }, (_, i) => fire(start + i)));
    await control(t.emu, '/events/flush', {});
    const perPortal = [334, 333, 333];
    assert.equal(await countRows(t.store, 'b24kit_event_inbox'), EVENTS, 'every delivery was accepted');

    const { queue } = await appInternals(t.app).services();
    // the completion is recorded just after the handler returns: wait for the queue, not the handler
    const succeeded = async (index: number): Promise<boolean> => (await queue.counts({ memberId: portals[index]!.memberId })).succeeded === perPortal[index];
    await waitFor(async () => (await succeeded(0)) && (await succeeded(1)), 60_000, 'the healthy portals');
    assert.equal(done.get(portals[0]!.memberId), perPortal[0]);
    assert.equal(done.get(portals[1]!.memberId), perPortal[1]);
    const broken = portals[2]!.memberId;
    // let the broken portal's jobs go round a few times
    await waitFor(async () => (await queue.list({ memberId: broken, limit: 1000 })).filter((job) => job.postpones >= 2).length >= 4, 20_000, 'repeated postpones');
    const jobs = await queue.list({ memberId: broken, limit: 1000 });
    assert.equal(jobs.length, perPortal[2]);
    assert.equal(done.get(broken) ?? 0, 0);
    assert.equal(jobs.filter((job) => job.state === 'dead' || job.state === 'succeeded').length, 0, 'none dead, none done');
    const waiting = jobs.filter((job) => job.state === 'queued');
    assert.ok(waiting.every((job) => job.attempts === 0), 'postponing gave every attempt back');
    assert.ok(waiting.some((job) => job.postpones > 0 && /B24_ERR_SERVER/.test(job.lastError ?? '')), 'postponed for the 503s');
    const healthy = await queue.counts({ memberId: portals[0]!.memberId });
    assert.deepEqual(healthy, { queued: 0, running: 0, succeeded: perPortal[0], dead: 0 });

    // the portal recovers: its jobs run once their postpone (backing off, jittered) is over
    await control(t.emu, `/portals/${broken}/faults`, { errorRate: 0 }, 'PUT');
    await waitFor(() => succeeded(2), 120_000, 'the recovered portal');
    assert.equal(done.get(broken), perPortal[2]);
    assert.deepEqual(await queue.counts({ memberId: broken }), { queued: 0, running: 0, succeeded: perPortal[2], dead: 0 });
  });
});
