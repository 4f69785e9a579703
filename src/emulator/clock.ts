/**
 * The emulator's clock: real time plus an offset that tests move forward with
 * `POST /_emulator/clock`. Token expiry, the leaky bucket and the operating window all read it,
 * so advancing it expires tokens and drains buckets as the passing of real time would.
 */
export class EmulatorClock {
  #offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.#offsetMs;
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  advance(seconds: number): void {
    this.#offsetMs += seconds * 1000;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }
}
