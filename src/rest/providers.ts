/**
 * Token providers for a B24Client used on its own: a fixed access token, or an incoming webhook
 * whose URL is the credential. The store-backed provider with cross-process single-flight refresh
 * lives in src/oauth/.
 */
import { B24Error } from '../errors.js';
import type { AccessGrant, TokenProvider } from './token-provider.js';

export interface StaticTokenInput {
  accessToken: string;
  /** `{client_endpoint}`, e.g. `https://acme.bitrix24.com/rest/`. */
  clientEndpoint: string;
  /** The portal's member_id: the key of its rate-limit state. @defaultValue the endpoint's host */
  memberId?: string;
  /**
   * Called when the portal refuses the token (expired_token / invalid_token). Without it the
   * client gives up with B24_ERR_AUTH. Calls are coalesced: concurrent rejections refresh once.
   */
  refresh?: (rejectedAccessToken: string | undefined) => Promise<{ accessToken: string; clientEndpoint?: string }>;
}

/** A fixed access token, optionally with a refresh callback (single-flight within this process). */
export class StaticTokenProvider implements TokenProvider {
  #grant: AccessGrant;
  #refreshing: Promise<AccessGrant> | undefined;
  readonly #refresh: StaticTokenInput['refresh'];

  constructor(input: StaticTokenInput) {
    this.#grant = { accessToken: input.accessToken, clientEndpoint: normalizeEndpoint(input.clientEndpoint), memberId: input.memberId };
    this.#refresh = input.refresh;
  }

  async getGrant(): Promise<AccessGrant> {
    return this.#refreshing ?? this.#grant;
  }

  async refreshAfterRejection(rejectedAccessToken: string | undefined): Promise<AccessGrant> {
    // someone already replaced the rejected token: use theirs, refresh tokens are single-use
    if (rejectedAccessToken !== this.#grant.accessToken) return this.#grant;
    if (this.#refreshing) return this.#refreshing;
    const refresh = this.#refresh;
    if (!refresh) throw new B24Error('B24_ERR_AUTH', 'The portal rejected the access token and this provider cannot refresh it', { memberId: this.#grant.memberId });
    this.#refreshing = (async () => {
      try {
        const fresh = await refresh(rejectedAccessToken);
        this.#grant = {
          ...this.#grant,
          accessToken: fresh.accessToken,
          clientEndpoint: fresh.clientEndpoint ? normalizeEndpoint(fresh.clientEndpoint) : this.#grant.clientEndpoint,
        };
        return this.#grant;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async updateClientEndpoint(clientEndpoint: string): Promise<void> {
    this.#grant = { ...this.#grant, clientEndpoint: normalizeEndpoint(clientEndpoint) };
  }
}

/**
 * An incoming webhook: `https://{portal}/rest/{user_id}/{code}/` (docs/protocol.md §4.1). The URL is the
 * credential, so it never appears in errors or hooks.
 */
export class WebhookProvider implements TokenProvider {
  #grant: AccessGrant;

  constructor(webhookUrl: string, memberId?: string) {
    const url = new URL(webhookUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new B24Error('B24_ERR_CONFIG', 'A webhook URL must be http(s)');
    }
    // tolerate a pasted method: …/rest/1/abc/profile.json → …/rest/1/abc/
    const match = url.pathname.match(/^(.*\/rest\/\d+\/[^/]+\/)/);
    if (!match) throw new B24Error('B24_ERR_CONFIG', 'Not an incoming-webhook URL (expected …/rest/{user_id}/{code}/)');
    this.#grant = { accessToken: undefined, clientEndpoint: `${url.origin}${match[1]}`, memberId };
  }

  async getGrant(): Promise<AccessGrant> {
    return this.#grant;
  }

  async refreshAfterRejection(): Promise<AccessGrant> {
    throw new B24Error('B24_ERR_AUTH', 'The portal rejected the webhook', { memberId: this.#grant.memberId });
  }

  async updateClientEndpoint(clientEndpoint: string): Promise<void> {
    this.#grant = { ...this.#grant, clientEndpoint: normalizeEndpoint(clientEndpoint) };
  }
}

/** `{client_endpoint}` always ends with one slash. */
export function normalizeEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/`;
}

/**
 * The key of a portal's rate-limit state: its member_id, else the endpoint up to `/rest/`
 * (webhook credentials stripped), so that webhook and OAuth clients of one portal share it.
 */
export function portalKey(grant: AccessGrant): string {
  if (grant.memberId) return grant.memberId;
  const url = new URL(grant.clientEndpoint);
  const restAt = url.pathname.indexOf('/rest/');
  const path = restAt >= 0 ? url.pathname.slice(0, restAt) : url.pathname;
  return `${url.host}${path}`;
}

/** Secret parts of a grant, for redaction: the token, and a webhook's code. */
export function grantSecrets(grant: AccessGrant): string[] {
  const secrets: string[] = [];
  if (grant.accessToken) secrets.push(grant.accessToken);
  const webhook = grant.clientEndpoint.match(/\/rest\/\d+\/([^/]+)\/$/);
  if (webhook?.[1]) secrets.push(webhook[1]);
  return secrets;
}
