/**
 * Lists cost what they return (issue 13): the list commands and requests of `client.list()`, as the
 * emulator counted them (its stats, over HTTP), against the rows the selection holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createInstalledPortal, seedCrm, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';
import { emulatorClock, oauthClient, resetStats, stats } from './helpers.js';

type Deal = { ID: string; STAGE_ID?: string };

/** The portal's count of commands of `method` (batch commands included) and of HTTP requests. */
async function cost(emu: RunningEmulator, portal: TestPortal, method = 'crm.deal.list'): Promise<{ commands: number; requests: number }> {
  const counted = (await stats(emu, portal)) as unknown as { requests: number; byMethod: Record<string, number> };
  return { commands: counted.byMethod[method] ?? 0, requests: counted.requests };
}

const ids = (rows: readonly { ID?: string; id?: number }[]): number[] => rows.map((row) => Number(row.ID ?? row.id));
const ascending = (values: readonly number[]): boolean => values.every((value, index) => index === 0 || value > values[index - 1]!);

describe('lists cost what they return', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('3 matching deals among 5,000: one request of at most 2 list commands', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 2500, { STAGE_ID: 'NEW' });
    await seedCrm(emu, portal, 'deal', 3, { STAGE_ID: 'WON' });
    await seedCrm(emu, portal, 'deal', 2497, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    const rows = await client.listAll<Deal>('crm.deal.list', { filter: { STAGE_ID: 'WON' }, select: ['ID', 'STAGE_ID'] });
    assert.deepEqual(ids(rows), [2501, 2502, 2503]);
    const spent = await cost(emu, portal);
    assert.ok(spent.commands <= 2, `${spent.commands} list commands`);
    assert.equal(spent.requests, 1);
    await client.close();
  });

  it('0 rows: one request, at most 2 list commands, nothing yielded', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 300, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    assert.deepEqual(await client.listAll('crm.deal.list', { filter: { STAGE_ID: 'LOSE' } }), []);
    const spent = await cost(emu, portal);
    assert.ok(spent.commands <= 2 && spent.requests === 1, JSON.stringify(spent));
    await client.close();
  });

  it('exactly 50 and 51 rows: one request of 2 list commands, every row once, in order', async () => {
    for (const count of [50, 51, 100]) {
      const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
      await seedCrm(emu, portal, 'deal', count, { STAGE_ID: 'WON' });
      await seedCrm(emu, portal, 'deal', 200, { STAGE_ID: 'NEW' });
      const client = oauthClient(emu, portal);
      await resetStats(emu, portal);
      const rows = await client.listAll<Deal>('crm.deal.list', { filter: { STAGE_ID: 'WON' } });
      assert.deepEqual(ids(rows), Array.from({ length: count }, (_, index) => index + 1), `${count} rows`);
      assert.deepEqual(await cost(emu, portal), { commands: 2, requests: 1 }, `${count} rows`);
      await client.close();
    }
  });

  it('a 2,000-row selection spread over 6,000 deals: ≤ 1.05 × its 40 list commands, in 2 requests, as a plain sequential read returns it', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    for (let block = 0; block < 200; block += 1) {
      await seedCrm(emu, portal, 'deal', 10, { STAGE_ID: 'WON' });
      await seedCrm(emu, portal, 'deal', 20, { STAGE_ID: 'NEW' });
    }
    const client = oauthClient(emu, portal);
    const params = { filter: { STAGE_ID: 'WON' }, select: ['ID', 'STAGE_ID'] };
    const sequential = await client.listAll<Deal>('crm.deal.list', params, { pagesPerRequest: 1, parallelCursors: 1 });
    assert.equal(sequential.length, 2000);
    await resetStats(emu, portal);
    const rows = await client.listAll<Deal>('crm.deal.list', params);
    assert.deepEqual(rows, sequential);
    const spent = await cost(emu, portal);
    assert.ok(spent.commands <= Math.floor(1.05 * 40), `${spent.commands} list commands`);
    assert.ok(spent.requests <= 2, `${spent.requests} requests`);
    await client.close();
  });

  it("keeps the caller's own >ID / <=ID bounds, and reads nothing outside them", async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 5000, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    const rows = await client.listAll<Deal>('crm.deal.list', { filter: { '>ID': 1000, '<=ID': 4000 }, select: ['ID'] });
    assert.deepEqual(ids(rows), Array.from({ length: 3000 }, (_, index) => 1001 + index));
    const spent = await cost(emu, portal);
    assert.equal(spent.commands, 60, '3,000 rows: 60 pages of 50, none past the end');
    assert.ok(spent.requests <= 3, `${spent.requests} requests`);
    await client.close();
  });

  it('crm.item.list (rows under result.items) costs the same', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 3, { STAGE_ID: 'WON' });
    await seedCrm(emu, portal, 'deal', 2997, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    const few = await client.listAll<{ id: number }>('crm.item.list', { entityTypeId: 2, filter: { stageId: 'WON' }, select: ['id'] });
    assert.deepEqual(ids(few), [1, 2, 3]);
    assert.deepEqual(await cost(emu, portal, 'crm.item.list'), { commands: 2, requests: 1 });
    await resetStats(emu, portal);
    const all = await client.listAll<{ id: number }>('crm.item.list', { entityTypeId: 2, select: ['id'] });
    assert.deepEqual(ids(all), Array.from({ length: 3000 }, (_, index) => index + 1));
    assert.equal((await cost(emu, portal, 'crm.item.list')).commands, 60);
    await client.close();
  });

  it('back-pressure: a slow consumer never has more than maxBufferedPages + pagesPerRequest pages read ahead (and the tail)', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 10_000, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    // 4 requests of 10 pages could be in flight at once: 40 pages; the bound allows 15 + 10
    const options = { parallelCursors: 4, pagesPerRequest: 10, maxBufferedPages: 15 };
    let consumed = 0;
    let mostAhead = 0;
    for await (const row of client.list<Deal>('crm.deal.list', { select: ['ID'] }, options)) {
      consumed += 1;
      assert.equal(Number(row.ID), consumed);
      if (consumed % 50 !== 0) continue;
      // a page consumed: let the requests in flight land, then count what the portal was asked for
      await new Promise((resolve) => setTimeout(resolve, 5));
      mostAhead = Math.max(mostAhead, (await cost(emu, portal)).commands - consumed / 50);
    }
    assert.equal(consumed, 10_000);
    assert.ok(mostAhead <= options.maxBufferedPages + options.pagesPerRequest + 1, `${mostAhead} pages read ahead of the consumer`);
    assert.equal((await cost(emu, portal)).commands, 200, 'every page once, none past the end');
    await client.close();
  });

  it("a caller's value that looks like a batch reference ($result[…]) means what it says: the rows a single call would select", async () => {
    // inside a batch the portal replaces $result[key][…] in ANY string value with an earlier
    // command's answer (CRestUtil::processBatchElement; the emulator does the same), so a filter
    // value from a form could change what the list's later commands select
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    for (let block = 0; block < 10; block += 1) {
      await seedCrm(emu, portal, 'deal', 10, { TITLE: 'A' });
      await seedCrm(emu, portal, 'deal', 10, { TITLE: 'B' });
    }
    const client = oauthClient(emu, portal);
    const filter = { '!TITLE': '$result[c0p0][0][TITLE]' };
    const first = await client.call<Deal[]>('crm.deal.list', { filter, select: ['ID', 'TITLE'], order: { ID: 'ASC' } });
    assert.equal(first.result.length, 50, 'a single call takes the value literally: no title equals it');
    for (const strategy of ['auto', 'offset'] as const) {
      const rows = await client.listAll<Deal>('crm.deal.list', { filter, select: ['ID', 'TITLE'], order: { ID: 'ASC' } }, { strategy });
      assert.deepEqual(ids(rows), Array.from({ length: 200 }, (_, index) => index + 1), strategy);
    }
    await client.close();
  });

  it('rows deleted and added during an export: every row that stayed is read once, in order', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 12_000, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    const writer = oauthClient(emu, portal);
    const deleted = new Set<number>();
    const read: number[] = [];
    // two requests in flight at most, little read ahead: most of the export runs after the changes
    for await (const row of client.list<Deal>('crm.deal.list', { select: ['ID'] }, { parallelCursors: 2, maxBufferedPages: 100 })) {
      read.push(Number(row.ID));
      if (read.length === 3000) {
        for (const id of [3500, 6000, 6001, 9000, 11_990]) {
          await writer.call('crm.deal.delete', { id });
          deleted.add(id);
        }
        await writer.call('crm.deal.add', { fields: { TITLE: 'added during the export', STAGE_ID: 'NEW' } });
      }
    }
    assert.ok(ascending(read), 'ascending, no duplicates');
    const kept = Array.from({ length: 12_000 }, (_, index) => index + 1).filter((id) => !deleted.has(id));
    // a deleted row may have been read before it was deleted; every kept row is there
    const readSet = new Set(read);
    assert.deepEqual(kept.filter((id) => !readSet.has(id)), []);
    assert.ok(read.every((id) => id <= 12_000), 'rows added after the first request (IDs above its largest) are not part of this read');
    await client.close();
    await writer.close();
  });

  it('an offset list (strategy offset) reads pages refused inside its batch for the operating budget again after the reset, in order', async () => {
    // as above: 2 s of crm.deal.list per minute at 0.5 s a command; offsets: the first page, then one batch of the other 11
    const portal = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, operatingLimitSeconds: 2, operatingWindowSeconds: 60, cost: { readMs: 500 } });
    await seedCrm(emu, portal, 'deal', 600, { STAGE_ID: 'NEW' });
    const clock = emulatorClock(emu);
    const client = oauthClient(emu, portal, { clock });
    await resetStats(emu, portal);
    const rows = await client.listAll<Deal>('crm.deal.list', { select: ['ID'], order: { ID: 'ASC' } }, { strategy: 'offset' });
    assert.deepEqual(ids(rows), Array.from({ length: 600 }, (_, index) => index + 1));
    const seen = await stats(emu, portal);
    assert.ok(seen.operatingRejections >= 1, `the portal refused ${seen.operatingRejections} commands`);
    assert.ok(clock.slept.some((ms) => ms > 0), 'the reader waited for the reset');
    await client.close();
  });

  it('list commands refused for the method\'s operating budget (429 inside the batch) are read again after the reset: every row once', async () => {
    // the portal allows 2 s of crm.deal.list per minute and bills 0.5 s a command: the fifth
    // command of a window is refused inside its batch (docs/protocol.md §5.2)
    const portal = await createInstalledPortal(emu, { ...UNLIMITED_PORTAL, operatingLimitSeconds: 2, operatingWindowSeconds: 60, cost: { readMs: 500 } });
    await seedCrm(emu, portal, 'deal', 600, { STAGE_ID: 'NEW' });
    const clock = emulatorClock(emu);
    const client = oauthClient(emu, portal, { clock });
    await resetStats(emu, portal);
    const rows = await client.listAll<Deal>('crm.deal.list', { select: ['ID'] });
    assert.deepEqual(ids(rows), Array.from({ length: 600 }, (_, index) => index + 1));
    const seen = await stats(emu, portal);
    assert.ok(seen.operatingRejections >= 1, `the portal refused ${seen.operatingRejections} commands`);
    assert.ok(clock.slept.some((ms) => ms > 0), 'the reader waited for the reset');
    // the read spans several windows of 4 commands; a chain the portal cut after some pages waits
    // for the budget too: sending its rest at once only met a request refused whole (8 requests)
    assert.ok(seen.requests <= 6, `${seen.requests} requests`);
    await client.close();
  });
});
