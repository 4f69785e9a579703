import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMailchimpEmulator, type RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';
import { mcApi, mcControl } from '../helpers/mailchimp.js';

describe('Mailchimp emulator: connection limit and faults', () => {
  let mc: RunningMailchimpEmulator;
  const otherKey = 'abcdefabcdefabcdefabcdefabcdefab-us6';

  before(async () => {
    mc = await startMailchimpEmulator();
    await mcControl(mc, 'POST', '/keys', { key: otherKey });
  });
  after(() => mc.close());

  it('answers the 11th simultaneous request of one key with 429, and serves another key', async () => {
    // held 5 s: the 11th must arrive while all ten still hold their slots, however slow the machine
    await mcControl(mc, 'PUT', '/faults', { latencyMs: 5000, latencyCount: 10 });
    const held = Array.from({ length: 10 }, () => mcApi(mc, 'GET', '/ping'));
    // the ten held requests have taken their slots once the emulator has counted them
    while (Number((await mcControl(mc, 'GET', '/stats')).body.requests) < 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const eleventh = await mcApi(mc, 'GET', '/ping');
    assert.equal(eleventh.status, 429);
    assert.equal(eleventh.body.title, 'Too Many Requests');
    assert.match(eleventh.contentType, /^application\/problem\+json/);
    assert.equal((await mcApi(mc, 'GET', '/ping', undefined, otherKey)).status, 200, 'the limit is per key');
    const answers = await Promise.all(held);
    assert.deepEqual(answers.map((answer) => answer.status), Array(10).fill(200));
    assert.equal((await mcApi(mc, 'GET', '/ping')).status, 200, 'slots are freed once answered');
    const stats = (await mcControl(mc, 'GET', '/stats')).body;
    assert.equal(stats.concurrencyRefusals, 1);
    assert.equal((stats.byStatus as Record<string, number>)['429'], 1);
  });

  it('fails the next N requests with the chosen status, then recovers', async () => {
    await mcControl(mc, 'PUT', '/faults', { errorStatus: 503, errorCount: 2 });
    const statuses = [];
    for (let index = 0; index < 3; index += 1) statuses.push((await mcApi(mc, 'GET', '/ping')).status);
    assert.deepEqual(statuses, [503, 503, 200]);
  });

  it('fails a share of requests with errorRatio, in problem+json', async () => {
    await mcControl(mc, 'PUT', '/faults', { errorStatus: 500, errorRatio: 1 });
    const failed = await mcApi(mc, 'GET', '/ping');
    assert.equal(failed.status, 500);
    assert.equal(failed.body.title, 'Internal Server Error');
    assert.equal(failed.body.detail, 'Injected fault');
    assert.equal((await mcControl(mc, 'DELETE', '/faults')).status, 204);
    assert.equal((await mcApi(mc, 'GET', '/ping')).status, 200);
  });

  it('refuses a bad fault body with CONTROL_BAD_REQUEST', async () => {
    const bad = await mcControl(mc, 'PUT', '/faults', { errorStatus: 418, errorRatio: 2 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'CONTROL_BAD_REQUEST');
  });
});
