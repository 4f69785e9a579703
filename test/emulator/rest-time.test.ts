/**
 * The `time` block's numbers agree with each other as the portal's do (one microtime clock):
 * `duration` is `finish - start`, and `processing` is part of it. Each is a double rounded to the
 * microsecond; rounded one by one, a 1.5 µs call starting at this millisecond reported processing
 * 0.000002 against a duration of 0.000001 (a CI failure of documented-shapes).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { restTime, serverTime } from '../../src/emulator/rest/time.js';

/** `duration` is `finish - start` rounded to the microsecond: within half of one (a double's own subtraction error is far below). */
const HALF_A_MICROSECOND = 5e-7 + 1e-12;

describe('the REST answer time block', () => {
  it('processing never exceeds duration, and duration is finish - start', () => {
    const startMs = 1796290691177.071;
    const measuredMs = 0.001515;
    const time = restTime({ startMs, finishMs: startMs + measuredMs, processingMs: measuredMs, operatingSeconds: 0, operatingResetAt: 0, timeZone: 'UTC' });
    assert.ok(time.processing <= time.duration, JSON.stringify(time));
    assert.ok(Math.abs(time.finish - time.start - time.duration) <= HALF_A_MICROSECOND, JSON.stringify(time));
  });

  it('holds over many starts and durations', () => {
    for (let n = 0; n < 20_000; n++) {
      const startMs = 1796290690205 + n * 0.0137;
      const measuredMs = (n % 977) * 0.00113;
      const time = restTime({ startMs, finishMs: startMs + measuredMs, processingMs: measuredMs, operatingSeconds: 0, operatingResetAt: 0, timeZone: 'Europe/Berlin' });
      assert.ok(time.processing <= time.duration && Math.abs(time.finish - time.start - time.duration) <= HALF_A_MICROSECOND, JSON.stringify({ startMs, measuredMs, time }));
      const server = serverTime(startMs, startMs + measuredMs);
      assert.ok(server.processing <= server.duration && Math.abs(server.finish - server.start - server.duration) <= HALF_A_MICROSECOND);
    }
  });
});
