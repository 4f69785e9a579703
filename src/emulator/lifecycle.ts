import { randomBytes } from 'node:crypto';
import type { Emulator } from './emulator.js';
import type { Portal } from './portal.js';
import type { IssuedTokens } from './oauth/token-registry.js';
import { authBlock } from './auth-block.js';
import { postForm, type DeliveryResult } from './delivery.js';
import type { DeliveryLogEntry } from './events/outbox.js';

export const DEFAULT_APP_SCOPE = ['crm', 'bizproc', 'user_brief', 'placement'];

export interface InstallInput {
  /** The app's base URL; ONAPPINSTALL is POSTed to `{appUrl}/install`. Null: install without a POST. */
  appUrl?: string | null;
  scope?: string[];
  /** The installing admin. @defaultValue 1 */
  userId?: number;
  status?: string;
  version?: number;
}

/** What the portal delivered to the app: the values the control API answers with. */
export interface InstallOutcome {
  access_token: string;
  refresh_token: string;
  application_token: string;
  expires: number;
  expires_in: number;
  client_endpoint: string;
  server_endpoint: string;
  member_id: string;
  domain: string;
  scope: string;
  user_id: number;
  delivery: DeliveryResult | null;
}

/**
 * Installs the app into a portal, as a no-UI app install does (docs/protocol.md §2.1, §2.2): tokens for
 * the installing admin, a fresh application_token, and the ONAPPINSTALL form POSTed to
 * `{appUrl}/install` with full auth including refresh_token and application_token.
 */
export async function installApp(emulator: Emulator, portal: Portal, input: InstallInput = {}): Promise<InstallOutcome> {
  const userId = input.userId ?? 1;
  const scope = input.scope ?? DEFAULT_APP_SCOPE;
  portal.app = {
    appUrl: input.appUrl ?? null,
    applicationToken: newApplicationToken(),
    scope,
    version: input.version ?? 1,
    status: input.status ?? 'L',
    installedAtMs: emulator.clock.nowMs(),
    userId,
  };
  const tokens = emulator.tokens.issue(portal.memberId, userId, scope);
  let delivery: DeliveryResult | null = null;
  if (portal.app.appUrl) {
    const payload = {
      event: 'ONAPPINSTALL',
      data: { VERSION: String(portal.app.version), ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
      ts: String(emulator.clock.nowSeconds()),
      auth: authBlock(emulator, portal, { tokens, withRefreshToken: true }),
    };
    delivery = await postForm(joinUrl(portal.app.appUrl, 'install'), payload, emulator.options.deliveryTimeoutMs);
  }
  return outcome(emulator, portal, tokens, delivery);
}

export function outcome(emulator: Emulator, portal: Portal, tokens: IssuedTokens, delivery: DeliveryResult | null): InstallOutcome {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    application_token: portal.app?.applicationToken ?? '',
    expires: tokens.expires,
    expires_in: tokens.expiresIn,
    client_endpoint: emulator.clientEndpoint(portal),
    server_endpoint: emulator.serverEndpoint(),
    member_id: portal.memberId,
    domain: portal.domain,
    scope: tokens.scope.join(','),
    user_id: tokens.userId,
    delivery,
  };
}

/**
 * Renames a portal (docs/protocol.md §4.5): the member_id stays, the old address answers 302 to the new one.
 */
export function renamePortal(emulator: Emulator, portal: Portal, newDomain: string): void {
  if (emulator.portalByDomain(newDomain)) throw new Error(`domain already in use: ${newDomain}`);
  portal.previousDomains.add(portal.domain.toLowerCase());
  portal.previousDomains.delete(newDomain.toLowerCase());
  portal.domain = newDomain;
}

export function newApplicationToken(): string {
  return randomBytes(16).toString('hex');
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export interface AppFrame {
  /** The query string of the frame POST (docs/protocol.md §2.3). */
  query: { DOMAIN: string; PROTOCOL: '0' | '1'; LANG: string; APP_SID: string };
  /** The form body of the frame POST, for the user who opened the frame. */
  form: {
    AUTH_ID: string;
    AUTH_EXPIRES: string;
    REFRESH_ID: string;
    SERVER_ENDPOINT: string;
    APPLICATION_TOKEN: string;
    APPLICATION_SCOPE: string;
    member_id: string;
    status: string;
    PLACEMENT: string;
    PLACEMENT_OPTIONS: string;
  };
}

/**
 * A user opens the app's page in the portal (docs/protocol.md §2.3): the frame is POSTed tokens issued for
 * THAT user (admin or not) and — UNCONFIRMED, sent here as the worse case — the app's
 * application_token. Any employee can open an app, so this is what an ordinary user can hold. The user is now logged in: `/oauth/authorize/` issues its
 * code for them.
 */
export function openAppFrame(emulator: Emulator, portal: Portal, userId: number): AppFrame {
  const app = portal.app;
  if (!app) throw new Error('the app is not installed on this portal');
  const tokens = emulator.tokens.issue(portal.memberId, userId, app.scope);
  portal.loggedInUserId = userId;
  const https = emulator.clientEndpoint(portal).startsWith('https:');
  return {
    query: { DOMAIN: portal.domain, PROTOCOL: https ? '1' : '0', LANG: 'en', APP_SID: randomBytes(16).toString('hex') },
    form: {
      AUTH_ID: tokens.accessToken,
      AUTH_EXPIRES: String(tokens.expiresIn),
      REFRESH_ID: tokens.refreshToken,
      SERVER_ENDPOINT: emulator.serverEndpoint(),
      APPLICATION_TOKEN: app.applicationToken,
      APPLICATION_SCOPE: tokens.scope.join(','),
      member_id: portal.memberId,
      status: app.status,
      PLACEMENT: 'DEFAULT',
      PLACEMENT_OPTIONS: '{}',
    },
  };
}

export interface UpdateInput {
  /** The new version. @defaultValue the current version + 1 */
  version?: number;
  /** The admin who runs the update and whose tokens ONAPPUPDATE carries. @defaultValue the installing user */
  userId?: number;
  /**
   * Drop the app's event bindings after ONAPPUPDATE, as "its actions will be deleted" on update
   * (docs/protocol.md §2.4; which bindings go is UNCONFIRMED). @defaultValue true
   */
  dropBindingsOnUpdate?: boolean;
  /** Drop the app's robots too (UNCONFIRMED either way). @defaultValue false */
  dropRobotsOnUpdate?: boolean;
}

export interface UpdateOutcome extends InstallOutcome {
  version: number;
  previous_version: number;
  deliveries: DeliveryLogEntry[];
  dropped: { bindings: number; robots: number };
}

/**
 * Updates the installed app (docs/protocol.md §2.4): a new application_token and a new token pair, then
 * ONAPPUPDATE (VERSION, PREVIOUS_VERSION, LANGUAGE_ID; auth with refresh_token and the new
 * application_token) to the handlers bound for it. Bindings are then dropped, as the real portal
 * drops an app's actions on update. Resolves once the deliveries have finished.
 */
export async function updateApp(emulator: Emulator, portal: Portal, input: UpdateInput = {}): Promise<UpdateOutcome> {
  const app = portal.app;
  if (!app) throw new Error('the app is not installed on this portal');
  const previous = app.version;
  app.version = input.version ?? previous + 1;
  app.applicationToken = newApplicationToken();
  const userId = input.userId ?? app.userId;
  const tokens = emulator.tokens.issue(portal.memberId, userId, app.scope);
  const report = portal.events.fire(
    'ONAPPUPDATE',
    { VERSION: String(app.version), PREVIOUS_VERSION: String(previous), LANGUAGE_ID: 'en' },
    { userId, tokens },
  );
  const dropped = {
    bindings: input.dropBindingsOnUpdate === false ? 0 : portal.events.dropAll(),
    robots: 0,
  };
  if (input.dropRobotsOnUpdate) {
    dropped.robots = portal.robots.robots.size;
    portal.robots.clear();
  }
  await portal.events.outbox.idle();
  return { ...outcome(emulator, portal, tokens, null), version: app.version, previous_version: previous, deliveries: report.online, dropped };
}

export interface UninstallInput {
  /** The "clear application data" tick: data CLEAN 1/0. @defaultValue false */
  clean?: boolean;
  /**
   * Also deliver ONAPPUNINSTALL here without a binding; whether the real portal does so is
   * UNCONFIRMED (docs/protocol.md §2.5).
   */
  handlerUrl?: string;
}

export interface UninstallOutcome {
  member_id: string;
  application_token: string;
  deliveries: DeliveryLogEntry[];
  removed: { bindings: number; robots: number };
}

/**
 * Uninstalls the app (docs/protocol.md §2.5): ONAPPUNINSTALL (LANGUAGE_ID, CLEAN; auth without tokens)
 * to the bound handlers, then API access is revoked and bindings, offline queue and robots go.
 * The payload is built before revocation; it is delivered after, so a handler that calls back
 * gets 401. Resolves once the deliveries have finished.
 */
export async function uninstallApp(emulator: Emulator, portal: Portal, input: UninstallInput = {}): Promise<UninstallOutcome> {
  const app = portal.app;
  if (!app) throw new Error('the app is not installed on this portal');
  const report = portal.events.fire(
    'ONAPPUNINSTALL',
    { LANGUAGE_ID: 'en', CLEAN: input.clean ? '1' : '0' },
    { userId: app.userId, ...(input.handlerUrl ? { extraHandlers: [input.handlerUrl] } : {}) },
  );
  emulator.tokens.revokePortal(portal.memberId);
  portal.events.forgetTokens();
  portal.app = null;
  const removed = { bindings: portal.events.dropAll(), robots: portal.robots.robots.size };
  portal.robots.clear();
  portal.events.offline.reset();
  await portal.events.outbox.idle();
  return { member_id: portal.memberId, application_token: app.applicationToken, deliveries: report.online, removed };
}
