/**
 * SignalStraggler: a process started by npm waits, after its shutdown, for npm's forwarded copy of
 * the stop signal (or a grace period), so that the copy cannot land while node tears the process
 * down and kill it with the default action (exit 130 under `npm start`). Started otherwise, it exits
 * at once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignalStraggler } from '../../src/cli/serve.js';

/** Whether the promise has settled by the time the already-due timers and immediates have run. */
async function settledSoon(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

describe('SignalStraggler', () => {
  it('not under npm: settled at once after one signal', async () => {
    const straggler = new SignalStraggler(false);
    straggler.received();
    assert.equal(await settledSoon(straggler.settled(60_000)), true);
  });

  it('under npm: after one signal it waits; the forwarded copy ends the wait', async () => {
    const straggler = new SignalStraggler(true);
    straggler.received();
    const settled = straggler.settled(60_000);
    assert.equal(await settledSoon(settled), false, 'must wait for the second signal');
    straggler.received();
    assert.equal(await settledSoon(settled), true);
  });

  it('under npm: both copies already in → settled at once', async () => {
    const straggler = new SignalStraggler(true);
    straggler.received();
    straggler.received();
    assert.equal(await settledSoon(straggler.settled(60_000)), true);
  });

  it('under npm: a copy that never comes (the signal was sent to node alone) → the grace period ends the wait', { timeout: 5000 }, async () => {
    const straggler = new SignalStraggler(true);
    straggler.received();
    const settled = straggler.settled(30);
    await settled; // resolves through the grace timer; a hang fails the test by its timeout
    assert.equal(await settledSoon(settled), true);
  });
});
