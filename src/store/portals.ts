/**
 * The portal registry: one row per installed portal, keyed by member_id (the stable tenant key;
 * the domain can change). Tokens and application_token are sealed at rest (crypto.ts), bound to
 * their member_id and column.
 *
 * Refresh bookkeeping: `version` grows with every change of the token pair (install, refresh),
 * so a writer can compare-and-swap on it; `refresh_lease_*` mark the one process allowed to call
 * the token endpoint right now (oauth/portal-token-provider.ts explains the protocol).
 */
import { randomBytes } from 'node:crypto';
import { B24Error } from '../errors.js';
import { safeEqual, type SecretBox } from './crypto.js';
import type { Store, Transaction } from './types.js';

export type PortalState = 'active' | 'needs_reauth' | 'uninstalled';

/**
 * Why a portal changed state:
 * - `installed`: first install (ONAPPINSTALL, the install POST or a first code exchange);
 * - `reinstalled`: an uninstalled portal installed the app again;
 * - `reauthorized`: a portal in `needs_reauth` got a new token pair (install, update or the code flow);
 * - `refresh_token_rejected`: the OAuth server refused the refresh token (`bitrixCode` says how, e.g. `invalid_grant`);
 * - `uninstalled`: ONAPPUNINSTALL;
 * - `set`: `setState` (tools and tests).
 */
export type PortalStateReason = 'installed' | 'reinstalled' | 'reauthorized' | 'refresh_token_rejected' | 'uninstalled' | 'set';

/** One change of a portal's state, as the registry made it (after its write committed). */
export interface PortalStateChange {
  memberId: string;
  domain: string;
  /** Undefined for a portal that was not stored before. */
  from: PortalState | undefined;
  to: PortalState;
  reason: PortalStateReason;
  /** The OAuth server's error code, for `refresh_token_rejected`. */
  bitrixCode?: string;
  /** When, on the registry's clock (epoch ms). */
  atMs: number;
}

/** A portal without its secrets: what lists, logs and the CLI show. */
export interface PortalInfo {
  memberId: string;
  domain: string;
  /** `https://acme.bitrix24.com/rest/`: the base of REST calls. */
  clientEndpoint: string;
  /** `https://oauth.bitrix.info/rest/`: the OAuth server that refreshes this portal's tokens. */
  serverEndpoint: string;
  expiresAtMs: number;
  scope: string[];
  /** App status letter (docs/protocol.md §2.8): L, F, D, T, P, S, or anything newer. */
  status: string;
  installedByUserId: number | null;
  state: PortalState;
  version: number;
  /** When the current refresh token was obtained (install, code exchange or refresh). */
  lastRefreshedAtMs: number | null;
  lastUsedAtMs: number | null;
  refreshFailures: number;
  needsReauthSinceMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A portal with its secrets opened. Never log it. */
export interface PortalRecord extends PortalInfo {
  accessToken: string | null;
  refreshToken: string | null;
  applicationToken: string | null;
  refreshLeaseOwner: string | null;
  refreshLeaseUntilMs: number | null;
}

/** What an install (ONAPPINSTALL, the UI install POST, a code exchange) or ONAPPUPDATE delivers. */
export interface PortalInstall {
  memberId: string;
  domain: string;
  clientEndpoint: string;
  serverEndpoint: string;
  accessToken: string;
  refreshToken: string;
  expiresAtMs: number;
  scope: string[];
  status: string;
  /** Undefined keeps the stored one (a code exchange carries none). */
  applicationToken?: string;
  /** Undefined keeps the stored one. */
  installedByUserId?: number;
}

/** A token pair from the OAuth server. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresAtMs: number;
  scope?: string[];
  status?: string;
  clientEndpoint?: string;
  serverEndpoint?: string;
}

/**
 * Deletes one portal's rows from a table that is not `portals`. Runs inside the purge
 * transaction: throw to abort the purge.
 */
export type PortalCleanup = (tx: Transaction, memberId: string) => Promise<void>;

export interface PortalRegistryOptions {
  store: Store;
  secrets: SecretBox;
  /** Clock in epoch ms. @defaultValue Date.now */
  nowMs?: () => number;
  /**
   * Told of every state change this registry makes, after its write committed: called once per
   * change, in this process only, and not for a write that left the state as it was. Must not
   * throw (the caller's work is done; a throw would reach it instead).
   */
  onStateChange?: (change: PortalStateChange) => void;
}

interface PortalRow {
  member_id: string;
  domain: string;
  client_endpoint: string;
  server_endpoint: string;
  access_token: string | null;
  refresh_token: string | null;
  expires_at_ms: number;
  scope: string;
  status: string;
  application_token: string | null;
  installed_by_user_id: number | null;
  state: PortalState;
  version: number;
  refresh_lease_owner: string | null;
  refresh_lease_until_ms: number | null;
  last_refreshed_at_ms: number | null;
  last_used_at_ms: number | null;
  refresh_failures: number;
  needs_reauth_since_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
}

type SecretColumn = 'access_token' | 'refresh_token' | 'application_token';

const INFO_COLUMNS = `member_id, domain, client_endpoint, server_endpoint, expires_at_ms, scope, status, installed_by_user_id, state, version,
  last_refreshed_at_ms, last_used_at_ms, refresh_failures, needs_reauth_since_ms, created_at_ms, updated_at_ms`;

/** The member_id the dummy application_token is sealed for: 32 characters like a real one, and not one (a real member_id is hex). */
const DUMMY_MEMBER_ID = 'b24kit-no-such-portal-0000000000';

/** Scope arrives comma-separated, and is documented as space-separated (docs/protocol.md §2.2): accept both. */
export function parseScope(scope: string | string[] | undefined): string[] {
  if (Array.isArray(scope)) return scope.filter(Boolean);
  return (scope ?? '').split(/[\s,]+/).filter(Boolean);
}

export class PortalRegistry {
  readonly #store: Store;
  readonly #secrets: SecretBox;
  readonly #nowMs: () => number;
  readonly #cleanups = new Map<string, PortalCleanup>();
  readonly #onStateChange: ((change: PortalStateChange) => void) | undefined;
  /** See #openDummy. */
  #dummyApplicationToken: string | undefined;

  constructor(options: PortalRegistryOptions) {
    this.#store = options.store;
    this.#secrets = options.secrets;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#onStateChange = options.onStateChange;
  }

  get store(): Store {
    return this.#store;
  }

  /**
   * Registers the per-portal cleanup of another table (the queue, the event inbox, …), run by
   * `purge()` in the same transaction. Names are unique; registering a name again replaces it.
   */
  registerCleanup(name: string, cleanup: PortalCleanup): void {
    this.#cleanups.set(name, cleanup);
  }

  /**
   * Stores an install or an update: a new portal, or new tokens (and application_token) for a
   * known one. The portal becomes `active` and its refresh bookkeeping restarts.
   */
  async upsertInstall(input: PortalInstall): Promise<PortalRecord> {
    const now = this.#nowMs();
    const { memberId } = input;
    // the state before, read under the row's lock: the one writer that moves it reports the change
    const { before, row } = await this.#store.transaction(async (tx) => ({
      before: await this.#lockState(tx, memberId),
      row: await this.#upsertInstallRow(tx, input, now),
    }));
    if (before !== 'active') {
      this.#changed({ memberId, domain: row.domain, from: before, to: 'active', reason: before === undefined ? 'installed' : before === 'uninstalled' ? 'reinstalled' : 'reauthorized', atMs: now });
    }
    return this.#record(row);
  }

  async #upsertInstallRow(tx: Transaction, input: PortalInstall, now: number): Promise<PortalRow> {
    const { memberId } = input;
    const row = await tx.one<PortalRow>(
      `INSERT INTO portals (member_id, domain, client_endpoint, server_endpoint, access_token, refresh_token, expires_at_ms, scope, status,
         application_token, installed_by_user_id, state, version, last_refreshed_at_ms, refresh_failures, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 1, ?, 0, ?, ?)
       ON CONFLICT (member_id) DO UPDATE SET
         domain = excluded.domain, client_endpoint = excluded.client_endpoint, server_endpoint = excluded.server_endpoint,
         access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at_ms = excluded.expires_at_ms,
         scope = excluded.scope, status = excluded.status,
         application_token = COALESCE(excluded.application_token, portals.application_token),
         installed_by_user_id = COALESCE(excluded.installed_by_user_id, portals.installed_by_user_id),
         state = 'active', version = portals.version + 1, refresh_lease_owner = NULL, refresh_lease_until_ms = NULL,
         last_refreshed_at_ms = excluded.last_refreshed_at_ms, refresh_failures = 0, needs_reauth_since_ms = NULL,
         updated_at_ms = excluded.updated_at_ms
       RETURNING *`,
      [
        memberId,
        input.domain,
        input.clientEndpoint,
        input.serverEndpoint,
        this.#seal(memberId, 'access_token', input.accessToken),
        this.#seal(memberId, 'refresh_token', input.refreshToken),
        Math.floor(input.expiresAtMs),
        parseScope(input.scope).join(','),
        input.status,
        input.applicationToken === undefined ? null : this.#seal(memberId, 'application_token', input.applicationToken),
        input.installedByUserId ?? null,
        now,
        now,
        now,
      ],
    );
    return row!;
  }

  /** The portal's state, its row locked until the transaction ends (undefined: not stored). */
  async #lockState(tx: Transaction, memberId: string): Promise<PortalState | undefined> {
    return (await tx.one<{ state: PortalState }>('SELECT state FROM portals WHERE member_id = ? FOR UPDATE', [memberId]))?.state;
  }

  #changed(change: PortalStateChange): void {
    this.#onStateChange?.(change);
  }

  /** The portal with its secrets opened, or undefined. Throws B24_ERR_DECRYPT on a wrong key. */
  async get(memberId: string): Promise<PortalRecord | undefined> {
    const row = await this.#store.one<PortalRow>('SELECT * FROM portals WHERE member_id = ?', [memberId]);
    return row ? this.#record(row) : undefined;
  }

  /** Like get(), but throws B24_ERR_PORTAL_NOT_FOUND. */
  async require(memberId: string): Promise<PortalRecord> {
    const record = await this.get(memberId);
    if (!record) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', undefined, { memberId });
    return record;
  }

  /** The portal without secrets (nothing is decrypted). */
  async info(memberId: string): Promise<PortalInfo | undefined> {
    const row = await this.#store.one<PortalRow>(`SELECT ${INFO_COLUMNS} FROM portals WHERE member_id = ?`, [memberId]);
    return row ? info(row) : undefined;
  }

  /** Portals without secrets, by member_id; optionally only those in `state`. */
  async list(filter: { state?: PortalState } = {}): Promise<PortalInfo[]> {
    const rows = filter.state
      ? await this.#store.all<PortalRow>(`SELECT ${INFO_COLUMNS} FROM portals WHERE state = ? ORDER BY member_id`, [filter.state])
      : await this.#store.all<PortalRow>(`SELECT ${INFO_COLUMNS} FROM portals ORDER BY member_id`);
    return rows.map(info);
  }

  /** Counts by state (metrics, health). */
  async countByState(): Promise<Record<PortalState, number>> {
    const counts: Record<PortalState, number> = { active: 0, needs_reauth: 0, uninstalled: 0 };
    for (const row of await this.#store.all<{ state: PortalState; n: number }>('SELECT state, COUNT(*) AS n FROM portals GROUP BY state')) {
      counts[row.state] = Number(row.n);
    }
    return counts;
  }

  /**
   * Stores a refreshed pair if the row is still at `expectedVersion` (compare-and-swap), bumping
   * the version and clearing the refresh lease. Returns the new record, or undefined when another
   * writer got there first. A portal in `needs_reauth` becomes `active` again: a fresh pair proves it.
   */
  async updateTokens(memberId: string, expectedVersion: number, pair: TokenPair): Promise<PortalRecord | undefined> {
    const now = this.#nowMs();
    const row = await this.#store.one<PortalRow>(
      `UPDATE portals SET access_token = ?, refresh_token = ?, expires_at_ms = ?,
         scope = COALESCE(?, scope), status = COALESCE(?, status),
         client_endpoint = COALESCE(?, client_endpoint), server_endpoint = COALESCE(?, server_endpoint),
         version = version + 1, refresh_lease_owner = NULL, refresh_lease_until_ms = NULL,
         last_refreshed_at_ms = ?, refresh_failures = 0,
         state = CASE WHEN state = 'needs_reauth' THEN 'active' ELSE state END, needs_reauth_since_ms = NULL,
         updated_at_ms = ?
       WHERE member_id = ? AND version = ? AND state <> 'uninstalled'
       RETURNING *`,
      [
        this.#seal(memberId, 'access_token', pair.accessToken),
        this.#seal(memberId, 'refresh_token', pair.refreshToken),
        Math.floor(pair.expiresAtMs),
        pair.scope ? parseScope(pair.scope).join(',') : null,
        pair.status ?? null,
        pair.clientEndpoint ?? null,
        pair.serverEndpoint ?? null,
        now,
        now,
        memberId,
        expectedVersion,
      ],
    );
    return row ? this.#record(row) : undefined;
  }

  /**
   * Takes the refresh lease if the row is still at `expectedVersion` and nobody holds a live
   * lease. Exactly one caller wins per version, in all processes together.
   */
  async acquireRefreshLease(memberId: string, expectedVersion: number, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.#nowMs();
    const result = await this.#store.run(
      `UPDATE portals SET refresh_lease_owner = ?, refresh_lease_until_ms = ?
       WHERE member_id = ? AND version = ? AND state = 'active'
         AND (refresh_lease_until_ms IS NULL OR refresh_lease_until_ms <= ?)`,
      [owner, now + leaseMs, memberId, expectedVersion, now],
    );
    return result.rowCount === 1;
  }

  /** Gives the lease back after a failed refresh, counting the failure. */
  async releaseRefreshLease(memberId: string, owner: string, failed: boolean): Promise<void> {
    await this.#store.run(
      `UPDATE portals SET refresh_lease_owner = NULL, refresh_lease_until_ms = NULL,
         refresh_failures = refresh_failures + ?, updated_at_ms = ?
       WHERE member_id = ? AND refresh_lease_owner = ?`,
      [failed ? 1 : 0, this.#nowMs(), memberId, owner],
    );
  }

  /**
   * The OAuth server rejected the refresh token of `expectedVersion` (invalid_grant): move the
   * portal to `needs_reauth`, if it is still at that version and `owner` still holds the lease.
   * Returns true for the one caller that made the transition.
   */
  async markNeedsReauth(memberId: string, expectedVersion: number, owner: string, details: { bitrixCode?: string } = {}): Promise<boolean> {
    const now = this.#nowMs();
    const row = await this.#store.one<{ domain: string }>(
      `UPDATE portals SET state = 'needs_reauth', needs_reauth_since_ms = ?, refresh_lease_owner = NULL, refresh_lease_until_ms = NULL,
         refresh_failures = refresh_failures + 1, updated_at_ms = ?
       WHERE member_id = ? AND version = ? AND refresh_lease_owner = ? AND state = 'active'
       RETURNING domain`,
      [now, now, memberId, expectedVersion, owner],
    );
    if (!row) return false;
    this.#changed({
      memberId,
      domain: row.domain,
      from: 'active',
      to: 'needs_reauth',
      reason: 'refresh_token_rejected',
      ...(details.bitrixCode !== undefined ? { bitrixCode: details.bitrixCode } : {}),
      atMs: now,
    });
    return true;
  }

  /** Sets the state. `needs_reauth` records since when; `active` clears it. Returns false for an unknown portal. */
  async setState(memberId: string, state: PortalState): Promise<boolean> {
    const now = this.#nowMs();
    const { before, row } = await this.#store.transaction(async (tx) => ({
      before: await this.#lockState(tx, memberId),
      row: await tx.one<{ domain: string }>(
        `UPDATE portals SET state = ?, updated_at_ms = ?,
           needs_reauth_since_ms = CASE WHEN ? = 'needs_reauth' THEN COALESCE(needs_reauth_since_ms, ?) ELSE NULL END
         WHERE member_id = ?
         RETURNING domain`,
        [state, now, state, now, memberId],
      ),
    }));
    if (!row) return false;
    if (before !== state) this.#changed({ memberId, domain: row.domain, from: before, to: state, reason: 'set', atMs: now });
    return true;
  }

  /**
   * ONAPPUNINSTALL: the app's API access is already revoked (docs/protocol.md §2.5), so the tokens are
   * wiped and the portal is `uninstalled`. The application_token stays, to authenticate a
   * repeated ONAPPUNINSTALL. Use purge() as well when CLEAN=1.
   */
  async markUninstalled(memberId: string): Promise<boolean> {
    const now = this.#nowMs();
    const { before, row } = await this.#store.transaction(async (tx) => ({
      before: await this.#lockState(tx, memberId),
      row: await tx.one<{ domain: string }>(
        `UPDATE portals SET state = 'uninstalled', access_token = NULL, refresh_token = NULL, expires_at_ms = 0,
           version = version + 1, refresh_lease_owner = NULL, refresh_lease_until_ms = NULL, updated_at_ms = ?
         WHERE member_id = ?
         RETURNING domain`,
        [now, memberId],
      ),
    }));
    if (!row) return false;
    if (before !== 'uninstalled') this.#changed({ memberId, domain: row.domain, from: before, to: 'uninstalled', reason: 'uninstalled', atMs: now });
    return true;
  }

  /** A portal moved (302 to a new address, docs/protocol.md §4.5): new domain/endpoints, same member_id. */
  async updateEndpoints(memberId: string, endpoints: { domain?: string; clientEndpoint?: string; serverEndpoint?: string }): Promise<boolean> {
    let { domain } = endpoints;
    if (domain === undefined && endpoints.clientEndpoint !== undefined) domain = domainOf(endpoints.clientEndpoint);
    const result = await this.#store.run(
      `UPDATE portals SET domain = COALESCE(?, domain), client_endpoint = COALESCE(?, client_endpoint),
         server_endpoint = COALESCE(?, server_endpoint), updated_at_ms = ?
       WHERE member_id = ?`,
      [domain ?? null, endpoints.clientEndpoint ?? null, endpoints.serverEndpoint ?? null, this.#nowMs(), memberId],
    );
    return result.rowCount === 1;
  }

  /**
   * True when `candidate` is the stored application_token of the portal (constant-time compare).
   * False for an unknown portal, a portal without one, or an empty candidate.
   */
  async verifyApplicationToken(memberId: string, candidate: string): Promise<boolean> {
    const row = await this.#store.one<{ application_token: string | null }>('SELECT application_token FROM portals WHERE member_id = ?', [memberId]);
    // compare against a dummy when there is nothing to compare, so unknown portals take as long
    const stored = row?.application_token ? this.#open(memberId, 'application_token', row.application_token) : undefined;
    const equal = safeEqual(stored ?? '\u0000no-token', candidate);
    return stored !== undefined && candidate !== '' && equal;
  }

  /**
   * Authenticates an inbound portal call (event, robot, ONAPPUNINSTALL) by its application_token,
   * with the same work whether or not the portal exists: ONE query (the row's info and sealed
   * application_token), ONE decrypt and ONE constant-time compare. For an unknown portal (or one
   * without an application_token) a dummy sealed value of the same shape is opened and compared
   * instead, so neither the answer nor its timing tells a caller which member_ids are installed
   * (a portal-existence oracle). `{ ok: true }` only for an exact, non-empty match; the portal's
   * state is the caller's to judge (an uninstalled portal authenticates too: the caller proved the
   * secret). Throws B24_ERR_DECRYPT when the stored value does not open (wrong key).
   */
  async checkApplicationToken(memberId: string, candidate: string): Promise<{ ok: true; portal: PortalInfo } | { ok: false }> {
    const row = await this.#store.one<PortalRow>(`SELECT ${INFO_COLUMNS}, application_token FROM portals WHERE member_id = ?`, [memberId]);
    const sealed = row?.application_token;
    const stored = sealed ? this.#open(memberId, 'application_token', sealed) : this.#openDummy();
    const equal = safeEqual(stored, candidate);
    return row && sealed && candidate !== '' && equal ? { ok: true, portal: info(row) } : { ok: false };
  }

  /** Records use of a portal's token (the keep-alive and the dashboard read it). */
  async touch(memberId: string): Promise<void> {
    await this.#store.run('UPDATE portals SET last_used_at_ms = ? WHERE member_id = ?', [this.#nowMs(), memberId]);
  }

  /**
   * Active portals whose refresh token was obtained before `cutoffMs` (or never recorded),
   * oldest first: the keep-alive refreshes them before the refresh token ages out.
   */
  async listIdle(cutoffMs: number, limit = 100): Promise<PortalInfo[]> {
    const rows = await this.#store.all<PortalRow>(
      `SELECT ${INFO_COLUMNS} FROM portals
       WHERE state = 'active' AND COALESCE(last_refreshed_at_ms, created_at_ms) < ?
       ORDER BY COALESCE(last_refreshed_at_ms, created_at_ms), member_id LIMIT ?`,
      [cutoffMs, limit],
    );
    return rows.map(info);
  }

  /**
   * Deletes everything stored for a portal (ONAPPUNINSTALL with CLEAN=1): every registered
   * cleanup, then the portal row, in one transaction. Returns false if the portal was unknown.
   */
  async purge(memberId: string): Promise<boolean> {
    return this.#store.transaction(async (tx) => {
      for (const cleanup of this.#cleanups.values()) await cleanup(tx, memberId);
      const result = await tx.run('DELETE FROM portals WHERE member_id = ?', [memberId]);
      return result.rowCount === 1;
    });
  }

  /**
   * Opens the dummy application_token: sealed on first use with this registry's key, from a random
   * value shaped like Bitrix24's (32 hex characters), under a context shaped like a real one. Its
   * plaintext is never known outside this object, and a match against it is refused anyway.
   */
  #openDummy(): string {
    this.#dummyApplicationToken ??= this.#seal(DUMMY_MEMBER_ID, 'application_token', randomBytes(16).toString('hex'));
    return this.#open(DUMMY_MEMBER_ID, 'application_token', this.#dummyApplicationToken);
  }

  #seal(memberId: string, column: SecretColumn, value: string): string {
    return this.#secrets.seal(value, `portals:${memberId}:${column}`);
  }

  #open(memberId: string, column: SecretColumn, sealed: string): string {
    try {
      return this.#secrets.open(sealed, `portals:${memberId}:${column}`);
    } catch (error) {
      if (error instanceof B24Error) throw new B24Error(error.code, error.message, { memberId });
      throw error;
    }
  }

  #record(row: PortalRow): PortalRecord {
    const open = (column: SecretColumn): string | null => (row[column] === null ? null : this.#open(row.member_id, column, row[column]));
    return {
      ...info(row),
      accessToken: open('access_token'),
      refreshToken: open('refresh_token'),
      applicationToken: open('application_token'),
      refreshLeaseOwner: row.refresh_lease_owner,
      refreshLeaseUntilMs: nullableNumber(row.refresh_lease_until_ms),
    };
  }
}

function info(row: PortalRow): PortalInfo {
  return {
    memberId: row.member_id,
    domain: row.domain,
    clientEndpoint: row.client_endpoint,
    serverEndpoint: row.server_endpoint,
    expiresAtMs: Number(row.expires_at_ms),
    scope: parseScope(row.scope),
    status: row.status,
    installedByUserId: nullableNumber(row.installed_by_user_id),
    state: row.state,
    version: Number(row.version),
    lastRefreshedAtMs: nullableNumber(row.last_refreshed_at_ms),
    lastUsedAtMs: nullableNumber(row.last_used_at_ms),
    refreshFailures: Number(row.refresh_failures),
    needsReauthSinceMs: nullableNumber(row.needs_reauth_since_ms),
    createdAtMs: Number(row.created_at_ms),
    updatedAtMs: Number(row.updated_at_ms),
  };
}

function nullableNumber(value: number | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function domainOf(endpoint: string): string | undefined {
  try {
    const url = new URL(endpoint);
    // the emulator serves portals under a path (`http://host/{domain}/rest/`); real portals at the root
    const first = url.pathname.split('/').filter(Boolean)[0];
    return first && first !== 'rest' && first.includes('.') ? first : url.host;
  } catch {
    return undefined;
  }
}
