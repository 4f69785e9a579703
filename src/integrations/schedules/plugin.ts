/**
 * `scheduledRulesPlugin`: robots on a schedule — per-portal rules that, at their times in the
 * portal's time zone, act on the deals that have sat in a stage too long
 * (docs/integrations/schedules.md).
 *
 *     app.register(scheduledRulesPlugin, {});
 *
 * Written on the public plugin API only (`b24kit`): one framework schedule (the tick), two jobs,
 * a signed route, per-portal settings with one secret, an install hook.
 *
 * - The tick (`schedules.tick`, every minute per active portal, in the portal's zone) reads the
 *   rules and hands each due (rule, slot) to `ingest` with the id `rule:slot`: any number of ticks,
 *   processes or retries that see one slot make one job.
 * - The job `schedules.rule` lists the matching deals and acts on them in batches (act.ts).
 * - Automation triggers used by the rules are registered with `crm.automation.trigger.add` at
 *   install (the rules survive a re-install) and whenever the rules are stored.
 */
import { definePlugin, type AppKit } from '../../index.js';
import { runRule } from './act.js';
import { dueRules, slotId } from './due.js';
import { REGISTER_JOB, RULE_JOB, SCHEDULES_PATH, SECRET_KEY, getRules, putRules, schedulesAuth, type SchedulesJobs } from './route.js';
import { Rules, SchedulesSettings, triggersOf, type Rule } from './rules.js';
import { hintUnlessConfigured } from '../install-hint.js';
import type { B24Client } from '../../index.js';

export interface SchedulesOptions {
  /** How often each portal's rules are looked at (a cron, in the portal's zone). @defaultValue '* * * * *' */
  tickCron?: string;
  /**
   * How far back a tick looks for a rule's fire time, in ms: a slot missed by fewer ticks than this
   * is still run (once), an older one is skipped. Keep it above the tick's period. @defaultValue 300000 (5 min)
   */
  lookbackMs?: number;
  /** Attempts of a rule's job on temporary failures. @defaultValue 8 */
  maxAttempts?: number;
}

/** The rules stored for a portal; none when unset or no longer valid (the tick must not fail for that). */
async function storedRules(settings: { peek(): Promise<Partial<SchedulesSettings>> }): Promise<Rule[]> {
  const parsed = Rules.safeParse((await settings.peek()).rules ?? []);
  return parsed.success ? parsed.data : [];
}

/** `crm.automation.trigger.add` per trigger, in one batch; an existing CODE only gets its name updated. */
async function registerTriggers(b24: B24Client, triggers: Array<{ code: string; name: string }>): Promise<void> {
  if (triggers.length === 0) return;
  const answer = await b24.batch(Object.fromEntries(triggers.map((trigger, index) => [`t${index}`, ['crm.automation.trigger.add', { CODE: trigger.code, NAME: trigger.name }]])), { halt: true });
  const first = Object.values(answer.errors)[0];
  if (first) throw first;
}

export const scheduledRulesPlugin = definePlugin({
  name: 'schedules',
  settings: { schema: SchedulesSettings, secrets: [SECRET_KEY] },
  setup(kit: AppKit<SchedulesSettings, SchedulesJobs>, options: SchedulesOptions = {}) {
    const lookbackMs = options.lookbackMs ?? 300_000;

    kit.route('PUT', SCHEDULES_PATH, putRules, { auth: schedulesAuth });
    kit.route('GET', SCHEDULES_PATH, getRules, { auth: schedulesAuth });

    kit.schedule('schedules.tick', options.tickCron ?? '* * * * *', async (ctx) => {
      const due = dueRules(await storedRules(ctx.settings), ctx.schedule.fireTimeMs, ctx.schedule.timeZone, lookbackMs);
      for (const { rule, slotMs } of due) {
        const { outcome } = await kit.ingest(ctx.portal.memberId, RULE_JOB, slotId(rule.id, slotMs), { ruleId: rule.id, slotMs });
        if (outcome !== 'duplicate') ctx.log.info({ ruleId: rule.id, slot: new Date(slotMs).toISOString(), outcome }, 'schedules: rule due');
      }
      return { due: due.length };
    });

    kit.job(RULE_JOB, async (ctx) => {
      // the rule as it is now: an edit between the tick and the run applies; a removed rule does nothing
      const rule = (await storedRules(ctx.settings)).find((candidate) => candidate.id === ctx.payload.ruleId);
      if (!rule) return { ruleId: ctx.payload.ruleId, skipped: 'the rule was removed' };
      const result = await runRule(ctx.b24, ctx.once, rule, ctx.payload.slotMs, ctx.log);
      ctx.log.info(result, 'schedules: rule ran');
      return result;
    }, options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {});

    kit.job(REGISTER_JOB, async (ctx) => {
      await registerTriggers(ctx.b24, ctx.payload.triggers);
      return { registered: ctx.payload.triggers.length };
    });

    kit.onInstall(async (ctx) => {
      await registerTriggers(ctx.b24, triggersOf(await storedRules(ctx.settings)));
      hintUnlessConfigured(
        ctx,
        (stored) => stored.signingSecret !== undefined,
        `schedules: set the rules' signing secret with \`b24kit settings rotate ${ctx.portal.memberId} schedules.signingSecret --app <app>\`, then PUT the rules to /api/v1/${ctx.portal.memberId}/schedules`,
      );
    });
  },
});
