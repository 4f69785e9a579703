import { randomBytes } from 'node:crypto';
import type { Emulator } from './emulator.js';
import type { Portal } from './portal.js';
import type { IssuedTokens } from './oauth/token-registry.js';
import { authBlock } from './auth-block.js';
import { postForm, type DeliveryResult } from './delivery.js';

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
 * Installs the app into a portal, as a no-UI app install does (protocol §2.1, §2.2): tokens for
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
 * Renames a portal (protocol §4.5): the member_id stays, the old address answers 302 to the new one.
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
