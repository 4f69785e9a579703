/** The dedupe key (events/dedupe-key.ts): copies collapse, distinct events do not. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventDedupeKey, type EventKeyInput } from '../../src/events/dedupe-key.js';

const base: EventKeyInput = { memberId: 'm1', event: 'ONCRMDEALADD', ts: '1767225600', data: { FIELDS: { ID: '5' } }, userId: '7', eventId: null };

describe('eventDedupeKey', () => {
  it('is stable, short and case-insensitive in the event name', () => {
    const key = eventDedupeKey(base);
    assert.match(key, /^e2:1767225600:[A-Za-z0-9_-]{43}$/);
    assert.equal(eventDedupeKey({ ...base, event: 'OnCrmDealAdd' }), key);
  });

  it("sorts by ts: a portal's later events append to the unique indexes instead of landing on random pages", () => {
    const keys = ['999', '1767225600', '1767225601', '1767225660', '1767229200'].map((ts, n) => eventDedupeKey({ ...base, ts, data: { FIELDS: { ID: String(100 - n) } } }));
    assert.deepEqual([...keys].sort(), keys);
    // a ts that is not 1–10 digits still gives a key of the same shape, before every real one
    for (const ts of [null, '', 'abc', '12345678901', '-1']) assert.match(eventDedupeKey({ ...base, ts }), /^e2:0000000000:[A-Za-z0-9_-]{43}$/, String(ts));
    assert.notEqual(eventDedupeKey({ ...base, ts: null }), eventDedupeKey({ ...base, ts: 'abc' }), 'the hash still separates them');
  });

  it('ignores key order inside data (qs may build objects in any order)', () => {
    const a = eventDedupeKey({ ...base, data: { FIELDS: { ID: '5', ENTITY_TYPE_ID: '2' } } });
    const b = eventDedupeKey({ ...base, data: { FIELDS: { ENTITY_TYPE_ID: '2', ID: '5' } } });
    assert.equal(a, b);
  });

  it('separates what distinguishes two real events', () => {
    const key = eventDedupeKey(base);
    const variants: Array<Partial<EventKeyInput>> = [
      { memberId: 'm2' },
      { event: 'ONCRMDEALUPDATE' },
      { ts: '1767225601' },
      { data: { FIELDS: { ID: '6' } } },
      { userId: '8' },
      { userId: null },
      { eventId: 'abc' },
    ];
    for (const variant of variants) assert.notEqual(eventDedupeKey({ ...base, ...variant }), key, JSON.stringify(variant));
  });

  it('does not take event_handler_id or tokens (two bindings of one change collapse)', () => {
    // the input type has no place for them: what is not an input cannot split a key
    assert.deepEqual(Object.keys(base).sort(), ['data', 'event', 'eventId', 'memberId', 'ts', 'userId']);
  });

  it('does not confuse field boundaries', () => {
    assert.notEqual(eventDedupeKey({ ...base, memberId: 'ab', event: 'C' }), eventDedupeKey({ ...base, memberId: 'a', event: 'BC' }));
  });
});
