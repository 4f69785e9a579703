import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, batchSafety, methodSafety } from '../../src/rest/retry.js';

const POLICY = { maxAttempts: 6, baseMs: 100, capMs: 1_000 };

describe('backoff', () => {
  it('grows exponentially up to the cap (upper edge of the jitter)', () => {
    const top = (attempt: number) => backoffMs(attempt, POLICY, Infinity, () => 0.999999);
    assert.deepEqual([1, 2, 3, 4, 5].map(top), [99, 199, 399, 799, 999]);
  });

  it('jitters over the whole range (full jitter)', () => {
    assert.equal(backoffMs(3, POLICY, Infinity, () => 0), 0);
    assert.equal(backoffMs(3, POLICY, Infinity, () => 0.5), 200);
    const seen = new Set(Array.from({ length: 200 }, () => backoffMs(4, POLICY)));
    assert.ok(seen.size > 50, 'random delays differ');
    for (const delay of seen) assert.ok(delay !== undefined && delay >= 0 && delay < 800);
  });

  it('stops after maxAttempts', () => {
    assert.notEqual(backoffMs(5, POLICY, Infinity, () => 0.5), undefined);
    assert.equal(backoffMs(6, POLICY, Infinity, () => 0.5), undefined);
    assert.equal(backoffMs(0, POLICY), undefined);
  });

  it('gives up when the delay would not end before the deadline', () => {
    assert.equal(backoffMs(5, POLICY, 400, () => 0.5), undefined, '500 ms ≥ 400 ms left');
    assert.equal(backoffMs(5, POLICY, 600, () => 0.5), 500);
  });
});

describe('which methods may be sent again', () => {
  it('treats reads as safe, update/delete/set as idempotent, add and unknown methods as unsafe', () => {
    for (const method of ['crm.deal.get', 'crm.deal.list', 'crm.deal.fields', 'user.current', 'profile', 'app.info', 'CRM.ITEM.LIST', 'crm.duplicate.findbycomm']) {
      assert.equal(methodSafety(method), 'read', method);
    }
    for (const method of ['crm.deal.update', 'crm.deal.delete', 'crm.deal.productrows.set']) assert.equal(methodSafety(method), 'idempotent', method);
    for (const method of ['crm.deal.add', 'bizproc.workflow.start', 'event.bind', 'im.notify', 'something.new']) assert.equal(methodSafety(method), 'unsafe', method);
  });

  it('rates a batch by its least safe command', () => {
    assert.equal(batchSafety(['crm.deal.list', 'user.current']), 'read');
    assert.equal(batchSafety(['crm.deal.list', 'crm.deal.update']), 'idempotent');
    assert.equal(batchSafety(['crm.deal.update', 'crm.deal.add']), 'unsafe');
  });
});
