/**
 * The admin dashboard's credentials: the admin token, a stateless signed session cookie, and the
 * CSRF token bound to the session. Everything is keyed by the admin token itself, so a session
 * works on every web process of the app and dies when the token changes; nothing is stored.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a session lasts after login, in ms. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
export const SESSION_COOKIE = 'b24kit_admin';

export interface AdminSession {
  /** Random per login: what the CSRF token is bound to. */
  nonce: string;
  expiresAtMs: number;
}

export interface AdminAuth {
  /** Whether `candidate` is the admin token, in time that does not depend on where they differ. */
  tokenMatches(candidate: unknown): boolean;
  /** A new session's cookie value. */
  issue(nowMs: number): string;
  /** The session of a cookie value, when its signature holds and it has not expired. */
  read(cookie: string | undefined, nowMs: number): AdminSession | undefined;
  /** The CSRF token of a session (a hidden field of every form). */
  csrfToken(session: AdminSession): string;
  /** The signature of a status message this session's action redirects with (`?done=…&sig=…`). */
  flashSignature(session: AdminSession, message: string): string;
  /** Whether `candidate` signs `message` for this session: a page shows only the messages its own actions wrote. */
  flashMatches(session: AdminSession, message: string, candidate: unknown): boolean;
  csrfMatches(session: AdminSession, candidate: unknown): boolean;
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** Equal lengths by construction (both HMAC digests under a key of this process): no length or prefix oracle. */
function digestsEqual(key: Buffer, a: string, b: string): boolean {
  return timingSafeEqual(hmac(key, a), hmac(key, b));
}

export function createAdminAuth(adminToken: string): AdminAuth {
  // compare digests under a random key, never the strings: timing tells nothing about the token
  const compareKey = randomBytes(32);
  const sessionKey = hmac(adminToken, 'b24kit.admin.session.v1');
  const sign = (payload: string): string => hmac(sessionKey, payload).toString('base64url');
  const csrfToken = (session: AdminSession): string => hmac(sessionKey, `csrf.${session.nonce}`).toString('base64url');
  const flashSignature = (session: AdminSession, message: string): string => hmac(sessionKey, `flash.${session.nonce}.${message}`).toString('base64url');
  return {
    tokenMatches: (candidate) => typeof candidate === 'string' && candidate !== '' && digestsEqual(compareKey, candidate, adminToken),
    issue(nowMs) {
      const payload = `${nowMs + SESSION_TTL_MS}.${randomBytes(16).toString('base64url')}`;
      return `${payload}.${sign(payload)}`;
    },
    read(cookie, nowMs) {
      if (!cookie) return undefined;
      const parts = cookie.split('.');
      if (parts.length !== 3) return undefined;
      const [expires, nonce, signature] = parts as [string, string, string];
      const payload = `${expires}.${nonce}`;
      if (!digestsEqual(compareKey, signature, sign(payload))) return undefined;
      const expiresAtMs = Number(expires);
      if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= nowMs) return undefined;
      return { nonce, expiresAtMs };
    },
    csrfToken,
    csrfMatches: (session, candidate) => typeof candidate === 'string' && digestsEqual(compareKey, candidate, csrfToken(session)),
    flashSignature,
    flashMatches: (session, message, candidate) => typeof candidate === 'string' && digestsEqual(compareKey, candidate, flashSignature(session, message)),
  };
}

/** The value of one cookie from a Cookie header. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const joined = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const part of joined.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The bearer token of an Authorization header. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return match?.[1];
}
