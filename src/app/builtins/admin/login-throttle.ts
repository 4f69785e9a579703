/**
 * Failed admin authentications (the login form, the API's bearer token) counted per client address:
 * after `maxFailures` within `windowMs`, that address is refused, with the time until its oldest
 * failure leaves the window, whatever token it sends. The admin token has at least 16 characters,
 * which no one guesses online; this keeps a weak one from being guessed, and the log from filling
 * with attempts (a refused address is logged once per refusal period). The address is only as good
 * as the server's `trustProxy` setting makes it (docs/operations.md): with the right one, another
 * address is not affected. Per process (each web process counts its own), in bounded memory: at most
 * `maxAddresses` addresses are remembered, the least recently failed forgotten first. An IPv6
 * client counts as its /64 (src/server/client-address.ts): it could otherwise change addresses
 * within it to step around the limit.
 */
import { clientAddressGroup } from '../../../server/client-address.js';

export interface LoginThrottleOptions {
  /** @defaultValue 10 */
  maxFailures?: number;
  /** @defaultValue 15 minutes */
  windowMs?: number;
  /** @defaultValue 10000 */
  maxAddresses?: number;
  /** @defaultValue Date.now */
  nowMs?: () => number;
}

export class LoginThrottle {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxAddresses: number;
  readonly #nowMs: () => number;
  /** Failure times per address, oldest first; the map in order of each address's last failure. */
  readonly #failures = new Map<string, number[]>();
  /** Addresses whose current refusal was already reported (one log line per refusal period, not per try). */
  readonly #reported = new Set<string>();

  constructor(options: LoginThrottleOptions = {}) {
    this.#maxFailures = Math.max(1, options.maxFailures ?? 10);
    this.#windowMs = Math.max(1, options.windowMs ?? 15 * 60_000);
    this.#maxAddresses = Math.max(1, options.maxAddresses ?? 10_000);
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Milliseconds until `client` (its address group) may try again; 0 when it may now. */
  waitMs(client: string): number {
    const recent = this.#recent(client);
    if (recent.length < this.#maxFailures) return 0;
    return recent[recent.length - this.#maxFailures]! + this.#windowMs - this.#nowMs();
  }

  /** Like {@link waitMs}, and whether this is the first refusal of the period (the one worth a log line). */
  check(client: string): { waitMs: number; firstRefusal: boolean } {
    const address = clientAddressGroup(client);
    const waitMs = this.waitMs(address);
    if (waitMs <= 0) {
      this.#reported.delete(address);
      return { waitMs: 0, firstRefusal: false };
    }
    const firstRefusal = !this.#reported.has(address);
    if (firstRefusal) this.#reported.add(address);
    // bounded like the failures: an address is reported only while its failures are remembered
    if (this.#reported.size > this.#maxAddresses) for (const known of this.#reported) if (!this.#failures.has(known)) this.#reported.delete(known);
    return { waitMs, firstRefusal };
  }

  failed(client: string): void {
    const address = clientAddressGroup(client);
    const recent = this.#recent(address);
    recent.push(this.#nowMs());
    this.#failures.delete(address);
    this.#failures.set(address, recent.slice(-this.#maxFailures));
    if (this.#failures.size > this.#maxAddresses) this.#failures.delete(this.#failures.keys().next().value!);
  }

  succeeded(client: string): void {
    const address = clientAddressGroup(client);
    this.#failures.delete(address);
    this.#reported.delete(address);
  }

  #recent(client: string): number[] {
    const since = this.#nowMs() - this.#windowMs;
    return (this.#failures.get(clientAddressGroup(client)) ?? []).filter((at) => at > since);
  }
}
