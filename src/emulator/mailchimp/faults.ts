/**
 * Injected faults for the Marketing API routes (control API `PUT /_emulator/mailchimp/faults`).
 * Each kind applies to the next `…Count` requests, or to a share `…Ratio` of them, or both unset = off.
 */
export interface MailchimpFaultsInput {
  /** Status of injected errors: 500, 502, 503 or 429. @defaultValue 500 */
  errorStatus?: number;
  /** Answer the next N requests with `errorStatus`. */
  errorCount?: number;
  /** Answer this share (0–1) of requests with `errorStatus`. */
  errorRatio?: number;
  /** Hold requests this long before answering (the connection slot stays taken). */
  latencyMs?: number;
  /** Apply `latencyMs` to the next N requests only; unset = to every request. */
  latencyCount?: number;
}

export class MailchimpFaults {
  errorStatus = 500;
  errorCount = 0;
  errorRatio = 0;
  latencyMs = 0;
  latencyCount: number | undefined;

  set(input: MailchimpFaultsInput): void {
    if (input.errorStatus !== undefined) this.errorStatus = input.errorStatus;
    if (input.errorCount !== undefined) this.errorCount = input.errorCount;
    if (input.errorRatio !== undefined) this.errorRatio = input.errorRatio;
    if (input.latencyMs !== undefined) this.latencyMs = input.latencyMs;
    if ('latencyCount' in input) this.latencyCount = input.latencyCount;
  }

  clear(): void {
    this.errorStatus = 500;
    this.errorCount = 0;
    this.errorRatio = 0;
    this.latencyMs = 0;
    this.latencyCount = undefined;
  }

  /** Decides this request's faults, consuming the counted ones. */
  next(random: () => number = Math.random): { delayMs: number; errorStatus?: number } {
    let delayMs = 0;
    if (this.latencyMs > 0 && (this.latencyCount === undefined || this.latencyCount > 0)) {
      delayMs = this.latencyMs;
      if (this.latencyCount !== undefined) this.latencyCount -= 1;
    }
    if (this.errorCount > 0) {
      this.errorCount -= 1;
      return { delayMs, errorStatus: this.errorStatus };
    }
    if (this.errorRatio > 0 && random() < this.errorRatio) return { delayMs, errorStatus: this.errorStatus };
    return { delayMs };
  }

  snapshot(): Record<string, unknown> {
    return { errorStatus: this.errorStatus, errorCount: this.errorCount, errorRatio: this.errorRatio, latencyMs: this.latencyMs, latencyCount: this.latencyCount ?? null };
  }
}
