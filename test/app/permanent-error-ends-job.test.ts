/**
 * A job whose REST call meets a permanent answer of the portal ends at once: dead after one
 * attempt, its dead letter carrying the portal's code and message, the handler run once and the
 * method called once (counted by the emulator). A 5xx is still retried, and a job type with
 * `retryPermanentErrors` retries even a permanent answer (docs/rest.md, "Error classes").
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appInternals } from '../../src/app/internals.js';
import type { Job } from '../../src/queue/types.js';
import { control, portalStats, UNLIMITED_PORTAL } from '../helpers/emulator.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

/** More than any of these jobs needs: a job still alive after its first attempt would be retried. */
const ATTEMPTS = 3;

describe('permanent portal errors end a job at once; 5xx errors are retried', () => {
  let t: TestApp;
  /** Handler runs per job name. */
  const runs = new Map<string, number>();
  const counted = (name: string, call: (ctx: { b24: { call: (method: string, params?: Record<string, unknown>) => Promise<unknown> } }) => Promise<unknown>) =>
    async (ctx: Parameters<typeof call>[0]): Promise<void> => {
      runs.set(name, (runs.get(name) ?? 0) + 1);
      await call(ctx);
    };

  before(async () => {
    t = await startTestApp((app) => {
      app.job('bad-currency', counted('bad-currency', (ctx) => ctx.b24.call('crm.deal.add', { fields: { TITLE: 'Order 1', CURRENCY_ID: 'euro' } })), { maxAttempts: ATTEMPTS });
      app.job(
        'bad-email',
        counted('bad-email', (ctx) => ctx.b24.call('crm.contact.add', { fields: { NAME: 'Ann', EMAIL: [{ VALUE: 'not an address', VALUE_TYPE: 'WORK' }] } })),
        { maxAttempts: ATTEMPTS },
      );
      app.job('missing-deal', counted('missing-deal', (ctx) => ctx.b24.call('crm.deal.get', { id: 987654 })), { maxAttempts: ATTEMPTS });
      app.job('no-scope', counted('no-scope', (ctx) => ctx.b24.call('crm.deal.list', { select: ['ID'] })), { maxAttempts: ATTEMPTS });
      app.job('no-method', counted('no-method', (ctx) => ctx.b24.call('crm.deal.nosuchmethod')), { maxAttempts: ATTEMPTS });
      app.job('through-outage', counted('through-outage', (ctx) => ctx.b24.call('user.current')), { maxAttempts: 50 });
      app.job('through-500', counted('through-500', (ctx) => ctx.b24.call('user.current')), { maxAttempts: ATTEMPTS });
      app.job('opted-in', counted('opted-in', (ctx) => ctx.b24.call('crm.deal.nosuchmethod')), { maxAttempts: ATTEMPTS, retryPermanentErrors: true });
    });
  });
  after(() => t?.close());

  const queue = async () => (await appInternals(t.app).services()).queue;
  const finished = (jobId: number, timeoutMs = 15_000): Promise<Job> =>
    waitFor(
      async () => {
        const job = await (await queue()).get(jobId);
        return job && (job.state === 'dead' || job.state === 'succeeded') ? job : undefined;
      },
      timeoutMs,
      `job ${jobId} to finish`,
    );
  const deadLine = (jobId: number) =>
    waitFor(
      () => t.logs.map((line) => JSON.parse(line) as { msg: string; jobId?: number; err?: Record<string, unknown> }).find((line) => line.jobId === jobId && line.msg === 'job dead'),
      5000,
      'the "job dead" line',
    );

  const PERMANENT = [
    { name: 'bad-currency', method: 'crm.deal.add', lastError: 'B24_ERR_REST: crm.deal.add: Invalid value for the "Currency" field', bitrixCode: '' },
    { name: 'bad-email', method: 'crm.contact.add', lastError: 'B24_ERR_REST: crm.contact.add: ERROR_CORE: The field "Work e-mail" contains an invalid address', bitrixCode: 'ERROR_CORE' },
    { name: 'missing-deal', method: 'crm.deal.get', lastError: 'B24_ERR_NOT_FOUND: crm.deal.get: Not found', bitrixCode: '' },
  ];
  for (const { name, method, lastError, bitrixCode } of PERMANENT) {
    it(`${name}: ${method} answers 400 → dead after 1 attempt with the portal's code and message, the method called once`, async () => {
      const { memberId } = await t.install();
      const job = await t.app.enqueue(memberId, name, {});
      const dead = await finished(job.id);
      assert.equal(dead.state, 'dead');
      assert.equal(dead.attempts, 1, 'not retried');
      assert.equal(dead.lastError, lastError);
      assert.deepEqual(
        dead.history.map((attempt) => attempt.error),
        [lastError],
      );
      assert.equal(runs.get(name), 1, 'the handler ran once');
      const stats = (await portalStats(t.emu, memberId)) as unknown as { byMethod: Record<string, number> };
      assert.equal(stats.byMethod[method], 1, 'the portal was asked once');
      const line = await deadLine(job.id);
      assert.equal(line.err?.status, 400);
      if (bitrixCode) assert.equal(line.err?.bitrixCode, bitrixCode);
    });
  }

  it("403 insufficient_scope (the app was installed without crm) → dead after 1 attempt with the portal's code and message", async () => {
    // the portal grants the scopes the app was installed with: crm.deal.list needs crm (docs/protocol.md §4.4)
    const created = await control<{ member_id: string }>(t.emu, '/portals', UNLIMITED_PORTAL);
    const memberId = created.member_id;
    await control(t.emu, `/portals/${memberId}/install`, { appUrl: t.url, scope: ['user_brief'] });
    const job = await t.app.enqueue(memberId, 'no-scope', {});
    const dead = await finished(job.id);
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, 1, 'not retried');
    assert.match(dead.lastError ?? '', /^B24_ERR_ACCESS_DENIED: crm\.deal\.list: insufficient_scope: The request requires higher privileges/);
    assert.equal(runs.get('no-scope'), 1, 'the handler ran once');
    const stats = (await portalStats(t.emu, memberId)) as unknown as { byStatus: Record<string, number> };
    assert.equal(stats.byStatus['403'], 1, 'the portal was asked once');
    const line = await deadLine(job.id);
    assert.equal(line.err?.bitrixCode, 'insufficient_scope');
  });

  it('404 ERROR_METHOD_NOT_FOUND (a job type that does not opt in) → dead after 1 attempt', async () => {
    const { memberId } = await t.install();
    const job = await t.app.enqueue(memberId, 'no-method', {});
    const dead = await finished(job.id);
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, 1, 'not retried');
    assert.match(dead.lastError ?? '', /^B24_ERR_METHOD_NOT_FOUND: crm\.deal\.nosuchmethod: ERROR_METHOD_NOT_FOUND: Method not found!/);
    assert.equal(runs.get('no-method'), 1, 'the handler ran once');
    const stats = (await portalStats(t.emu, memberId)) as unknown as { byStatus: Record<string, number> };
    assert.equal(stats.byStatus['404'], 1, 'the portal was asked once');
  });

  it('a 500 INTERNAL_SERVER_ERROR envelope is not permanent: the job waits without spending its attempts, and succeeds once the portal answers', async () => {
    const { memberId } = await t.install();
    await control(t.emu, `/portals/${memberId}/faults`, { errorRate: 1, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' }, 'PUT');
    const job = await t.app.enqueue(memberId, 'through-500', {});
    // more handler runs than the type's attempts: a postponed job is not dead after maxAttempts
    const waiting = await waitFor(
      async () => {
        const current = await (await queue()).get(job.id);
        return current && (runs.get('through-500') ?? 0) > ATTEMPTS ? current : undefined;
      },
      20_000,
      `more than ${ATTEMPTS} runs through the 500s`,
    );
    assert.notEqual(waiting.state, 'dead');
    assert.ok(waiting.postpones >= ATTEMPTS, `postpones: ${waiting.postpones}`);
    await control(t.emu, `/portals/${memberId}/faults`, { errorRate: 0 }, 'PUT');

    const done = await finished(job.id, 30_000);
    assert.equal(done.state, 'succeeded');
    const stats = (await portalStats(t.emu, memberId)) as unknown as { byStatus: Record<string, number> };
    assert.ok((stats.byStatus['500'] ?? 0) > ATTEMPTS, JSON.stringify(stats.byStatus));
  });

  it('a 5xx (the portal behind nginx answering its 503 page) is retried, and the job succeeds once the portal is back', async () => {
    const { memberId } = await t.install();
    await control(t.emu, `/portals/${memberId}/faults`, { downForSeconds: 3600 }, 'PUT');
    const job = await t.app.enqueue(memberId, 'through-outage', {});
    const retrying = await waitFor(
      async () => {
        const current = await (await queue()).get(job.id);
        return current && current.attempts >= 2 ? current : undefined;
      },
      15_000,
      'a second attempt',
    );
    assert.notEqual(retrying.state, 'dead', 'still alive after a failed attempt');
    assert.match(retrying.history[0]?.error ?? '', /^B24_ERR_BAD_RESPONSE: user\.current: HTTP 503/);
    await control(t.emu, `/portals/${memberId}/faults`, { downForSeconds: 0 }, 'PUT');

    const done = await finished(job.id);
    assert.equal(done.state, 'succeeded');
    assert.ok(done.attempts >= 2, `attempts: ${done.attempts}`);
    assert.ok((runs.get('through-outage') ?? 0) >= 2);
    const stats = (await portalStats(t.emu, memberId)) as unknown as { byStatus: Record<string, number> };
    assert.ok((stats.byStatus['503'] ?? 0) >= 1, JSON.stringify(stats.byStatus));
  });

  it('retryPermanentErrors: a job type that opts in retries ERROR_METHOD_NOT_FOUND up to maxAttempts', async () => {
    const { memberId } = await t.install();
    const job = await t.app.enqueue(memberId, 'opted-in', {});
    const dead = await finished(job.id);
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, ATTEMPTS, 'every attempt used');
    assert.equal(dead.history.length, ATTEMPTS);
    assert.match(dead.lastError ?? '', /^B24_ERR_METHOD_NOT_FOUND: crm\.deal\.nosuchmethod: ERROR_METHOD_NOT_FOUND: Method not found!/);
    assert.equal(runs.get('opted-in'), ATTEMPTS);
    // an unknown method is not counted by name: its 404s are the portal's count of the calls
    const stats = (await portalStats(t.emu, memberId)) as unknown as { byStatus: Record<string, number> };
    assert.equal(stats.byStatus['404'], ATTEMPTS);
  });
});
