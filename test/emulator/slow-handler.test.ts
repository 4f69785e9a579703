import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, portalStats, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface LogEntry {
  url: string;
  status: string;
  timed_out: boolean;
  duration_ms: number | null;
  throttled_ms: number;
  error: string | null;
}

/**
 * A slow event handler, as apidocs.bitrix24.com/api-reference/events/index.html describes the queue
 * server toward it: "If your server does not respond or returns an error, the Bitrix24 queue server
 * will log the failure but will not resend the event", and "If the handler responds slowly, the
 * server reduces the frequency of calls. The intervals between requests increase."
 */
describe('slow event handler', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  const fire = (id: number) => control(emu, `/portals/${portal.memberId}/events`, { event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: String(id) } }, userId: 1 });
  const flush = () => control(emu, `/portals/${portal.memberId}/events/flush`);
  const delivery = (body: Record<string, unknown>) => control(emu, `/portals/${portal.memberId}/delivery`, body, 'PUT');
  const log = () => control<LogEntry[]>(emu, `/portals/${portal.memberId}/events/log`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
    // answers only after 400 ms: longer than the 50 ms timeout set below
    hooks.onPost('/slow', () => sleep(400));
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });
  beforeEach(async () => {
    portal = await createInstalledPortal(emu);
    hooks.received.length = 0;
  });

  it('gives up after the delivery timeout, counts the timeout and never resends', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/slow` });
    await delivery({ timeoutMs: 50 });
    await fire(1);
    const flushed = await flush();
    assert.deepEqual(flushed, { idle: true, pending: 0, eventsDelivered: 0, eventsFailed: 1 });
    const [entry] = await log();
    assert.equal(entry?.status, 'failed');
    assert.equal(entry?.timed_out, true);
    assert.equal(entry?.error, 'No answer within 50 ms');
    const stats = await portalStats(emu, portal.memberId);
    assert.deepEqual([stats.eventsFailed, stats.eventsTimedOut, stats.eventsDelivered], [1, 1, 0]);
    // the handler got it once; after it has finished answering, still once: no redelivery
    await sleep(450);
    assert.equal(hooks.at('/slow').length, 1);
    assert.equal((await log()).length, 1);
  });

  it('a handler that answers within the timeout is delivered, not timed out', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/fast` });
    await delivery({ timeoutMs: 5000 });
    await fire(2);
    await flush();
    const [entry] = await log();
    assert.deepEqual([entry?.status, entry?.timed_out, entry?.throttled_ms], ['delivered', false, 0]);
    assert.equal(typeof entry?.duration_ms, 'number');
    assert.equal((await portalStats(emu, portal.memberId)).eventsTimedOut, 0);
  });

  it('without the switch, later deliveries to a slow handler are not held back', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/slow` });
    await delivery({ timeoutMs: 50 });
    for (const id of [1, 2, 3]) await fire(id);
    await flush();
    assert.deepEqual((await log()).map((e) => e.throttled_ms), [0, 0, 0]);
    assert.equal((await portalStats(emu, portal.memberId)).eventsThrottled, 0);
  });

  it('with throttleSlowHandlers, the pause before each call to a slow handler doubles; a fast answer resets it', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/slow` });
    await delivery({ timeoutMs: 50, throttleSlowHandlers: true, throttleBaseMs: 20, throttleMaxMs: 50 });
    for (const id of [1, 2, 3, 4]) await fire(id);
    await flush();
    // no pause before the first call, then 20, 40, and 80 capped at 50
    assert.deepEqual((await log()).map((e) => [e.timed_out, e.throttled_ms]), [[true, 0], [true, 20], [true, 40], [true, 50]]);
    assert.equal((await portalStats(emu, portal.memberId)).eventsThrottled, 3);

    // the same handler speeds up: the next call still waits (its last answer was slow), the one after does not
    await sleep(450);
    hooks.onPost('/slow', () => undefined);
    // a fast answer on a loaded machine may still take more than 50 ms: a longer timeout from here
    // (the pause earned by the slow answers is kept across settings changes)
    await delivery({ timeoutMs: 2000 });
    try {
      await fire(5);
      await fire(6);
      await flush();
      assert.deepEqual((await log()).slice(-2).map((e) => [e.status, e.throttled_ms]), [['delivered', 50], ['delivered', 0]]);
    } finally {
      hooks.onPost('/slow', () => sleep(400));
    }
  });

  it('a slow handler does not slow deliveries to another handler', async () => {
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/slow` });
    await rest(portal, 'event.bind', { event: 'ONCRMDEALUPDATE', handler: `${hooks.url}/other` });
    // 300 ms: /slow (400 ms) times out, /other answers at once but gets room on a loaded machine
    await delivery({ timeoutMs: 300, throttleSlowHandlers: true, throttleBaseMs: 20 });
    for (const id of [1, 2]) await fire(id);
    await flush();
    const entries = await log();
    assert.deepEqual(entries.filter((e) => e.url.endsWith('/other')).map((e) => e.throttled_ms), [0, 0]);
    assert.deepEqual(entries.filter((e) => e.url.endsWith('/slow')).map((e) => e.throttled_ms), [0, 20]);
  });

  it('refuses a delivery timeout out of range', async () => {
    const response = await fetch(`${emu.url}/_emulator/portals/${portal.memberId}/delivery`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ timeoutMs: 0 }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'CONTROL_BAD_REQUEST');
  });
});
