/**
 * A failing job says what failed, where an operator looks:
 * - its log line: `err` carries the error's type, message and code (and, for an error the portal
 *   answered, Bitrix24's own code and the HTTP status), never `{}` or a bare string, and no token
 *   or secret of the portal. Lines as the app's pino logger writes them;
 * - /metrics: dead letters by job name and error code, read from the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appInternals } from '../../src/app/internals.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

interface LogLine {
  msg: string;
  jobId?: number;
  err?: Record<string, unknown>;
}

describe('a failing job is visible: its error in the log line (message and code, no secrets) and its dead letter in /metrics', () => {
  let t: TestApp;
  let memberId: string;

  before(async () => {
    t = await startTestApp((app) => {
      // the portal answers an error: B24_ERR_METHOD_NOT_FOUND cannot be cured by a retry, so the job dies at once
      app.job('calls-unknown-method', async (ctx) => void (await ctx.b24.call('no.such.method')));
      // the handler's own error, with a code of its own: retried once, then dead
      app.job(
        'throws-own-error',
        () => {
          throw Object.assign(new Error('the ledger is closed for the day'), { code: 'LEDGER_CLOSED' });
        },
        { maxAttempts: 2 },
      );
    });
    ({ memberId } = await t.install());
  });
  after(() => t?.close());

  const lines = (): LogLine[] => t.logs.map((line) => JSON.parse(line) as LogLine);
  const lineOf = (jobId: number, msg: string): Promise<LogLine> =>
    waitFor(() => lines().find((line) => line.jobId === jobId && line.msg === msg), 15_000, `"${msg}" of job ${jobId}`);

  it('a portal error: the "job dead" line carries type, message, code, bitrixCode and status', async () => {
    const job = await t.app.enqueue(memberId, 'calls-unknown-method', {});
    const dead = await lineOf(job.id, 'job dead');
    assert.equal(dead.err?.type, 'B24Error');
    assert.equal(dead.err?.code, 'B24_ERR_METHOD_NOT_FOUND');
    assert.equal(dead.err?.bitrixCode, 'ERROR_METHOD_NOT_FOUND');
    assert.equal(typeof dead.err?.status, 'number');
    assert.ok(typeof dead.err?.message === 'string' && dead.err.message.length > 0, JSON.stringify(dead.err));
  });

  it('a handler error: the retry line and the "job dead" line carry its message and code', async () => {
    const job = await t.app.enqueue(memberId, 'throws-own-error', {});
    const retried = await lineOf(job.id, 'job failed; retry scheduled');
    const dead = await lineOf(job.id, 'job dead');
    for (const line of [retried, dead]) {
      assert.deepEqual(line.err, { type: 'Error', message: 'the ledger is closed for the day', code: 'LEDGER_CLOSED' });
    }
  });

  it('/metrics counts the dead letters by job name and error code', async () => {
    // both jobs of the cases above are dead by now (each test waited for its "job dead" line)
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const dead = text.split('\n').filter((line) => line.startsWith('b24kit_dead_letters{'));
    assert.deepEqual(dead.sort(), [
      'b24kit_dead_letters{job="job:calls-unknown-method",error_code="B24_ERR_METHOD_NOT_FOUND"} 1',
      'b24kit_dead_letters{job="job:throws-own-error",error_code="other"} 1',
    ]);
  });

  it("no line holds the portal's tokens or the app's client secret", async () => {
    const services = await appInternals(t.app).services();
    const portal = await services.portals.get(memberId);
    const secrets = [portal?.accessToken, portal?.refreshToken, portal?.applicationToken, appInternals(t.app).settings.clientSecret];
    assert.ok(secrets.every((secret) => typeof secret === 'string' && secret.length >= 8), 'the secrets to look for are known');
    const text = t.logs.join('');
    for (const secret of secrets) assert.ok(!text.includes(secret!), 'a secret is in the log');
  });
});
