/** Batches, lists and the bucket against the emulator over HTTP; counted by the portal's stats. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { B24Error } from '../../src/errors.js';
import { B24Client } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/limiter.js';
import { control, createInstalledPortal, seedCrm, startTestEmulator, UNLIMITED_PORTAL } from '../helpers/emulator.js';
import { oauthClient, resetStats, setFaults, silentLogger, stats } from './helpers.js';

describe('the client against the emulator: bucket, batch, list', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('never exceeds the bucket: 40 concurrent calls with burst 5, drain 10/s → zero 503', async () => {
    const portal = await createInstalledPortal(emu, { burst: 5, drainPerSecond: 10 });
    const client = oauthClient(emu, portal, { limits: { burst: 5, drainPerSecond: 10 } });
    const results = await Promise.all(Array.from({ length: 40 }, () => client.call('user.current')));
    assert.equal(results.length, 40);
    const seen = await stats(emu, portal);
    assert.equal(seen.requests, 40, JSON.stringify({ seen, events: client.events.slice(0, 12).map((e) => e.type + ':' + ((e as { waitMs?: number }).waitMs ?? (e as { status?: number }).status)) }));
    assert.equal(seen.rateLimitRejections, 0);
    assert.equal(seen.byStatus['503'] ?? 0, 0);
    assert.ok(client.events.some((e) => e.type === 'limiter-wait' && e.reason === 'bucket'));
    await client.close();
  });

  it('two clients sharing one limiter share the budget', async () => {
    const portal = await createInstalledPortal(emu, { burst: 4, drainPerSecond: 10 });
    const limiter = new RateLimiter({ defaultLimits: { burst: 4, drainPerSecond: 10 } });
    const a = oauthClient(emu, portal, { limiter });
    const b = B24Client.fromToken({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { limiter, logger: silentLogger });
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).call('profile')));
    assert.equal((await stats(emu, portal)).rateLimitRejections, 0);
    await Promise.all([a.close(), b.close()]);
  });

  it('sets Enterprise limits from app.info LICENSE_FAMILY', async () => {
    const portal = await createInstalledPortal(emu, { plan: 'enterprise' });
    const client = oauthClient(emu, portal);
    assert.deepEqual(await client.applyPlanFromAppInfo(), { drainPerSecond: 5, burst: 250 });
    const other = await createInstalledPortal(emu);
    const standard = oauthClient(emu, other, { limits: { burst: 7 } });
    assert.deepEqual(await standard.applyPlanFromAppInfo(), { drainPerSecond: 2, burst: 7 }, 'explicit limits win over the plan');
    await Promise.all([client.close(), standard.close()]);
  });

  it('batch of 120 commands → 3 requests, results keyed as given; $result references resolve', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    const client = oauthClient(emu, portal);
    const commands = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`deal${i}`, { method: 'crm.deal.add', params: { fields: { TITLE: `Deal ${i}` } } }]));
    const out = await client.batch(commands);
    assert.equal(Object.keys(out.result).length, 120);
    assert.deepEqual(out.errors, {});
    assert.ok(Object.values(out.result).every((id) => Number(id) > 0));
    assert.equal((await stats(emu, portal)).requests, 3);

    const linked = await client.batch({
      add: ['crm.deal.add', { fields: { TITLE: 'linked' } }],
      get: ['crm.deal.get', { id: '$result[add]' }],
      missing: ['crm.deal.get', { id: 999_999 }],
    });
    assert.equal((linked.result.get as { TITLE: string }).TITLE, 'linked');
    assert.ok(linked.errors.missing instanceof B24Error);
    assert.equal(linked.errors.missing.code, 'B24_ERR_NOT_FOUND');
    assert.equal(linked.errors.missing.method, 'crm.deal.get');
    await client.close();
  });

  it('batch with halt stops at the first failing command and sends no further request', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    const client = oauthClient(emu, portal);
    const commands: [string, Record<string, unknown>][] = Array.from({ length: 60 }, () => ['profile', {}]);
    commands[3] = ['crm.deal.get', { id: 999_999 }];
    await resetStats(emu, portal);
    const out = await client.batch(commands, { halt: true });
    assert.ok(out.errors['3']);
    assert.equal(Object.keys(out.result).length, 3);
    assert.equal((await stats(emu, portal)).requests, 1);
    await client.close();
  });

  it('lists 6,000 deals in 1 + ceil(5900/2500) = 4 requests (the first reads 2 pages: the head and the tail), in ID order, sequentially or with parallel cursors', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 6000, { STAGE_ID: 'NEW' });
    const client = oauthClient(emu, portal);
    for (const parallelCursors of [1, 4]) {
      await resetStats(emu, portal);
      const rows = await client.listAll<{ ID: string; TITLE: string }>('crm.deal.list', { select: ['TITLE'] }, { parallelCursors });
      assert.equal(rows.length, 6000, `parallelCursors ${parallelCursors}`);
      const ids = rows.map((row) => Number(row.ID));
      assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ascending, no duplicates');
      assert.ok(rows.every((row) => typeof row.TITLE === 'string'));
      assert.equal((await stats(emu, portal)).requests, 4, `parallelCursors ${parallelCursors}`);
    }
    await client.close();
  });

  it("keeps the caller's filter, and stopping the iteration early sends nothing more", async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 300, { STAGE_ID: 'NEW' });
    await seedCrm(emu, portal, 'deal', 120, { STAGE_ID: 'WON' });
    const client = oauthClient(emu, portal);
    const won = await client.listAll<{ ID: string; STAGE_ID: string }>('crm.deal.list', { filter: { STAGE_ID: 'WON', '>ID': 0 }, select: ['ID', 'STAGE_ID'] });
    assert.equal(won.length, 120);
    assert.ok(won.every((row) => row.STAGE_ID === 'WON'));
    await resetStats(emu, portal);
    let seen = 0;
    for await (const _row of client.list('crm.deal.list', {}, { pagesPerRequest: 2, parallelCursors: 1 })) {
      if (++seen === 10) break;
    }
    assert.equal((await stats(emu, portal)).requests, 1);
    await client.close();
  });

  it('falls back to start offsets (50 pages per batch) when the order is not by ID', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 260, { TITLE: 'Deal {id}' });
    const client = oauthClient(emu, portal);
    await resetStats(emu, portal);
    const rows = await client.listAll<{ ID: string }>('crm.deal.list', { order: { ID: 'DESC' }, select: ['ID'] });
    assert.equal(rows.length, 260);
    const ids = rows.map((row) => Number(row.ID));
    assert.ok(ids.every((id, i) => i === 0 || id < ids[i - 1]!), "the caller's order is kept");
    assert.equal((await stats(emu, portal)).requests, 2, 'the first page, then one batch of the other 5');
    await client.close();
  });

  it('crm.item.list walks result.items by id', async () => {
    const portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    await seedCrm(emu, portal, 'deal', 130);
    const client = oauthClient(emu, portal);
    const items = await client.listAll<{ id: number }>('crm.item.list', { entityTypeId: 2, select: ['id', 'title'] });
    assert.equal(items.length, 130);
    assert.equal(new Set(items.map((item) => item.id)).size, 130);
    await client.close();
  });

  it('works from an incoming webhook URL over http', async () => {
    const portal = await createInstalledPortal(emu);
    const hook = await control<{ url: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1 });
    const client = B24Client.fromWebhook(hook.url, { logger: silentLogger });
    const { result } = await client.call<{ ID: string }>('user.current');
    assert.equal(result.ID, '1');
    await client.close();
  });
});

describe('errors never carry credentials', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());

  it('no access token or webhook code in messages, JSON or causes', async () => {
    const portal = await createInstalledPortal(emu);
    const hook = await control<{ url: string; code: string }>(emu, `/portals/${portal.memberId}/webhooks`, { userId: 1 });
    const token = 'f'.repeat(48);
    const errors: unknown[] = [];
    /** Each call must reject; a call that resolves fails the test here, with its number. */
    const collect = (promise: Promise<unknown>): Promise<void> =>
      assert.rejects(
        promise,
        (error: unknown) => {
          errors.push(error);
          return true;
        },
        `expected call #${errors.length} to reject`,
      );
    const withToken = B24Client.fromToken({ accessToken: token, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { logger: silentLogger, retry: { maxAttempts: 1 }, timeoutMs: 200 });
    const valid = B24Client.fromToken({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { logger: silentLogger, retry: { maxAttempts: 1 }, timeoutMs: 200 });
    const webhook = B24Client.fromWebhook(hook.url, { logger: silentLogger, retry: { maxAttempts: 1 }, timeoutMs: 200 });
    await collect(withToken.call('user.current')); // invalid_token
    await collect(valid.call('no.such.method'));
    await collect(webhook.call('no.such.method', { fields: { TITLE: 'x' } }));
    await setFaults(emu, portal, { hangRate: 1 });
    await collect(valid.call('crm.deal.add', { fields: {} }));
    await collect(webhook.call('user.current'));
    await setFaults(emu, portal, { hangRate: 0, resetRate: 1 });
    await collect(valid.call('crm.deal.add', { fields: {} }));
    const secrets = [token, portal.accessToken, portal.refreshToken, hook.code];
    for (const error of errors) {
      assert.ok(error instanceof B24Error, String(error));
      const texts = [error.message, JSON.stringify(error), String(error.stack), String((error.cause as Error | undefined)?.message), JSON.stringify(error.cause ?? null)];
      for (const text of texts) for (const secret of secrets) assert.ok(!text.includes(secret), `${error.code} leaks a secret: ${text}`);
      assert.equal(error.memberId === undefined || error.memberId === portal.memberId, true);
    }
    assert.deepEqual(
      errors.map((e) => (e as B24Error).code),
      ['B24_ERR_AUTH', 'B24_ERR_METHOD_NOT_FOUND', 'B24_ERR_METHOD_NOT_FOUND', 'B24_ERR_OUTCOME_UNKNOWN', 'B24_ERR_TIMEOUT', 'B24_ERR_OUTCOME_UNKNOWN'],
    );
    await Promise.all([withToken.close(), valid.close(), webhook.close()]);
  });
});
