/**
 * `POST /api/v1/:memberId/contacts/mailchimp?secret=…`: the audience's webhook; `GET` of the same
 * URL answers 200 (Mailchimp checks a URL with a GET before it accepts it,
 * https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
 *
 * Mailchimp signs nothing, so the URL carries the portal's `contacts.webhookSecret` in the query
 * (mailchimp-webhook.ts says why the query); the route's auth compares it in constant time, and a
 * missing or wrong secret — another portal's included — gets the framework's uniform 401 with
 * nothing stored (docs/plugins.md, "The 401 rule"). Then: parsed (400 naming the field, nothing
 * stored), checked to be the portal's audience, and handed to `ctx.ingest` (persist, then
 * acknowledge); the job `contacts.service-change` applies it.
 */
import type { RouteAuth, RouteContext } from '../../index.js';
import { B24Error } from '../../errors.js';
import type { EmailServiceAdapter, EmailServiceEvent } from './email-service.js';
import { secretMatches, WebhookRejected } from './mailchimp-webhook.js';
import type { ServiceChange } from './sync.js';
import { toSecondMs } from './fields.js';

export const WEBHOOK_PATH = '/api/v1/:memberId/contacts/mailchimp';
export const SERVICE_CHANGE_JOB = 'contacts.service-change';
export const RECONCILE_JOB = 'contacts.reconcile';
/** A CRM contact changed: a batch job (ContactsSyncOptions.gatherMs, or an app that hands changes to the sync itself). */
export const CRM_CHANGE_JOB = 'contacts.crm-change';
export const WEBHOOK_SECRET_KEY = 'webhookSecret';

/** A change as the job's payload (JSON): the service's event, or an address change. */
export type ServiceChangePayload = (ServiceChange & { type: 'subscribe' | 'profile' | 'unsubscribe' | 'cleaned' }) | { type: 'upemail'; oldEmail: string; newEmail: string; atMs: number };

export type ContactsJobs = {
  'contacts.service-change': ServiceChangePayload;
  'contacts.reconcile': { reason: string };
  'contacts.crm-change': { contactId: number; deleted?: boolean };
};

function queryValue(query: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = query?.[name];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

/** The route's auth: `?secret=` against the portal's webhook secret, in constant time. */
export const webhookAuth: RouteAuth = {
  kind: 'apiKey',
  secretKey: WEBHOOK_SECRET_KEY,
  verify: (request, secret) => secretMatches(queryValue(request.query, 'secret'), secret),
};

/** The job payload of a webhook event. */
export function changeOf(event: EmailServiceEvent): ServiceChangePayload {
  const atMs = toSecondMs(event.firedAt.getTime());
  switch (event.type) {
    case 'subscribe':
      return { type: event.type, email: event.email, fields: { ...event.fields }, unsubscribed: false, atMs, current: false };
    case 'profile':
      return { type: event.type, email: event.email, fields: { ...event.fields }, unsubscribed: undefined, atMs, current: false };
    case 'unsubscribe':
      return { type: event.type, email: event.email, fields: { ...event.fields }, unsubscribed: true, atMs, current: false };
    case 'cleaned':
      return { type: event.type, email: event.email, fields: {}, unsubscribed: true, atMs, current: false };
    case 'upemail':
      return { type: 'upemail', oldEmail: event.oldEmail, newEmail: event.newEmail, atMs };
  }
}

export interface WebhookAnswer {
  ok?: true;
  jobId?: number;
  outcome?: string;
  error?: string;
  message?: string;
  field?: string;
}

export function receiveWebhook<S extends { listId: string; webhookSecret: string }>(adapterOf: (settings: S) => EmailServiceAdapter) {
  return async (ctx: RouteContext<S, ContactsJobs>): Promise<WebhookAnswer> => {
    const settings = await ctx.settings.get();
    let event: EmailServiceEvent;
    try {
      event = adapterOf(settings).parseWebhook(
        { body: ctx.rawBody.toString('utf8'), contentType: headerOf(ctx.headers['content-type']), presentedSecret: queryValue(ctx.query, 'secret') },
        settings.webhookSecret,
      );
      if (event.audienceId !== settings.listId) throw new WebhookRejected('data[list_id]', 'Mailchimp webhook: data[list_id]: not the audience this portal syncs');
    } catch (error) {
      if (!(error instanceof WebhookRejected)) throw error instanceof B24Error ? error : new B24Error('B24_ERR_BAD_REQUEST', 'Mailchimp webhook: unreadable');
      ctx.log.warn({ err: error, field: error.field }, 'contacts: webhook refused');
      ctx.status(400);
      return { error: 'B24_ERR_BAD_REQUEST', message: error.message, field: error.field };
    }
    const change = changeOf(event);
    const key = change.type === 'upemail' ? `upemail:${change.oldEmail}:${change.newEmail}:${change.atMs}` : `${change.type}:${change.email}:${change.atMs}`;
    const { job, outcome } = await ctx.ingest(SERVICE_CHANGE_JOB, key, change);
    ctx.log.info({ type: change.type, jobId: job.id, outcome }, 'contacts: webhook received');
    ctx.status(202);
    return { jobId: job.id, outcome };
  };
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Mailchimp's validation GET (same URL, same secret): 200. */
export function answerValidation(): WebhookAnswer {
  return { ok: true };
}
