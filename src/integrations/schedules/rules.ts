/**
 * A schedule rule: when (a cron in the portal's time zone), which deals (a stage, and how long they
 * have been in it by MOVED_TIME), and what to do to each. The rules of a portal are the plugin's
 * setting `schedules.rules`; `PUT /api/v1/:memberId/schedules` replaces them (route.ts).
 */
import { Cron } from 'croner';
import { z } from 'zod';

/** Rule ids and trigger codes: what `crm.automation.trigger.add` accepts for CODE, and safe in an intake id. */
const CODE = /^[a-zA-Z0-9._-]+$/;

/** True when croner reads `pattern` (5 or 6 fields). The portal's zone is applied when it runs. */
function validCron(pattern: string): boolean {
  try {
    new Cron(pattern, { paused: true, timezone: 'UTC' }).nextRun();
    return true;
  } catch {
    return false;
  }
}

export const RuleAction = z.discriminatedUnion('kind', [
  /** `bizproc.workflow.start` of template `templateId` on the deal (a deal template: DOCUMENT_ID `['crm','CCrmDocumentDeal','DEAL_<id>']`). */
  z.object({ kind: z.literal('startWorkflow'), templateId: z.number().int().positive() }),
  /** `crm.deal.update` with STAGE_ID = `stageId`. */
  z.object({ kind: z.literal('moveStage'), stageId: z.string().min(1).max(50) }),
  /**
   * `crm.automation.trigger.execute` of the app's trigger `code` on the deal; the plugin registers the
   * trigger (`crm.automation.trigger.add`, named `name` or the code) at install and when the rules change.
   */
  z.object({ kind: z.literal('trigger'), code: z.string().min(1).max(50).regex(CODE, 'letters, digits, ".", "-", "_"'), name: z.string().min(1).max(100).optional() }),
  /** `crm.activity.todo.add` on the deal: `title`, due `deadlineHours` after the slot. */
  z.object({ kind: z.literal('todo'), title: z.string().min(1).max(255), deadlineHours: z.number().int().min(0).max(24 * 365) }),
]);
export type RuleAction = z.infer<typeof RuleAction>;

export const Rule = z.object({
  id: z.string().min(1).max(64).regex(CODE, 'letters, digits, ".", "-", "_"'),
  /** When, in the portal's time zone: `0 9 * * 1-5` is every weekday at 09:00 there. */
  cron: z.string().min(9).max(100).refine(validCron, 'not a cron pattern'),
  filter: z.object({
    /** STAGE_ID the deals are in. */
    stageId: z.string().min(1).max(50),
    /** At least this many days in the stage (MOVED_TIME at or before the slot minus the days). @defaultValue 0 */
    olderThanDays: z.number().int().min(0).max(3650).default(0),
  }),
  action: RuleAction,
});
export type Rule = z.infer<typeof Rule>;

export const Rules = z.array(Rule).max(100).superRefine((rules, check) => {
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    if (seen.has(rule.id)) check.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate rule id ${rule.id}` });
    seen.add(rule.id);
  });
});

/** The triggers the rules fire, by code (the last name given wins), for `crm.automation.trigger.add`. */
export function triggersOf(rules: readonly Rule[]): Array<{ code: string; name: string }> {
  const byCode = new Map<string, string>();
  for (const rule of rules) if (rule.action.kind === 'trigger') byCode.set(rule.action.code, rule.action.name ?? rule.action.code);
  return [...byCode].map(([code, name]) => ({ code, name }));
}

/** The plugin's per-portal settings (`schedules.signingSecret`, `schedules.rules`). */
export const SchedulesSettings = z.object({
  /** Signs `PUT`/`GET /api/v1/:memberId/schedules` (HMAC-SHA256, hex, `sha256=` prefix). */
  signingSecret: z.string().min(16),
  /** The portal's rules. @defaultValue [] */
  rules: Rules.default([]),
});
export type SchedulesSettings = z.infer<typeof SchedulesSettings>;
