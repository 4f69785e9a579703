/**
 * The `state` of the authorization-code flow (docs/protocol.md §1.2): server-side, single-use and expiring,
 * so it works behind proxies and with many web processes, without cookies.
 *
 * The state is 32 random bytes; only its SHA-256 is stored (table `oauth_states`, migrations 0002
 * and 0008), so a copy of the database does not hand out usable states. It records the portal it
 * was issued for (domain, and member_id when the portal is known) so that a callback cannot bring
 * another portal's code. Consuming is one `DELETE … RETURNING`: of two callbacks racing with one
 * state, exactly one gets the row, on both dialects and across processes.
 *
 * `/oauth/start` needs no credentials, so every state is a row an anonymous caller made: live
 * states are capped per client (a hash of its address) and in total, and expired ones are deleted
 * on every create. The count and the insert are not one transaction: concurrent starts may pass
 * a cap by their number, never by more.
 */
import { createHash, randomBytes } from 'node:crypto';
import { B24Error } from '../errors.js';
import type { Store } from '../store/types.js';

/** How long a state is accepted after /oauth/start. @defaultValue 10 minutes */
const OAUTH_STATE_TTL_MS = 10 * 60 * 1000;

export type StateCheck =
  | {
      ok: true;
      /** The portal domain the flow was started for, if any. */
      domain: string | null;
      /** The portal's member_id, when it was installed here at /oauth/start. */
      memberId: string | null;
    }
  | { ok: false; reason: 'unknown_or_used' | 'expired' };

export interface OAuthStateStoreOptions {
  store: Store;
  /** @defaultValue OAUTH_STATE_TTL_MS */
  ttlMs?: number;
  /** Clock in epoch ms. @defaultValue Date.now */
  nowMs?: () => number;
  /** Live states one client (address) may hold. @defaultValue 20 */
  maxLivePerClient?: number;
  /** Live states in total. @defaultValue 10000 */
  maxLive?: number;
}

/** Who a state is for and who asked for it. */
export interface StateRequest {
  /** The portal host the flow goes to. */
  domain: string;
  /** The portal's member_id, when it is installed here. */
  memberId?: string;
  /** The requesting client (its address, an IPv6 one as its /64: src/server/client-address.ts); counted, stored only as a hash. */
  client: string;
}

export class OAuthStateStore {
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #nowMs: () => number;
  readonly #maxLivePerClient: number;
  readonly #maxLive: number;

  constructor(options: OAuthStateStoreOptions) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs ?? OAUTH_STATE_TTL_MS;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#maxLivePerClient = options.maxLivePerClient ?? 20;
    this.#maxLive = options.maxLive ?? 10_000;
  }

  /**
   * A new state for a flow towards `request.domain`; expired states are swept on the way. Throws
   * B24_ERR_TOO_MANY_REQUESTS (429) when the client or everyone together holds too many live ones.
   */
  async create(request: StateRequest): Promise<string> {
    const now = this.#nowMs();
    const clientHash = hashState(`client:${request.client}`);
    await this.#store.run('DELETE FROM oauth_states WHERE expires_at_ms <= ?', [now]);
    const counts = await this.#store.one<{ mine: number | string; total: number | string }>(
      'SELECT COUNT(CASE WHEN client_hash = ? THEN 1 END) AS mine, COUNT(*) AS total FROM oauth_states',
      [clientHash],
    );
    if (Number(counts?.mine ?? 0) >= this.#maxLivePerClient || Number(counts?.total ?? 0) >= this.#maxLive) {
      throw new B24Error('B24_ERR_TOO_MANY_REQUESTS', 'Too many authorization flows started and not finished; try again in a few minutes');
    }
    const state = randomBytes(32).toString('base64url');
    await this.#store.run(
      'INSERT INTO oauth_states (state_hash, domain, member_id, client_hash, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      [hashState(state), request.domain, request.memberId ?? null, clientHash, now, now + this.#ttlMs],
    );
    return state;
  }

  /** Takes the state: valid once, before it expires. A second call with the same state fails. */
  async consume(state: string): Promise<StateCheck> {
    const row = await this.#store.one<{ domain: string | null; member_id: string | null; expires_at_ms: number }>(
      'DELETE FROM oauth_states WHERE state_hash = ? RETURNING domain, member_id, expires_at_ms',
      [hashState(state)],
    );
    if (!row) return { ok: false, reason: 'unknown_or_used' };
    if (Number(row.expires_at_ms) <= this.#nowMs()) return { ok: false, reason: 'expired' };
    return { ok: true, domain: row.domain, memberId: row.member_id };
  }
}

function hashState(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}
