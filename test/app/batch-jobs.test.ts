/**
 * Batch jobs through the public seam (`app.job(name, handler, { batch: { max } })`): queued jobs of
 * one portal reach the handler together (ctx.items, the portal's context), at most `max` at a time,
 * never mixing portals; each item's outcome is its own job's. Judged by the queue's rows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, type BatchJobOutcome } from '../../src/index.js';
import { startTestApp, type TestApp } from '../../src/testing/index.js';
import { appInternals } from '../../src/app/internals.js';
import type { Job } from '../../src/queue/types.js';
import { waitFor } from './helpers.js';

describe('batch jobs (app.job with { batch })', () => {
  let t: TestApp;
  let portalB: string;
  const calls: Array<{ memberId: string; ns: number[] }> = [];

  before(async () => {
    t = await startTestApp((app) => {
      app.job(
        'square',
        (ctx) => {
          calls.push({ memberId: ctx.portal.memberId, ns: ctx.items.map((item) => (item.payload as { n: number }).n) });
          return ctx.items.map((item): BatchJobOutcome => {
            const { n } = item.payload as { n: number };
            return n === 13 ? { status: 'dead', error: new Error('13 is refused') } : { status: 'done', result: { square: n * n, attempt: item.job.attempt } };
          });
        },
        { batch: { max: 4 } },
      );
    });
    portalB = (await t.installPortal()).memberId;
  });
  after(() => t?.close());

  it('queued jobs of one portal run together, at most max per call, portals never mixed; each job gets its own outcome', async () => {
    const queue = (await appInternals(t.app).services()).queue;
    const inputs = [
      ...[1, 2, 3, 13, 5, 6].map((n) => ({ memberId: t.portal.memberId, name: 'job:square', payload: { n } })),
      ...[7, 8].map((n) => ({ memberId: portalB, name: 'job:square', payload: { n } })),
    ];
    // one transaction: the worker's next claim sees them all
    const ids = (await queue.store.transaction((tx) => queue.enqueueMany(tx, inputs))).map((row) => row.id);
    const jobs = await waitFor(async () => {
      const all = await Promise.all(ids.map((id) => queue.get(id)));
      return all.every((job) => job?.state === 'succeeded' || job?.state === 'dead') ? (all as Job[]) : undefined;
    }, 10_000, 'every job to finish');
    assert.deepEqual(jobs.map((job) => job.state), ['succeeded', 'succeeded', 'succeeded', 'dead', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(jobs[1]!.result, { square: 4, attempt: 1 });
    assert.match(jobs[3]!.lastError ?? '', /13 is refused/);
    for (const call of calls) {
      assert.ok(call.ns.length <= 4, `at most max per call: ${call.ns.join(',')}`);
      const portalOf = (n: number) => (n === 7 || n === 8 ? portalB : t.portal.memberId);
      assert.ok(call.ns.every((n) => portalOf(n) === call.memberId), `one portal per call: ${call.ns.join(',')}`);
    }
    assert.deepEqual(calls.flatMap((call) => call.ns).sort((a, b) => a - b), [1, 2, 3, 5, 6, 7, 8, 13]);
    assert.ok(calls.length < 8, `jobs shared calls: ${JSON.stringify(calls)}`);
  });

  it('refuses a batch size outside 1–1000 when declared (B24_ERR_APP_DEFINITION)', () => {
    const app = createApp({ clientId: 'x', clientSecret: 'y' });
    for (const max of [0, 1.5, 1001]) {
      assert.throws(() => app.job('bad', () => [], { batch: { max } }), (error: unknown) => (error as { code?: string }).code === 'B24_ERR_APP_DEFINITION');
    }
  });
});
