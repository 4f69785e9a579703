/**
 * The per-method operating budget (protocol §5.2): server time spent in each method is summed in
 * one-minute buckets over a rolling window; when the sum reaches the limit, the next call of that
 * method answers 429 OPERATION_TIME_LIMIT while other methods go on.
 */
const BUCKET_MS = 60_000;

export class OperatingBudget {
  /** method → (minute index → seconds spent) */
  readonly #perMethod = new Map<string, Map<number, number>>();

  constructor(private readonly windowSeconds: () => number) {}

  /** Seconds spent in `method` within the window ending at `nowMs`. */
  used(method: string, nowMs: number): number {
    const buckets = this.#buckets(method, nowMs);
    let sum = 0;
    for (const seconds of buckets.values()) sum += seconds;
    return sum;
  }

  /** Unix seconds at which the oldest bucket of `method` leaves the window. */
  resetAt(method: string, nowMs: number): number {
    const buckets = this.#buckets(method, nowMs);
    const oldest = buckets.size ? Math.min(...buckets.keys()) : Math.floor(nowMs / BUCKET_MS);
    return Math.floor((oldest * BUCKET_MS + this.windowSeconds() * 1000) / 1000);
  }

  add(method: string, nowMs: number, seconds: number): void {
    if (seconds <= 0) return;
    const buckets = this.#buckets(method, nowMs);
    const minute = Math.floor(nowMs / BUCKET_MS);
    buckets.set(minute, (buckets.get(minute) ?? 0) + seconds);
  }

  reset(): void {
    this.#perMethod.clear();
  }

  #buckets(method: string, nowMs: number): Map<number, number> {
    let buckets = this.#perMethod.get(method);
    if (!buckets) {
      buckets = new Map();
      this.#perMethod.set(method, buckets);
    }
    const firstMinuteInWindow = Math.floor((nowMs - this.windowSeconds() * 1000) / BUCKET_MS) + 1;
    for (const minute of buckets.keys()) if (minute < firstMinuteInWindow) buckets.delete(minute);
    return buckets;
  }
}
