import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRobotRequest, RobotRequestError, robotCallDedupeKey, robotDeadlineMs } from '../../src/robots/robot-request.js';
import { B24Error } from '../../src/errors.js';

const SECRET = 'tok3n-that-must-not-leak';

/** A robot call as the form parser hands it over (docs/protocol.md §7.2). */
function form(overrides: Record<string, unknown> = {}, authOverrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    workflow_id: '66e81a641752f8.56521481',
    code: 'send_sms',
    document_id: ['crm', 'CCrmDocumentDeal', 'DEAL_5'],
    document_type: ['crm', 'CCrmDocumentDeal', 'DEAL'],
    event_token: `66e81a641752f8.56521481|A12345_1_2_3|${SECRET}`,
    properties: { phone: '+100', empty: '' },
    use_subscription: 'Y',
    timeout_duration: '0',
    ts: '1767225600',
    auth: {
      access_token: SECRET,
      expires: '1767229200',
      expires_in: '3600',
      scope: 'crm,bizproc',
      domain: 'acme.bitrix24.com',
      server_endpoint: 'https://oauth.bitrix.info/rest/',
      status: 'L',
      client_endpoint: 'https://acme.bitrix24.com/rest/',
      member_id: 'abc123',
      user_id: '1',
      refresh_token: SECRET,
      application_token: SECRET,
      ...authOverrides,
    },
    ...overrides,
  };
}

function refusal(field: string, problem: 'missing' | 'invalid') {
  return (error: unknown): boolean => {
    assert.ok(error instanceof RobotRequestError, String(error));
    assert.equal(error.code, 'B24_ERR_BAD_REQUEST');
    assert.equal(error.status, 400);
    assert.equal(error.field, field);
    assert.equal(error.problem, problem);
    assert.ok(!error.message.includes(SECRET) && !JSON.stringify(error).includes(SECRET), 'never the value');
    return true;
  };
}

describe('parseRobotRequest', () => {
  it('reads a well-formed call into typed fields', () => {
    const call = parseRobotRequest(form());
    assert.equal(call.workflowId, '66e81a641752f8.56521481');
    assert.deepEqual(call.documentId, ['crm', 'CCrmDocumentDeal', 'DEAL_5']);
    assert.deepEqual(call.properties, { phone: '+100', empty: '' });
    assert.equal(call.useSubscription, true);
    assert.equal(call.timeoutSeconds, 0);
    assert.equal(call.ts, 1767225600);
    assert.equal(robotDeadlineMs(call), undefined);
    assert.deepEqual(call.auth.scope, ['crm', 'bizproc']);
    assert.equal(call.auth.userId, 1);
    assert.equal(call.auth.expiresAt, 1767229200);
  });

  it('accepts what the wire allows: no properties, document ids decoded as objects, empty use_subscription', () => {
    const call = parseRobotRequest(form({ properties: undefined, document_id: { 0: 'crm', 1: 'CCrmDocumentLead', 2: 'LEAD_1' }, use_subscription: '' }));
    assert.deepEqual(call.properties, {});
    assert.deepEqual(call.documentId, ['crm', 'CCrmDocumentLead', 'LEAD_1']);
    assert.equal(call.useSubscription, true, 'empty = wait for the answer');
    assert.equal(parseRobotRequest(form({ use_subscription: 'N' })).useSubscription, false);
  });

  it('names the missing or invalid field, never its value', () => {
    const cases: Array<[Record<string, unknown>, string, 'missing' | 'invalid']> = [
      [form({ event_token: undefined }), 'event_token', 'missing'],
      [form({ event_token: `${SECRET} x` }), 'event_token', 'invalid'],
      [form({ workflow_id: '' }), 'workflow_id', 'missing'],
      [form({ workflow_id: `a/${SECRET}` }), 'workflow_id', 'invalid'],
      [form({ code: 'a b' }), 'code', 'invalid'],
      [form({ document_id: ['crm', 'CCrmDocumentDeal'] }), 'document_id', 'invalid'],
      [form({ document_type: undefined }), 'document_type', 'missing'],
      [form({ properties: SECRET }), 'properties', 'invalid'],
      [form({ use_subscription: 'maybe' }), 'use_subscription', 'invalid'],
      [form({ timeout_duration: '-5' }), 'timeout_duration', 'invalid'],
      [form({ ts: undefined }), 'ts', 'missing'],
      [form({ ts: 'yesterday' }), 'ts', 'invalid'],
      [form({ auth: undefined }), 'auth', 'missing'],
      [form({}, { application_token: undefined }), 'auth[application_token]', 'missing'],
      [form({}, { member_id: `${SECRET}!` }), 'auth[member_id]', 'invalid'],
      [form({}, { access_token: `${SECRET} ${SECRET}` }), 'auth[access_token]', 'invalid'],
      [form({}, { client_endpoint: `ftp://${SECRET}` }), 'auth[client_endpoint]', 'invalid'],
    ];
    for (const [body, field, problem] of cases) assert.throws(() => parseRobotRequest(body), refusal(field, problem), field);
  });

  it('checks the URL’s member_id and code', () => {
    assert.throws(() => parseRobotRequest(form(), { memberId: 'other' }), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_MEMBER_MISMATCH' && error.status === 403);
    assert.throws(() => parseRobotRequest(form(), { code: 'other' }), refusal('code', 'invalid'));
    assert.doesNotThrow(() => parseRobotRequest(form(), { memberId: 'abc123', code: 'send_sms' }));
  });

  it('dedupes on workflow_id + event_token: the same workflow running the robot twice gives two keys', () => {
    const first = parseRobotRequest(form());
    const loop = parseRobotRequest(form({ event_token: `66e81a641752f8.56521481|A12345_1_2_3|another-event-id` }));
    assert.notEqual(robotCallDedupeKey(first), robotCallDedupeKey(loop));
    assert.equal(robotCallDedupeKey(first), robotCallDedupeKey(parseRobotRequest(form())));
  });
});
