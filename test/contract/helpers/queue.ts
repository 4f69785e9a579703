/** Shared pieces of the queue and scheduler contract tests. */
import { JobQueue, type QueueOptions } from '../../../src/queue/index.js';
import type { Store } from '../../../src/store/types.js';

/** A clock the test moves by hand. Starts at 2026-01-01T00:00:00Z. */
export class ManualClock {
  now = Date.UTC(2026, 0, 1);
  readonly nowMs = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** A random source that always returns `value` (jitter made predictable). */
export const fixedRandom =
  (value: number): (() => number) =>
  () =>
    value;

export function makeQueue(store: Store, clock: ManualClock, options: Partial<QueueOptions> = {}): JobQueue {
  return new JobQueue({ store, nowMs: clock.nowMs, random: fixedRandom(0.5), ...options });
}

/** Empties the queue's and the scheduler's tables between tests. */
export async function resetQueueTables(store: Store): Promise<void> {
  await store.run('DELETE FROM b24kit_jobs');
  await store.run('DELETE FROM b24kit_job_heads'); // the claim's round-robin turns start over too
  await store.run('DELETE FROM b24kit_schedule_slots');
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
