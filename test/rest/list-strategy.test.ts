import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import qs from 'qs';
import { chainCommands, hasBatchReference, offsetCommands, planList, readChain, splitIdRange, type IdCursorPlan } from '../../src/rest/list.js';
import { chunkCommands, encodeCommand, normalizeCommands, parseBatchResult } from '../../src/rest/batch.js';
import { B24Error } from '../../src/errors.js';

const rows = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ ID: String(from + i) }));

describe('list strategy (pure)', () => {
  it('plans an ID cursor for crm.deal.list, keeping the filter and adding ID to the select', () => {
    const plan = planList('crm.deal.list', { filter: { STAGE_ID: 'WON' }, select: ['TITLE'] });
    assert.equal(plan.kind, 'id-cursor');
    const cursor = plan as IdCursorPlan;
    assert.deepEqual(cursor.base, { filter: { STAGE_ID: 'WON' }, select: ['TITLE', 'ID'], order: { ID: 'ASC' }, start: -1 });
    assert.equal(cursor.afterId, 0);
  });

  it("turns the caller's >ID / <=ID into the cursor's start and end", () => {
    const plan = planList('crm.deal.list', { filter: { '>=ID': 100, '<ID': '500', TYPE_ID: 'SALE' }, order: { id: 'asc' } }) as IdCursorPlan;
    assert.equal(plan.kind, 'id-cursor');
    assert.equal(plan.afterId, 99);
    assert.equal(plan.upToId, 499);
    assert.deepEqual(plan.base.filter, { TYPE_ID: 'SALE' });
  });

  it("falls back to offsets for a conflicting order, and refuses it when the ID cursor is demanded", () => {
    const plan = planList('crm.deal.list', { order: { TITLE: 'ASC' } });
    assert.equal(plan.kind, 'offset');
    assert.match(String((plan as { reason?: string }).reason), /conflicts/);
    assert.throws(() => planList('crm.deal.list', { order: { ID: 'DESC' } }, { strategy: 'id-cursor' }), (error: B24Error) => error.code === 'B24_ERR_INVALID_ARGUMENT');
  });

  it('uses offsets for methods without known ID ordering', () => {
    assert.equal(planList('tasks.task.list', {}).kind, 'offset');
    assert.equal(planList('user.get', {}, { idCursor: { idField: 'ID' } }).kind, 'id-cursor');
  });

  it('chains 50 pages in one batch through $result[prev][49][ID] (and [items][49][id] for crm.item.list)', () => {
    const plan = planList('crm.deal.list', {}) as IdCursorPlan;
    const commands = chainCommands('crm.deal.list', plan, 0, 50);
    assert.equal(commands.length, 50);
    assert.deepEqual((commands[0]!.params.filter as Record<string, unknown>)['>ID'], 0);
    assert.equal((commands[7]!.params.filter as Record<string, unknown>)['>ID'], '$result[p6][49][ID]');
    assert.deepEqual(chunkCommands(commands).length, 1, 'the chain stays in one request');
    const encoded = encodeCommand(commands[7]!.method, commands[7]!.params);
    assert.match(encoded, /^crm\.deal\.list\?/);
    assert.match(encoded, /=\$result\[p6\]\[49\]\[ID\]/, 'the reference is left readable');
    assert.deepEqual(qs.parse(encoded.split('?')[1]!).filter, { '>ID': '$result[p6][49][ID]' });

    const items = planList('crm.item.list', { entityTypeId: 2 }) as IdCursorPlan;
    const itemCommands = chainCommands('crm.item.list', items, 10, 3);
    assert.equal((itemCommands[2]!.params.filter as Record<string, unknown>)['>id'], '$result[p1][items][49][id]');
    assert.deepEqual(itemCommands[0]!.params.order, { id: 'ASC' });
  });

  it('reads a chain up to the first short page and discards what follows it', () => {
    const plan = planList('crm.deal.list', {}) as IdCursorPlan;
    const commands = chainCommands('crm.deal.list', plan, 0, 4);
    const parsed = parseBatchResult({ result: { p0: rows(1, 50), p1: rows(51, 20), p2: rows(1, 50), p3: rows(51, 50) }, result_error: [] });
    const outcome = readChain(parsed, commands, plan, 0);
    assert.equal(outcome.done, true);
    assert.equal(outcome.pages.length, 2);
    assert.equal(outcome.lastId, 70);
  });

  it('reports a full chain as not done and resumes from its last ID', () => {
    const plan = planList('crm.deal.list', {}) as IdCursorPlan;
    const commands = chainCommands('crm.deal.list', plan, 0, 2);
    const outcome = readChain(parseBatchResult({ result: [rows(1, 50), rows(51, 50)] }), commands.map((c, i) => ({ ...c, key: String(i) })), plan, 0);
    assert.equal(outcome.done, false);
    assert.equal(outcome.lastId, 100);
  });

  it('stops at a failed command and keeps the pages before it', () => {
    const plan = planList('crm.deal.list', {}) as IdCursorPlan;
    const commands = chainCommands('crm.deal.list', plan, 0, 3);
    const parsed = parseBatchResult({ result: { p0: rows(1, 50) }, result_error: { p1: { error: 'OPERATION_TIME_LIMIT', error_description: 'x' } } });
    const outcome = readChain(parsed, commands, plan, 0);
    assert.equal(outcome.pages.length, 1);
    assert.equal(outcome.error?.error, 'OPERATION_TIME_LIMIT');
    assert.equal(outcome.lastId, 50);
  });

  it('splits an ID range into contiguous parts', () => {
    assert.deepEqual(splitIdRange(0, 100, 4), [[0, 25], [25, 50], [50, 75], [75, 100]]);
    assert.deepEqual(splitIdRange(10, 12, 4), [[10, 11], [11, 12]]);
    assert.deepEqual(splitIdRange(10, 10, 4), []);
  });

  it('plans offsets from the first page: next, next+50, … below total', () => {
    const plan = planList('tasks.task.list', { order: { TITLE: 'ASC' } });
    assert.equal(plan.kind, 'offset');
    const commands = offsetCommands('tasks.task.list', plan as Extract<typeof plan, { kind: 'offset' }>, 50, 260);
    assert.deepEqual(commands.map((c) => c.params.start), [50, 100, 150, 200, 250]);
  });
});

describe('batch chunking (pure)', () => {
  it('cuts 120 independent commands into 50 + 50 + 20, keyed as given', () => {
    const commands = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`c${i}`, { method: 'user.current' }]));
    const chunks = chunkCommands(normalizeCommands(commands));
    assert.deepEqual(chunks.map((chunk) => chunk.length), [50, 50, 20]);
    assert.equal(chunks[2]![19]!.key, 'c119');
  });

  it('keeps commands linked by $result references in one request', () => {
    const commands: Record<string, { method: string; params?: Record<string, unknown> }> = {};
    for (let i = 0; i < 45; i += 1) commands[`a${i}`] = { method: 'user.current' };
    commands.find = { method: 'crm.deal.list', params: { filter: { TITLE: 'x' } } };
    for (let i = 0; i < 10; i += 1) commands[`get${i}`] = { method: 'crm.deal.get', params: { id: `$result[find][${i}][ID]` } };
    const chunks = chunkCommands(normalizeCommands(commands));
    const home = chunks.find((chunk) => chunk.some((c) => c.key === 'find'))!;
    for (let i = 0; i < 10; i += 1) assert.ok(home.some((c) => c.key === `get${i}`));
    assert.ok(chunks.every((chunk) => chunk.length <= 50));
    // order within a request follows the caller's order
    assert.ok(home.findIndex((c) => c.key === 'find') < home.findIndex((c) => c.key === 'get0'));
  });

  it('refuses a linked group larger than 50, references to later or unknown commands, and nested batch', () => {
    const chain: Record<string, { method: string; params?: Record<string, unknown> }> = { c0: { method: 'user.current' } };
    for (let i = 1; i <= 50; i += 1) chain[`c${i}`] = { method: 'crm.deal.get', params: { id: `$result[c${i - 1}][ID]` } };
    const invalid = (error: B24Error) => error.code === 'B24_ERR_INVALID_ARGUMENT';
    assert.throws(() => chunkCommands(normalizeCommands(chain)), invalid);
    assert.throws(() => normalizeCommands({ a: { method: 'crm.deal.get', params: { id: '$result[b][ID]' } }, b: { method: 'user.current' } }), invalid);
    assert.throws(() => normalizeCommands([['batch', {}]]), invalid);
    assert.throws(() => normalizeCommands({ 'bad[key]': ['user.current'] }), invalid);
  });

  it('reads [] sections as empty records', () => {
    const parsed = parseBatchResult({ result: [], result_error: [], result_total: [], result_next: [], result_time: [] });
    assert.deepEqual(parsed, { result: {}, errors: {}, total: {}, next: {}, time: {} });
  });
});

describe('hasBatchReference: values the portal would rewrite inside a batch', () => {
  it('finds $result/$next/$total/$time/$error paths in any string, any case, at any depth', () => {
    for (const value of ['$result[c0p0][0][ID]', 'before $RESULT[x] after', '$result_error[a]', '$next[p1]', '$total[k]', '$time[k][start]', '$error[k]']) {
      assert.equal(hasBatchReference({ filter: { TITLE: value } }), true, value);
    }
    assert.equal(hasBatchReference({ filter: { '@ID': [1, '$result[a][ID]'] } }), true, 'inside an array');
  });

  it('leaves ordinary values alone', () => {
    for (const value of ['$5 off', 'price $result', 'result[a]', '$ result[a]', '[a]$result']) {
      assert.equal(hasBatchReference({ filter: { TITLE: value } }), false, value);
    }
    assert.equal(hasBatchReference({ filter: { ID: 5, CLOSED: true, X: null } }), false);
  });
});
