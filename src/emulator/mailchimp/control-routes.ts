import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { controlError, parseBody } from '../control/validation.js';
import type { MailchimpEmulator } from './mailchimp-emulator.js';
import { MailchimpProblem } from './problem.js';
import { MEMBER_STATUSES, type MailchimpList, type Member, type MemberChange } from './store.js';

const listSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9]{1,32}$/).optional(),
    name: z.string().min(1).max(100).optional(),
    /** Merge tags of the audience. @defaultValue FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY */
    mergeTags: z.array(z.string().regex(/^[A-Z0-9_]{1,10}$/)).optional(),
  })
  .strict();

const source = z.enum(['user', 'admin']).default('user');

const memberSchema = z
  .object({
    merge_fields: z.record(z.string(), z.unknown()).optional(),
    status: z.enum(MEMBER_STATUSES).optional(),
    source,
  })
  .strict();

const sourceOnly = z.object({ source }).strict();
const cleanSchema = z.object({ reason: z.enum(['hard', 'abuse']).default('hard'), source }).strict();
const emailSchema = z.object({ newEmail: z.string().email(), source }).strict();

const faultSchema = z
  .object({
    errorStatus: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]).optional(),
    errorCount: z.number().int().min(0).optional(),
    errorRatio: z.number().min(0).max(1).optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    latencyCount: z.number().int().min(0).optional(),
  })
  .strict();

/**
 * The Mailchimp emulator's control API under `/_emulator/mailchimp/` (docs/emulator-mailchimp.md):
 * audiences, changes made "as a contact or an account user would" (they fire webhooks with source
 * `user` or `admin`, never `api`), stats, faults, webhook deliveries and the clock.
 */
export function registerMailchimpControlRoutes(app: FastifyInstance, mc: MailchimpEmulator): void {
  const base = '/_emulator/mailchimp';

  app.post(`${base}/lists`, async (request, reply) => {
    const input = parseBody(listSchema, request.body, reply);
    if (!input) return reply;
    if (input.id && mc.list(input.id)) return controlError(reply, 409, 'CONTROL_LIST_EXISTS', `A list ${input.id} already exists`);
    const list = mc.store.createList({
      ...(input.id ? { id: input.id } : {}),
      ...(input.name ? { name: input.name } : {}),
      ...(input.mergeTags ? { mergeTags: input.mergeTags } : {}),
    });
    return reply.status(201).send({ ...mc.store.listJson(list), mergeTags: list.mergeTags });
  });

  app.get(`${base}/lists/:listId/members`, async (request, reply) => {
    const list = listParam(mc, request.params, reply);
    if (!list) return reply;
    return { members: [...list.members.values()].map((member) => mc.store.memberJson(list, member)) };
  });

  // a contact signs up or edits their profile, or an account user edits them in the web app
  app.put(`${base}/lists/:listId/members/:email`, async (request, reply) => {
    const list = listParam(mc, request.params, reply);
    if (!list) return reply;
    const input = parseBody(memberSchema, request.body, reply);
    if (!input) return reply;
    const email = (request.params as { email: string }).email;
    return change(mc, list, reply, input.source, () => {
      const result = mc.store.upsert(
        list,
        '',
        { email_address: email, ...(input.merge_fields ? { merge_fields: input.merge_fields } : {}), status: input.status, status_if_new: input.status ?? 'subscribed' },
        'control',
      );
      return { member: result.member, changes: result.changes };
    });
  });

  app.post(`${base}/lists/:listId/members/:email/unsubscribe`, async (request, reply) => {
    const list = listParam(mc, request.params, reply);
    if (!list) return reply;
    const input = parseBody(sourceOnly, request.body, reply);
    if (!input) return reply;
    const member = memberParam(mc, list, request.params, reply);
    if (!member) return reply;
    return change(mc, list, reply, input.source, () => ({ member, changes: compact(mc.store.setStatus(member, 'unsubscribed')) }));
  });

  app.post(`${base}/lists/:listId/members/:email/clean`, async (request, reply) => {
    const list = listParam(mc, request.params, reply);
    if (!list) return reply;
    const input = parseBody(cleanSchema, request.body, reply);
    if (!input) return reply;
    const member = memberParam(mc, list, request.params, reply);
    if (!member) return reply;
    return change(mc, list, reply, input.source, () => ({ member, changes: compact(mc.store.setStatus(member, 'cleaned', input.reason)) }));
  });

  app.post(`${base}/lists/:listId/members/:email/email`, async (request, reply) => {
    const list = listParam(mc, request.params, reply);
    if (!list) return reply;
    const input = parseBody(emailSchema, request.body, reply);
    if (!input) return reply;
    const member = memberParam(mc, list, request.params, reply);
    if (!member) return reply;
    return change(mc, list, reply, input.source, () => ({ member, changes: [mc.store.changeEmail(list, member, input.newEmail)] }));
  });

  app.get(`${base}/stats`, async () => mc.stats.toJSON());
  app.delete(`${base}/stats`, async (_request, reply) => {
    mc.stats.reset();
    return reply.status(204).send();
  });

  app.get(`${base}/faults`, async () => mc.faults.snapshot());
  app.put(`${base}/faults`, async (request, reply) => {
    const input = parseBody(faultSchema, request.body, reply);
    if (!input) return reply;
    mc.faults.set(input);
    return mc.faults.snapshot();
  });
  app.delete(`${base}/faults`, async (_request, reply) => {
    mc.faults.clear();
    return reply.status(204).send();
  });

  // waits for webhook POSTs in flight, so a test reads a settled list
  app.get(`${base}/deliveries`, async () => {
    await mc.outbox.idle();
    return { deliveries: mc.outbox.deliveries };
  });

  app.post(`${base}/keys`, async (request, reply) => {
    const input = parseBody(z.object({ key: z.string().regex(/^[A-Za-z0-9]{8,64}-[a-z]+\d+$/) }).strict(), request.body, reply);
    if (!input) return reply;
    mc.apiKeys.add(input.key);
    return reply.status(201).send({ key: input.key });
  });

  app.post(`${base}/clock`, async (request, reply) => {
    const input = parseBody(z.object({ advanceSeconds: z.number().min(0).max(10 * 365 * 86_400) }).strict(), request.body, reply);
    if (!input) return reply;
    mc.clock.advance(input.advanceSeconds);
    return { now: mc.clock.nowSeconds(), offsetSeconds: mc.clock.offsetMs / 1000 };
  });
  app.get(`${base}/clock`, async () => ({ now: mc.clock.nowSeconds(), offsetSeconds: mc.clock.offsetMs / 1000 }));
}

function listParam(mc: MailchimpEmulator, params: unknown, reply: FastifyReply): MailchimpList | undefined {
  const id = (params as { listId?: string }).listId ?? '';
  const list = mc.list(id);
  if (!list) controlError(reply, 404, 'CONTROL_LIST_NOT_FOUND', `No Mailchimp list ${id}`);
  return list;
}

function memberParam(mc: MailchimpEmulator, list: MailchimpList, params: unknown, reply: FastifyReply): Member | undefined {
  const email = (params as { email?: string }).email ?? '';
  const member = mc.store.findMember(list, email);
  if (!member) controlError(reply, 404, 'CONTROL_MEMBER_NOT_FOUND', `No member ${email} in list ${list.id}`);
  return member;
}

function compact(change: MemberChange | undefined): MemberChange[] {
  return change ? [change] : [];
}

/** Applies a control API change, fires its webhooks with `source`, and answers `{ member, fired }`. */
function change(
  mc: MailchimpEmulator,
  list: MailchimpList,
  reply: FastifyReply,
  source: 'user' | 'admin',
  apply: () => { member: Member; changes: MemberChange[] },
): FastifyReply {
  try {
    const { member, changes } = apply();
    mc.publish(list, changes, source);
    return reply.send({ member: mc.store.memberJson(list, member), fired: changes.map((item) => item.type) });
  } catch (error) {
    if (error instanceof MailchimpProblem) {
      return controlError(reply, 400, 'CONTROL_BAD_REQUEST', error.detail, error.errors ? { issues: error.errors.map((item) => ({ path: item.field, message: item.message })) } : {});
    }
    throw error;
  }
}
