/**
 * Which OAuth server to trust for a portal. An install payload names its own `server_endpoint`,
 * but the payload is what we are verifying: a forged one could point at a server that vouches for
 * anything, and the stored server_endpoint later receives our client_secret on every refresh
 * (token-client.ts). So the endpoint is accepted only when it is a known Bitrix24 OAuth server
 * (docs/protocol.md §1.1) or the configured `B24_OAUTH_URL`; with `B24_OAUTH_URL` set explicitly, that one
 * is always used.
 */
import { B24Error } from '../errors.js';

/** The default OAuth token server (docs/protocol.md §1.1); `B24_OAUTH_URL` replaces it. */
export const DEFAULT_OAUTH_URL = 'https://oauth.bitrix.info';

/** The Bitrix24 OAuth servers (docs/protocol.md §1.1: `west()` and `east()` of the PHP SDK). */
const BITRIX24_OAUTH_HOSTS: readonly string[] = ['oauth.bitrix.info', 'oauth.bitrix24.tech'];

export interface OAuthServerPolicy {
  /** `B24_OAUTH_URL` (or its default), without a trailing slash. */
  oauthUrl: string;
  /** True when `B24_OAUTH_URL` was set explicitly: then it is the only OAuth server. */
  oauthUrlOverride: boolean;
  /** Further trusted OAuth hosts. @defaultValue BITRIX24_OAUTH_HOSTS */
  trustedHosts?: readonly string[];
}

/**
 * The OAuth server's REST base (`https://oauth.bitrix.info/rest/`) to verify tokens at and to store
 * as the portal's server_endpoint. Throws B24_ERR_FORBIDDEN (403) for an untrusted endpoint.
 */
export function trustedServerEndpoint(claimed: string | undefined, policy: OAuthServerPolicy): string {
  const configured = `${policy.oauthUrl.replace(/\/+$/, '')}/rest/`;
  if (policy.oauthUrlOverride) return configured;
  if (claimed === undefined || claimed === '') return configured;
  let url: URL;
  try {
    url = new URL(claimed);
  } catch {
    throw new B24Error('B24_ERR_BAD_REQUEST', 'server_endpoint is not a URL');
  }
  const trusted = new Set([...(policy.trustedHosts ?? BITRIX24_OAUTH_HOSTS), hostOf(policy.oauthUrl)].map((host) => host.toLowerCase()));
  if (url.protocol !== 'https:' || !trusted.has(url.host.toLowerCase())) {
    throw new B24Error('B24_ERR_FORBIDDEN', `server_endpoint ${url.protocol}//${url.host} is not a trusted Bitrix24 OAuth server`);
  }
  return `${url.origin}/rest/`;
}

/** The server endpoint of an OAuth host named by the authorize redirect (`server_domain`), if trusted. */
export function serverEndpointOfDomain(serverDomain: string | undefined, policy: OAuthServerPolicy): string | undefined {
  if (!serverDomain) return undefined;
  try {
    return trustedServerEndpoint(`https://${serverDomain}/rest/`, policy);
  } catch {
    return undefined;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}
