/**
 * Plugin `mailer`: the portal's contacts ↔ an email service's list.
 *
 * - Out: every new CRM contact with an e-mail is put on the portal's list at the service
 *   (`PUT /lists/:listId/members/:email`, an upsert keyed by the address: running it twice is
 *   harmless), with the portal's API key.
 * - In: the service tells us who unsubscribed — `POST /api/v1/:memberId/unsubscribes` with the same
 *   key in `Authorization: Bearer …` — and the job `mailer.unsubscribe` marks the contact
 *   (crm.contact.update, https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-update.html).
 *
 * The service here is a made-up one with the usual shape (Mailchimp's list members are keyed the
 * same way: https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/).
 */
import { z } from 'zod';
import { auth, definePlugin, NonRetryableError, type AppKit } from '../../src/index.js';
import { parse } from './shop.js';

export const MailerSettings = z.object({
  /** The portal's key at the email service; the service presents it back on its webhooks. */
  apiKey: z.string().min(16),
  /** The list new contacts join. */
  listId: z.string().min(1).max(100),
});
export type MailerSettings = z.infer<typeof MailerSettings>;

export const Unsubscribe = z.object({
  /** The contact's ID, as we sent it to the service (`externalId`). */
  externalId: z.string().regex(/^[1-9]\d{0,18}$/, 'a contact ID'),
  email: z.email(),
});
export type Unsubscribe = z.infer<typeof Unsubscribe>;

export type MailerJobs = {
  'mailer.unsubscribe': Unsubscribe;
};

export interface MailerOptions {
  /** The email service's API base URL, e.g. `https://api.mail.example`. */
  serviceUrl: string;
  /**
   * The contact field that says "no marketing e-mail" (a user field: create it once on a real portal,
   * crm.contact.userfield.add). @defaultValue 'UF_CRM_EMAIL_OPT_OUT'
   */
  optOutField?: string;
}

interface Contact {
  NAME: string | null;
  LAST_NAME: string | null;
  EMAIL?: Array<{ VALUE: string }>;
}

export const mailerPlugin = definePlugin({
  name: 'mailer',
  settings: { schema: MailerSettings, secrets: ['apiKey'] },
  setup(kit: AppKit<MailerSettings, MailerJobs>, options: MailerOptions) {
    const serviceUrl = options.serviceUrl.replace(/\/+$/, '');
    const optOutField = options.optOutField ?? 'UF_CRM_EMAIL_OPT_OUT';

    kit.on('ONCRMCONTACTADD', async (ctx) => {
      const contactId = ctx.event.data.FIELDS.ID;
      const { apiKey, listId } = await ctx.settings.peek();
      if (!apiKey || !listId) {
        ctx.log.info({ contactId }, 'mailer: not configured for this portal (apiKey, listId): contact skipped');
        return;
      }
      const { result: contact } = await ctx.b24.call<Contact>('crm.contact.get', { id: contactId });
      const email = contact.EMAIL?.[0]?.VALUE;
      if (!email) {
        ctx.log.info({ contactId }, 'mailer: the contact has no e-mail: skipped');
        return;
      }
      const response = await fetch(`${serviceUrl}/lists/${encodeURIComponent(listId)}/members/${encodeURIComponent(email.toLowerCase())}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email, firstName: contact.NAME ?? '', lastName: contact.LAST_NAME ?? '', externalId: contactId }),
        signal: ctx.signal,
      });
      // 4xx but 429: the request itself is wrong (a revoked key, a deleted list) — no retry fixes it
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        throw new NonRetryableError(`mailer: the email service refused contact ${contactId} with ${response.status}`);
      }
      if (!response.ok) throw new Error(`mailer: the email service answered ${response.status}`);
      ctx.log.info({ contactId, listId }, 'mailer: contact put on the list');
    });

    kit.route(
      'POST',
      '/api/v1/:memberId/unsubscribes',
      async (ctx) => {
        const unsubscribe = parse(Unsubscribe, ctx.body, 'unsubscribe');
        const { job, outcome } = await ctx.ingest('mailer.unsubscribe', unsubscribe.externalId, unsubscribe);
        ctx.status(202);
        return { jobId: job.id, outcome };
      },
      { auth: auth.apiKey({ secret: 'apiKey' }) },
    );

    kit.job('mailer.unsubscribe', async (ctx) => {
      const contactId = ctx.payload.externalId;
      await ctx.b24.call('crm.contact.update', { id: contactId, fields: { [optOutField]: 'Y' } });
      ctx.log.info({ contactId }, 'mailer: contact marked unsubscribed'); // no address in the logs
    });
  },
});
