import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventHandlerUrl, parseEventGet, planBindings, robotHandlerUrl, type PlanInput } from '../../src/events/bindings.js';
import { robotAddParams, validateRobotDefinition } from '../../src/robots/definition.js';

const APP = 'https://app.example.com/b24';
const OURS = `${APP}/webhooks/m1/event`;
const input = (overrides: Partial<PlanInput> = {}): PlanInput => ({
  appUrl: APP,
  memberId: 'm1',
  online: ['ONCRMDEALADD', 'ONAPPUPDATE'],
  offline: [],
  authConnector: '',
  formerAppUrls: [],
  eventOptions: {},
  ...overrides,
});
const row = (event: string, handler: string, authType = '0') => ({ event, handler, auth_type: authType, offline: 0 });

describe('planBindings: what is ours', () => {
  it('builds the handler URLs from the app URL, with or without a trailing slash', () => {
    assert.equal(eventHandlerUrl(`${APP}/`, 'm1'), OURS);
    assert.equal(robotHandlerUrl(APP, 'm1', 'send.sms'), `${APP}/robots/m1/send.sms`);
  });

  it('keeps what is there, binds what is missing, unbinds only our stale handlers', () => {
    const existing = parseEventGet([
      row('ONCRMDEALADD', OURS),
      row('oncrmleadadd', OURS), // ours, undeclared → unbind (case-insensitive event name)
      row('ONCRMDEALADD', `${APP}/webhooks/m1/event/`), // under our namespace, not the current URL → unbind
      row('ONCRMDEALADD', `${APP}/custom-hook`), // the app's own other endpoint → keep
      row('ONCRMDEALADD', `https://app.example.com/webhooks/m1/event`), // same host, outside the app's path prefix → keep
      row('ONCRMDEALADD', OURS, '5'), // bound for user 5 → keep
      { event: 'ONCRMDEALUPDATE', connector_id: '', offline: 1 }, // offline, our connector, undeclared → unbind
      { event: 'ONCRMDEALUPDATE', connector_id: 'other', offline: 1 }, // another connector → keep
    ]);
    const plan = planBindings(existing, input());
    assert.deepEqual(plan.kept, [{ event: 'ONCRMDEALADD', mode: 'online', handler: OURS }]);
    assert.deepEqual(plan.bind, [{ event: 'ONAPPUPDATE', mode: 'online', handler: OURS }]);
    assert.deepEqual(plan.unbind, [
      { event: 'ONCRMLEADADD', mode: 'online', handler: OURS, authType: '0' },
      { event: 'ONCRMDEALADD', mode: 'online', handler: `${APP}/webhooks/m1/event/`, authType: '0' },
      { event: 'ONCRMDEALUPDATE', mode: 'offline' },
    ]);
  });

  it('treats handlers under a former app URL as ours, and binds offline per connector', () => {
    const existing = parseEventGet([row('ONCRMDEALADD', 'https://old.example.com/webhooks/m1/event'), { event: 'ONCRMDEALUPDATE', connector_id: 'sync', offline: 1 }]);
    const plan = planBindings(existing, input({ online: ['ONCRMDEALADD'], offline: ['ONCRMDEALUPDATE'], formerAppUrls: ['https://old.example.com'] }));
    assert.deepEqual(plan.unbind, [{ event: 'ONCRMDEALADD', mode: 'online', handler: 'https://old.example.com/webhooks/m1/event', authType: '0' }]);
    assert.deepEqual(plan.bind, [
      { event: 'ONCRMDEALADD', mode: 'online', handler: OURS },
      { event: 'ONCRMDEALUPDATE', mode: 'offline' },
    ]);
    // with the same connector, the offline binding is kept
    const same = planBindings(existing, input({ online: [], offline: ['ONCRMDEALUPDATE'], authConnector: 'sync' }));
    assert.deepEqual(same.kept, [{ event: 'ONCRMDEALUPDATE', mode: 'offline' }]);
  });
});

describe('robot definitions', () => {
  it('map to the documented bizproc.robot.add parameters', () => {
    const params = robotAddParams(
      {
        code: 'send_sms',
        name: { en: 'Send SMS' },
        description: 'Sends an SMS',
        properties: { phone: { name: 'Phone', required: true }, kind: { name: 'Kind', type: 'select', options: { a: 'A' }, default: 'a', multiple: true } },
        returnProperties: { status: { name: 'Status', type: 'string' } },
        documentType: ['crm', 'CCrmDocumentDeal', 'DEAL'],
        authUserId: 1,
        filter: { include: [['crm', 'CCrmDocumentDeal']], exclude: ['box'] },
      },
      'https://app.example.com/robots/m1/send_sms',
    );
    assert.deepEqual(params, {
      CODE: 'send_sms',
      HANDLER: 'https://app.example.com/robots/m1/send_sms',
      NAME: { en: 'Send SMS' },
      USE_SUBSCRIPTION: 'Y',
      PROPERTIES: {
        phone: { Name: 'Phone', Type: 'string', Required: 'Y', Multiple: 'N' },
        kind: { Name: 'Kind', Type: 'select', Options: { a: 'A' }, Required: 'N', Multiple: 'Y', Default: 'a' },
      },
      RETURN_PROPERTIES: { status: { Name: 'Status', Type: 'string', Required: 'N', Multiple: 'N' } },
      DESCRIPTION: 'Sends an SMS',
      AUTH_USER_ID: 1,
      DOCUMENT_TYPE: ['crm', 'CCrmDocumentDeal', 'DEAL'],
      FILTER: { INCLUDE: [['crm', 'CCrmDocumentDeal']], EXCLUDE: ['box'] },
    });
  });

  it('accept the docs’ spelling of properties and map it the same way', () => {
    const handler = 'https://app.example.com/robots/m1/a';
    const camel = robotAddParams({ code: 'a', name: 'A', properties: { p: { name: 'P', type: 'int', required: true, default: 1 } } }, handler);
    const documented = robotAddParams({ code: 'a', name: 'A', properties: { p: { Name: 'P', Type: 'int', Required: 'Y', Default: 1 } } }, handler);
    assert.deepEqual(documented, camel);
    assert.throws(() => validateRobotDefinition({ code: 'a', name: 'A', properties: { p: { Name: 'P', Required: 'yes' as 'Y' } } }), /Required must be Y or N/);
  });

  it('refuse what the portal would refuse, naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ code: 'a/b', name: 'x' }, /code/],
      [{ code: '.', name: 'x' }, /code/],
      [{ code: 'a', name: '  ' }, /name is empty/],
      [{ code: 'a', name: 'x', properties: { _x: { name: 'X' } } }, /properties: key/],
      [{ code: 'a', name: 'x', returnProperties: { ok: { name: '' } } }, /returnProperties\.ok: name is empty/],
      [{ code: 'a', name: 'x', properties: { p: { name: 'P', type: 'blob' } } }, /unknown type/],
      [{ code: 'a', name: 'x', useSubscription: false, returnProperties: { r: { name: 'R' } } }, /useSubscription/],
      [{ code: 'a', name: 'x', documentType: ['crm', 'CCrmDocumentDeal'] }, /documentType/],
      [{ code: 'a', name: 'x', authUserId: 0 }, /authUserId/],
      [{ code: 'a', name: 'x', filter: { INCLUDE: [] } }, /filter/],
    ];
    for (const [definition, message] of bad) {
      assert.throws(() => validateRobotDefinition(definition as never), (error: Error & { code?: string }) => error.code === 'B24_ERR_INVALID_ARGUMENT' && message.test(error.message), String(message));
    }
  });
});
