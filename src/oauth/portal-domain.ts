/**
 * Which hosts the code flow may send a browser to. `/oauth/start?domain=…` answers with a redirect
 * to `https://{domain}/oauth/authorize/` (docs/protocol.md §1.2); without a rule, anyone could make the app
 * redirect to any host with a fresh state (an open redirect). A domain is allowed when it is:
 *
 * - a Bitrix24 cloud portal: one label under a Bitrix24 cloud zone (`acme.bitrix24.com`,
 *   `acme.bitrix24.com.br`, …);
 * - the domain of a portal installed here (renamed and custom-domain portals included);
 * - in the app's allowlist (`B24KIT_PORTAL_DOMAINS`): exact hosts, or `*.example.com` for any
 *   subdomain; the emulator's portals in development, on-premise portals in production.
 */

/**
 * The zones Bitrix24 cloud portals live under, as the vendor's public regional sites name them.
 * Not exhaustive by promise: a zone missing here is added through the allowlist.
 */
const BITRIX24_CLOUD_ZONES: readonly string[] = [
  'bitrix24.com',
  'bitrix24.eu',
  'bitrix24.de',
  'bitrix24.es',
  'bitrix24.fr',
  'bitrix24.it',
  'bitrix24.pl',
  'bitrix24.uk',
  'bitrix24.in',
  'bitrix24.com.br',
  'bitrix24.com.tr',
  'bitrix24.mx',
  'bitrix24.co',
  'bitrix24.jp',
  'bitrix24.cn',
  'bitrix24.vn',
  'bitrix24.id',
  'bitrix24.ru',
  'bitrix24.by',
  'bitrix24.kz',
  'bitrix24.ua',
];

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True for `{one label}.{cloud zone}`, lower-case, without a port. */
export function isCloudPortalDomain(host: string): boolean {
  const lower = host.toLowerCase();
  return BITRIX24_CLOUD_ZONES.some((zone) => lower.endsWith(`.${zone}`) && LABEL.test(lower.slice(0, -zone.length - 1)));
}

/** True when `host` is in `allowed`: an exact host (with its port, if any), or `*.suffix` for any subdomain of suffix. */
export function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const lower = host.toLowerCase();
  return allowed.some((entry) => {
    const pattern = entry.trim().toLowerCase();
    if (pattern.startsWith('*.')) return lower.endsWith(pattern.slice(1)) && lower.length > pattern.length - 1;
    return pattern !== '' && lower === pattern;
  });
}
