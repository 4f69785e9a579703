/**
 * The keep-alive sweep is paced: its refreshes start at most `refreshesPerSecond` apart, on the
 * emulator's clock, which the sweep's sleep moves (no real wait); the emulator counts one refresh per portal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { refreshGapMs, refreshIdlePortals } from '../../src/oauth/keep-alive.js';
import { PortalTokenService } from '../../src/oauth/portal-token-provider.js';
import type { Store } from '../../src/store/types.js';
import { EmulatorTime, emulatorTokenClient, installPortal, refreshCount, registry } from '../contract/helpers/portal-fixture.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import { startTestEmulator } from '../helpers/emulator.js';

describe('keep-alive pacing', () => {
  let emu: RunningEmulator;
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    emu = await startTestEmulator();
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
    await emu.close();
  });

  it('starts the refreshes of 5 idle portals at least 1/refreshesPerSecond apart on the clock, and refreshes each once', async () => {
    const time = await EmulatorTime.read(emu);
    const portals = registry(store, time);
    const installed = [];
    for (let i = 0; i < 5; i++) installed.push(await installPortal(emu, portals));
    await time.advance(8 * 86_400);
    // when each refresh starts (the sweep's pace); the OAuth server's own count is checked below
    const calledAtMs: number[] = [];
    class TimedTokens extends PortalTokenService {
      override refreshIfIdle(memberId: string, cutoffMs: number): Promise<boolean> {
        calledAtMs.push(time.nowMs());
        return super.refreshIfIdle(memberId, cutoffMs);
      }
    }
    const tokens = new TimedTokens({ portals, tokenClient: emulatorTokenClient(time), nowMs: time.nowMs, pollIntervalMs: 10 });
    const slept: number[] = [];
    const report = await refreshIdlePortals({
      portals,
      tokens,
      refreshesPerSecond: 0.5,
      sleep: async (ms) => {
        slept.push(ms);
        await time.advance(ms / 1000);
      },
    });

    assert.equal(report.refreshed.length, 5);
    for (const portal of installed) assert.equal(await refreshCount(emu, portal.memberId), 1);
    assert.equal(calledAtMs.length, 5);
    const gaps = calledAtMs.slice(1).map((at, i) => at - calledAtMs[i]!);
    assert.ok(gaps.every((gap) => gap >= 2000), `refreshes 2 s apart at 0.5/s: gaps ${gaps.join(', ')} ms`);
    assert.equal(slept.length, 4, 'one wait before each refresh but the first');
  });

  it('refuses a rate that is not a positive number with B24_ERR_CONFIG', () => {
    assert.equal(refreshGapMs(), 1000, '1 refresh per second by default');
    assert.equal(refreshGapMs(4), 250);
    for (const bad of [0, -1, Number.NaN]) {
      assert.throws(() => refreshGapMs(bad), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_CONFIG');
    }
  });
});
