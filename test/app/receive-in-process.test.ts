/**
 * app.receive(): an event through the whole pipeline in-process — validation, application_token,
 * inbox, queue, handler — for users' own tests; and app.enqueue() + app.job() with a key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import qs from 'qs';
import type { EmulatorInstall } from '../portals/helpers.js';
import { eventForm, startTestApp, waitFor, type TestApp } from './helpers.js';

describe('app.receive and app.enqueue', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  const seen: Array<{ id: string; user: string | null; domain: string; log: boolean }> = [];
  const jobs: unknown[] = [];
  before(async () => {
    // no worker role: receive() runs the job on a worker of its own
    t = await startTestApp(
      (app) => {
        app.on('onCrmDealUpdate', async (ctx) => {
          const { result } = await ctx.b24.call<{ ID: string }>('user.current');
          seen.push({ id: String((ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID), user: result.ID, domain: ctx.portal.domain, log: typeof ctx.log.info === 'function' });
          return { seen: true };
        });
        app.job('sync', (ctx) => void jobs.push(ctx.payload));
      },
      { roles: { worker: false } },
    );
    portal = await t.install();
  });
  after(() => t.close());

  it('runs the handler with ctx.portal, ctx.b24 and ctx.log, and returns the finished job', async () => {
    const outcome = await t.app.receive(eventForm(portal, 'ONCRMDEALUPDATE', { FIELDS: { ID: '9' } }));
    assert.equal(outcome.status, 'queued');
    assert.equal(outcome.job?.state, 'succeeded');
    assert.equal(outcome.job?.name, 'event:ONCRMDEALUPDATE');
    assert.deepEqual(outcome.job?.result, { seen: true });
    assert.deepEqual(seen, [{ id: '9', user: '1', domain: portal.domain, log: true }]);
    const payload = outcome.job?.payload as { auth: Record<string, unknown> };
    assert.ok(!('application_token' in payload.auth) && !('applicationToken' in payload.auth), 'no token in the stored payload');
  });

  it('takes the raw form body too, and collapses a duplicate', async () => {
    const body = qs.stringify(eventForm(portal, 'ONCRMDEALUPDATE', { FIELDS: { ID: '9' } }));
    const outcome = await t.app.receive(body);
    assert.equal(outcome.status, 'duplicate');
    assert.equal(seen.length, 1);
  });

  it('refuses a forged token like the HTTP route does', async () => {
    await assert.rejects(
      t.app.receive(eventForm(portal, 'ONCRMDEALUPDATE', { FIELDS: { ID: '10' } }, { auth: { application_token: randomBytes(8).toString('hex') } })),
      { code: 'B24_ERR_FORBIDDEN' },
    );
  });

  it('app.enqueue with a key enqueues once; the job runs on a started worker', async () => {
    const first = await t.app.enqueue(portal.memberId, 'sync', { contact: 1 }, { key: 'contact-1' });
    const second = await t.app.enqueue(portal.memberId, 'sync', { contact: 1 }, { key: 'contact-1' });
    assert.equal(first.id, second.id);
    assert.equal(first.name, 'job:sync');
    await assert.rejects(t.app.enqueue(portal.memberId, 'undeclared', {}), { code: 'B24_ERR_APP_DEFINITION' });
    const outcome = await t.app.receive(eventForm(portal, 'ONCRMDEALUPDATE', { FIELDS: { ID: '11' } })); // its temporary worker runs `sync` too
    assert.equal(outcome.job?.state, 'succeeded');
    await waitFor(() => jobs.length === 1, 5000, 'the sync job');
    assert.deepEqual(jobs, [{ contact: 1 }]);
  });

  it('app.client(memberId) calls the portal', async () => {
    const { result } = await t.app.client(portal.memberId).call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
  });
});
