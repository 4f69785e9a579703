/**
 * An offline record as a handler sees it (src/app/builtins/offline-events.ts `offlineDelivery`): the
 * shape of an online delivery, scalars as strings as a form would carry them — `event.offline.get`
 * answers JSON, where a portal may write an id as a number.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { offlineDelivery } from '../../src/app/builtins/offline-events.js';

describe('offlineDelivery', () => {
  const portal = { memberId: 'm1', domain: 'acme.bitrix24.test', clientEndpoint: 'https://acme.bitrix24.test/rest/', scope: ['crm'], status: 'L', state: 'active' as const };

  it('numbers in EVENT_DATA become strings; the record identity and the user come along', () => {
    const delivery = offlineDelivery(
      { id: 7, timestamp: '2026-12-02T12:00:00+00:00', event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: 6641, FLAGS: [1, true, null] } }, additional: { user_id: 3 }, messageId: 'a'.repeat(32) },
      portal,
    );
    assert.deepEqual(delivery.data, { FIELDS: { ID: '6641', FLAGS: ['1', true, null] } });
    assert.equal(delivery.ts, String(Date.parse('2026-12-02T12:00:00Z') / 1000));
    assert.deepEqual(delivery.offline, { id: 7, messageId: 'a'.repeat(32), timestamp: '2026-12-02T12:00:00+00:00' });
    assert.equal(delivery.auth.userId, '3');
    assert.equal(delivery.auth.memberId, 'm1');
  });

  it('user 0 (automation) is no user; missing data is null', () => {
    const delivery = offlineDelivery({ id: 8, timestamp: 'not a date', event: 'ONCRMDEALADD', data: undefined, additional: { user_id: 0 }, messageId: 'b'.repeat(32) }, portal);
    assert.equal(delivery.auth.userId, null);
    assert.equal(delivery.data, null);
    assert.equal(delivery.ts, null);
  });
});
