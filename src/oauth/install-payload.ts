/**
 * Reading what Bitrix24 POSTs on install and on lifecycle events into one typed claim:
 * - the no-UI install = ONAPPINSTALL form (docs/protocol.md §2.2): `event`, `data[…]`, `auth[…]`;
 * - the UI install / frame POST (docs/protocol.md §2.3): `AUTH_ID`, `REFRESH_ID`, `APPLICATION_TOKEN`,
 *   `member_id`, `AUTH_EXPIRES` (a lifetime in SECONDS, not a timestamp), `SERVER_ENDPOINT`, `status`,
 *   `APPLICATION_SCOPE`, with `DOMAIN` and `PROTOCOL` in the query string;
 * - the `auth[…]` block of ONAPPUPDATE / ONAPPUNINSTALL (docs/protocol.md §2.4, §2.5).
 *
 * A claim is only what the sender says. It is trusted after app.info (app-info.ts) or, for
 * ONAPPUNINSTALL, the application_token check. Errors name missing fields, never values.
 */
import { B24Error } from '../errors.js';
import { parseScope } from '../store/portals.js';
import { isMemberId, isPortalDomain } from '../validators.js';

export interface InstallClaim {
  memberId: string;
  domain: string | undefined;
  clientEndpoint: string | undefined;
  serverEndpoint: string | undefined;
  accessToken: string;
  refreshToken: string;
  applicationToken: string | undefined;
  /** On our clock. */
  expiresAtMs: number;
  scope: string[];
  status: string;
  userId: number | undefined;
}

/** What an ONAPPUNINSTALL (or any event without tokens) carries about its portal. */
export interface EventIdentity {
  memberId: string;
  domain: string | undefined;
  applicationToken: string | undefined;
}

export type FormBody = Record<string, unknown>;

const MAX_TOKEN_LENGTH = 1024;
const DEFAULT_LIFETIME_S = 3600;

/** Which install form a POST to /install is, or undefined for neither. */
function installFormKind(body: FormBody): 'event' | 'ui' | undefined {
  if (typeof body.event === 'string' && body.event.toUpperCase() === 'ONAPPINSTALL') return 'event';
  if ('AUTH_ID' in body || 'REFRESH_ID' in body) return 'ui';
  return undefined;
}

/** The claim of a POST to /install (either form). Throws B24_ERR_BAD_REQUEST (400). */
export function parseInstallPost(body: FormBody, query: FormBody, nowMs: number): InstallClaim {
  const kind = installFormKind(body);
  if (kind === 'event') return parseAuthBlock(body.auth, nowMs, { requireApplicationToken: true });
  if (kind === 'ui') return parseUiInstall(body, query, nowMs);
  throw badRequest('not an install: expected event=ONAPPINSTALL with auth[…], or the install page POST with AUTH_ID');
}

/**
 * The `auth[…]` block of ONAPPINSTALL / ONAPPUPDATE: full tokens, refresh_token and
 * application_token included (docs/protocol.md §2.2, §2.4).
 */
export function parseAuthBlock(auth: unknown, nowMs: number, options: { requireApplicationToken: boolean }): InstallClaim {
  if (!isRecord(auth)) throw badRequest('auth[…] is missing');
  const read = reader(auth);
  const accessToken = read.token('access_token');
  const refreshToken = read.token('refresh_token');
  const memberId = read.memberId('member_id');
  const applicationToken = read.token('application_token', !options.requireApplicationToken);
  const domain = read.domain('domain', true);
  const clientEndpoint = read.url('client_endpoint', true);
  const serverEndpoint = read.url('server_endpoint', true);
  read.done('auth');
  const expires = positiveNumber(auth.expires);
  const expiresIn = positiveNumber(auth.expires_in);
  // an install event may arrive late (docs/protocol.md §2.2): take the earlier of the two readings
  const candidates = [expires !== undefined ? expires * 1000 : undefined, expiresIn !== undefined ? nowMs + expiresIn * 1000 : undefined].filter(
    (value): value is number => value !== undefined,
  );
  return {
    memberId: memberId!,
    domain,
    clientEndpoint,
    serverEndpoint,
    accessToken: accessToken!,
    refreshToken: refreshToken!,
    applicationToken,
    expiresAtMs: candidates.length > 0 ? Math.min(...candidates) : nowMs + DEFAULT_LIFETIME_S * 1000,
    scope: parseScope(typeof auth.scope === 'string' ? auth.scope : undefined),
    status: statusOf(auth.status),
    userId: positiveInteger(auth.user_id),
  };
}

/** The UI install / frame POST (docs/protocol.md §2.3). `DOMAIN` may come in the body or the query. */
function parseUiInstall(body: FormBody, query: FormBody, nowMs: number): InstallClaim {
  const merged: FormBody = { ...query, ...body };
  const read = reader(merged);
  const accessToken = read.token('AUTH_ID');
  const refreshToken = read.token('REFRESH_ID');
  const applicationToken = read.token('APPLICATION_TOKEN');
  const memberId = read.memberId('member_id');
  const domain = read.domain('DOMAIN', false);
  const serverEndpoint = read.url('SERVER_ENDPOINT', true);
  read.done('install POST');
  // AUTH_EXPIRES is a lifetime in seconds (3600), not a timestamp (the PHP SDK's quirk: don't copy it)
  const lifetimeS = positiveNumber(merged.AUTH_EXPIRES) ?? DEFAULT_LIFETIME_S;
  const protocol = String(merged.PROTOCOL ?? '1') === '0' ? 'http' : 'https';
  return {
    memberId: memberId!,
    domain,
    clientEndpoint: domain ? `${protocol}://${domain}/rest/` : undefined,
    serverEndpoint,
    accessToken: accessToken!,
    refreshToken: refreshToken!,
    applicationToken,
    expiresAtMs: nowMs + lifetimeS * 1000,
    scope: parseScope(typeof merged.APPLICATION_SCOPE === 'string' ? merged.APPLICATION_SCOPE : undefined),
    status: statusOf(merged.status),
    userId: undefined,
  };
}

/** The portal an event names: `auth[member_id]`, `auth[domain]`, `auth[application_token]`. */
export function parseEventIdentity(body: FormBody): EventIdentity {
  if (!isRecord(body.auth)) throw badRequest('auth[…] is missing');
  const read = reader(body.auth);
  const memberId = read.memberId('member_id');
  const domain = read.domain('domain', true);
  const applicationToken = read.token('application_token', true);
  read.done('auth');
  return { memberId: memberId!, domain, applicationToken };
}

function reader(source: Record<string, unknown>) {
  const missing: string[] = [];
  const invalid: string[] = [];
  // secrets and ids are taken exactly as sent: ` token` is not `token` (a secret is compared byte for byte)
  const text = (name: string, trim = true): string | undefined => {
    const value = source[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') {
      invalid.push(name);
      return undefined;
    }
    return trim ? value.trim() : value;
  };
  return {
    token(name: string, optional = false): string | undefined {
      const value = text(name, false);
      if (value === undefined) {
        if (!optional) missing.push(name);
        return undefined;
      }
      if (value.length > MAX_TOKEN_LENGTH || /\s/.test(value)) invalid.push(name);
      return value;
    },
    memberId(name: string): string | undefined {
      const value = text(name, false);
      if (value === undefined) missing.push(name);
      else if (!isMemberId(value)) invalid.push(name);
      return value;
    },
    domain(name: string, optional: boolean): string | undefined {
      const value = text(name)?.toLowerCase();
      if (value === undefined) {
        if (!optional) missing.push(name);
      } else if (!isPortalDomain(value)) invalid.push(name);
      return value;
    },
    url(name: string, optional: boolean): string | undefined {
      const value = text(name);
      if (value === undefined) {
        if (!optional) missing.push(name);
        return undefined;
      }
      try {
        const url = new URL(value);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') invalid.push(name);
      } catch {
        invalid.push(name);
      }
      return value;
    },
    done(where: string): void {
      const problems = [
        ...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []),
        ...(invalid.length > 0 ? [`invalid ${invalid.join(', ')}`] : []),
      ];
      if (problems.length > 0) throw badRequest(`${where}: ${problems.join('; ')}`);
    },
  };
}

function statusOf(value: unknown): string {
  // informational only (docs/protocol.md §1.7); unknown letters are kept (docs/protocol.md §2.8)
  return typeof value === 'string' && /^[A-Za-z]{1,4}$/.test(value) ? value : 'L';
}

function positiveNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function positiveInteger(value: unknown): number | undefined {
  const n = positiveNumber(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function badRequest(message: string): B24Error {
  return new B24Error('B24_ERR_BAD_REQUEST', message);
}
