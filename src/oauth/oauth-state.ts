/**
 * The `state` of the authorization-code flow (protocol §1.2): server-side, single-use and expiring,
 * so it works behind proxies and with many web processes, without cookies.
 *
 * The state is 32 random bytes; only its SHA-256 is stored (table `oauth_states`, migration 0002),
 * so a copy of the database does not hand out usable states. Consuming is one
 * `DELETE … RETURNING`: of two callbacks racing with one state, exactly one gets the row, on both
 * dialects and across processes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/types.js';

/** How long a state is accepted after /oauth/start. @defaultValue 10 minutes */
export const OAUTH_STATE_TTL_MS = 10 * 60 * 1000;

export type StateCheck =
  | { ok: true; /** The portal domain the flow was started for, if any. */ domain: string | null }
  | { ok: false; reason: 'unknown_or_used' | 'expired' };

export interface OAuthStateStoreOptions {
  store: Store;
  /** @defaultValue OAUTH_STATE_TTL_MS */
  ttlMs?: number;
  /** Clock in epoch ms. @defaultValue Date.now */
  nowMs?: () => number;
}

export class OAuthStateStore {
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #nowMs: () => number;

  constructor(options: OAuthStateStoreOptions) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs ?? OAUTH_STATE_TTL_MS;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** A new state for a flow towards `domain`; expired states are swept on the way. */
  async create(domain: string | null): Promise<string> {
    const now = this.#nowMs();
    const state = randomBytes(32).toString('base64url');
    await this.#store.run('DELETE FROM oauth_states WHERE expires_at_ms <= ?', [now]);
    await this.#store.run('INSERT INTO oauth_states (state_hash, domain, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)', [
      hashState(state),
      domain,
      now,
      now + this.#ttlMs,
    ]);
    return state;
  }

  /** Takes the state: valid once, before it expires. A second call with the same state fails. */
  async consume(state: string): Promise<StateCheck> {
    const row = await this.#store.one<{ domain: string | null; expires_at_ms: number }>(
      'DELETE FROM oauth_states WHERE state_hash = ? RETURNING domain, expires_at_ms',
      [hashState(state)],
    );
    if (!row) return { ok: false, reason: 'unknown_or_used' };
    if (Number(row.expires_at_ms) <= this.#nowMs()) return { ok: false, reason: 'expired' };
    return { ok: true, domain: row.domain };
  }
}

function hashState(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}
