/**
 * At most `limit` holders at once; the others wait in arrival order. The Mailchimp adapter holds
 * one permit per request, because Mailchimp refuses an API key's 11th simultaneous connection with
 * 429 (https://mailchimp.com/developer/marketing/docs/fundamentals/).
 */
export class Semaphore {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
  }

  /** Runs `task` once a permit is free, and frees it when the task settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active += 1;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the permit passes straight on: #active stays the same
      else this.#active -= 1;
    }
  }
}
