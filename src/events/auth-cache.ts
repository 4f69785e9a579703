/**
 * A short memory of successful authentications (member_id + application_token → portal state),
 * so that a burst of events from one portal does not read and decrypt the stored token for each.
 * Only successes are kept, under a hash of the token; a forged token always goes to the store, and
 * so does any token for an unknown portal. A hit needs the right token, and a miss costs the same
 * for unknown and known portals (PortalRegistry.checkApplicationToken): no portal-existence oracle.
 * Never cache refusals: a "no such portal" entry would answer faster than a wrong token.
 * The price: for `ttlMs` after ONAPPUPDATE (new application_token) or ONAPPUNINSTALL handled by
 * ANOTHER process, this process still accepts the old token (this process drops its entries).
 */
import { hash } from 'node:crypto';
import type { PortalState } from '../store/portals.js';

export class AuthCache {
  readonly #ttlMs: number;
  readonly #nowMs: () => number;
  readonly #entries = new Map<string, { state: PortalState; untilMs: number }>();

  constructor(options: { /** @defaultValue 2000; 0 disables */ ttlMs?: number; nowMs?: () => number } = {}) {
    this.#ttlMs = Math.max(0, options.ttlMs ?? 2000);
    this.#nowMs = options.nowMs ?? Date.now;
  }

  get(memberId: string, token: string): PortalState | undefined {
    if (this.#ttlMs === 0) return undefined;
    const key = cacheKey(memberId, token);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.untilMs <= this.#nowMs()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.state;
  }

  set(memberId: string, token: string, state: PortalState): void {
    if (this.#ttlMs === 0) return;
    if (this.#entries.size >= 10_000) this.#entries.clear(); // bounded: a cold cache is only slower
    this.#entries.set(cacheKey(memberId, token), { state, untilMs: this.#nowMs() + this.#ttlMs });
  }

  /** Forgets a portal (its token or state changed in this process). */
  forget(memberId: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(`${memberId}\u0000`)) this.#entries.delete(key);
  }
}

function cacheKey(memberId: string, token: string): string {
  return `${memberId}\u0000${hash('sha256', token, 'base64url')}`;
}
