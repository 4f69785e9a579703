/**
 * `PUT /api/v1/:memberId/schedules` replaces a portal's rules; `GET` of the same path returns them.
 * Both are signed, like Stripe's webhooks: `X-Schedules-Timestamp: <unix seconds>` and
 * `X-Schedules-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under the portal's
 * `schedules.signingSecret` (a GET signs its empty body), within 5 minutes of the app's clock — a
 * captured PUT cannot bring back, later, rules an administrator has since replaced. Anything else
 * is the framework's uniform 401 (docs/plugins.md, "The 401 rule"). A rule set that does not
 * validate is answered 400 with the first field at fault (`rules.0.cron`), and nothing is stored.
 */
import { createHmac } from 'node:crypto';
import { auth, type RouteContext } from '../../index.js';
import { Rules, triggersOf, type Rule, type SchedulesSettings } from './rules.js';

export const SCHEDULES_PATH = '/api/v1/:memberId/schedules';
export const SECRET_KEY = 'signingSecret';
export const REGISTER_JOB = 'schedules.register-triggers';
export const RULE_JOB = 'schedules.rule';

export type SchedulesJobs = {
  'schedules.rule': { ruleId: string; slotMs: number };
  'schedules.register-triggers': { triggers: Array<{ code: string; name: string }> };
};

export const SIGNATURE_HEADER = 'x-schedules-signature';
export const TIMESTAMP_HEADER = 'x-schedules-timestamp';

export const schedulesAuth = auth.hmac({ header: SIGNATURE_HEADER, prefix: 'sha256=', secret: SECRET_KEY, timestampHeader: TIMESTAMP_HEADER });

/** The two headers that sign a request to the route: `body` is the raw body ('' for a GET), `nowMs` the signing time. */
export function signSchedulesRequest(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}` };
}

export interface RulesAnswer {
  rules?: Rule[];
  error?: string;
  message?: string;
  field?: string;
}

type Ctx = RouteContext<SchedulesSettings, SchedulesJobs>;

export async function getRules(ctx: Ctx): Promise<RulesAnswer> {
  const stored = Rules.safeParse((await ctx.settings.peek()).rules ?? []);
  return { rules: stored.success ? stored.data : [] };
}

export async function putRules(ctx: Ctx): Promise<RulesAnswer> {
  const body = ctx.body as { rules?: unknown } | undefined;
  const parsed = Rules.safeParse(body && typeof body === 'object' ? body.rules : undefined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['rules', ...issue.path].join('.');
    ctx.log.warn({ err: new Error(issue.message), field }, 'schedules: rules refused');
    ctx.status(400);
    return { error: 'B24_ERR_BAD_REQUEST', message: `${field}: ${issue.message}`, field };
  }
  await ctx.settings.set({ rules: parsed.data });
  const triggers = triggersOf(parsed.data);
  // the portal must know a trigger before it executes it: registered in a job (persist, then acknowledge)
  if (triggers.length > 0) await ctx.enqueue(REGISTER_JOB, { triggers });
  ctx.log.info({ rules: parsed.data.length, triggers: triggers.length }, 'schedules: rules stored');
  return { rules: parsed.data };
}
