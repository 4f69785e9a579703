/**
 * What a portal's state does to its queued jobs (docs/app.md, src/app/portal-gate.ts):
 * - needs_reauth (its refresh token was rejected) → the job waits: postponed again and again,
 *   attempts not burned, the handler not run, until the portal is re-authorized
 *   (GET /oauth/start); then it runs;
 * - uninstalled → the job goes dead on its first attempt with B24_ERR_PORTAL_UNINSTALLED, the
 *   handler not run;
 * - unknown (purged) → dead on its first attempt with B24_ERR_PORTAL_NOT_FOUND, the handler not run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appInternals } from '../../src/app/internals.js';
import { jobNames } from '../../src/app/job-names.js';
import type { Job } from '../../src/queue/types.js';
import { advanceClock, control } from '../helpers/emulator.js';
import { getManual as get } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

/** Longer than any postpone (capped at 5 minutes, src/queue/backoff.ts): the waiting job is due again. */
const PAST_ANY_POSTPONE_S = 301;

describe('a portal state decides what its queued jobs do', () => {
  let t: TestApp;
  /** Handler entries and completions, per portal. */
  const entered = new Map<string, number>();
  const finished = new Map<string, number>();
  const bump = (counts: Map<string, number>, memberId: string): void => void counts.set(memberId, (counts.get(memberId) ?? 0) + 1);

  before(async () => {
    t = await startTestApp((app) => {
      app.on('ONCRMDEALADD', async (ctx) => {
        bump(entered, ctx.portal.memberId);
        await ctx.b24.call('user.current');
        bump(finished, ctx.portal.memberId);
      });
      // no REST call: only the gate keeps this handler from running for a portal that is gone
      app.job('work', async (ctx) => {
        bump(entered, ctx.portal.memberId);
        bump(finished, ctx.portal.memberId);
      });
    });
  });
  after(() => t?.close());

  const queue = async () => (await appInternals(t.app).services()).queue;
  const portalState = async (memberId: string) => (await (await appInternals(t.app).services()).portals.info(memberId))?.state;
  /** Waits for the job to end its attempt and asserts: dead on attempt 1 with `code`, the handler never entered. */
  const deadAtOnce = async (jobId: number, memberId: string, code: RegExp): Promise<void> => {
    const dead = await waitFor(async () => {
      const found = await (await queue()).get(jobId);
      return found && found.state !== 'queued' && found.state !== 'running' ? found : undefined;
    }, 15_000, 'the job to finish');
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, 1, 'dead at once, not retried');
    assert.match(dead.lastError ?? '', code);
    assert.equal(entered.get(memberId) ?? 0, 0, 'the handler never ran');
  };
  const onlyJob = async (memberId: string): Promise<Job> => {
    const jobs = await (await queue()).list({ memberId });
    assert.equal(jobs.length, 1, JSON.stringify(jobs));
    return jobs[0]!;
  };

  it('needs_reauth: the job waits (postponed, attempts intact, handler not entered) and runs once the portal is re-authorized', async () => {
    const portal = await t.install();
    const { memberId } = portal;
    // the refresh token dies after 28 days: the first REST call of the job finds it rejected
    await advanceClock(t.emu, 29 * 24 * 3600);
    await control(t.emu, `/portals/${memberId}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '1' } }, userId: 1 });
    await control(t.emu, `/portals/${memberId}/events/flush`, {});
    await waitFor(async () => (await portalState(memberId)) === 'needs_reauth', 15_000, 'the portal to need re-authorization');
    await waitFor(async () => (await onlyJob(memberId)).postpones >= 1, 15_000, 'the first postpone');

    // each time the job is due again it is postponed again, before its handler runs
    for (let round = 2; round <= 4; round++) {
      await advanceClock(t.emu, PAST_ANY_POSTPONE_S);
      await waitFor(async () => (await onlyJob(memberId)).postpones >= round, 15_000, `postpone ${round}`);
    }
    const waiting = await onlyJob(memberId);
    assert.equal(waiting.state, 'queued');
    assert.equal(waiting.attempts, 0, 'no attempt burned');
    assert.match(waiting.lastError ?? '', /^B24_ERR_TOKEN_REVOKED/);
    assert.equal(entered.get(memberId), 1, 'only the run that found the token rejected entered the handler');
    assert.equal(finished.get(memberId) ?? 0, 0);
    assert.equal(await portalState(memberId), 'needs_reauth');

    // re-authorization, as docs/app.md says: /oauth/start → the portal's authorize page → our callback
    const start = await get(`${t.url}/oauth/start?domain=${portal.domain}`);
    assert.equal(start.status, 302);
    const authorized = await get(start.location!);
    assert.equal(authorized.status, 302, 'the emulator authorizes and redirects to the callback');
    const callback = await get(authorized.location!);
    assert.equal(callback.status, 200, JSON.stringify(callback.body));
    assert.equal(await portalState(memberId), 'active');

    await advanceClock(t.emu, PAST_ANY_POSTPONE_S);
    await waitFor(async () => (await onlyJob(memberId)).state === 'succeeded', 15_000, 'the job to run after re-authorization');
    const done = await onlyJob(memberId);
    assert.equal(done.attempts, 1, 'the one counted attempt is the run that succeeded');
    assert.equal(finished.get(memberId), 1);
  });

  it('uninstalled: a queued job goes dead on its first attempt with B24_ERR_PORTAL_UNINSTALLED, its handler not run', async () => {
    const { memberId } = await t.install();
    const due = t.emu.emulator.clock.nowMs() + 3600_000;
    const job = await t.app.enqueue(memberId, 'work', {}, { runAtMs: due });
    // the portal uninstalls the app while the job waits: tokens revoked, ONAPPUNINSTALL delivered (no CLEAN: jobs stay)
    await control(t.emu, `/portals/${memberId}/uninstall`, {});
    await waitFor(async () => (await portalState(memberId)) === 'uninstalled', 10_000, 'the uninstall to arrive');

    await advanceClock(t.emu, 3601);
    await deadAtOnce(job.id, memberId, /^B24_ERR_PORTAL_UNINSTALLED/);
  });

  it('unknown (purged): a queued job goes dead on its first attempt with B24_ERR_PORTAL_NOT_FOUND, its handler not run', async () => {
    // a purge deletes the portal's jobs with it; a job left behind (enqueued by another process
    // between its portal check and the purge) names a portal the registry no longer has
    const memberId = 'purged0000000000000000000000000';
    assert.equal(await portalState(memberId), undefined);
    const { job } = await (await queue()).enqueue((await appInternals(t.app).services()).store, { memberId, name: jobNames.job('work'), payload: {} });
    await deadAtOnce(job.id, memberId, /^B24_ERR_PORTAL_NOT_FOUND/);
  });
});
