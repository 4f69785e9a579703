/**
 * The portal lifecycle as seen from the app: install, code exchange, update, uninstall. HTTP-free
 * (the routes in src/server/routes/ call it), so every rule lives here once.
 *
 * Replacing a portal's credentials (install, re-install, ONAPPUPDATE, the code flow) is the most
 * powerful thing a request can do here: whoever succeeds decides which application_token our
 * event checks accept and which refresh token the app lives on. Any employee who opens an app's
 * page holds a valid token of that portal (docs/protocol.md §2.3), so a valid token is not enough:
 *
 * 1. app.info on the OAuth server vouches for the token: our client_id, the claimed member_id and
 *    domain (docs/protocol.md §1.7). The server_endpoint used and stored is a trusted one (oauth-server.ts).
 * 2. The token's user is a portal administrator: `user.admin` at the client_endpoint the OAuth
 *    server named (admin-check.ts).
 * 3. Install and update offer a refresh token: it is redeemed at the OAuth server before anything
 *    is stored — proof that it is a live pair of this app for this portal and this user — and the
 *    pair that comes back is what we store (refresh tokens are single-use, docs/protocol.md §1.5). The code flow
 *    needs no such step: we exchanged the code ourselves.
 * 4. The pair in hand after 3 (or the code exchange) lives nowhere else, so its write waits out a
 *    store outage for `storeRetryMs` before the request fails with 503 (docs/app.md).
 *
 * ONAPPUNINSTALL carries no tokens and is checked against the stored application_token in
 * constant time (docs/protocol.md §2.5). That token travels in every event and robot call, so it is
 * not proof enough to give up a portal: the uninstall is then confirmed with the OAuth server
 * (`app.info` with the portal's stored tokens, refreshed if due). If the server still vouches for
 * the tokens, the app is installed and the uninstall is refused (403); if it cannot tell, nothing
 * changes (503) and an error line says how to purge a portal that really is gone.
 * A failure stores nothing and throws a B24Error whose `status` is the HTTP
 * answer. Every stored or refused replacement is an audit log line and an `onCredentials` call
 * (the app counts them in /metrics).
 */
import { B24Error } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { PortalInfo, PortalRegistry } from '../store/portals.js';
import { retryWhileStoreUnavailable } from '../store/outage-retry.js';
import { requirePortalAdmin } from './admin-check.js';
import { verifyWithAppInfo, type VerifiedInstall } from './app-info.js';
import type { InstallClaim } from './install-payload.js';
import { emptyLifecycleHooks, type PortalHook, type PortalLifecycleHooks } from './lifecycle-hooks.js';
import { serverEndpointOfDomain, trustedServerEndpoint, type OAuthServerPolicy } from './oauth-server.js';
import type { PortalTokenService } from './portal-token-provider.js';
import type { OAuthTokenClient, OAuthTokens } from './token-client.js';
import type { AccessGrant } from '../rest/token-provider.js';

/** What the OAuth server says of an app that an ONAPPUNINSTALL claims is gone. */
type UninstallCheck = 'confirmed' | 'still-installed' | 'unconfirmed';

export interface PortalInstallerOptions extends OAuthServerPolicy {
  portals: PortalRegistry;
  tokenClient: OAuthTokenClient;
  /**
   * The portal's stored access token, refreshed if due (the token service: one refresh across
   * processes). Used to confirm an ONAPPUNINSTALL with the OAuth server.
   */
  grants: Pick<PortalTokenService, 'getGrant' | 'refreshAfterRejection'>;
  /** Our client_id: app.info must name it. */
  clientId: string;
  hooks?: Partial<PortalLifecycleHooks>;
  logger?: Logger;
  /** For app.info. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** Timeout of each verification call (app.info, user.admin) in ms. @defaultValue 10000 */
  verifyTimeoutMs?: number;
  /** Told about every stored or refused replacement of a portal's credentials (audit, metrics). */
  onCredentials?: (entry: CredentialsAudit) => void;
  /**
   * How long the write of a portal's new pair waits out a store outage (a locked SQLite file, a
   * PostgreSQL restart) before the request fails with 503. The pair was just redeemed or exchanged
   * and lives nowhere else: failing at once would leave the portal without tokens. @defaultValue 10000
   */
  storeRetryMs?: number;
}

/** The longest pause between two tries of a credential write during a store outage. */
const STORE_RETRY_MAX_PAUSE_MS = 2000;

/** The routes that can replace a portal's credentials. */
export type CredentialsRoute = 'install' | 'update' | 'oauth-callback';

/** One attempt to store a portal's credentials: who, when, through which route, and the outcome. */
export interface CredentialsAudit {
  route: CredentialsRoute;
  /** `stored`, or the B24_ERR_* code of the refusal. */
  outcome: 'stored' | string;
  /** The claimed portal (verified when `outcome` is `stored`). */
  memberId: string | undefined;
  /** The portal user whose tokens were stored, when known. */
  userId: number | undefined;
  /** True when the portal was not stored before. */
  created: boolean;
  atMs: number;
}

export interface InstallOutcome {
  portal: PortalInfo;
  /** False when a known portal was re-installed (tokens and application_token replaced). */
  created: boolean;
}

export interface AuthorizationCallback {
  code: string;
  /** The portal host from the redirect. */
  domain?: string;
  memberId?: string;
  /** The OAuth server host from the redirect (e.g. oauth.bitrix.info). */
  serverDomain?: string;
}

export class PortalInstaller {
  readonly #portals: PortalRegistry;
  readonly #tokenClient: OAuthTokenClient;
  readonly #grants: PortalInstallerOptions['grants'];
  readonly #clientId: string;
  readonly #policy: OAuthServerPolicy;
  readonly #hooks: PortalLifecycleHooks;
  readonly #logger: Logger;
  readonly #fetch: typeof fetch | undefined;
  readonly #verifyTimeoutMs: number;
  readonly #onCredentials: ((entry: CredentialsAudit) => void) | undefined;
  readonly #storeRetryMs: number;

  constructor(options: PortalInstallerOptions) {
    this.#portals = options.portals;
    this.#tokenClient = options.tokenClient;
    this.#grants = options.grants;
    this.#clientId = options.clientId;
    this.#policy = { oauthUrl: options.oauthUrl, oauthUrlOverride: options.oauthUrlOverride, ...(options.trustedHosts ? { trustedHosts: options.trustedHosts } : {}) };
    const hooks = emptyLifecycleHooks();
    hooks.onInstalled.push(...(options.hooks?.onInstalled ?? []));
    hooks.onUpdated.push(...(options.hooks?.onUpdated ?? []));
    hooks.onUninstalled.push(...(options.hooks?.onUninstalled ?? []));
    this.#hooks = hooks;
    this.#logger = options.logger ?? silentLogger;
    this.#fetch = options.fetch;
    this.#verifyTimeoutMs = options.verifyTimeoutMs ?? 10_000;
    this.#onCredentials = options.onCredentials;
    this.#storeRetryMs = Math.max(0, options.storeRetryMs ?? 10_000);
  }

  get portals(): PortalRegistry {
    return this.#portals;
  }

  /** Adds a hook run after every install. */
  onInstalled(hook: PortalHook): void {
    this.#hooks.onInstalled.push(hook);
  }

  /** Adds a hook run after every app update (ONAPPUPDATE). */
  onUpdated(hook: PortalHook): void {
    this.#hooks.onUpdated.push(hook);
  }

  /** Adds a hook run after every uninstall (before a CLEAN purge). */
  onUninstalled(hook: PortalHook): void {
    this.#hooks.onUninstalled.push(hook);
  }

  /**
   * ONAPPINSTALL or the UI install POST: verify (app.info, administrator, refresh token redeemed),
   * store the redeemed pair (new portal or re-install), fire onInstalled.
   */
  async install(claim: InstallClaim): Promise<InstallOutcome> {
    const outcome = await this.#audited('install', claim.memberId, async () => {
      if (!claim.applicationToken) throw new B24Error('B24_ERR_BAD_REQUEST', 'application_token is missing', { memberId: claim.memberId });
      return this.#acceptCredentials(claim, { proveRefreshToken: true });
    });
    this.#logger.info({ memberId: outcome.portal.memberId, domain: outcome.portal.domain, reinstall: !outcome.created }, 'portal installed');
    await this.#runHooks('onInstalled', outcome.portal);
    return outcome;
  }

  /**
   * ONAPPUPDATE for `urlMemberId`: the payload carries the NEW application_token (docs/protocol.md §2.4),
   * so the stored one cannot vouch for it; the payload's own tokens are verified like an install's.
   * An unknown portal is refused only after that verification, so the answer tells an outsider
   * nothing about which portals are installed here.
   */
  async update(urlMemberId: string, claim: InstallClaim): Promise<PortalInfo> {
    const { portal } = await this.#audited('update', claim.memberId, async () => {
      assertSameMember(urlMemberId, claim.memberId);
      if (!claim.applicationToken) throw new B24Error('B24_ERR_BAD_REQUEST', 'auth[application_token] is missing', { memberId: claim.memberId });
      return this.#acceptCredentials(claim, { proveRefreshToken: true, requireKnown: true });
    });
    this.#logger.info({ memberId: portal.memberId }, 'app updated: application_token and tokens replaced');
    await this.#runHooks('onUpdated', portal);
    return portal;
  }

  /**
   * ONAPPUNINSTALL for `urlMemberId` (docs/protocol.md §2.5). The event carries only the
   * application_token, which every event and robot call carries too; so before anything changes,
   * the OAuth server is asked whether the app's access is gone (`#checkUninstalled`):
   * - gone → the portal is `uninstalled` (tokens wiped), the onUninstalled hooks run; with `clean`,
   *   everything stored for it is deleted;
   * - still installed → 403 B24_ERR_FORBIDDEN, nothing changed (a forged uninstall);
   * - it cannot be told (the OAuth server unreachable, or a `needs_reauth` portal whose tokens can
   *   prove nothing) → 503 B24_ERR_OAUTH_UNAVAILABLE, nothing changed, an error line saying so.
   * A repeat for a portal already uninstalled changes nothing either (`clean` included: there is
   * nothing left to show the OAuth server). Returns whether the data was wiped.
   */
  async uninstall(urlMemberId: string, event: { memberId: string; applicationToken: string | undefined; clean: boolean }): Promise<{ purged: boolean }> {
    assertSameMember(urlMemberId, event.memberId);
    await this.#requireApplicationToken(event.memberId, event.applicationToken);
    const known = await this.#portals.info(event.memberId);
    if (!known || known.state === 'uninstalled') {
      this.#logger.info({ memberId: event.memberId, clean: event.clean }, 'ONAPPUNINSTALL for a portal already uninstalled: nothing changed');
      return { purged: false };
    }
    const check = await this.#checkUninstalled(known);
    if (check === 'still-installed') {
      this.#logger.warn(
        { audit: 'uninstall_refused', memberId: event.memberId, clean: event.clean },
        'ONAPPUNINSTALL refused: the OAuth server still vouches for the app on this portal (a forged uninstall with a leaked application_token?)',
      );
      throw new B24Error('B24_ERR_FORBIDDEN', 'The app is still installed on this portal (app.info)', { memberId: event.memberId });
    }
    if (check === 'unconfirmed') {
      const error = new B24Error('B24_ERR_OAUTH_UNAVAILABLE', 'ONAPPUNINSTALL could not be confirmed with the OAuth server; nothing changed', { memberId: event.memberId, status: 503 });
      this.#logger.error(
        { memberId: event.memberId, state: known.state, clean: event.clean, err: error },
        'ONAPPUNINSTALL could not be confirmed (the OAuth server unreachable, or a needs_reauth portal whose tokens prove nothing): the portal is unchanged. If the app really was removed, `b24kit portals purge <memberId>` deletes its data',
      );
      throw error;
    }
    await this.#portals.markUninstalled(event.memberId);
    const uninstalled = await this.#portals.info(event.memberId);
    if (uninstalled) await this.#runHooks('onUninstalled', uninstalled, { clean: event.clean });
    const purged = event.clean ? await this.#portals.purge(event.memberId) : false;
    this.#logger.info({ memberId: event.memberId, purged, check }, 'app uninstalled');
    return { purged };
  }

  /**
   * Is the app's access to the portal gone, as an uninstall revokes it? The stored tokens, refreshed
   * by the token service when due, are shown to `app.info` on the OAuth server:
   * - vouched for → `still-installed`;
   * - refused → perhaps only that access token is dead (another process refreshed the pair a moment
   *   ago): the service refreshes after the rejection (or hands over the newer pair) and app.info is
   *   asked again; refused again, or the refresh refused → `confirmed`; a refresh granted or a
   *   token vouched for → `still-installed`;
   * - no answer, an untrusted OAuth server, or a `needs_reauth` portal (its refresh token was
   *   refused before: nothing to show) → `unconfirmed`.
   */
  async #checkUninstalled(known: PortalInfo): Promise<UninstallCheck> {
    const { memberId } = known;
    if (known.state === 'needs_reauth') return 'unconfirmed';
    let serverEndpoint: string;
    try {
      serverEndpoint = trustedServerEndpoint(known.serverEndpoint, this.#policy);
    } catch (error) {
      this.#logger.warn({ memberId, err: error }, 'ONAPPUNINSTALL: the stored OAuth server is no longer trusted; it was not asked to confirm the uninstall');
      return 'unconfirmed';
    }
    const refreshRefused = (error: unknown): boolean => error instanceof B24Error && error.code === 'B24_ERR_TOKEN_REVOKED';
    let grant: AccessGrant;
    try {
      // probes: a refused refresh answers the question without moving the portal to needs_reauth
      grant = await this.#grants.getGrant(memberId, { probe: true });
    } catch (error) {
      if (refreshRefused(error)) return 'confirmed';
      this.#logger.warn({ memberId, err: error }, "ONAPPUNINSTALL: the portal's tokens could not be read or refreshed to confirm it");
      return 'unconfirmed';
    }
    const first = await this.#askAppInfo(memberId, serverEndpoint, grant.accessToken);
    if (first !== 'refused') return first;
    let renewed: AccessGrant;
    try {
      renewed = await this.#grants.refreshAfterRejection(memberId, grant.accessToken, { probe: true });
    } catch (error) {
      if (refreshRefused(error)) return 'confirmed';
      this.#logger.warn({ memberId, err: error }, "ONAPPUNINSTALL: the portal's tokens could not be refreshed to confirm it");
      return 'unconfirmed';
    }
    const second = await this.#askAppInfo(memberId, serverEndpoint, renewed.accessToken);
    return second === 'refused' ? 'confirmed' : second;
  }

  /** app.info's word on one access token: vouched for (`still-installed`), refused, or no answer (`unconfirmed`). */
  async #askAppInfo(memberId: string, serverEndpoint: string, accessToken: string | undefined): Promise<'still-installed' | 'refused' | 'unconfirmed'> {
    if (!accessToken) return 'unconfirmed';
    try {
      await this.#verify(accessToken, serverEndpoint, memberId, undefined);
      return 'still-installed';
    } catch (error) {
      if (error instanceof B24Error && error.code === 'B24_ERR_FORBIDDEN') return 'refused';
      this.#logger.warn({ memberId, err: error }, 'ONAPPUNINSTALL: the OAuth server could not be asked to confirm it');
      return 'unconfirmed';
    }
  }

  /**
   * Authenticates an event for a stored portal by its application_token (constant time). Throws
   * B24_ERR_MEMBER_MISMATCH / B24_ERR_BAD_REQUEST (no token) / B24_ERR_FORBIDDEN (wrong token or
   * unknown portal: the same answer, so it tells nobody which portals are installed here).
   */
  async authenticateEvent(urlMemberId: string, event: { memberId: string; applicationToken: string | undefined }): Promise<void> {
    assertSameMember(urlMemberId, event.memberId);
    await this.#requireApplicationToken(event.memberId, event.applicationToken);
  }

  /**
   * The code-flow callback (docs/protocol.md §1.2, §1.3): exchange the code (single use, 30 s), verify the
   * tokens, store them. A code exchange carries no application_token: a known portal keeps its own.
   */
  async completeAuthorization(callback: AuthorizationCallback): Promise<InstallOutcome> {
    const outcome = await this.#audited('oauth-callback', callback.memberId, async () => {
      const known = callback.memberId ? await this.#portals.info(callback.memberId) : undefined;
      const serverEndpoint = known?.serverEndpoint ?? serverEndpointOfDomain(callback.serverDomain, this.#policy);
      let tokens: OAuthTokens;
      try {
        tokens = await this.#tokenClient.exchangeCode({ code: callback.code, ...(serverEndpoint ? { serverEndpoint } : {}) });
      } catch (error) {
        if (error instanceof B24Error) {
          // the token server refused the code (used, expired, forged: invalid_grant) → 400; it could not be asked → 502
          const status = error.bitrixCode !== undefined ? 400 : 502;
          throw new B24Error(error.code, error.message, { status, bitrixCode: error.bitrixCode, cause: error });
        }
        throw error;
      }
      const memberId = tokens.memberId ?? callback.memberId;
      if (!memberId) throw new B24Error('B24_ERR_CODE_EXCHANGE', 'The token answer names no member_id', { status: 502 });
      if (callback.memberId && callback.memberId !== memberId) {
        throw new B24Error('B24_ERR_FORBIDDEN', 'The exchanged tokens belong to another portal than the callback names');
      }
      const claim: InstallClaim = {
        memberId,
        domain: callback.domain,
        clientEndpoint: tokens.clientEndpoint,
        serverEndpoint: tokens.serverEndpoint ?? serverEndpoint,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        applicationToken: undefined,
        expiresAtMs: tokens.expiresAtMs,
        scope: tokens.scope,
        status: tokens.status ?? 'L',
        userId: tokens.userId,
      };
      // we exchanged the code ourselves: the pair is live; what remains is app.info and the administrator check
      return this.#acceptCredentials(claim, { proveRefreshToken: false });
    });
    this.#logger.info({ memberId: outcome.portal.memberId, domain: outcome.portal.domain, known: !outcome.created }, 'portal authorized through the code flow');
    if (outcome.created) {
      this.#logger.warn({ memberId: outcome.portal.memberId }, 'authorized a portal that was never installed here: no application_token yet, so its events cannot be authenticated');
      await this.#runHooks('onInstalled', outcome.portal);
    }
    return outcome;
  }

  /**
   * The checks every credential replacement passes (see the header), then the store. `claim` is
   * what the sender says; what is stored is what the OAuth server vouched for or issued.
   */
  async #acceptCredentials(claim: InstallClaim, options: { proveRefreshToken: boolean; requireKnown?: boolean }): Promise<InstallOutcome> {
    const { serverEndpoint, verified } = await this.#verify(claim.accessToken, claim.serverEndpoint, claim.memberId, claim.domain);
    const known = await this.#portals.info(claim.memberId);
    const clientEndpoint = trustedClientEndpoint(verified, known);
    await this.#requireAdmin(clientEndpoint, claim.accessToken, claim.memberId);
    if (options.requireKnown && !known) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', undefined, { memberId: claim.memberId });
    let stored = claim;
    if (options.proveRefreshToken) {
      const redeemed = await this.#redeemRefreshToken(claim, serverEndpoint);
      if (redeemed.userId === undefined || verified.userId === undefined) {
        // no user ids to compare: ask the portal about the user of the new pair too
        await this.#requireAdmin(clientEndpoint, redeemed.accessToken, claim.memberId);
      } else if (redeemed.userId !== verified.userId) {
        throw new B24Error('B24_ERR_CREDENTIALS_UNPROVEN', 'The refresh token belongs to another user than the access token', { memberId: claim.memberId });
      }
      stored = {
        ...claim,
        accessToken: redeemed.accessToken,
        refreshToken: redeemed.refreshToken,
        expiresAtMs: redeemed.expiresAtMs,
        scope: redeemed.scope.length > 0 ? redeemed.scope : claim.scope,
        userId: redeemed.userId ?? verified.userId ?? claim.userId,
      };
    }
    const portal = await this.#store(stored, serverEndpoint, { ...verified, expiresAtMs: options.proveRefreshToken ? undefined : verified.expiresAtMs });
    return { portal, created: known === undefined };
  }

  /**
   * Redeems the offered refresh token (docs/protocol.md §1.3): only a live pair of this app can be
   * redeemed, and the answer names the portal it belongs to. The offered pair dies; the new one is
   * the one to store.
   */
  async #redeemRefreshToken(claim: InstallClaim, serverEndpoint: string): Promise<OAuthTokens> {
    let tokens: OAuthTokens;
    try {
      tokens = await this.#tokenClient.refresh({ refreshToken: claim.refreshToken, serverEndpoint });
    } catch (error) {
      if (error instanceof B24Error && error.bitrixCode !== undefined) {
        throw new B24Error('B24_ERR_CREDENTIALS_UNPROVEN', `The OAuth server refused the offered refresh token: ${error.bitrixCode}`, {
          bitrixCode: error.bitrixCode,
          memberId: claim.memberId,
        });
      }
      throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', 'The OAuth server could not be asked to redeem the offered refresh token', {
        memberId: claim.memberId,
        cause: error,
      });
    }
    if (tokens.memberId !== claim.memberId) {
      throw new B24Error('B24_ERR_CREDENTIALS_UNPROVEN', 'The offered refresh token belongs to another portal', { memberId: claim.memberId });
    }
    return tokens;
  }

  async #requireAdmin(clientEndpoint: string, accessToken: string, memberId: string): Promise<void> {
    await requirePortalAdmin({
      clientEndpoint,
      accessToken,
      memberId,
      timeoutMs: this.#verifyTimeoutMs,
      ...(this.#fetch ? { fetch: this.#fetch } : {}),
    });
  }

  /** Runs one credential replacement, and reports it (log line + onCredentials) whichever way it ends. */
  async #audited(route: CredentialsRoute, claimedMemberId: string | undefined, run: () => Promise<InstallOutcome>): Promise<InstallOutcome> {
    try {
      const outcome = await run();
      const { memberId } = outcome.portal;
      const userId = outcome.portal.installedByUserId ?? undefined;
      this.#logger.info({ audit: 'portal_credentials_stored', route, memberId, userId, created: outcome.created }, 'portal credentials stored');
      this.#report({ route, outcome: 'stored', memberId, userId, created: outcome.created, atMs: Date.now() });
      return outcome;
    } catch (error) {
      const code = error instanceof B24Error ? error.code : 'B24_ERR_INTERNAL';
      this.#logger.warn({ audit: 'portal_credentials_refused', route, memberId: claimedMemberId, code, err: error }, 'portal credentials refused');
      this.#report({ route, outcome: code, memberId: claimedMemberId, userId: undefined, created: false, atMs: Date.now() });
      throw error;
    }
  }

  #report(entry: CredentialsAudit): void {
    try {
      this.#onCredentials?.(entry);
    } catch (error) {
      this.#logger.error({ err: error }, 'the credentials audit hook failed');
    }
  }

  async #verify(
    accessToken: string,
    claimedServerEndpoint: string | undefined,
    memberId: string,
    domain: string | undefined,
  ): Promise<{ serverEndpoint: string; verified: VerifiedInstall }> {
    const serverEndpoint = trustedServerEndpoint(claimedServerEndpoint, this.#policy);
    const verified = await verifyWithAppInfo({
      serverEndpoint,
      accessToken,
      clientId: this.#clientId,
      memberId,
      ...(domain ? { domain } : {}),
      timeoutMs: this.#verifyTimeoutMs,
      ...(this.#fetch ? { fetch: this.#fetch } : {}),
    });
    return { serverEndpoint, verified };
  }

  async #store(claim: InstallClaim, serverEndpoint: string, verified: VerifiedInstall): Promise<PortalInfo> {
    // the OAuth server's word wins over the payload's where it has one
    const domain = verified.domain ?? claim.domain;
    const clientEndpoint = verified.clientEndpoint ?? claim.clientEndpoint ?? (domain ? `https://${domain}/rest/` : undefined);
    if (!domain || !clientEndpoint) {
      throw new B24Error('B24_ERR_BAD_REQUEST', 'The portal address is unknown: no domain or client_endpoint', { memberId: claim.memberId });
    }
    const expiresAtMs = verified.expiresAtMs !== undefined ? Math.min(claim.expiresAtMs, verified.expiresAtMs) : claim.expiresAtMs;
    const memberId = claim.memberId;
    const record = await retryWhileStoreUnavailable(() => this.#portals.upsertInstall({
      memberId: claim.memberId,
      domain,
      clientEndpoint: withSlash(clientEndpoint),
      serverEndpoint,
      accessToken: claim.accessToken,
      refreshToken: claim.refreshToken,
      expiresAtMs,
      scope: claim.scope.length > 0 ? claim.scope : (verified.scope ?? '').split(/[\s,]+/).filter(Boolean),
      status: verified.status ?? claim.status,
      ...(claim.applicationToken !== undefined ? { applicationToken: claim.applicationToken } : {}),
      ...(claim.userId !== undefined ? { installedByUserId: claim.userId } : verified.userId !== undefined ? { installedByUserId: verified.userId } : {}),
    }), {
      timeoutMs: this.#storeRetryMs,
      firstPauseMs: 100,
      maxPauseMs: STORE_RETRY_MAX_PAUSE_MS,
      onRetry: (error, attempt) => {
        if (attempt === 1) this.#logger.warn({ memberId, err: error }, "the store is unavailable; retrying the write of the portal's new tokens");
      },
      onGiveUp: (error, attempts) =>
        this.#logger.error(
          { memberId, err: error, attempts },
          "the portal's new tokens could not be stored: the store stayed unavailable; they were redeemed, so the portal needs the app installed again (or an administrator opening it) to bring a new pair",
        ),
    });
    const { accessToken: _a, refreshToken: _r, applicationToken: _t, refreshLeaseOwner: _o, refreshLeaseUntilMs: _u, ...info } = record;
    return info;
  }

  async #requireApplicationToken(memberId: string, candidate: string | undefined): Promise<void> {
    if (!candidate) throw new B24Error('B24_ERR_BAD_REQUEST', 'auth[application_token] is missing', { memberId });
    // the same work and the same answer for an unknown portal and a wrong token (no existence oracle)
    const check = await this.#portals.checkApplicationToken(memberId, candidate);
    if (!check.ok) throw new B24Error('B24_ERR_FORBIDDEN', 'application_token does not match the stored one', { memberId });
  }

  async #runHooks(kind: keyof PortalLifecycleHooks, portal: PortalInfo, details?: { clean: boolean }): Promise<void> {
    for (const hook of this.#hooks[kind]) {
      try {
        await hook(portal, details);
      } catch (error) {
        this.#logger.error({ memberId: portal.memberId, hook: kind, err: error }, `lifecycle hook ${kind} failed`);
      }
    }
  }
}

function assertSameMember(urlMemberId: string, payloadMemberId: string): void {
  // a handler URL names its portal; a payload for another one is misrouted or an IDOR attempt
  if (urlMemberId !== payloadMemberId) {
    throw new B24Error('B24_ERR_MEMBER_MISMATCH');
  }
}

/**
 * Where to ask the portal about the token's user: the client_endpoint the OAuth server named, else
 * the stored one, else the verified domain's. Never the payload's: its sender picks it.
 */
function trustedClientEndpoint(verified: VerifiedInstall, known: PortalInfo | undefined): string {
  const endpoint = verified.clientEndpoint ?? known?.clientEndpoint ?? (verified.domain ? `https://${verified.domain}/rest/` : undefined);
  if (!endpoint) throw new B24Error('B24_ERR_OAUTH_UNAVAILABLE', 'app.info named no portal address to verify the user at');
  return withSlash(endpoint);
}

function withSlash(endpoint: string): string {
  return endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
}
