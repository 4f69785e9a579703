/**
 * A delivery repeated 3 times runs its handler once: duplicates collapse on the dedupe key in the
 * inbox (200, not enqueued again) — whether the emulator's delivery switch repeats the event or
 * the same form is replayed by hand.
 */
import { appInternals } from '../../src/app/internals.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { control } from '../helpers/emulator.js';
import { postForm, type EmulatorInstall } from '../portals/helpers.js';
import { countRows, eventForm, fireAndFlush, startTestApp, waitFor, type TestApp } from './helpers.js';

describe('a repeated delivery runs the handler once', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  const runs: string[] = [];
  before(async () => {
    t = await startTestApp((app) =>
      app.on('ONCRMDEALADD', (ctx) => {
        runs.push(String((ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID));
      }),
    );
    portal = await t.install();
  });
  after(() => t.close());

  it('the emulator delivers one event 3 times (duplicateCount 3): 3 × 200, one job, one run', async () => {
    await control(t.emu, `/portals/${portal.memberId}/delivery`, { duplicateRate: 1, duplicateCount: 3 }, 'PUT');
    await fireAndFlush(t.emu, portal.memberId, 'ONCRMDEALADD', { FIELDS: { ID: '101' } });
    const log = await control<unknown>(t.emu, `/portals/${portal.memberId}/events/log?limit=10`, undefined, 'GET');
    const entries = (Array.isArray(log) ? log : ((log as { entries?: unknown[] }).entries ?? [])) as Array<{ http_status: number; event: string }>;
    const deliveries = entries.filter((entry) => entry.event === 'ONCRMDEALADD');
    assert.equal(deliveries.length, 3, 'three copies were POSTed');
    assert.deepEqual(deliveries.map((entry) => entry.http_status), [200, 200, 200]);
    await waitFor(async () => runs.length === 1 && (await appInternals(t.app).services()).queue.counts().then((c) => c.succeeded === 1), 10_000, 'the one job');
    await new Promise((resolve) => setTimeout(resolve, 200)); // a second job would have run by now
    assert.deepEqual(runs, ['101']);
    assert.equal(await countRows(t.store, 'b24kit_event_inbox', portal.memberId), 1);
    assert.equal(await countRows(t.store, 'b24kit_jobs', portal.memberId), 1);
    await control(t.emu, `/portals/${portal.memberId}/delivery`, { duplicateRate: 0 }, 'PUT');
  });

  it('the same form replayed 3 times by hand: queued, duplicate, duplicate', async () => {
    const form = eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '202' } });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await postForm(`${t.url}/webhooks/${portal.memberId}/event`, form));
    assert.deepEqual(answers.map((a) => [a.status, a.body.status]), [[200, 'queued'], [200, 'duplicate'], [200, 'duplicate']]);
    await waitFor(() => runs.includes('202'), 10_000, 'the run');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(runs, ['101', '202']);
  });

  it('a distinct event on the same deal (another ts) is not a duplicate', async () => {
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '202' } }, { ts: '1767225601' }));
    assert.deepEqual(answer.body, { status: 'queued' });
    await waitFor(() => runs.length === 3, 10_000, 'the third run');
  });

  it('an event the app has no handler for → 200 ignored: nothing stored, no job', async () => {
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(portal, 'ONCRMLEADADD', { FIELDS: { ID: '5' } }));
    assert.deepEqual(answer, { status: 200, body: { status: 'ignored' } });
    const row = await t.store.one<{ status: string }>("SELECT status FROM b24kit_event_inbox WHERE event = 'ONCRMLEADADD'");
    assert.equal(row, undefined, 'no inbox row: a portal must not grow the inbox with names the app never asked for');
    assert.equal(await countRows(t.store, 'b24kit_jobs', portal.memberId), 3, 'no job for it');
  });

  it('/metrics counts queued, duplicate and ignored deliveries (undeclared events as `other`)', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(text, /b24kit_events_received_total\{event="ONCRMDEALADD",outcome="queued"\} 3/);
    assert.match(text, /b24kit_events_received_total\{event="ONCRMDEALADD",outcome="duplicate"\} 4/);
    assert.match(text, /b24kit_events_received_total\{event="other",outcome="ignored"\} 1/);
    assert.match(text, /b24kit_jobs\{state="succeeded"\} 3/);
  });
});
