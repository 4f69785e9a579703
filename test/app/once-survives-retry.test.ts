/**
 * ctx.once: a handler that completed a side effect and then failed is retried; the retry gets the
 * stored result instead of repeating the effect. Checked on the portal: one deal, not two.
 */
import { appInternals } from '../../src/app/internals.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control, rest } from '../helpers/emulator.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { fireAndFlush, startTestApp, waitFor, type TestApp } from './helpers.js';

describe('ctx.once across a retry', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let effects = 0;
  let attempts = 0;
  const dealIds: number[] = [];
  before(async () => {
    t = await startTestApp((app) =>
      app.on('ONCRMCONTACTADD', async (ctx) => {
        attempts += 1;
        const dealId = await ctx.once('create-deal', async () => {
          effects += 1;
          const { result } = await ctx.b24.call<number>('crm.deal.add', { fields: { TITLE: `for contact ${JSON.stringify(ctx.event.data)}` } });
          return result;
        });
        dealIds.push(dealId);
        if (ctx.job.attempt === 1) throw new Error('a failure after the deal was created');
      }),
    );
    portal = await t.install();
  });
  after(() => t.close());

  it('fails once, succeeds on the retry, and the deal is created once', async () => {
    await fireAndFlush(t.emu, portal.memberId, 'ONCRMCONTACTADD', { FIELDS: { ID: '7' } });
    const { queue } = await appInternals(t.app).services();
    const job = await waitFor(async () => (await queue.list({ memberId: portal.memberId })).find((j) => j.state === 'succeeded'), 10_000, 'the job to succeed');
    assert.equal(attempts, 2);
    assert.equal(job.attempts, 2);
    assert.equal(job.history[0]?.error, 'Error: a failure after the deal was created');
    assert.equal(effects, 1, 'the side effect ran once');
    assert.equal(dealIds.length, 2);
    assert.equal(dealIds[0], dealIds[1], 'the retry got the stored deal id');
    // the install's own pair was redeemed by the app; an admin opening the app's page has a live token
    const frame = await control<{ form: { AUTH_ID: string } }>(t.emu, `/portals/${portal.memberId}/frame`, { userId: 1 });
    const list = await rest({ clientEndpoint: portal.client_endpoint, accessToken: frame.form.AUTH_ID } as never, 'crm.deal.list', { select: ['ID'] });
    assert.equal((list.body.result as unknown[]).length, 1, 'one deal on the portal');
  });
});
