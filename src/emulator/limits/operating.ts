/**
 * The per-method operating budget (docs/protocol.md §5.2, D:limits.md): server time spent in each method is
 * summed in one-minute buckets over a rolling window (10 buckets for the default 600 s); when the sum
 * is above the limit, the next call of that method answers 429 OPERATION_TIME_LIMIT while other
 * methods go on. `operating_reset_at` is when the oldest bucket leaves the window, i.e. when part of
 * the budget comes back.
 *
 * Time is kept in whole microseconds so that sums of many small costs compare exactly with the limit.
 */
const BUCKET_MS = 60_000;
const MICROS = 1_000_000;

export class OperatingBudget {
  /** method → (minute index → microseconds spent) */
  readonly #perMethod = new Map<string, Map<number, number>>();

  constructor(private readonly windowSeconds: () => number) {}

  /** Seconds spent in `method` within the window ending at `nowMs`. */
  used(method: string, nowMs: number): number {
    let micros = 0;
    for (const spent of this.#buckets(method, nowMs).values()) micros += spent;
    return micros / MICROS;
  }

  /** True when `method` has spent more than `limitSeconds` in the window: its next call is refused. */
  exhausted(method: string, nowMs: number, limitSeconds: number): boolean {
    return this.used(method, nowMs) * MICROS > Math.round(limitSeconds * MICROS);
  }

  /**
   * Unix seconds at which the oldest bucket of `method` leaves the window. A bucket for minute `m`
   * counts while `now < m·60 s + window`. Without any bucket, the current minute's bucket is meant.
   */
  resetAt(method: string, nowMs: number): number {
    const buckets = this.#buckets(method, nowMs);
    let oldest = Math.floor(nowMs / BUCKET_MS);
    for (const minute of buckets.keys()) oldest = Math.min(oldest, minute);
    return Math.floor((oldest * BUCKET_MS) / 1000) + this.windowSeconds();
  }

  add(method: string, nowMs: number, seconds: number): void {
    const micros = Math.round(seconds * MICROS);
    if (micros <= 0) return;
    const buckets = this.#buckets(method, nowMs);
    const minute = Math.floor(nowMs / BUCKET_MS);
    buckets.set(minute, (buckets.get(minute) ?? 0) + micros);
  }

  /** Seconds spent per method within the window, for the stats. */
  snapshot(nowMs: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const method of this.#perMethod.keys()) {
      const used = this.used(method, nowMs);
      if (used > 0) out[method] = used;
    }
    return out;
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
    const windowMs = this.windowSeconds() * 1000;
    for (const minute of buckets.keys()) if (minute * BUCKET_MS + windowMs <= nowMs) buckets.delete(minute);
    return buckets;
  }
}
