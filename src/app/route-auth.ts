/**
 * How a request to an app route proves that it speaks for the portal in its `:memberId`:
 *
 * - `auth.hmac({...})`: an HMAC of the raw body (optionally `timestamp.body`) under a secret kept
 *   in the portal's settings, sent in a header — what web stores and email services send with
 *   their webhooks (e.g. Shopify's `X-Shopify-Hmac-Sha256`, base64 SHA-256; Stripe's
 *   `t=…,v1=…` uses a timestamp).
 * - `auth.apiKey({...})`: a per-portal key in `Authorization: Bearer …` (or another header),
 *   compared in constant time with the one in the portal's settings.
 *
 * The route answers the SAME 401 `B24_ERR_UNAUTHORIZED` for an unknown portal, an uninstalled one,
 * a portal without the secret, a missing or wrong signature, another portal's secret and a stale
 * timestamp; a missing portal or secret is checked against a random dummy so that each case costs
 * the same work (routes.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { B24Error } from '../errors.js';

export interface HmacAuthOptions {
  /** Request header carrying the signature (case-insensitive). */
  header: string;
  /** Settings key of the shared secret (declare it in `secrets`). */
  secret: string;
  /** @defaultValue 'sha256' */
  algorithm?: 'sha256' | 'sha1' | 'sha512';
  /** How the signature is written in the header. @defaultValue 'hex' */
  encoding?: 'hex' | 'base64';
  /** Text before the signature in the header, e.g. `sha256=` (GitHub style). @defaultValue '' */
  prefix?: string;
  /**
   * Header carrying the signing time (unix seconds). When set, the signed content is
   * `${timestamp}.${rawBody}` and requests outside the replay window are refused.
   */
  timestampHeader?: string;
  /** Replay window around now, in seconds (with `timestampHeader`). @defaultValue 300 */
  toleranceSeconds?: number;
}

export interface ApiKeyAuthOptions {
  /** Settings key of the portal's API key (declare it in `secrets`). */
  secret: string;
  /** Header carrying the key; `authorization` expects `Bearer <key>`. @defaultValue 'authorization' */
  header?: string;
}

/** Reads one request's credentials and checks them against the portal's secret. */
export interface RouteAuth {
  readonly kind: 'hmac' | 'apiKey';
  /** The settings key holding the secret. */
  readonly secretKey: string;
  /**
   * True when the request is authentic under `secret`. `secret` is a random dummy when the portal
   * or its secret is missing, so that the work done is the same. `query` is the parsed query string
   * (for services that can only put a secret in the URL they call, as Mailchimp's webhooks).
   */
  verify(request: { headers: Record<string, string | string[] | undefined>; rawBody: Buffer; nowMs: number; query?: Record<string, unknown> }, secret: string): boolean;
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time comparison of two byte strings of any length. */
function sameBytes(a: Buffer, b: Buffer): boolean {
  // equal lengths for timingSafeEqual; the length check itself leaks only the expected length (public)
  const padded = Buffer.alloc(a.length);
  b.copy(padded, 0, 0, Math.min(a.length, b.length));
  return timingSafeEqual(a, padded) && a.length === b.length;
}

function hmac(options: HmacAuthOptions): RouteAuth {
  const header = nonEmpty(options.header, 'auth.hmac: header');
  const secretKey = nonEmpty(options.secret, 'auth.hmac: secret');
  const algorithm = options.algorithm ?? 'sha256';
  const encoding = options.encoding ?? 'hex';
  const prefix = options.prefix ?? '';
  const toleranceMs = (options.toleranceSeconds ?? 300) * 1000;
  if (!['sha256', 'sha1', 'sha512'].includes(algorithm)) throw definition(`auth.hmac: algorithm ${String(algorithm)} is not sha256, sha1 or sha512`);
  if (!['hex', 'base64'].includes(encoding)) throw definition(`auth.hmac: encoding ${String(encoding)} is not hex or base64`);
  if (!(toleranceMs > 0)) throw definition('auth.hmac: toleranceSeconds must be positive');
  return {
    kind: 'hmac',
    secretKey,
    verify({ headers, rawBody, nowMs }, secret) {
      const sent = headerValue(headers, header)?.trim();
      let signed = rawBody;
      let fresh = true;
      if (options.timestampHeader) {
        const stamp = headerValue(headers, options.timestampHeader)?.trim() ?? '';
        const seconds = /^\d{1,12}$/.test(stamp) ? Number(stamp) : Number.NaN;
        fresh = Number.isFinite(seconds) && Math.abs(nowMs - seconds * 1000) <= toleranceMs;
        signed = Buffer.concat([Buffer.from(`${stamp}.`), rawBody]);
      }
      const expected = createHmac(algorithm, secret).update(signed).digest();
      const given = sent !== undefined && sent.startsWith(prefix) ? decode(sent.slice(prefix.length), encoding) : Buffer.alloc(0);
      // computed and compared whatever came before: the answer takes the same time
      return sameBytes(expected, given) && fresh && sent !== undefined;
    },
  };
}

function apiKey(options: ApiKeyAuthOptions): RouteAuth {
  const secretKey = nonEmpty(options.secret, 'auth.apiKey: secret');
  const header = (options.header ?? 'authorization').toLowerCase();
  return {
    kind: 'apiKey',
    secretKey,
    verify({ headers }, secret) {
      const raw = headerValue(headers, header)?.trim() ?? '';
      const given = header === 'authorization' ? (/^Bearer\s+(.+)$/i.exec(raw)?.[1] ?? '') : raw;
      // hashed first: equal lengths, and the comparison's time says nothing about the key
      const digest = (text: string): Buffer => createHmac('sha256', 'b24kit-api-key').update(text).digest();
      return sameBytes(digest(secret), digest(given)) && given !== '';
    },
  };
}

function decode(text: string, encoding: 'hex' | 'base64'): Buffer {
  if (encoding === 'hex') return /^[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : Buffer.alloc(0);
  return /^[A-Za-z0-9+/_-]*={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw definition(`${what} must be a non-empty string`);
  return value;
}

function definition(message: string): B24Error {
  return new B24Error('B24_ERR_APP_DEFINITION', message);
}

/** A secret no portal has: what a missing portal or secret is checked against. */
export function dummySecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Route authentications (`route(method, path, handler, { auth })`). */
export const auth = { hmac, apiKey } as const;
