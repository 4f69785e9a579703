/**
 * The receiver refuses what it cannot authenticate, before anything is written: a forged
 * application_token, a member_id that differs from the URL's, a missing token, an unknown portal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appInternals } from '../../src/app/internals.js';
import { postForm, type EmulatorInstall } from '../portals/helpers.js';
import { countRows, eventForm, startTestApp, waitFor, type TestApp } from './helpers.js';

describe('forged or misrouted events are rejected with nothing stored', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  let other: EmulatorInstall;
  let runs = 0;
  before(async () => {
    t = await startTestApp((app) => app.on('ONCRMDEALADD', () => void (runs += 1)));
    portal = await t.install();
    other = await t.install();
  });
  after(() => t.close());

  const nothingStored = async (): Promise<void> => {
    assert.equal(await countRows(t.store, 'b24kit_event_inbox'), 0, 'no inbox row');
    assert.equal(await countRows(t.store, 'b24kit_jobs'), 0, 'no job');
  };

  it('a forged application_token → 403 B24_ERR_FORBIDDEN', async () => {
    const form = eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }, { auth: { application_token: randomBytes(16).toString('hex') } });
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, form);
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN']);
    await nothingStored();
  });

  it("another portal's valid token, under this portal's URL → 403 B24_ERR_MEMBER_MISMATCH", async () => {
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(other, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }));
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_MEMBER_MISMATCH']);
    await nothingStored();
  });

  it('a missing application_token → 401', async () => {
    const form = eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }, { auth: { application_token: '' } });
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, form);
    assert.deepEqual([answer.status, answer.body.error], [401, 'B24_ERR_FORBIDDEN']);
    await nothingStored();
  });

  it('an unknown portal → 403 B24_ERR_FORBIDDEN, the same answer as a wrong token (no existence oracle)', async () => {
    const stranger = { ...portal, memberId: randomBytes(16).toString('hex') };
    const answer = await postForm(`${t.url}/webhooks/${stranger.memberId}/event`, eventForm(stranger, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }));
    assert.deepEqual([answer.status, answer.body.error], [403, 'B24_ERR_FORBIDDEN']);
    await nothingStored();
  });

  it('the refusals are counted in /metrics, and no handler ran', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(text, /b24kit_events_rejected_total\{reason="B24_ERR_FORBIDDEN"\} 3/);
    assert.match(text, /b24kit_events_rejected_total\{reason="B24_ERR_MEMBER_MISMATCH"\} 1/);
    assert.match(text, /b24kit_portals\{state="active"\} 2/);
    assert.equal(runs, 0);
  });

  it('the genuine delivery is accepted (200 queued) and its job runs', async () => {
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '1' } }));
    assert.deepEqual(answer, { status: 200, body: { status: 'queued' } });
    assert.equal(await countRows(t.store, 'b24kit_event_inbox'), 1);
    const { queue } = await appInternals(t.app).services();
    const [job] = await waitFor(async () => {
      const jobs = await queue.list({ memberId: portal.memberId });
      return jobs.length === 1 && jobs[0]!.state !== 'queued' && jobs[0]!.state !== 'running' ? jobs : undefined;
    }, 15_000, 'the job to finish');
    assert.deepEqual([job!.name, job!.state, job!.attempts], ['event:ONCRMDEALADD', 'succeeded', 1]);
    assert.equal(runs, 1, 'the handler ran once');
  });
});
