/** Job retry timing: the shared backoff formula (src/rest/retry.ts) as the queue applies it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_JOB_TYPE, postponeDelayMs, resolveJobType, retryDelayMs } from '../../src/queue/backoff.js';

const TYPE = resolveJobType({ maxAttempts: 10, baseDelayMs: 1000, capDelayMs: 20_000 });

/** A deterministic random source: a fixed sequence, cycled. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('job retry backoff', () => {
  it('doubles the ceiling per failed attempt and stops at the cap (upper edge of the jitter)', () => {
    const top = (attempt: number) => retryDelayMs(attempt, 10, TYPE, () => 0.999_999_9);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(top), [999, 1999, 3999, 7999, 15_999, 19_999, 19_999]);
  });

  it('is full jitter: uniform between 0 and the ceiling', () => {
    assert.equal(retryDelayMs(3, 10, TYPE, () => 0), 0);
    assert.equal(retryDelayMs(3, 10, TYPE, () => 0.25), 1000);
    assert.equal(retryDelayMs(3, 10, TYPE, () => 0.5), 2000);
    // an evenly spread random source gives evenly spread delays: each quarter of [0, 4000) gets a quarter
    const random = sequence(Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000));
    const buckets = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelayMs(3, 10, TYPE, random)!;
      assert.ok(delay >= 0 && delay < 4000);
      buckets[Math.floor(delay / 1000)]! += 1;
    }
    assert.deepEqual(buckets, [250, 250, 250, 250]);
  });

  it('stays within [0, ceiling) for every attempt and random value', () => {
    for (let attempt = 1; attempt < 10; attempt++) {
      const ceiling = Math.min(20_000, 1000 * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.5, 0.9, 0.999_999]) {
        const delay = retryDelayMs(attempt, 10, TYPE, () => r)!;
        assert.ok(delay >= 0 && delay < ceiling, `attempt ${attempt}, r=${r}: ${delay}`);
      }
    }
  });

  it('gives no delay (→ dead) once the last attempt failed', () => {
    assert.notEqual(retryDelayMs(2, 3, TYPE, () => 0.5), undefined);
    assert.equal(retryDelayMs(3, 3, TYPE, () => 0.5), undefined);
    assert.equal(retryDelayMs(1, 1, TYPE, () => 0.5), undefined, 'maxAttempts 1: no retry at all');
  });

  it('resolves a job type over the defaults (8 attempts, 1 s base, 10 min cap, permanent errors not retried), with sane bounds', () => {
    const noRetryOfPermanent = { retryPermanentErrors: false };
    assert.deepEqual(resolveJobType(undefined), { maxAttempts: 8, baseDelayMs: 1000, capDelayMs: 600_000, ...noRetryOfPermanent });
    assert.deepEqual(resolveJobType({ maxAttempts: 3 }), { maxAttempts: 3, baseDelayMs: 1000, capDelayMs: 600_000, ...noRetryOfPermanent });
    assert.deepEqual(resolveJobType({ baseDelayMs: 50 }, { maxAttempts: 2, baseDelayMs: 10, capDelayMs: 100 }), { maxAttempts: 2, baseDelayMs: 50, capDelayMs: 100, ...noRetryOfPermanent });
    assert.equal(resolveJobType({ retryPermanentErrors: true }).retryPermanentErrors, true);
    assert.equal(resolveJobType({}, { ...DEFAULT_JOB_TYPE, retryPermanentErrors: true }).retryPermanentErrors, true, 'from the queue defaults');
    assert.equal(resolveJobType({ maxAttempts: 0 }).maxAttempts, 1);
    assert.equal(resolveJobType({ baseDelayMs: -5 }).baseDelayMs, 0);
  });

  it('postpones with growing, capped delays and never gives up', () => {
    const top = (n: number) => postponeDelayMs(n, () => 0.999_999_9);
    assert.deepEqual([1, 2, 3].map(top), [999, 1999, 3999]);
    assert.equal(top(50), 299_999, 'capped at 5 minutes');
    assert.equal(top(10_000), 299_999, 'defined however many times a portal refused');
    assert.equal(postponeDelayMs(0, () => 0.5), 500, 'counts from the first postpone');
  });
});
