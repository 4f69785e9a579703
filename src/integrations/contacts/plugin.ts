/**
 * `contactsSyncPlugin`: a portal's CRM contacts and an email-service audience kept in step, both
 * ways (docs/integrations/contacts.md).
 *
 *     app.register(contactsSyncPlugin, {});
 *
 * Written on the public plugin API (`b24kit`): the CRM contact events, a signed webhook route,
 * two jobs, two schedules, per-portal settings with two secrets, an install hook, a purge, and the
 * plugin's own table through `ctx.store` (state.ts). The rules are sync.ts's and fields.ts's.
 */
import { z } from 'zod';
import { definePlugin, type AppKit, type BatchJobOutcome, type HandlerContext } from '../../index.js';
import { DEFAULT_UNSUBSCRIBED_FIELD, ensureUnsubscribedField } from './crm.js';
import type { EmailServiceAdapter } from './email-service.js';
import { MailchimpAdapter } from './mailchimp.js';
import {
  answerValidation,
  CRM_CHANGE_JOB,
  receiveWebhook,
  RECONCILE_JOB,
  SERVICE_CHANGE_JOB,
  WEBHOOK_PATH,
  WEBHOOK_SECRET_KEY,
  webhookAuth,
  type ContactsJobs,
} from './route.js';
import { ensureSyncTables, purgeSyncState, SyncState, SYNC_TABLE } from './state.js';
import { hintUnlessConfigured } from '../install-hint.js';
import { crmChanged, crmChangedMany, crmDeleted, CONTACTS_PER_READ, pollChanges, reconcile, serviceChanged, serviceEmailChanged, type ChangeOutcome, type ReconcileProgress, type SyncDeps } from './sync.js';

export const ContactsSettings = z.object({
  /** The audience (Mailchimp list id) the portal's contacts sync with. */
  listId: z.string().min(1).max(100),
  /** The email service's API key (Mailchimp: `<key>-<dc>`). Secret. */
  apiKey: z.string().min(1).max(200),
  /** The API root instead of the key's data center (the emulator: `http://127.0.0.1:4200/3.0`). */
  baseUrl: z.url().optional(),
  /** The secret in the webhook URL's query (`?secret=`), 16 characters or more. Secret. */
  webhookSecret: z.string().min(16).max(200),
  /** The status a member new to the audience gets. @defaultValue 'subscribed' */
  statusIfNew: z.enum(['subscribed', 'pending', 'transactional']).default('subscribed'),
});
export type ContactsSettings = z.infer<typeof ContactsSettings>;

export interface ContactsSyncOptions {
  /** The email service of a portal's settings. @defaultValue a MailchimpAdapter per API key and base URL */
  adapter?: (settings: ContactsSettings) => EmailServiceAdapter;
  /** The CRM boolean user field of the unsubscribe mark, created at install and at the first sync. @defaultValue 'UF_CRM_B24KIT_UNSUBSCRIBED' */
  unsubscribedField?: string;
  /** The safety-net poll of the service's changes (a cron, portal time). @defaultValue '*\/10 * * * *' */
  pollCron?: string;
  /** The reconciliation that repairs drift both ways. @defaultValue '30 2 * * *' (nightly, portal time) */
  reconcileCron?: string;
  /** Bind the CRM contact events offline (the portal queues them; docs/app.md). @defaultValue false */
  offline?: boolean;
  /**
   * The CRM contact events the plugin binds and handles, e.g. without ONCRMCONTACTDELETE to keep a
   * deleted contact's member. The app and other plugins may handle the same events: each handler
   * runs in a job of its own (docs/app.md, "Several handlers of one event"). @defaultValue all three
   */
  crmEvents?: ReadonlyArray<'ONCRMCONTACTADD' | 'ONCRMCONTACTUPDATE' | 'ONCRMCONTACTDELETE'>;
  /**
   * Gather the contact events into batches: each event hands its change to the batch job
   * `contacts.crm-change` due at the next multiple of this many ms, so a steady trickle of
   * contacts is read with one `crm.contact.list` per batch instead of one each (the demo: 12 s).
   * Costs up to this much delay. @defaultValue 0: each event is synced at once, in its own job
   */
  gatherMs?: number;
  /** Attempts of a change's job on temporary failures. @defaultValue the app's */
  maxAttempts?: number;
}

const CRM_EVENTS = ['ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE'] as const;

/** An outcome for the log: the contact's ID, not its address (personal data stays out of logs). */
function loggable(outcome: ChangeOutcome): Omit<ChangeOutcome, 'email'> {
  return Object.fromEntries(Object.entries(outcome).filter(([key]) => key !== 'email')) as Omit<ChangeOutcome, 'email'>;
}

export const contactsSyncPlugin = definePlugin({
  name: 'contacts',
  settings: { schema: ContactsSettings, secrets: ['apiKey', WEBHOOK_SECRET_KEY] },
  setup(kit: AppKit<ContactsSettings, ContactsJobs>, options: ContactsSyncOptions = {}) {
    const unsubscribedField = options.unsubscribedField ?? DEFAULT_UNSUBSCRIBED_FIELD;
    const adapters = new Map<string, EmailServiceAdapter>();
    const adapterOf =
      options.adapter ??
      ((settings: Pick<ContactsSettings, 'apiKey' | 'baseUrl'>): EmailServiceAdapter => {
        const key = `${settings.baseUrl ?? ''}\n${settings.apiKey}`;
        let adapter = adapters.get(key);
        if (!adapter) adapters.set(key, (adapter = new MailchimpAdapter({ apiKey: settings.apiKey, ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}) })));
        return adapter;
      });
    const fieldsReady = new Set<string>();
    const jobOptions = options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {};
    const eventOptions = options.offline ? { offline: true } : {};

    const depsOf = async (ctx: Pick<HandlerContext<ContactsSettings>, 'portal' | 'settings' | 'b24' | 'log' | 'store'>): Promise<SyncDeps> => {
      const settings = await ctx.settings.get();
      await ensureSyncTables(ctx.store);
      if (!fieldsReady.has(ctx.portal.memberId)) {
        await ensureUnsubscribedField(ctx.b24, unsubscribedField);
        fieldsReady.add(ctx.portal.memberId);
      }
      const memberId = ctx.portal.memberId;
      return {
        b24: ctx.b24,
        adapter: adapterOf(settings),
        state: new SyncState(ctx.store, memberId),
        listId: settings.listId,
        statusIfNew: settings.statusIfNew,
        unsubscribedField,
        log: ctx.log,
        transaction: (fn) => ctx.store.transaction((tx) => fn(new SyncState(tx, memberId))),
      };
    };

    const crmChange = async (ctx: HandlerContext<ContactsSettings>, contactId: number, deleted: boolean) => {
      const deps = await depsOf(ctx);
      const result = deleted ? await crmDeleted(deps, contactId) : await crmChanged(deps, contactId);
      if (result.outcome !== 'echo') ctx.log.info(loggable(result), 'contacts: CRM change');
      return loggable(result);
    };
    const gatherMs = Math.max(0, Math.floor(options.gatherMs ?? 0));
    // to the batch job, due with the others of its window; keyed by the event's job, so a retry of
    // the event's job enqueues nothing more
    const gatherChange = async (ctx: HandlerContext<ContactsSettings>, contactId: number, deleted: boolean) => {
      const runAtMs = Math.ceil(Date.now() / gatherMs) * gatherMs;
      const job = await kit.enqueue(ctx.portal.memberId, CRM_CHANGE_JOB, { contactId, ...(deleted ? { deleted: true } : {}) }, { key: `event-${ctx.job.id}`, runAtMs });
      return { gathered: job.id, runAtMs };
    };
    const events = new Set(options.crmEvents ?? [...CRM_EVENTS, 'ONCRMCONTACTDELETE']);
    for (const event of [...CRM_EVENTS, 'ONCRMCONTACTDELETE'] as const) {
      if (!events.has(event)) continue;
      const deleted = event === 'ONCRMCONTACTDELETE';
      kit.on(event, (ctx) => (gatherMs > 0 ? gatherChange : crmChange)(ctx, Number(ctx.event.data.FIELDS.ID), deleted), eventOptions);
    }
    // a batch job: the changes queued for a portal share one CRM read (crmChangedMany), so a burst
    // of contact events gathered here (gatherMs), or enqueued by an app, costs a request per batch
    kit.job(
      CRM_CHANGE_JOB,
      async (ctx) => {
        const deps = await depsOf(ctx);
        const changed = ctx.items.filter((item) => item.payload.deleted !== true).map((item) => Number(item.payload.contactId));
        const read = await crmChangedMany(deps, changed);
        let next = 0;
        const outcomes: BatchJobOutcome[] = [];
        for (const item of ctx.items) {
          const result = item.payload.deleted === true ? await crmDeleted(deps, Number(item.payload.contactId)).catch((error: unknown) => ({ error })) : read[next++]!;
          if ('error' in result) {
            outcomes.push({ status: 'retry', error: result.error });
            continue;
          }
          if (result.outcome !== 'echo') ctx.log.info({ ...loggable(result), jobId: item.job.id }, 'contacts: CRM change');
          outcomes.push({ status: 'done', result: loggable(result) });
        }
        return outcomes;
      },
      { ...jobOptions, batch: { max: CONTACTS_PER_READ } },
    );

    kit.route('POST', WEBHOOK_PATH, receiveWebhook(adapterOf), { auth: webhookAuth });
    kit.route('GET', WEBHOOK_PATH, answerValidation, { auth: webhookAuth });

    kit.job(SERVICE_CHANGE_JOB, async (ctx) => {
      const change = ctx.payload;
      if (change.type === 'upemail') {
        const result = await serviceEmailChanged(await depsOf(ctx), change.oldEmail, change.newEmail);
        ctx.log.info(loggable(result), 'contacts: address change');
        return loggable(result);
      }
      const result = await serviceChanged(await depsOf(ctx), { ...change, unsubscribed: change.unsubscribed ?? undefined });
      if (result.outcome !== 'echo') ctx.log.info(loggable(result), 'contacts: service change');
      return result;
    }, jobOptions);

    const runReconcile = async (ctx: HandlerContext<ContactsSettings>) => {
      const report = await reconcile(await depsOf(ctx), {
        onProgress: (progress: ReconcileProgress) => ctx.log.debug(progress, 'contacts: reconciliation progress'),
      });
      ctx.log.info(report, 'contacts: reconciled');
      return report;
    };
    kit.job(RECONCILE_JOB, runReconcile, jobOptions);
    kit.schedule('contacts.reconcile', options.reconcileCron ?? '30 2 * * *', runReconcile, jobOptions);

    kit.schedule('contacts.poll', options.pollCron ?? '*/10 * * * *', async (ctx) => {
      const settings = await ctx.settings.peek();
      if (!ContactsSettings.safeParse(settings).success) return { skipped: 'the contacts settings are not complete' };
      const deps = await depsOf(ctx);
      // never synced: the first full sync, once (its key), instead of a poll from nowhere
      if ((await deps.state.cursor()) === undefined) {
        const { outcome } = await kit.ingest(ctx.portal.memberId, RECONCILE_JOB, 'first-sync', { reason: 'first sync' });
        return { firstSync: outcome };
      }
      return pollChanges(deps);
    }, jobOptions);

    kit.onInstall(async (ctx) => {
      await ensureUnsubscribedField(ctx.b24, unsubscribedField);
      hintUnlessConfigured(
        ctx,
        (stored) => ContactsSettings.safeParse(stored).success,
        `contacts: set contacts.listId, contacts.apiKey and contacts.webhookSecret (\`b24kit settings set ${ctx.portal.memberId} contacts.apiKey - --app <app>\`), then register /api/v1/${ctx.portal.memberId}/contacts/mailchimp?secret=<webhookSecret> as the audience's webhook`,
      );
    });
    kit.purgeOnUninstall(SYNC_TABLE, (tx, memberId) => purgeSyncState(tx, memberId));
    kit.service('worker', () => async () => {
      for (const adapter of adapters.values()) await (adapter as Partial<{ close(): Promise<void> }>).close?.();
      adapters.clear();
    });
  },
});
