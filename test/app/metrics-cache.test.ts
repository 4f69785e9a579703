/**
 * /metrics asks for no credentials and its gauges query the store, so one rendering is served
 * again for `metrics.cacheMs` (default 5 s): however many requests come meanwhile, the store is
 * asked once. Judged by what a scrape shows: the queued-jobs gauge stays at what the first
 * scrape read until the cache expires. A test app renders on every request (cacheMs 0).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from './helpers.js';

const queued = (text: string): number => Number(/^b24kit_jobs\{state="queued"\} (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
const scrape = async (t: TestApp): Promise<string> => {
  const response = await fetch(`${t.url}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
};

describe('/metrics: one rendering per cacheMs', () => {
  let cached: TestApp;
  let fresh: TestApp;

  before(async () => {
    // no worker: enqueued jobs stay queued
    cached = await startTestApp((app) => app.job('noop', () => undefined), { roles: { worker: false }, config: { metrics: { cacheMs: 60_000 } } });
    fresh = await startTestApp((app) => app.job('noop', () => undefined), { roles: { worker: false } });
  });
  after(async () => {
    await cached?.close();
    await fresh?.close();
  });

  it('within cacheMs, a scrape after a change shows what the first one read — concurrent scrapes too', async () => {
    const { memberId } = await cached.install();
    const first = await scrape(cached);
    assert.equal(queued(first), 0);
    await cached.app.enqueue(memberId, 'noop', {});
    const again = await Promise.all(Array.from({ length: 5 }, () => scrape(cached)));
    assert.deepEqual(again.map(queued), [0, 0, 0, 0, 0]);
  });

  it('with cacheMs 0 (a test app), every scrape reads the store', async () => {
    const { memberId } = await fresh.install();
    assert.equal(queued(await scrape(fresh)), 0);
    await fresh.app.enqueue(memberId, 'noop', {});
    assert.equal(queued(await scrape(fresh)), 1);
  });

  it('a cacheMs that is not a number of milliseconds ≥ 0 is refused at start', async () => {
    // (an app that starts anyway is closed, so that the failure is reported, not a hang)
    const started = startTestApp(() => undefined, { config: { metrics: { cacheMs: -1 } } }).then(async (app) => {
      await app.close();
      return app;
    });
    await assert.rejects(
      started,
      (error: Error & { code?: string }) => error.code === 'B24_ERR_CONFIG' && /metrics\.cacheMs/.test(error.message),
    );
  });
});
