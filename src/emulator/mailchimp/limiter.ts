/**
 * Simultaneous connections per API key: Mailchimp allows 10 and answers 429 to the next
 * (https://mailchimp.com/developer/marketing/docs/fundamentals/). A slot is held from
 * the moment the request is accepted until its answer is sent or its socket closes.
 */
export class ConnectionLimiter {
  readonly #inFlight = new Map<string, number>();

  constructor(readonly maxPerKey: number) {}

  /** Takes a slot for `key`, or returns undefined when all are taken; call the result once to free it. */
  tryAcquire(key: string): (() => void) | undefined {
    const current = this.#inFlight.get(key) ?? 0;
    if (current >= this.maxPerKey) return undefined;
    this.#inFlight.set(key, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
    };
  }

  inFlight(key: string): number {
    return this.#inFlight.get(key) ?? 0;
  }
}
