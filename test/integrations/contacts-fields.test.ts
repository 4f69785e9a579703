/**
 * The contacts sync's two policies as pure functions (src/integrations/contacts/fields.ts): the
 * per-side content fingerprint, and field-level last-writer-wins (later time wins a field; the CRM
 * on the same second; untouched fields keep their value and time; the subscription is the
 * service's alone).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprint, mergeBoth, mergeChange, type SyncedContact } from '../../src/integrations/contacts/fields.js';

const ann: SyncedContact = { email: 'ann@example.test', firstName: 'Ann', lastName: 'Lee', phone: '+1 555 0100', unsubscribed: false };
const T = 1_796_000_000_000;
const times = { firstName: T, lastName: T, phone: T };

describe('contacts sync policies', () => {
  it('fingerprint: equal views are equal; any synced field, the subscription included, changes it', () => {
    assert.equal(fingerprint({ ...ann }), fingerprint(ann));
    for (const change of [{ firstName: 'Anne' }, { lastName: 'Le' }, { phone: '' }, { unsubscribed: true }, { email: 'ann@other.test' }]) {
      assert.notEqual(fingerprint({ ...ann, ...change }), fingerprint(ann), JSON.stringify(change));
    }
    // no field boundary ambiguity: moving text between fields is a change
    assert.notEqual(fingerprint({ ...ann, firstName: 'AnnL', lastName: 'ee' }), fingerprint({ ...ann, firstName: 'Ann', lastName: 'Lee' }));
  });

  it('a later change wins the fields it changed; the others keep their values and times', () => {
    const merged = mergeChange(ann, times, { ...ann, lastName: 'Lee-Smith' }, 'service', T + 5000);
    assert.deepEqual(merged.contact, { ...ann, lastName: 'Lee-Smith' });
    assert.deepEqual(merged.times, { firstName: T, lastName: T + 5000, phone: T, by: { lastName: 'service' } });
    assert.deepEqual([merged.won, merged.lost], [['lastName'], []]);
  });

  it('an older change loses the fields set later; the same second goes to the CRM', () => {
    const older = mergeChange(ann, times, { ...ann, lastName: 'Old', firstName: 'Annie' }, 'service', T - 1000);
    assert.deepEqual(older.contact, ann);
    assert.deepEqual(older.lost.sort(), ['firstName', 'lastName']);
    assert.equal(mergeChange(ann, times, { ...ann, phone: '1' }, 'service', T).contact.phone, ann.phone, 'service on the same second: loses');
    assert.equal(mergeChange(ann, times, { ...ann, phone: '1' }, 'crm', T).contact.phone, '1', 'CRM on the same second: wins');
    // a side's later change beats its own earlier one of the same second (a signup, then a profile edit)
    const bySignup = mergeChange(ann, times, { ...ann, lastName: 'Signup' }, 'service', T + 1000);
    assert.equal(mergeChange(bySignup.contact, bySignup.times, { ...ann, lastName: 'Edited' }, 'service', T + 1000).contact.lastName, 'Edited');
    const byCrm = mergeChange(ann, times, { ...ann, lastName: 'Crm' }, 'crm', T + 1000);
    assert.equal(mergeChange(byCrm.contact, byCrm.times, { ...ann, lastName: 'Service' }, 'service', T + 1000).contact.lastName, 'Crm', 'but not the CRM\'s');
  });

  it('the subscription follows the service only: a CRM view cannot unsubscribe or re-subscribe', () => {
    const off = { ...ann, unsubscribed: true };
    assert.equal(mergeChange(off, times, { ...off, unsubscribed: false, firstName: 'Anne' }, 'crm', T + 9000).contact.unsubscribed, true);
    assert.equal(mergeChange(ann, times, { ...ann, unsubscribed: true }, 'crm', T + 9000).contact.unsubscribed, false);
    assert.equal(mergeChange(ann, times, { ...ann, unsubscribed: true }, 'service', T - 9000).contact.unsubscribed, true, 'even an older service change sets it');
  });

  it('a first link takes each differing field from the side changed later (the CRM on a tie) and the subscription from the service', () => {
    const crm = { ...ann, unsubscribed: false };
    const service = { ...ann, firstName: 'Annie', unsubscribed: true };
    assert.deepEqual(mergeBoth(crm, T, service, T + 1000).contact, { ...ann, firstName: 'Annie', unsubscribed: true });
    assert.deepEqual(mergeBoth(crm, T + 1000, service, T).contact, { ...ann, unsubscribed: true });
    assert.deepEqual(mergeBoth(crm, T, service, T).contact, { ...ann, unsubscribed: true });
  });
});
