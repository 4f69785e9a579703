/**
 * Running a store operation again while the store is unavailable (isStoreUnavailable: down,
 * unreachable, starting, busy beyond its timeout), with pauses that double up to a cap, until a
 * deadline. Any other failure is thrown at once: a wrong password or a failed statement does not
 * heal by waiting. Used where giving up costs more than waiting: a process starting during a
 * database outage (cli/wait-for-store.ts), an install holding tokens that live nowhere else
 * (oauth/installer.ts).
 */
import { isStoreUnavailable } from './sql.js';

export interface OutageRetryOptions {
  /** How long to keep trying, from the first try, in ms. */
  timeoutMs: number;
  /** The first pause, in ms; each next one doubles, up to `maxPauseMs`. The last one ends at the deadline, for one more try then. */
  firstPauseMs: number;
  maxPauseMs: number;
  /** Before each pause: the outage met by try `attempt`. */
  onRetry?: (error: unknown, attempt: number, pauseMs: number) => void;
  /** A try after at least one outage succeeded. */
  onRecovered?: (attempts: number) => void;
  /** The deadline passed: `error` (the last outage) is thrown next. */
  onGiveUp?: (error: unknown, attempts: number) => void;
  /** @defaultValue setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

export async function retryWhileStoreUnavailable<T>(operation: () => Promise<T>, options: OutageRetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = performance.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await operation();
      if (attempt > 1) options.onRecovered?.(attempt);
      return result;
    } catch (error) {
      if (!isStoreUnavailable(error)) throw error;
      const leftMs = deadline - performance.now();
      if (leftMs <= 0) {
        options.onGiveUp?.(error, attempt);
        throw error;
      }
      const pauseMs = Math.min(options.maxPauseMs, options.firstPauseMs * 2 ** (attempt - 1), leftMs);
      options.onRetry?.(error, attempt, pauseMs);
      await sleep(pauseMs);
    }
  }
}
