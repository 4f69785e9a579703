/**
 * The sample app of demo mode (`npm start` with no B24_CLIENT_ID and no `--app`), as a plugin: one
 * handler per feature, each on the public API only, each logging what it did.
 *
 * - event: ONCRMCONTACTADD → reads the contact and creates a welcome deal (ctx.once: a retry never
 *   creates a second deal), then enqueues a follow-up job keyed by the event's job. The contacts
 *   sync handles the same event in a job of its own (fan-out: docs/app.md, "Several handlers of one event");
 * - job `demo.follow-up`: writes a comment on that deal, once;
 * - schedule `demo.report`: every minute, per portal, counts the deals;
 * - robot `demo_score`: scores a deal; its answer goes back with bizproc.event.send.
 *
 * `registerDemoApp` registers it with the built-in integrations.
 */
import { contactsSyncPlugin, ordersPlugin, scheduledRulesPlugin } from '../../integrations/index.js';
import type { B24App } from '../create-app.js';
import type { AppKit } from '../kit.js';
import { definePlugin } from '../plugin.js';

type SampleJobs = {
  'demo.follow-up': { dealId: number; contact: string };
};

/**
 * The contacts sync gathers the contact events into batches of this window (its `gatherMs`): a
 * steady trickle of contacts (one every 3 s in the demo) is then due together, and the sync's
 * batch job reads them in one request instead of one each (the demo portal's budget is 2
 * requests/s: docs/integrations/contacts.md, "Demo").
 */
export const CONTACTS_GATHER_MS = 12_000;

/**
 * The demo's app: the sample app, and the built-in integrations (b24kit/integrations), which the
 * demo configures and drives for the demo portal (demo-integrations.ts).
 */
export function registerDemoApp(app: B24App): void {
  app.register(sampleAppPlugin);
  app.register(ordersPlugin, {});
  app.register(scheduledRulesPlugin, {});
  // handles ONCRMCONTACTADD beside the sample app: each runs its own job per new contact
  app.register(contactsSyncPlugin, { gatherMs: CONTACTS_GATHER_MS });
}

export const sampleAppPlugin = definePlugin({
  name: 'demo',
  setup(app: AppKit<Record<string, unknown>, SampleJobs>) {
    registerSampleApp(app);
  },
});

function registerSampleApp(app: AppKit<Record<string, unknown>, SampleJobs>): void {
  app.on('ONCRMCONTACTADD', async (ctx) => {
    const id = String((ctx.event.data as { FIELDS?: { ID?: string } } | null)?.FIELDS?.ID ?? '');
    const { result: contact } = await ctx.b24.call<{ NAME?: string; LAST_NAME?: string }>('crm.contact.get', { id });
    const name = [contact.NAME, contact.LAST_NAME].filter(Boolean).join(' ') || `contact ${id}`;
    const dealId = await ctx.once('create-deal', async () => {
      const { result } = await ctx.b24.call<number>('crm.deal.add', { fields: { TITLE: `Welcome deal for ${name}`, CONTACT_ID: id, ORIGIN_ID: `demo-contact-${id}` } });
      return result;
    });
    // keyed by this event's job, not the contact ID: the demo's emulator numbers contacts from 1
    // again at each start while the database stays, and a repeated key would skip the follow-up
    await app.enqueue(ctx.portal.memberId, 'demo.follow-up', { dealId, contact: name }, { key: `event-${ctx.job.id}` });
    ctx.log.info({ contactId: id, dealId }, `demo event handled: ONCRMCONTACTADD → created deal ${dealId} for ${name}`);
  });

  app.job('demo.follow-up', async (ctx) => {
    const { dealId, contact } = ctx.payload;
    await ctx.once('comment', async () => {
      await ctx.b24.call('crm.deal.update', { id: dealId, fields: { COMMENTS: `Followed up with ${contact}` } });
    });
    ctx.log.info({ dealId }, `demo job done: demo.follow-up commented deal ${dealId}`);
  });

  app.schedule('demo.report', '* * * * *', async (ctx) => {
    const { total } = await ctx.b24.call('crm.deal.list', { select: ['ID'] });
    ctx.log.info({ deals: total ?? 0, fireTime: new Date(ctx.schedule.fireTimeMs).toISOString() }, `demo schedule: ${total ?? 0} deals in ${ctx.portal.domain}`);
  });

  app.robot(
    {
      code: 'demo_score',
      name: 'Demo: score a deal',
      properties: { weight: { Name: 'Weight', Type: 'int', Default: 1 } },
      returnProperties: { score: { Name: 'Score', Type: 'int' } },
    },
    async (ctx) => {
      const score = 10 * Number(ctx.robot.properties.weight ?? 1);
      ctx.log.info({ document: ctx.robot.documentId.join(':'), score }, `demo robot: demo_score answered ${score}`);
      return { score };
    },
  );
}
