/**
 * Request bodies. Bitrix24 POSTs `application/x-www-form-urlencoded` with PHP bracket keys
 * (`auth[access_token]=…`, docs/protocol.md §2.2, §3.3), parsed with qs under limits: the body size
 * (Fastify's bodyLimit), the nesting depth and the number of keys. Over a limit → 400, not a
 * silently truncated object. JSON is accepted for our own API callers. Parse errors never echo the
 * body (JSON.parse messages quote it, and it may hold tokens).
 */
import type { FastifyInstance } from 'fastify';
import qs from 'qs';
import { B24Error } from '../errors.js';

export interface FormLimits {
  /** Deepest bracket nesting accepted (`a[b][c]` is 2). @defaultValue 10 (PHP's max_input_nesting_level is 64; Bitrix24 payloads use ≤ 5) */
  depth?: number;
  /** Most keys in one body or query string. @defaultValue 1000 (PHP's max_input_vars) */
  parameterLimit?: number;
  /** Most elements of one list (`ids[]=…`). @defaultValue 1000 */
  arrayLimit?: number;
}

const DEFAULT_FORM_LIMITS: Required<FormLimits> = { depth: 10, parameterLimit: 1000, arrayLimit: 1000 };

/** Parses a form or query string in PHP bracket syntax; throws B24_ERR_BAD_REQUEST over a limit. */
export function parseForm(text: string, limits: FormLimits = {}): Record<string, unknown> {
  const { depth, parameterLimit, arrayLimit } = { ...DEFAULT_FORM_LIMITS, ...limits };
  try {
    return qs.parse(text, {
      depth,
      strictDepth: true,
      parameterLimit,
      throwOnLimitExceeded: true,
      arrayLimit,
      allowPrototypes: false,
      charset: 'utf-8',
    }) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof RangeError ? error.message : 'Malformed form body';
    throw new B24Error('B24_ERR_BAD_REQUEST', `Form body refused: ${message}`);
  }
}

/** Replaces Fastify's parsers: forms via qs, JSON objects; anything else answers 415. */
export function registerBodyParsers(app: FastifyInstance, limits: FormLimits = {}): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseForm(String(body), limits));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(new B24Error('B24_ERR_BAD_REQUEST', 'Malformed JSON body'), undefined);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return done(new B24Error('B24_ERR_BAD_REQUEST', 'The JSON body must be an object'), undefined);
    }
    done(null, value);
  });
}
