/**
 * One portal's valid application_token must not be able to grow /metrics or the inbox without
 * bound: event names and robot codes are the caller's choice, so only the names the app declares
 * (and the framework's own events) get a label of their own; everything else is `other`, answered
 * 200 `ignored` and stored nowhere. A declared event still queues and runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { INBOX_TABLE } from '../../src/events/inbox.js';
import { countRows, eventForm, startTestApp, waitFor, type TestApp } from '../app/helpers.js';
import { postForm, type EmulatorInstall } from '../portals/helpers.js';
import { robotForm } from './helpers.js';

const MADE_UP_EVENTS = 300;
const MADE_UP_ROBOTS = 50;

/** The distinct values of one label of one metric in a /metrics text. */
function labelValues(text: string, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const match of text.matchAll(new RegExp(`^${metric}\\{[^}]*\\b${label}="([^"]*)"`, 'gm'))) values.add(match[1]!);
  return values;
}

describe('made-up event names and robot codes do not grow /metrics or the inbox', () => {
  let t: TestApp;
  let portal: EmulatorInstall;
  const runs: string[] = [];
  before(async () => {
    t = await startTestApp((app) => app.on('ONCRMDEALADD', (ctx) => void runs.push(String((ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID))));
    portal = await t.install();
  });
  after(() => t.close());

  it(`${MADE_UP_EVENTS} made-up event names with a valid token → 200 ignored each, no inbox row, no job`, async () => {
    const before = await countRows(t.store, INBOX_TABLE, portal.memberId);
    const answers = [];
    for (let i = 0; i < MADE_UP_EVENTS; i++) {
      // [A-Z0-9_]{1,100}: what the event parser accepts
      const name = `ONMADEUP_${i}_${randomBytes(4).toString('hex').toUpperCase()}`;
      answers.push(await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(portal, name, { FIELDS: { ID: String(i) } })));
    }
    assert.deepEqual(new Set(answers.map((a) => JSON.stringify([a.status, a.body]))), new Set([JSON.stringify([200, { status: 'ignored' }])]));
    assert.equal(await countRows(t.store, INBOX_TABLE, portal.memberId), before, 'no inbox row per made-up name');
    assert.equal(await countRows(t.store, 'b24kit_jobs', portal.memberId), 0, 'no job');
  });

  it(`${MADE_UP_ROBOTS} made-up robot codes with a valid token → 200 ignored each, nothing stored`, async () => {
    const before = await countRows(t.store, INBOX_TABLE, portal.memberId);
    const answers = [];
    for (let i = 0; i < MADE_UP_ROBOTS; i++) {
      const code = `made.up-${i}_${randomBytes(4).toString('hex')}`;
      answers.push(await postForm(`${t.url}/robots/${portal.memberId}/${code}`, robotForm(portal, code)));
    }
    assert.deepEqual(new Set(answers.map((a) => JSON.stringify([a.status, a.body]))), new Set([JSON.stringify([200, { status: 'ignored' }])]));
    assert.equal(await countRows(t.store, INBOX_TABLE, portal.memberId), before, 'no inbox row per made-up code');
    assert.equal(await countRows(t.store, 'b24kit_jobs', portal.memberId), 0, 'no job');
  });

  it('a declared event still queues and runs', async () => {
    const answer = await postForm(`${t.url}/webhooks/${portal.memberId}/event`, eventForm(portal, 'ONCRMDEALADD', { FIELDS: { ID: '42' } }));
    assert.deepEqual(answer, { status: 200, body: { status: 'queued' } });
    await waitFor(() => runs.includes('42'), 10_000, 'the declared event to run');
    assert.equal(await countRows(t.store, INBOX_TABLE, portal.memberId), 1, 'the declared event is in the inbox');
  });

  it('/metrics holds only declared labels and `other`; the made-up deliveries are counted there', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const events = labelValues(text, 'b24kit_events_received_total', 'event');
    assert.deepEqual([...events].sort(), ['ONCRMDEALADD', 'other']);
    assert.match(text, new RegExp(`^b24kit_events_received_total\\{event="other",outcome="ignored"\\} ${MADE_UP_EVENTS + MADE_UP_ROBOTS}$`, 'm'));
    assert.match(text, /^b24kit_events_received_total\{event="ONCRMDEALADD",outcome="queued"\} 1$/m);
    assert.ok(!/ONMADEUP_|made\.up-/.test(text), 'no made-up name anywhere in /metrics');
    // every label value of every b24kit series, all together: a handful, not one per name
    const series = text.split('\n').filter((line) => line.startsWith('b24kit_'));
    assert.ok(series.length < 100, `${series.length} series`);
  });
});
