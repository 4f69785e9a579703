/**
 * The shapes of the identifiers Bitrix24 sends and b24kit routes by: member_id, portal domain,
 * event name. Every inbound check uses these, so a payload one route accepts another does not
 * refuse. (The emulator keeps its own checks: it imitates the portal, not this app.)
 */

/**
 * member_id: the portal's tenant key. Real portals send 32 hex characters (docs/protocol.md §1.4), but
 * nothing in the protocol promises that shape, and the emulator and tests use ids such as `m1`.
 * The check keeps what can safely go into a URL path (`/webhooks/:memberId/event`), a log line
 * and a store key: letters, digits, `_` and `-`, at most 64.
 */
const MEMBER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * An event name, e.g. `ONCRMDEALADD`. Names are case-insensitive on the portal and delivered
 * upper-case (docs/protocol.md §3.1, §3.7); the check accepts either case.
 */
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_]{1,100}$/;

/** Dot-separated labels of letters, digits and hyphens, optionally `:port`. */
const HOST_PATTERN = /^[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/i;
/** The longest DNS name (RFC 1035). */
const MAX_DOMAIN_LENGTH = 253;

export function isMemberId(value: unknown): value is string {
  return typeof value === 'string' && MEMBER_ID_PATTERN.test(value);
}

export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && EVENT_NAME_PATTERN.test(value);
}

/**
 * A portal's host as a payload names it (`auth[domain]`, the install page's `DOMAIN`,
 * docs/protocol.md §2.2, §2.3, §7.2): `acme.bitrix24.com`, `crm.example.com:8443`. A single label (`portal`) is
 * accepted: an on-premise portal may live at an intranet name.
 */
export function isPortalDomain(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_DOMAIN_LENGTH && HOST_PATTERN.test(value);
}

/**
 * A portal domain the code flow may send a browser to (`/oauth/start?domain=`): one with at
 * least one dot. A single label would be resolved through the visitor's own DNS search domains,
 * reaching a host of the visitor's network rather than the portal.
 */
export function isQualifiedPortalDomain(value: unknown): value is string {
  return isPortalDomain(value) && value.includes('.');
}

/**
 * An entry of the redirect allowlist (`B24KIT_PORTAL_DOMAINS`): a qualified portal domain, or
 * `*.` and one for any subdomain of it (`*.example.com`).
 */
export function isPortalDomainPattern(value: unknown): value is string {
  return typeof value === 'string' && isQualifiedPortalDomain(value.startsWith('*.') ? value.slice(2) : value);
}
