import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, seedCrm, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';

type Row = Record<string, unknown>;

describe('crm list semantics (filter, order, select, paging)', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  const ids: number[] = [];
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    const deals = [
      { TITLE: 'Alpha mole', OPPORTUNITY: 100, STAGE_ID: 'NEW', CURRENCY_ID: 'USD', ORIGINATOR_ID: 'shop', ORIGIN_ID: 'order-1', ASSIGNED_BY_ID: 1 },
      { TITLE: 'Beta', OPPORTUNITY: 200, STAGE_ID: 'PREPARATION', CURRENCY_ID: 'EUR', ORIGINATOR_ID: 'shop', ORIGIN_ID: 'order-2', ASSIGNED_BY_ID: 2 },
      { TITLE: 'Gamma molecule', OPPORTUNITY: 300, STAGE_ID: 'WON', CURRENCY_ID: 'USD', ASSIGNED_BY_ID: 2 },
      { TITLE: 'delta', OPPORTUNITY: 300, STAGE_ID: 'LOSE', CURRENCY_ID: 'EUR', ASSIGNED_BY_ID: 1, COMMENTS: 'x' },
      { TITLE: 'Epsilon', OPPORTUNITY: 50, STAGE_ID: 'NEW', CURRENCY_ID: 'USD', ASSIGNED_BY_ID: 1, ORIGINATOR_ID: 'erp', ORIGIN_ID: 'order-1' },
    ];
    for (const fields of deals) ids.push((await rest(portal, 'crm.deal.add', { fields })).body.result as number);
  });
  after(() => emu.close());

  async function titles(filter: Row, order: Row = { ID: 'ASC' }): Promise<string[]> {
    const { status, body } = await rest(portal, 'crm.deal.list', { filter, order, select: ['ID', 'TITLE'] });
    assert.equal(status, 200, JSON.stringify(body));
    return (body.result as Row[]).map((row) => String(row.TITLE));
  }

  it('filters by equality (default, =) and inequality (!=, !)', async () => {
    assert.deepEqual(await titles({ STAGE_ID: 'NEW' }), ['Alpha mole', 'Epsilon']);
    assert.deepEqual(await titles({ '=CURRENCY_ID': 'EUR' }), ['Beta', 'delta']);
    assert.deepEqual(await titles({ '!=CURRENCY_ID': 'EUR' }), ['Alpha mole', 'Gamma molecule', 'Epsilon']);
    assert.deepEqual(await titles({ '!STAGE_ID': 'NEW', ASSIGNED_BY_ID: 2 }), ['Beta', 'Gamma molecule']);
    assert.deepEqual(await titles({ TITLE: 'DELTA' }), ['delta'], 'string equality is case-insensitive, like the portal database');
  });

  it('filters by comparison (>=, >, <=, <) numerically, on IDs and dates', async () => {
    assert.deepEqual(await titles({ '>=OPPORTUNITY': 200 }), ['Beta', 'Gamma molecule', 'delta']);
    assert.deepEqual(await titles({ '>OPPORTUNITY': '200' }), ['Gamma molecule', 'delta']);
    assert.deepEqual(await titles({ '<=OPPORTUNITY': 100 }), ['Alpha mole', 'Epsilon']);
    assert.deepEqual(await titles({ '<OPPORTUNITY': 100 }), ['Epsilon']);
    assert.deepEqual(await titles({ '>ID': ids[2], '<=ID': ids[3] }), ['delta']);
    assert.deepEqual(await titles({ '>=DATE_CREATE': '2000-01-01', '<DATE_CREATE': '2999-01-01T00:00:00+00:00' }), ['Alpha mole', 'Beta', 'Gamma molecule', 'delta', 'Epsilon']);
    assert.deepEqual(await titles({ '<DATE_CREATE': '2000-01-01' }), []);
  });

  it('filters by IN (@ and array value) and NOT IN (!@)', async () => {
    assert.deepEqual(await titles({ '@STAGE_ID': ['WON', 'LOSE'] }), ['Gamma molecule', 'delta']);
    assert.deepEqual(await titles({ STAGE_ID: ['WON', 'LOSE'] }), ['Gamma molecule', 'delta']);
    assert.deepEqual(await titles({ '!@STAGE_ID': ['WON', 'LOSE', 'NEW'] }), ['Beta']);
    assert.deepEqual(await titles({ '@ID': [ids[0], ids[4]] }), ['Alpha mole', 'Epsilon']);
  });

  it('filters by LIKE (%, =%, %=) and NOT LIKE (!%, !=%), but not on status or ID fields', async () => {
    assert.deepEqual(await titles({ '%TITLE': 'mol' }), ['Alpha mole', 'Gamma molecule']);
    assert.deepEqual(await titles({ '=%TITLE': 'gamma%' }), ['Gamma molecule']);
    assert.deepEqual(await titles({ '%=TITLE': '%mole' }), ['Alpha mole']);
    assert.deepEqual(await titles({ '!%TITLE': 'mol' }), ['Beta', 'delta', 'Epsilon']);
    assert.deepEqual(await titles({ '!=%TITLE': '%a' }), ['Alpha mole', 'Gamma molecule', 'Epsilon']);
    assert.deepEqual(await titles({ '%STAGE_ID': 'NE' }), [], 'LIKE does not apply to crm_status fields');
    assert.deepEqual(await titles({ '%ID': String(ids[0]).slice(0, 1) + '%' }), []);
  });

  it('filters by empty values and ignores unknown filter fields', async () => {
    assert.deepEqual(await titles({ COMMENTS: '' }), ['Alpha mole', 'Beta', 'Gamma molecule', 'Epsilon']);
    assert.deepEqual(await titles({ '!COMMENTS': '' }), ['delta']);
    assert.deepEqual(await titles({ NO_SUCH_FIELD: 'x', STAGE_ID: 'WON' }), ['Gamma molecule']);
  });

  it('stores ORIGINATOR_ID/ORIGIN_ID and filters by them', async () => {
    assert.deepEqual(await titles({ ORIGINATOR_ID: 'shop', ORIGIN_ID: 'order-1' }), ['Alpha mole']);
    assert.deepEqual(await titles({ ORIGIN_ID: 'order-1' }), ['Alpha mole', 'Epsilon']);
    const { body } = await rest(portal, 'crm.deal.list', { filter: { ORIGINATOR_ID: 'erp' }, select: ['ORIGINATOR_ID', 'ORIGIN_ID'] });
    assert.deepEqual(body.result, [{ ID: String(ids[4]), ORIGINATOR_ID: 'erp', ORIGIN_ID: 'order-1' }]);
  });

  it('orders by several keys ASC/DESC', async () => {
    assert.deepEqual(await titles({}, { OPPORTUNITY: 'DESC', TITLE: 'ASC' }), ['delta', 'Gamma molecule', 'Beta', 'Alpha mole', 'Epsilon']);
    assert.deepEqual(await titles({}, { ASSIGNED_BY_ID: 'ASC', OPPORTUNITY: 'ASC' }), ['Epsilon', 'Alpha mole', 'delta', 'Beta', 'Gamma molecule']);
    assert.deepEqual(await titles({}, { ID: 'DESC' }), ['Epsilon', 'delta', 'Gamma molecule', 'Beta', 'Alpha mole']);
  });

  it('select: default is * + UF_*, explicit names, and * without multi-fields', async () => {
    await rest(portal, 'crm.deal.update', { id: ids[0], fields: { UF_CRM_SIZE: 'XL' } });
    const all = (await rest(portal, 'crm.deal.list', { filter: { ID: ids[0] } })).body.result as Row[];
    assert.equal(all[0]!.UF_CRM_SIZE, 'XL');
    assert.equal(all[0]!.TITLE, 'Alpha mole');
    assert.ok('DATE_CREATE' in all[0]!);
    const star = (await rest(portal, 'crm.deal.list', { filter: { ID: ids[0] }, select: ['*'] })).body.result as Row[];
    assert.ok(!('UF_CRM_SIZE' in star[0]!), '* has no user fields');
    assert.equal(star[0]!.TITLE, 'Alpha mole');
    const both = (await rest(portal, 'crm.deal.list', { filter: { ID: ids[0] }, select: ['*', 'UF_*'] })).body.result as Row[];
    assert.equal(both[0]!.UF_CRM_SIZE, 'XL');
    const named = (await rest(portal, 'crm.deal.list', { filter: { ID: ids[0] }, select: ['TITLE', 'OPPORTUNITY'] })).body.result as Row[];
    assert.deepEqual(named[0], { ID: String(ids[0]), TITLE: 'Alpha mole', OPPORTUNITY: '100.00' });
  });

  it('contact lists return EMAIL/PHONE only when selected and filter EMAIL by exact match', async () => {
    const klaus = (await rest(portal, 'crm.contact.add', { fields: { NAME: 'Klaus', EMAIL: [{ VALUE: 'klaus@example.test' }], PHONE: [{ VALUE: '+491' }] } })).body.result;
    await rest(portal, 'crm.contact.add', { fields: { NAME: 'Other', EMAIL: [{ VALUE: 'klaus@example.test.org' }] } });
    const plain = (await rest(portal, 'crm.contact.list', { filter: { ID: klaus } })).body.result as Row[];
    assert.ok(!('EMAIL' in plain[0]!));
    const star = (await rest(portal, 'crm.contact.list', { filter: { ID: klaus }, select: ['*'] })).body.result as Row[];
    assert.ok(!('EMAIL' in star[0]!), 'no wildcard for multi-fields');
    const withEmail = (await rest(portal, 'crm.contact.list', { filter: { ID: klaus }, select: ['ID', 'NAME', 'EMAIL'] })).body.result as Row[];
    assert.equal((withEmail[0]!.EMAIL as Row[])[0]!.VALUE, 'klaus@example.test');
    assert.ok(!('PHONE' in withEmail[0]!));
    const found = (await rest(portal, 'crm.contact.list', { filter: { EMAIL: 'klaus@example.test' }, select: ['ID'] })).body.result as Row[];
    assert.deepEqual(found, [{ ID: String(klaus) }]);
    const prefix = (await rest(portal, 'crm.contact.list', { filter: { '%EMAIL': 'klaus@' }, select: ['ID'] })).body.result as Row[];
    assert.deepEqual(prefix, [], 'multi-field filters match exactly');
  });

  it("answers \"Parameter 'filter' must be array.\" and \"Parameter 'order' must be array.\"", async () => {
    const filter = await rest(portal, 'crm.deal.list', { filter: 'ID=1' });
    assert.deepEqual([filter.status, filter.body], [400, { error: '', error_description: "Parameter 'filter' must be array." }]);
    const order = await rest(portal, 'crm.deal.list', { order: 7 });
    assert.deepEqual([order.status, order.body], [400, { error: '', error_description: "Parameter 'order' must be array." }]);
  });

  it('filters and orders with PHP bracket syntax in the query string', async () => {
    const query = `filter[%3EOPPORTUNITY]=150&order[OPPORTUNITY]=DESC&select[]=ID&select[]=TITLE&auth=${portal.accessToken}`;
    const response = await fetch(`${portal.clientEndpoint}crm.deal.list.json?${query}`);
    const body = (await response.json()) as Row;
    assert.deepEqual((body.result as Row[]).map((row) => row.TITLE), ['Gamma molecule', 'delta', 'Beta']);
  });
});

describe('crm list paging, start=-1 and the COUNT cost', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, cost: { readMs: 5, countMsPerMillionRows: 20_000, perRowMs: 0 } });
  });
  after(() => emu.close());

  it('seeds rows fast through the control API without events', async () => {
    let emitted = 0;
    const portalEvents = emu.emulator.portal(portal.memberId)!.events;
    const emit = portalEvents.emit.bind(portalEvents);
    portalEvents.emit = (name, data, opts = {}) => {
      emitted += 1;
      return emit(name, data, opts);
    };
    const seeded = await seedCrm(emu, portal, 'deal', 120, { STAGE_ID: 'PREPARATION', ORIGIN_ID: 'seed-{id}', OPPORTUNITY: 10 });
    assert.deepEqual(seeded, { created: 120, firstId: 1, lastId: 120 });
    assert.equal(emitted, 0);
    const deal = (await rest(portal, 'crm.deal.get', { id: 7 })).body.result as Row;
    assert.deepEqual([deal.TITLE, deal.STAGE_ID, deal.ORIGIN_ID, deal.OPPORTUNITY], ['Deal #7', 'PREPARATION', 'seed-7', '10.00']);
  });

  it('pages by 50 with total, and next only while more rows follow', async () => {
    const first = await rest(portal, 'crm.deal.list', { select: ['ID'] });
    assert.equal((first.body.result as Row[]).length, 50);
    assert.equal(first.body.total, 120);
    assert.equal(first.body.next, 50);
    const second = await rest(portal, 'crm.deal.list', { select: ['ID'], start: first.body.next });
    assert.equal((second.body.result as Row[])[0]!.ID, '51');
    assert.equal(second.body.next, 100);
    const last = await rest(portal, 'crm.deal.list', { select: ['ID'], start: 100 });
    assert.equal((last.body.result as Row[]).length, 20);
    assert.equal(last.body.total, 120);
    assert.ok(!('next' in last.body));
    const past = await rest(portal, 'crm.deal.list', { select: ['ID'], start: 500 });
    assert.deepEqual([past.body.result, past.body.total, 'next' in past.body], [[], 120, false]);
  });

  it('start=-1 returns up to 50 rows, total 0 and no next', async () => {
    const { body } = await rest(portal, 'crm.deal.list', { select: ['ID'], start: -1, order: { ID: 'ASC' }, filter: { '>ID': 60 } });
    const rows = body.result as Row[];
    assert.equal(rows.length, 50);
    assert.equal(rows[0]!.ID, '61');
    assert.equal(body.total, 0);
    assert.ok(!('next' in body));
  });

  it('fast traversal with >ID + ID ASC + start=-1 visits every row once', async () => {
    let lastId = 0;
    const seen: number[] = [];
    for (;;) {
      const { body } = await rest(portal, 'crm.deal.list', { order: { ID: 'ASC' }, filter: { '>ID': lastId, STAGE_ID: 'PREPARATION' }, select: ['ID'], start: -1 });
      const rows = body.result as Row[];
      seen.push(...rows.map((row) => Number(row.ID)));
      if (rows.length < 50) break;
      lastId = Number(rows.at(-1)!.ID);
    }
    assert.deepEqual(seen, Array.from({ length: 120 }, (_, index) => index + 1));
  });

  it('start=-1 skips the COUNT query: measurably cheaper in time.operating and time.duration', async () => {
    const seeded = await seedCrm(emu, portal, 'deal', 100_000);
    assert.equal(seeded.created, 100_000);
    const counted = await rest(portal, 'crm.deal.list', { select: ['ID'], start: 0 });
    const counted2 = await rest(portal, 'crm.contact.list', { select: ['ID'], start: 0 });
    assert.equal(counted.body.total, 100_120);
    const fast = await rest(portal, 'crm.item.list', { entityTypeId: 2, select: ['id'], start: -1, order: { id: 'ASC' }, filter: { '>id': 100_000 } });
    const slow = await rest(portal, 'crm.item.list', { entityTypeId: 2, select: ['id'], start: 0 });
    const timeOf = (body: Row) => body.time as { duration: number; operating: number };
    // 100,120 rows × 20,000 ms per million rows ≈ 2 s of COUNT on top of the 5 ms read
    assert.ok(timeOf(counted.body).duration > 1.9, `duration with COUNT: ${timeOf(counted.body).duration}`);
    assert.ok(timeOf(counted2.body).duration < 0.05, 'an empty table counts for nothing');
    assert.ok(timeOf(fast.body).duration < 0.01, `duration without COUNT: ${timeOf(fast.body).duration}`);
    assert.ok(timeOf(slow.body).duration > 1.9);
    assert.equal((fast.body.result as { items: Row[] }).items.length, 50);
    assert.ok(timeOf(slow.body).operating > timeOf(fast.body).duration + 1.9, 'operating accumulates the COUNT cost');
  });

  it('pages through 100,000+ rows with >ID and start=-1 quickly', async () => {
    const started = Date.now();
    let lastId = 0;
    let pages = 0;
    let rows = 0;
    // use batch-free direct calls: 2,003 pages would take too long over HTTP, so time 200 pages
    while (pages < 200) {
      const { body } = await rest(portal, 'crm.deal.list', { order: { ID: 'ASC' }, filter: { '>ID': lastId }, select: ['ID'], start: -1 });
      const page = body.result as Row[];
      rows += page.length;
      pages += 1;
      lastId = Number(page.at(-1)!.ID);
    }
    assert.equal(rows, 10_000);
    const last = await rest(portal, 'crm.deal.list', { order: { ID: 'ASC' }, filter: { '>ID': 100_080 }, select: ['ID'], start: -1 });
    assert.equal((last.body.result as Row[]).length, 40);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  });

  it('validates the seed request', async () => {
    await assert.rejects(control(emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'invoice', count: 1 }), /400/);
    await assert.rejects(control(emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'deal', count: 1_000_001 }), /400/);
    await assert.rejects(control(emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'deal', count: 1.5 }), /400/);
    await assert.rejects(control(emu, `/portals/${portal.memberId}/crm/seed`, { entity: 'deal', count: 1, fields: 'x' }), /400/);
    await assert.rejects(control(emu, '/portals/nope/crm/seed', { entity: 'deal', count: 1 }), /404/);
  });
});
