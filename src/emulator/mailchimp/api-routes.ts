import type { FastifyInstance, FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiKeyFrom } from './auth.js';
import type { MailchimpEmulator } from './mailchimp-emulator.js';
import { MailchimpProblem, problems, sendProblem } from './problem.js';
import type { MailchimpList, Member } from './store.js';

type ListParams = { list_id: string };
type MemberParams = ListParams & { subscriber_hash: string };

/** `/3.0/lists/:list_id/members` → `/3.0/lists/{list_id}/members`, the key of stats.byRoute. */
export function routeTemplate(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  return url ? url.replace(/:([A-Za-z_]+)/g, '{$1}') : '(no route)';
}

/**
 * The Marketing API v3 routes the emulator serves, under `/3.0`
 * (https://mailchimp.com/developer/marketing/api/). Every request passes, in order: basic auth
 * (401), the per-key connection limit (429), injected faults; every answer is counted by status.
 */
export function registerMailchimpApiRoutes(app: FastifyInstance, mc: MailchimpEmulator): void {
  app.register(
    async (api) => {
      api.addHook('onRequest', async (request, reply) => {
        mc.stats.countRequest(request.method, routeTemplate(request));
        const auth = apiKeyFrom(request.headers.authorization, mc.apiKeys);
        if ('problem' in auth) return sendProblem(reply, auth.problem);
        const release = mc.limiter.tryAcquire(auth.key);
        if (!release) {
          mc.stats.concurrencyRefusals += 1;
          return sendProblem(reply, problems.tooManyRequests());
        }
        reply.raw.once('close', release);
        const fault = mc.faults.next();
        if (fault.delayMs > 0) await sleep(fault.delayMs);
        if (fault.errorStatus !== undefined) return sendProblem(reply, problems.injected(fault.errorStatus));
        return undefined;
      });
      api.addHook('onResponse', async (_request, reply) => {
        mc.stats.countStatus(reply.statusCode);
      });
      api.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
        if (error instanceof MailchimpProblem) return sendProblem(reply, error);
        if (error.code?.startsWith('FST_ERR_CTP_')) return sendProblem(reply, problems.jsonParse());
        return sendProblem(reply, problems.internal());
      });
      api.setNotFoundHandler((_request, reply) => sendProblem(reply, problems.notFound()));

      api.get('/ping', async () => ({ health_status: "Everything's Chimpy!" }));

      api.get('/lists', async () => {
        const lists = [...mc.store.lists.values()].map((list) => mc.store.listJson(list));
        return { lists, total_items: lists.length, _links: [] };
      });
      api.get<{ Params: ListParams }>('/lists/:list_id', async (request) => mc.store.listJson(listOf(mc, request.params)));

      api.get<{ Params: ListParams; Querystring: Record<string, string | undefined> }>('/lists/:list_id/members', async (request) => {
        const list = listOf(mc, request.params);
        return membersPage(mc, list, request.query);
      });

      api.post<{ Params: ListParams }>('/lists/:list_id/members', async (request, reply) => {
        const list = listOf(mc, request.params);
        const result = mc.store.upsert(list, '', bodyObject(request.body), 'post');
        mc.stats.countWrite(list.id, result.member.id);
        mc.publish(list, result.changes, 'api');
        return reply.status(200).send(mc.store.memberJson(list, result.member));
      });

      api.get<{ Params: MemberParams }>('/lists/:list_id/members/:subscriber_hash', async (request) => {
        const list = listOf(mc, request.params);
        return mc.store.memberJson(list, memberOf(mc, list, request.params));
      });

      api.put<{ Params: MemberParams }>('/lists/:list_id/members/:subscriber_hash', async (request) => {
        const list = listOf(mc, request.params);
        const result = mc.store.upsert(list, request.params.subscriber_hash, bodyObject(request.body), 'put');
        mc.stats.countWrite(list.id, result.member.id);
        mc.publish(list, result.changes, 'api');
        return mc.store.memberJson(list, result.member);
      });

      api.get<{ Params: MemberParams }>('/lists/:list_id/members/:subscriber_hash/tags', async (request) => {
        const list = listOf(mc, request.params);
        const member = memberOf(mc, list, request.params);
        return { tags: member.tags.map((name) => ({ id: list.tagIds.get(name), name })), total_items: member.tags.length, _links: [] };
      });

      // answers 204 with no body (https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/)
      api.post<{ Params: MemberParams }>('/lists/:list_id/members/:subscriber_hash/tags', async (request, reply) => {
        const list = listOf(mc, request.params);
        const member = memberOf(mc, list, request.params);
        mc.store.updateTags(list, member, bodyObject(request.body));
        mc.stats.countWrite(list.id, member.id);
        return reply.status(204).send();
      });

      api.post<{ Params: ListParams }>('/lists/:list_id/webhooks', async (request) => {
        const list = listOf(mc, request.params);
        return webhookJson(await mc.outbox.register(list, bodyObject(request.body)));
      });
      api.get<{ Params: ListParams }>('/lists/:list_id/webhooks', async (request) => {
        const list = listOf(mc, request.params);
        const webhooks = [...list.webhooks.values()].map(webhookJson);
        return { webhooks, list_id: list.id, total_items: webhooks.length, _links: [] };
      });
      api.delete<{ Params: ListParams & { webhook_id: string } }>('/lists/:list_id/webhooks/:webhook_id', async (request, reply) => {
        const list = listOf(mc, request.params);
        if (!list.webhooks.delete(request.params.webhook_id)) throw problems.notFound();
        return reply.status(204).send();
      });
    },
    { prefix: '/3.0' },
  );
}

function listOf(mc: MailchimpEmulator, params: ListParams): MailchimpList {
  const list = mc.list(params.list_id);
  if (!list) throw problems.notFound();
  return list;
}

function memberOf(mc: MailchimpEmulator, list: MailchimpList, params: MemberParams): Member {
  const member = mc.store.findMember(list, params.subscriber_hash);
  if (!member) throw problems.notFound();
  return member;
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw problems.jsonParse();
  return body as Record<string, unknown>;
}

function webhookJson(webhook: { id: string; url: string; events: object; sources: object; listId: string }): Record<string, unknown> {
  return { id: webhook.id, url: webhook.url, events: webhook.events, sources: webhook.sources, list_id: webhook.listId, _links: [] };
}

/** Documented maximum of `count` (https://mailchimp.com/developer/marketing/docs/methods-parameters/). */
const MAX_COUNT = 1000;

/**
 * `GET /lists/{list_id}/members`: `count` (default 10, at most 1000), `offset`, `status`,
 * `since_last_changed` / `before_last_changed` (ISO 8601), `total_items` counting every match.
 * Members come in the order they were added (UNCONFIRMED: the real default order is not stated).
 */
function membersPage(mc: MailchimpEmulator, list: MailchimpList, query: Record<string, string | undefined>): Record<string, unknown> {
  const errors: { field: string; message: string }[] = [];
  const count = integer(query.count, 10, 'count', errors);
  const offset = integer(query.offset, 0, 'offset', errors);
  const since = instant(query.since_last_changed, 'since_last_changed', errors);
  const before = instant(query.before_last_changed, 'before_last_changed', errors);
  if (errors.length > 0) throw problems.invalidResource("The resource submitted could not be validated. For field-specific details, see the 'errors' array.", errors);
  const matches: Member[] = [];
  for (const member of list.members.values()) {
    // UNCONFIRMED: whether "since" is inclusive; the emulator includes the second itself, so a
    // reader that keeps the newest last_changed as its watermark never misses a same-second change
    if (since !== undefined && member.lastChangedMs < since) continue;
    if (before !== undefined && member.lastChangedMs >= before) continue;
    if (query.status && member.status !== query.status) continue;
    matches.push(member);
  }
  const page = matches.slice(offset, offset + Math.min(count, MAX_COUNT));
  return { members: page.map((member) => mc.store.memberJson(list, member)), list_id: list.id, total_items: matches.length, _links: [] };
}

function integer(value: string | undefined, fallback: number, field: string, errors: { field: string; message: string }[]): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    errors.push({ field, message: 'Must be a non-negative integer.' });
    return fallback;
  }
  return parsed;
}

/** An ISO 8601 time, truncated to the second like `last_changed` itself. */
function instant(value: string | undefined, field: string, errors: { field: string; message: string }[]): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    errors.push({ field, message: 'Must be an ISO 8601 time, e.g. 2015-10-21T15:41:36+00:00.' });
    return undefined;
  }
  return Math.floor(parsed / 1000) * 1000;
}

