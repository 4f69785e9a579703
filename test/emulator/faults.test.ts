import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { advanceClock, control, createInstalledPortal, portalStats, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

const NO_FAULTS = { errorRate: 0, errorEvery: 0, latencyMs: 0, downForSeconds: 0, resetRate: 0, hangRate: 0 };

describe('injected faults', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const faults = (body: Record<string, unknown>): Promise<Record<string, unknown>> =>
    control(emu, `/portals/${portal.memberId}/faults`, body, 'PUT');

  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('answers a share of requests with the chosen error status and code', async () => {
    await faults({ errorRate: 1, errorStatus: 502, errorCode: 'ERROR_UNEXPECTED_ANSWER' });
    const failed = await rest(portal, 'profile');
    assert.equal(failed.status, 502);
    assert.deepEqual(failed.body, { error: 'ERROR_UNEXPECTED_ANSWER', error_description: 'Injected fault' });
    await faults(NO_FAULTS);
    assert.equal((await rest(portal, 'profile')).status, 200);
  });

  it('adds latency in real time', async () => {
    await faults({ latencyMs: 300 });
    const started = performance.now();
    assert.equal((await rest(portal, 'profile')).status, 200);
    assert.ok(performance.now() - started >= 250, 'answer came too early');
    await faults(NO_FAULTS);
  });

  it('is down with an HTML 503 page until the emulator clock passes downForSeconds', async () => {
    await faults({ downForSeconds: 120 });
    const down = await fetch(`${portal.clientEndpoint}profile.json?auth=${portal.accessToken}`);
    assert.equal(down.status, 503);
    assert.match(down.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await down.text(), /503 Service Temporarily Unavailable/);
    await advanceClock(emu, 60);
    const stillDown = await fetch(`${portal.clientEndpoint}profile.json?auth=${portal.accessToken}`);
    assert.equal(stillDown.status, 503);
    await stillDown.text();
    await advanceClock(emu, 61);
    assert.equal((await rest(portal, 'profile')).status, 200);
  });

  it('resets the connection without an answer', async () => {
    await faults({ resetRate: 1 });
    await assert.rejects(fetch(`${portal.clientEndpoint}profile.json?auth=${portal.accessToken}`), TypeError);
    await faults(NO_FAULTS);
    assert.equal((await rest(portal, 'profile')).status, 200);
  });

  it('hangs without an answer until the client gives up', async () => {
    await faults({ hangRate: 1 });
    const countedBefore = (await portalStats(emu, portal.memberId)).requests as number;
    const giveUp = new AbortController();
    let settled = false;
    const hung = fetch(`${portal.clientEndpoint}profile.json?auth=${portal.accessToken}`, { signal: giveUp.signal }).finally(() => (settled = true));
    hung.catch(() => undefined);
    // the request has reached the portal (counted), and 400 ms later it is still unanswered
    for (let waited = 0; ((await portalStats(emu, portal.memberId)).requests as number) === countedBefore; waited += 10) {
      assert.ok(waited < 10_000, 'the request never reached the portal');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(settled, false, 'the request was answered or failed');
    giveUp.abort();
    await assert.rejects(hung, (error: Error) => error.name === 'AbortError');
    await faults(NO_FAULTS);
    assert.equal((await rest(portal, 'profile')).status, 200);
  });

  it('counts faulted requests in the stats', async () => {
    const stats = await portalStats(emu, portal.memberId);
    // 1 error + 1 ok, 1 latency, 2 down (503) + 1 ok, 1 reset + 1 ok, 1 hang + 1 ok
    assert.equal(stats.requests, 10);
    assert.equal((stats.byStatus as Record<string, number>)['503'], 2);
    assert.equal((stats.byStatus as Record<string, number>)['502'], 1);
  });

  it('errorEvery fails exactly every Nth request, counted afresh from the PUT that sets it', async () => {
    assert.equal((await rest(portal, 'profile')).status, 200); // requests before the PUT do not count
    await faults({ errorEvery: 3, errorStatus: 500, errorCode: 'INTERNAL_SERVER_ERROR' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await rest(portal, 'profile')).status);
    assert.deepEqual(statuses, [200, 200, 500, 200, 200, 500, 200]);
    await faults({ errorEvery: 2 });
    const again: number[] = [];
    for (let i = 0; i < 4; i += 1) again.push((await rest(portal, 'profile')).status);
    assert.deepEqual(again, [200, 500, 200, 500]);
    await faults(NO_FAULTS);
    assert.equal((await rest(portal, 'profile')).status, 200);
  });

  it('refuses an errorEvery that is not a whole number ≥ 0', async () => {
    for (const errorEvery of [-1, 1.5, '2']) {
      const response = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errorEvery }) });
      assert.equal(response.status, 400, `errorEvery ${JSON.stringify(errorEvery)}`);
      await response.text();
    }
  });

  it('validates the faults body', async () => {
    const response = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 2 }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'CONTROL_BAD_REQUEST');
  });
});
