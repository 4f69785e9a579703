/**
 * The one decision about a failed request (src/rest/error-class.ts), case by case: errors built the
 * way the client builds them — from the envelope a portal answers (errorFromEnvelope) or from a
 * failure of its own (clientError) — and the class each gets for a method. docs/rest.md, "Error
 * classes", is this table in prose.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { classifyError, OPERATING_FALLBACK_MS, type ClassifyFacts, type ErrorClass } from '../../src/rest/error-class.js';
import { clientError, errorFromEnvelope } from '../../src/rest/error-mapping.js';

const portal = (status: number, error: string, description = '') => (method: string) => errorFromEnvelope({ error, error_description: description }, status, { method, memberId: 'm1' });
const own = (code: ConstructorParameters<typeof B24Error>[0], status?: number) => (method: string) =>
  clientError(code, 'detail', { method, memberId: 'm1' }, status === undefined ? {} : { status });

type Case = [what: string, build: (method: string) => unknown, method: string, facts: ClassifyFacts, expected: ErrorClass['kind'] | ErrorClass];

const CASES: Case[] = [
  // permanent: the same request meets the same answer (docs/protocol.md §4.4)
  ['400 validation, empty code (unknown currency)', portal(400, '', 'Invalid value for the "Currency" field'), 'crm.deal.add', {}, 'permanent'],
  ['400 ERROR_CORE', portal(400, 'ERROR_CORE', 'The field "E-mail" contains an invalid address'), 'crm.contact.add', {}, 'permanent'],
  ['400 ERROR_ARGUMENT on a read', portal(400, 'ERROR_ARGUMENT', 'bad'), 'crm.deal.list', {}, 'permanent'],
  ['400 "Not found" (legacy CRM)', portal(400, '', 'Not found'), 'crm.deal.get', {}, 'permanent'],
  ['400 NOT_FOUND (crm.item)', portal(400, 'NOT_FOUND', 'Item not found'), 'crm.item.get', {}, 'permanent'],
  ['403 ACCESS_DENIED', portal(403, 'ACCESS_DENIED', 'Access denied!'), 'crm.deal.update', {}, 'permanent'],
  ['403 insufficient_scope', portal(403, 'insufficient_scope', 'higher privileges'), 'crm.deal.list', {}, 'permanent'],
  ['401 insufficient_scope (the current docs)', portal(401, 'insufficient_scope', 'higher privileges'), 'crm.deal.list', {}, 'permanent'],
  ['404 ERROR_METHOD_NOT_FOUND', portal(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!'), 'crm.nothing.here', {}, 'permanent'],
  ['PORTAL_DELETED', portal(403, 'PORTAL_DELETED', 'Portal was deleted'), 'user.current', {}, 'permanent'],
  ['404 without an envelope: no portal there', own('B24_ERR_PORTAL_NOT_FOUND', 404), 'user.current', {}, 'permanent'],
  ['405 ERROR_BATCH_METHOD_NOT_ALLOWED', portal(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'nested'), 'batch', { safety: 'unsafe' }, 'permanent'],

  // limits: never executed, so any method waits and goes again (docs/protocol.md §5)
  ['503 QUERY_LIMIT_EXCEEDED on a write', portal(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'), 'crm.deal.add', {}, { kind: 'wait', on: 'bucket' }],
  ['OVERLOAD_LIMIT', portal(503, 'OVERLOAD_LIMIT', 'blocked'), 'crm.deal.list', {}, { kind: 'wait', on: 'bucket' }],
  ['429 OPERATION_TIME_LIMIT on a write', portal(429, 'OPERATION_TIME_LIMIT', 'blocked'), 'crm.deal.add', {}, { kind: 'wait', on: 'operating', fallbackMs: OPERATING_FALLBACK_MS }],
  ['the operating reset after the deadline', own('B24_ERR_OPERATION_TIME_LIMIT'), 'crm.deal.list', {}, { kind: 'wait', on: 'operating', fallbackMs: OPERATING_FALLBACK_MS }],

  // tokens: one refresh per call (docs/protocol.md §1.5, §8.1)
  ['401 expired_token, refresh still allowed', portal(401, 'expired_token', 'expired'), 'crm.deal.add', { canRefresh: true }, 'refresh'],
  ['401 invalid_token, refresh still allowed', portal(401, 'invalid_token', 'invalid'), 'user.current', { canRefresh: true }, 'refresh'],
  ['401 expired_token after the one refresh', portal(401, 'expired_token', 'expired'), 'user.current', { canRefresh: false }, 'fail'],
  ['401 NO_AUTH_FOUND', portal(401, 'NO_AUTH_FOUND', 'Wrong authorization data'), 'user.current', { canRefresh: true }, 'fail'],
  ['401 PAYMENT_REQUIRED', portal(401, 'PAYMENT_REQUIRED', 'subscription expired'), 'user.current', {}, 'fail'],

  // server errors: reads and idempotent writes again; a write that may have applied, not (docs/protocol.md §8.3)
  ['500 INTERNAL_SERVER_ERROR on a read', portal(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'), 'crm.deal.get', {}, 'retry'],
  ['500 on an idempotent write', portal(500, 'INTERNAL_SERVER_ERROR', 'x'), 'crm.deal.update', {}, 'retry'],
  ['502 with an unknown code on a read', portal(502, 'SOMETHING', 'x'), 'crm.deal.list', {}, 'retry'],
  ['500 on an add', portal(500, 'INTERNAL_SERVER_ERROR', 'x'), 'crm.deal.add', {}, 'fail'],
  ['500 on a read the caller marked unsafe', portal(500, 'INTERNAL_SERVER_ERROR', 'x'), 'crm.deal.get', { safety: 'unsafe' }, 'fail'],
  ['500 on an add the caller marked idempotent', portal(500, 'INTERNAL_SERVER_ERROR', 'x'), 'crm.deal.add', { safety: 'idempotent' }, 'retry'],

  // transport
  ['connection refused (not sent) on an add', own('B24_ERR_NETWORK'), 'crm.deal.add', { sent: false }, 'retry'],
  ['connection dropped after sending an add', own('B24_ERR_NETWORK'), 'crm.deal.add', { sent: true }, 'outcome-unknown'],
  ['timeout of an add (sent unless told otherwise)', own('B24_ERR_TIMEOUT'), 'crm.deal.add', {}, 'outcome-unknown'],
  ['timeout of a read', own('B24_ERR_TIMEOUT'), 'crm.deal.list', {}, 'retry'],
  ['the outcome already unknown', own('B24_ERR_OUTCOME_UNKNOWN'), 'crm.deal.add', {}, 'outcome-unknown'],

  // bodies that are not an envelope
  ['HTML 503 on a read', own('B24_ERR_BAD_RESPONSE', 503), 'user.current', {}, 'retry'],
  ['unreadable 200 on a read', own('B24_ERR_BAD_RESPONSE', 200), 'crm.deal.get', {}, 'retry'],
  ['unreadable 200 on an add', own('B24_ERR_BAD_RESPONSE', 200), 'crm.deal.add', {}, 'outcome-unknown'],
  ['HTML 502 on an add', own('B24_ERR_BAD_RESPONSE', 502), 'crm.deal.add', {}, 'fail'],
  ['HTML 403 from a proxy on a read', own('B24_ERR_BAD_RESPONSE', 403), 'crm.deal.get', {}, 'fail'],
  ['too many redirects', own('B24_ERR_BAD_RESPONSE', 302), 'crm.deal.get', {}, 'fail'],

  // not the portal's
  ['refused before sending', own('B24_ERR_INVALID_ARGUMENT'), 'crm.deal.get', {}, 'fail'],
  ['a plain Error', () => new Error('bug'), 'crm.deal.get', {}, 'fail'],
  ['not an error at all', () => 'oops', 'crm.deal.get', {}, 'fail'],
];

describe('classifyError: the class of each failure', () => {
  for (const [what, build, method, facts, expected] of CASES) {
    it(`${what} (${method}) → ${typeof expected === 'string' ? expected : JSON.stringify(expected)}`, () => {
      const got = classifyError(build(method), method, facts);
      if (typeof expected === 'string') assert.equal(got.kind, expected);
      else assert.deepEqual(got, expected);
    });
  }

  it('reads the method for its safety when the caller does not say', () => {
    const serverError = portal(500, 'INTERNAL_SERVER_ERROR', 'x');
    assert.equal(classifyError(serverError('crm.deal.list'), 'crm.deal.list').kind, 'retry');
    assert.equal(classifyError(serverError('crm.deal.add'), 'crm.deal.add').kind, 'fail');
    assert.equal(classifyError(serverError('CRM.DEAL.DELETE'), 'CRM.DEAL.DELETE').kind, 'retry');
  });

  it('works on anything with a B24 code: a stored job error carries only code, status and bitrixCode', () => {
    assert.equal(classifyError({ code: 'B24_ERR_REST', status: 400, bitrixCode: '' }, 'crm.deal.add').kind, 'permanent');
    assert.equal(classifyError({ code: 'B24_ERR_SERVER', status: 500 }, 'user.current').kind, 'retry');
  });
});
