/**
 * Demo mode runs the built-in integrations (src/app/builtins/demo-integrations.ts), in process: the
 * demo app as `npm start` assembles it (`registerDemoApp`), its emulator, its demo store. The demo
 * store's signed orders become deals — an update moves an earlier order's deal on — and the
 * schedule's rule adds one to-do per pending order's deal at its slot. Judged at the emulator: the
 * deals its REST API lists, the to-dos its timeline holds. The app's clock is moved to the next
 * minute instead of waiting for it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { auth, createApp, definePlugin, type B24App } from '../../src/index.js';
import { ordersPlugin } from '../../src/integrations/index.js';
import { registerDemoApp } from '../../src/app/builtins/demo-app.js';
import { DEMO_ORDER_STAGES, DEMO_RULE } from '../../src/app/builtins/demo-integrations.js';
import { loadConfig } from '../../src/config/index.js';
import { createServerLogger } from '../../src/server/logging.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from './helpers.js';

type Entry = Record<string, unknown> & { msg?: string };
type Deal = { ID: string; STAGE_ID: string; ORIGIN_ID: string | null; ORIGINATOR_ID: string | null; TITLE: string };

describe('demo mode: orders and schedules', () => {
  const entries: Entry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) entries.push(JSON.parse(line) as Entry);
      done();
    },
  });
  const running: Array<{ app: B24App; store: Store }> = [];
  after(async () => {
    for (const { app, store } of running) {
      await app.stop();
      await store.close();
    }
  });
  /**
   * A demo-mode app at the demo's default pace (a contact every 3 s, an order every 6 s, a
   * Mailchimp-side change every 30 s), on `nowMs`: the whole demo within the portal's 2 requests/s
   * (docs/integrations/contacts.md, "Demo"), so the rule's job is not queued behind a backlog (at a
   * contact every 1.5 s the sample app alone spends the whole budget).
   */
  const demoApp = async (nowMs: () => number = Date.now): Promise<B24App> => {
    const store = await openStore({ url: ':memory:' });
    const app = createApp({
      env: loadConfig({}), // demo mode whatever this machine's environment says
      store,
      secretKey: randomBytes(32),
      port: 0,
      demoEmulatorPort: 0,
      demoTrickleMs: 3000,
      logger: createServerLogger({ level: 'info', destination: sink }),
      nowMs,
      worker: { pollIntervalMs: 20, shutdownTimeoutMs: 5000 },
      scheduler: { intervalMs: 50 },
    });
    running.push({ app, store });
    return app;
  };

  it('makes the demo store’s orders deals, and the rule adds one to-do per pending order’s deal at its slot', async () => {
    let offsetMs = 0;
    const app = await demoApp(() => Date.now() + offsetMs);
    assert.equal(app.demo, true);
    registerDemoApp(app);
    await app.start();

    const bannerEntry = await waitFor(() => entries.find((entry) => entry.msg?.startsWith('DEMO MODE')), 30_000, 'the demo banner');
    const banner = String(bannerEntry.msg);
    assert.match(banner, /^ {2}orders {5}every 6 s a demo store POSTs a signed order to \/api\/v1\/\w+\/orders/m);
    assert.match(banner, new RegExp(`^ {2}schedules {2}every minute \\(Europe/Berlin, the portal's time zone\\) the rule ${DEMO_RULE.id} `, 'm'));
    const { memberId } = bannerEntry.banner as { memberId: string };
    const b24 = app.client(memberId);
    const orderDeals = async (): Promise<Deal[]> => {
      const deals: Deal[] = [];
      for await (const deal of b24.list<Deal>('crm.deal.list', { filter: { ORIGINATOR_ID: 'b24kit.orders.generic' }, select: ['ID', 'STAGE_ID', 'ORIGIN_ID', 'ORIGINATOR_ID', 'TITLE'] })) deals.push(deal);
      return deals;
    };

    // orders → deals: new ones wait in the demo's pending stage, an update moved one on; one deal
    // per order (a create and its update racing may add two for a moment: the orders job deletes
    // the younger, docs/integrations/orders.md — so this waits for it)
    await waitFor(async () => {
      const found = await orderDeals();
      const onePerOrder = new Set(found.map((deal) => deal.ORIGIN_ID)).size === found.length;
      // two pending: the store's next update may move one on before the rule lists them
      return onePerOrder && found.filter((deal) => deal.STAGE_ID === DEMO_ORDER_STAGES.pending).length >= 2 && found.some((deal) => deal.STAGE_ID === DEMO_ORDER_STAGES.paid);
    }, 45_000, 'one deal per order, two pending orders’ deals and a paid one');
    const created = entries.filter((entry) => entry.msg === 'orders: deal created');
    assert.ok(created.length >= 2, 'the log says order → deal');

    // the schedule: move the app's clock to 1 s past the next minute; the tick there runs the rule
    // the emulator's clock moves with it: one clock for both sides, as in reality (the app's bucket
    // and leases and the portal's bucket drain together; only the app's moving would make the
    // limiter spend a budget the portal has not refilled)
    const emulatorUrl = (bannerEntry.banner as { emulatorUrl: string }).emulatorUrl;
    const slotMs = Math.ceil((Date.now() + offsetMs + 1) / 60_000) * 60_000;
    const jumpMs = slotMs + 1000 - Date.now();
    const moved = await fetch(`${emulatorUrl}/_emulator/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: jumpMs / 1000 }) });
    assert.equal(moved.status, 200);
    offsetMs = jumpMs;
    const slot = new Date(slotMs).toISOString();
    const ran = await waitFor(() => entries.find((entry) => entry.msg === 'schedules: rule ran' && entry.slot === slot), 30_000, 'the rule’s run at the slot');
    assert.equal(ran.ruleId, DEMO_RULE.id);
    assert.ok(Number(ran.matched) >= 1, `the rule matched pending orders’ deals: ${JSON.stringify(ran)}`);
    assert.equal(Number(ran.acted) + Number(ran.failed), ran.matched);

    const timeline = (await (await fetch(`${emulatorUrl}/_emulator/portals/${memberId}/crm/timeline`)).json()) as { activities: Array<{ ownerTypeId: number; ownerId: number; title: string; deadline: string }> };
    const todos = timeline.activities.filter((activity) => activity.title === DEMO_RULE.action.title && Date.parse(activity.deadline) === slotMs + DEMO_RULE.action.deadlineHours * 3_600_000);
    assert.equal(todos.length, ran.acted, 'one to-do per deal the rule acted on');
    const owners = todos.map((todo) => todo.ownerId);
    assert.equal(new Set(owners).size, owners.length, 'one to-do per deal');
    const welcomeDeals = new Set<number>();
    for await (const deal of b24.list<Deal>('crm.deal.list', { filter: { '%ORIGIN_ID': 'demo-contact-' }, select: ['ID'] })) welcomeDeals.add(Number(deal.ID));
    assert.ok(welcomeDeals.size > 0, 'the sample app made welcome deals meanwhile');
    for (const todo of todos) {
      assert.equal(todo.ownerTypeId, 2, 'on a deal');
      assert.ok(!welcomeDeals.has(todo.ownerId), `deal ${todo.ownerId} is not a welcome deal of the sample app`);
    }
    const stillThere = new Map((await orderDeals()).map((deal) => [Number(deal.ID), deal]));
    for (const id of owners) if (stillThere.has(id)) assert.equal(stillThere.get(id)!.ORIGINATOR_ID, 'b24kit.orders.generic');
    // a deal the portal refused the to-do for is one that is gone: the younger twin of an order's
    // deal, which the orders job deleted between the rule's list and its to-dos
    const refused = entries.filter((entry) => entry.msg === 'schedules: the portal refused the action on a deal').map((entry) => Number(entry.dealId));
    assert.equal(refused.length, ran.failed);
    for (const id of refused) assert.ok(!stillThere.has(id), `deal ${id} was refused a to-do but still exists`);
  });

  it('keeps the rest of the demo running when one integration’s demo cannot be set up', async () => {
    entries.length = 0;
    const app = await demoApp();
    app.register(ordersPlugin, {});
    // a plugin of the app's own under the name `schedules`, whose rules route refuses everything
    app.register(
      definePlugin({
        name: 'schedules',
        settings: { schema: z.object({ signingSecret: z.string() }), secrets: ['signingSecret'] },
        setup(kit) {
          kit.route('PUT', '/api/v1/:memberId/schedules', (ctx) => void ctx.status(503), { auth: auth.hmac({ header: 'x-schedules-signature', prefix: 'sha256=', secret: 'signingSecret' }) });
        },
      }),
    );
    await app.start();
    const banner = String((await waitFor(() => entries.find((entry) => entry.msg?.startsWith('DEMO MODE')), 30_000, 'the demo banner')).msg);
    assert.match(banner, /^ {2}orders {5}/m);
    assert.doesNotMatch(banner, /^ {2}schedules /m);
    const warning = entries.find((entry) => entry.msg === 'demo: an integration could not be set up');
    assert.ok(warning, 'a warning says which');
    assert.deepEqual([warning.level, warning.integration], [40, 'demoSchedules']);
    await waitFor(() => entries.some((entry) => entry.msg === 'orders: deal created'), 30_000, 'an order’s deal');
  });
});
