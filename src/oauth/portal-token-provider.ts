/**
 * Valid access tokens for stored portals, refreshed single-flight in a process AND across processes.
 *
 * Refresh tokens are single-use, and a refresh also kills the access token issued with it
 * (docs/protocol.md §1.5): two refreshes with one refresh token lock the portal out. So:
 *
 * 1. In a process, concurrent callers for one member_id share one in-flight promise.
 * 2. Across processes, the flight first takes the portal's refresh lease: a conditional UPDATE that
 *    succeeds only at the version it read and when no live lease exists. Exactly one process wins
 *    and calls the token endpoint; the others poll the row until the version moves, then use the
 *    new pair. A crashed holder's lease lapses after `leaseMs` (longer than the token request timeout).
 * 3. The new pair is written (compare-and-swap on `version`) BEFORE anyone uses it: the old pair is
 *    already dead at the OAuth server, so the store must hold the new one first. A failed write is
 *    retried while the lease lasts (a database restart must not cost the portal its tokens).
 * 4. invalid_grant moves the portal to `needs_reauth` once (B24_ERR_TOKEN_REVOKED); later callers
 *    read that state and fail fast, without calling the token endpoint again.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { B24Error } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { PortalRecord, PortalRegistry } from '../store/portals.js';
import type { AccessGrant, TokenProvider } from '../rest/token-provider.js';
import { refreshFailureReason, type RefreshFailureReason } from './refresh-failure.js';
import type { OAuthTokenClient, OAuthTokens } from './token-client.js';

export interface PortalTokenServiceOptions {
  portals: PortalRegistry;
  tokenClient: OAuthTokenClient;
  /** The clock, in epoch ms. Tests pass the emulator's clock. @defaultValue Date.now */
  nowMs?: () => number;
  /** Refresh this long before the access token expires. @defaultValue 300000 (5 minutes) */
  refreshAheadMs?: number;
  /** How long one process may hold a portal's refresh lease. Must exceed the token client's timeout. @defaultValue 30000 */
  leaseMs?: number;
  /** How often a process waiting for another one's refresh re-reads the portal, in ms (plus jitter). @defaultValue 50 */
  pollIntervalMs?: number;
  /** How long a caller waits for another process's refresh before failing, in real ms. @defaultValue 2 × leaseMs */
  waitTimeoutMs?: number;
  /** Record `last_used_at` at most this often per portal and process. @defaultValue 60000 */
  touchIntervalMs?: number;
  logger?: Logger;
  /** Called once per transition of a portal to `needs_reauth` (metrics, alerts). */
  onNeedsReauth?: (memberId: string) => void;
  /** Told of every refresh this process attempted: a new pair, or why not (metrics). Must not throw. */
  onRefresh?: (outcome: TokenRefreshOutcome) => void;
}

/** One refresh attempt of this process: a new pair stored, or the reason it failed. */
export type TokenRefreshOutcome = { memberId: string; ok: true } | { memberId: string; ok: false; reason: RefreshFailureReason };

/** Whether the stored pair must be refreshed now. */
type Need = (record: PortalRecord, nowMs: number) => boolean;

interface Outcome {
  record: PortalRecord;
  /** True when this flight obtained a new pair from the OAuth server. */
  refreshed: boolean;
  /** A refresh failed but the current access token is still valid, so `record` was served anyway. */
  error?: unknown;
}

/** The store-write retries of a new pair: backoff from 100 ms up to this, until the lease nears its end. */
const STORE_WRITE_MAX_WAIT_MS = 2000;
/** The share of the lease kept free at its end (the lease's expiry is the store's clock, not ours). */
const STORE_WRITE_LEASE_MARGIN = 0.1;

export interface GrantOptions {
  /** Only asking whether the pair works: a refused refresh leaves the portal's state alone (see getGrant). */
  probe?: boolean;
}

export class PortalTokenService {
  readonly #portals: PortalRegistry;
  readonly #client: OAuthTokenClient;
  readonly #nowMs: () => number;
  readonly #refreshAheadMs: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #waitTimeoutMs: number;
  readonly #touchIntervalMs: number;
  readonly #logger: Logger;
  readonly #onNeedsReauth: ((memberId: string) => void) | undefined;
  readonly #onRefresh: ((outcome: TokenRefreshOutcome) => void) | undefined;
  readonly #flights = new Map<string, Promise<Outcome>>();
  readonly #touchedAtMs = new Map<string, number>();

  constructor(options: PortalTokenServiceOptions) {
    this.#portals = options.portals;
    this.#client = options.tokenClient;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#refreshAheadMs = options.refreshAheadMs ?? 300_000;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 50;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 2 * this.#leaseMs;
    this.#touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.#logger = options.logger ?? silentLogger;
    this.#onNeedsReauth = options.onNeedsReauth;
    this.#onRefresh = options.onRefresh;
  }

  /** The service's clock (epoch ms). */
  nowMs(): number {
    return this.#nowMs();
  }

  /**
   * A grant valid for at least `refreshAheadMs` (or half the token's lifetime, if shorter).
   * `probe`: the caller only asks whether the pair still works (the uninstall check): a refresh the
   * OAuth server refuses then throws B24_ERR_TOKEN_REVOKED without moving the portal to
   * `needs_reauth` or counting a refresh failure.
   */
  async getGrant(memberId: string, options: GrantOptions = {}): Promise<AccessGrant> {
    const { record } = await this.#ensure(memberId, this.#expiringSoon, options.probe === true);
    await this.#touch(memberId);
    return grantOf(record);
  }

  /**
   * The portal rejected `rejectedAccessToken` (expired_token / invalid_token). Refresh only if the
   * stored access token is still that one; otherwise another caller already refreshed: use theirs.
   */
  async refreshAfterRejection(memberId: string, rejectedAccessToken: string | undefined, options: GrantOptions = {}): Promise<AccessGrant> {
    // without the rejected token we cannot tell whether someone refreshed since: don't spend the refresh token
    const need: Need = rejectedAccessToken === undefined ? this.#expiringSoon : (record) => record.accessToken === rejectedAccessToken;
    const { record } = await this.#ensure(memberId, need, options.probe === true);
    return grantOf(record);
  }

  /**
   * Keep-alive: refreshes the portal if its refresh token was obtained before `cutoffMs`.
   * Returns true if this call obtained a new pair (false: someone refreshed it meanwhile).
   */
  async refreshIfIdle(memberId: string, cutoffMs: number): Promise<boolean> {
    const outcome = await this.#ensure(memberId, (record) => (record.lastRefreshedAtMs ?? record.createdAtMs) < cutoffMs);
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.refreshed;
  }

  /** The portal moved (REST answered 302): keep its new client endpoint. */
  async updateClientEndpoint(memberId: string, clientEndpoint: string): Promise<void> {
    await this.#portals.updateEndpoints(memberId, { clientEndpoint });
  }

  readonly #expiringSoon: Need = (record, nowMs) => {
    // with short-lived tokens (an emulator option) refreshing 5 minutes ahead would refresh on every call
    const lifetimeMs = record.lastRefreshedAtMs === null ? Infinity : record.expiresAtMs - record.lastRefreshedAtMs;
    const aheadMs = Math.min(this.#refreshAheadMs, Math.max(0, lifetimeMs / 2));
    return record.expiresAtMs - nowMs <= aheadMs;
  };

  /** Joins the in-process flight for the portal, or starts one; returns a record where `need` is false. */
  async #ensure(memberId: string, need: Need, probe = false): Promise<Outcome> {
    for (;;) {
      const flight = this.#flights.get(memberId);
      if (flight) {
        const outcome = await flight; // a failed flight fails its joiners with the same error
        // a fresh pair satisfies everyone; a flight that did not refresh may have served another need
        // (after a failed refresh, joiners take the still-valid token rather than retrying one by one)
        if (outcome.refreshed || outcome.error !== undefined || !need(outcome.record, this.#nowMs())) return { record: outcome.record, refreshed: false };
        continue;
      }
      const started = this.#flow(memberId, need, probe).finally(() => this.#flights.delete(memberId));
      this.#flights.set(memberId, started);
      return started;
    }
  }

  async #flow(memberId: string, need: Need, probe: boolean): Promise<Outcome> {
    const startedAt = performance.now();
    for (;;) {
      const record = await this.#portals.get(memberId);
      assertUsable(memberId, record);
      if (!need(record, this.#nowMs())) return { record, refreshed: false };

      const owner = randomUUID();
      const leaseTakenAt = performance.now();
      if (await this.#portals.acquireRefreshLease(memberId, record.version, owner, this.#leaseMs)) {
        const outcome = await this.#refreshHoldingLease(record, owner, leaseTakenAt + this.#leaseMs, probe);
        if (outcome) return outcome;
        continue; // the row changed under us (reinstall): read it again
      }
      // another process holds the lease, or the version moved: wait for its new pair
      if (performance.now() - startedAt > this.#waitTimeoutMs) {
        this.#onRefresh?.({ memberId, ok: false, reason: 'wait_timeout' });
        throw new B24Error('B24_ERR_REFRESH_FAILED', 'Timed out waiting for another process to refresh the token', { memberId });
      }
      await sleep(this.#pollIntervalMs + Math.random() * this.#pollIntervalMs);
    }
  }

  /**
   * Calls the token endpoint (we hold the lease until `leaseEndsAt`, performance.now() time) and
   * stores the new pair before returning it.
   */
  async #refreshHoldingLease(record: PortalRecord, owner: string, leaseEndsAt: number, probe: boolean): Promise<Outcome | undefined> {
    const { memberId } = record;
    if (!record.refreshToken) {
      this.#onRefresh?.({ memberId, ok: false, reason: 'no_refresh_token' });
      await this.#portals.releaseRefreshLease(memberId, owner, true);
      throw new B24Error('B24_ERR_REFRESH_FAILED', 'The portal has no refresh token stored', { memberId });
    }
    let tokens: OAuthTokens;
    try {
      tokens = await this.#client.refresh({ refreshToken: record.refreshToken, serverEndpoint: record.serverEndpoint });
    } catch (error) {
      if (probe && error instanceof B24Error && error.code === 'B24_ERR_TOKEN_REVOKED') {
        // the answer the probe asked for: the pair is dead; what that means for the portal is the caller's to decide
        await this.#portals.releaseRefreshLease(memberId, owner, true).catch((releaseError: unknown) => {
          this.#logger.warn({ memberId, err: releaseError }, 'could not release the refresh lease; it will lapse');
        });
        throw new B24Error('B24_ERR_TOKEN_REVOKED', undefined, { memberId, bitrixCode: error.bitrixCode, status: error.status, cause: error });
      }
      this.#onRefresh?.({ memberId, ok: false, reason: refreshFailureReason(error) });
      if (error instanceof B24Error && error.code === 'B24_ERR_TOKEN_REVOKED') {
        if (await this.#portals.markNeedsReauth(memberId, record.version, owner, error.bitrixCode !== undefined ? { bitrixCode: error.bitrixCode } : {})) {
          this.#logger.warn({ memberId, bitrixCode: error.bitrixCode }, 'refresh token rejected: the portal needs re-authorization');
          this.#onNeedsReauth?.(memberId);
          throw new B24Error('B24_ERR_TOKEN_REVOKED', undefined, { memberId, bitrixCode: error.bitrixCode, status: error.status, cause: error });
        }
        return undefined; // not our version or lease any more: someone else's outcome decides
      }
      await this.#portals.releaseRefreshLease(memberId, owner, true).catch((releaseError: unknown) => {
        this.#logger.warn({ memberId, err: releaseError }, 'could not release the refresh lease; it will lapse');
      });
      if (record.accessToken && record.expiresAtMs > this.#nowMs()) {
        // an early (proactive) refresh failed; the current token still works, so the caller need not fail
        this.#logger.warn({ memberId, err: error }, 'token refresh failed; using the current access token until it expires');
        return { record, refreshed: false, error };
      }
      throw error instanceof B24Error
        ? new B24Error(error.code, error.message, { memberId, bitrixCode: error.bitrixCode, status: error.status, cause: error })
        : new B24Error('B24_ERR_REFRESH_FAILED', undefined, { memberId, cause: error });
    }

    let saved: PortalRecord | undefined;
    try {
      saved = await this.#persist(record, tokens, leaseEndsAt);
    } catch (error) {
      this.#onRefresh?.({ memberId, ok: false, reason: 'store_write' });
      throw error;
    }
    this.#onRefresh?.({ memberId, ok: true });
    if (!saved) {
      // a reinstall wrote a newer pair meanwhile; ours is valid too, but the stored one wins
      this.#logger.warn({ memberId }, 'refreshed tokens lost a compare-and-swap; using the stored pair');
      return undefined;
    }
    this.#logger.info({ memberId, version: saved.version }, 'access token refreshed');
    return { record: saved, refreshed: true };
  }

  /**
   * Writes the new pair, retrying while the refresh lease is still ours: the old pair is already
   * dead at the OAuth server, so giving up loses the portal (it needs re-authorization), and a store
   * that is down for a few seconds — a database restart or failover — must not do that. Past the
   * lease another process may take it and spend the old refresh token, so the retries stop there.
   */
  async #persist(record: PortalRecord, tokens: OAuthTokens, leaseEndsAt: number): Promise<PortalRecord | undefined> {
    const pair = {
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAtMs: tokens.expiresAtMs,
      scope: tokens.scope.length > 0 ? tokens.scope : record.scope,
      ...(tokens.status !== undefined ? { status: tokens.status } : {}),
      ...(tokens.clientEndpoint !== undefined ? { clientEndpoint: tokens.clientEndpoint } : {}),
      ...(tokens.serverEndpoint !== undefined ? { serverEndpoint: tokens.serverEndpoint } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#portals.updateTokens(record.memberId, record.version, pair);
      } catch (error) {
        // the new pair exists only in memory now: losing it means the portal must be re-authorized
        const waitMs = Math.min(STORE_WRITE_MAX_WAIT_MS, 100 * 2 ** (attempt - 1));
        if (performance.now() + waitMs >= leaseEndsAt - this.#leaseMs * STORE_WRITE_LEASE_MARGIN) {
          this.#logger.error({ memberId: record.memberId, err: error, attempts: attempt }, 'refreshed tokens could not be stored');
          throw error;
        }
        if (attempt === 1) this.#logger.warn({ memberId: record.memberId, err: error }, 'refreshed tokens not stored yet; retrying while the refresh lease lasts');
        await sleep(waitMs);
      }
    }
  }

  async #touch(memberId: string): Promise<void> {
    const now = this.#nowMs();
    const last = this.#touchedAtMs.get(memberId);
    if (last !== undefined && now - last < this.#touchIntervalMs) return;
    this.#touchedAtMs.set(memberId, now);
    try {
      await this.#portals.touch(memberId);
    } catch (error) {
      this.#logger.warn({ memberId, err: error }, 'could not record portal use');
    }
  }
}

function assertUsable(memberId: string, record: PortalRecord | undefined): asserts record is PortalRecord {
  if (!record) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', undefined, { memberId });
  if (record.state === 'uninstalled') throw new B24Error('B24_ERR_PORTAL_UNINSTALLED', undefined, { memberId });
  if (record.state === 'needs_reauth') throw new B24Error('B24_ERR_TOKEN_REVOKED', undefined, { memberId });
}

function grantOf(record: PortalRecord): AccessGrant {
  return { accessToken: record.accessToken ?? undefined, clientEndpoint: record.clientEndpoint, memberId: record.memberId };
}

/** The REST client's view of one portal: a TokenProvider over the shared service. */
export function createPortalTokenProvider(service: PortalTokenService, memberId: string): TokenProvider {
  return {
    getGrant: () => service.getGrant(memberId),
    refreshAfterRejection: (rejectedAccessToken) => service.refreshAfterRejection(memberId, rejectedAccessToken),
    updateClientEndpoint: (clientEndpoint) => service.updateClientEndpoint(memberId, clientEndpoint),
  };
}
