/**
 * The portal lifecycle as seen from the app: install, code exchange, update, uninstall. HTTP-free
 * (the routes in src/server/routes/ call it), so every rule lives here once:
 *
 * - nothing from a payload is stored before the OAuth server vouches for it (app.info, §1.7),
 *   except ONAPPUNINSTALL, which carries no tokens and is checked against the stored
 *   application_token in constant time (§2.5);
 * - the server_endpoint stored is the trusted one we verified with (oauth-server.ts);
 * - a failure stores nothing and throws a B24Error whose `status` is the HTTP answer.
 */
import { B24Error } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { PortalInfo, PortalRegistry } from '../store/portals.js';
import { verifyWithAppInfo, type VerifiedInstall } from './app-info.js';
import type { InstallClaim } from './install-payload.js';
import { emptyLifecycleHooks, type PortalHook, type PortalLifecycleHooks } from './lifecycle-hooks.js';
import { serverEndpointOfDomain, trustedServerEndpoint, type OAuthServerPolicy } from './oauth-server.js';
import type { OAuthTokenClient, OAuthTokens } from './token-client.js';

export interface PortalInstallerOptions extends OAuthServerPolicy {
  portals: PortalRegistry;
  tokenClient: OAuthTokenClient;
  /** Our client_id: app.info must name it. */
  clientId: string;
  hooks?: Partial<PortalLifecycleHooks>;
  logger?: Logger;
  /** For app.info. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** app.info timeout in ms. @defaultValue 10000 */
  verifyTimeoutMs?: number;
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
  readonly #clientId: string;
  readonly #policy: OAuthServerPolicy;
  readonly #hooks: PortalLifecycleHooks;
  readonly #logger: Logger;
  readonly #fetch: typeof fetch | undefined;
  readonly #verifyTimeoutMs: number;

  constructor(options: PortalInstallerOptions) {
    this.#portals = options.portals;
    this.#tokenClient = options.tokenClient;
    this.#clientId = options.clientId;
    this.#policy = { oauthUrl: options.oauthUrl, oauthUrlOverride: options.oauthUrlOverride, ...(options.trustedHosts ? { trustedHosts: options.trustedHosts } : {}) };
    const hooks = emptyLifecycleHooks();
    hooks.onInstalled.push(...(options.hooks?.onInstalled ?? []));
    hooks.onUpdated.push(...(options.hooks?.onUpdated ?? []));
    this.#hooks = hooks;
    this.#logger = options.logger ?? silentLogger;
    this.#fetch = options.fetch;
    this.#verifyTimeoutMs = options.verifyTimeoutMs ?? 10_000;
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

  /** ONAPPINSTALL or the UI install POST: verify, store (new or re-install), fire onInstalled. */
  async install(claim: InstallClaim): Promise<InstallOutcome> {
    if (!claim.applicationToken) throw new B24Error('B24_ERR_BAD_REQUEST', 'application_token is missing', { status: 400, memberId: claim.memberId });
    const { serverEndpoint, verified } = await this.#verify(claim.accessToken, claim.serverEndpoint, claim.memberId, claim.domain);
    const known = await this.#portals.info(claim.memberId);
    const portal = await this.#store(claim, serverEndpoint, verified);
    this.#logger.info({ memberId: portal.memberId, domain: portal.domain, reinstall: known !== undefined }, 'portal installed');
    await this.#runHooks('onInstalled', portal);
    return { portal, created: known === undefined };
  }

  /**
   * ONAPPUPDATE for `urlMemberId`: the payload carries the NEW application_token (protocol §2.4),
   * so the stored one cannot vouch for it; app.info through the payload's own tokens does.
   */
  async update(urlMemberId: string, claim: InstallClaim): Promise<PortalInfo> {
    assertSameMember(urlMemberId, claim.memberId);
    if (!claim.applicationToken) throw new B24Error('B24_ERR_BAD_REQUEST', 'auth[application_token] is missing', { status: 400, memberId: claim.memberId });
    await this.#requireKnown(claim.memberId);
    const { serverEndpoint, verified } = await this.#verify(claim.accessToken, claim.serverEndpoint, claim.memberId, claim.domain);
    const portal = await this.#store(claim, serverEndpoint, verified);
    this.#logger.info({ memberId: portal.memberId }, 'app updated: application_token and tokens replaced');
    await this.#runHooks('onUpdated', portal);
    return portal;
  }

  /**
   * ONAPPUNINSTALL for `urlMemberId` (protocol §2.5): API access is already revoked, so the only
   * proof is the stored application_token. Marks the portal `uninstalled`; with `clean`, deletes
   * everything stored for it. Returns whether the data was wiped.
   */
  async uninstall(urlMemberId: string, event: { memberId: string; applicationToken: string | undefined; clean: boolean }): Promise<{ purged: boolean }> {
    assertSameMember(urlMemberId, event.memberId);
    await this.#requireKnown(event.memberId);
    await this.#requireApplicationToken(event.memberId, event.applicationToken);
    await this.#portals.markUninstalled(event.memberId);
    const purged = event.clean ? await this.#portals.purge(event.memberId) : false;
    this.#logger.info({ memberId: event.memberId, purged }, 'app uninstalled');
    return { purged };
  }

  /**
   * Authenticates an event for a stored portal by its application_token (constant time). Throws
   * B24_ERR_MEMBER_MISMATCH / B24_ERR_PORTAL_NOT_FOUND / B24_ERR_FORBIDDEN.
   */
  async authenticateEvent(urlMemberId: string, event: { memberId: string; applicationToken: string | undefined }): Promise<void> {
    assertSameMember(urlMemberId, event.memberId);
    await this.#requireKnown(event.memberId);
    await this.#requireApplicationToken(event.memberId, event.applicationToken);
  }

  /**
   * The code-flow callback (protocol §1.2, §1.3): exchange the code (single use, 30 s), verify the
   * tokens, store them. A code exchange carries no application_token: a known portal keeps its own.
   */
  async completeAuthorization(callback: AuthorizationCallback): Promise<InstallOutcome> {
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
      throw new B24Error('B24_ERR_FORBIDDEN', 'The exchanged tokens belong to another portal than the callback names', { status: 403 });
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
    const verified = await this.#verify(claim.accessToken, claim.serverEndpoint, memberId, claim.domain);
    const stored = known ?? (await this.#portals.info(memberId));
    const portal = await this.#store(claim, verified.serverEndpoint, verified.verified);
    this.#logger.info({ memberId, domain: portal.domain, known: stored !== undefined }, 'portal authorized through the code flow');
    if (!stored) {
      this.#logger.warn({ memberId }, 'authorized a portal that was never installed here: no application_token yet, so its events cannot be authenticated');
      await this.#runHooks('onInstalled', portal);
    }
    return { portal, created: stored === undefined };
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
      throw new B24Error('B24_ERR_BAD_REQUEST', 'The portal address is unknown: no domain or client_endpoint', { status: 400, memberId: claim.memberId });
    }
    const expiresAtMs = verified.expiresAtMs !== undefined ? Math.min(claim.expiresAtMs, verified.expiresAtMs) : claim.expiresAtMs;
    const record = await this.#portals.upsertInstall({
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
    });
    const { accessToken: _a, refreshToken: _r, applicationToken: _t, refreshLeaseOwner: _o, refreshLeaseUntilMs: _u, ...info } = record;
    return info;
  }

  async #requireKnown(memberId: string): Promise<void> {
    if (!(await this.#portals.info(memberId))) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', undefined, { status: 404, memberId });
  }

  async #requireApplicationToken(memberId: string, candidate: string | undefined): Promise<void> {
    if (!candidate) throw new B24Error('B24_ERR_BAD_REQUEST', 'auth[application_token] is missing', { status: 400, memberId });
    if (!(await this.#portals.verifyApplicationToken(memberId, candidate))) {
      throw new B24Error('B24_ERR_FORBIDDEN', 'application_token does not match the stored one', { status: 403, memberId });
    }
  }

  async #runHooks(kind: keyof PortalLifecycleHooks, portal: PortalInfo): Promise<void> {
    for (const hook of this.#hooks[kind]) {
      try {
        await hook(portal);
      } catch (error) {
        const code = error instanceof B24Error ? error.code : error instanceof Error ? error.name : 'UNKNOWN';
        this.#logger.error({ memberId: portal.memberId, hook: kind, code }, 'lifecycle hook failed');
      }
    }
  }
}

function assertSameMember(urlMemberId: string, payloadMemberId: string): void {
  // a handler URL names its portal; a payload for another one is misrouted or an IDOR attempt
  if (urlMemberId !== payloadMemberId) {
    throw new B24Error('B24_ERR_MEMBER_MISMATCH', undefined, { status: 403 });
  }
}

function withSlash(endpoint: string): string {
  return endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
}
