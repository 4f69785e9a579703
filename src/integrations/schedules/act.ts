/**
 * The job `schedules.rule`: one rule, one slot. It lists the deals the rule matches at the slot
 * (`crm.deal.list` through the client's `list`: ID pages chained in batches), remembers that list
 * (`ctx.once('deals')`), and acts on them 50 to a `batch` request, each chunk behind its own
 * `ctx.once`: a retried or replayed job gets the list it had and skips the chunks it did, so a deal
 * is acted on once per rule and slot. A chunk whose request failed on the way (a timeout: the
 * portal may have run it) is sent again when the job is retried — the one at-least-once window.
 * A command the portal refused (a deal deleted meanwhile, a template of another type) is counted
 * and logged with its message, not retried: the other deals of the slot go on.
 */
import type { B24Client, BatchCommand, Json } from '../../index.js';
import type { Rule } from './rules.js';

/** How many deals one `batch` request acts on: the protocol's most commands per batch. */
export const CHUNK = 50;
const DAY_MS = 86_400_000;

export interface RuleRunResult {
  ruleId: string;
  slot: string;
  matched: number;
  acted: number;
  failed: number;
  [key: string]: string | number;
}

/** `ctx.once` of the job. */
type Once = <T extends Json | void>(key: string, fn: () => Promise<T> | T) => Promise<T>;

/** The deals a rule matches at a slot: in the stage, moved into it at least `olderThanDays` before the slot. */
export async function matchingDeals(b24: B24Client, rule: Rule, slotMs: number): Promise<number[]> {
  const movedBefore = new Date(slotMs - rule.filter.olderThanDays * DAY_MS).toISOString();
  const ids: number[] = [];
  for await (const deal of b24.list<{ ID: string }>('crm.deal.list', { filter: { STAGE_ID: rule.filter.stageId, '<=MOVED_TIME': movedBefore }, select: ['ID'] })) {
    ids.push(Number(deal.ID));
  }
  return ids;
}

/** The command that applies a rule's action to one deal. */
export function commandFor(rule: Rule, dealId: number, slotMs: number): BatchCommand {
  const action = rule.action;
  switch (action.kind) {
    case 'startWorkflow':
      return ['bizproc.workflow.start', { TEMPLATE_ID: action.templateId, DOCUMENT_ID: ['crm', 'CCrmDocumentDeal', `DEAL_${dealId}`] }];
    case 'moveStage':
      return ['crm.deal.update', { id: dealId, fields: { STAGE_ID: action.stageId } }];
    case 'trigger':
      return ['crm.automation.trigger.execute', { CODE: action.code, OWNER_TYPE_ID: 2, OWNER_ID: dealId }];
    case 'todo':
      return ['crm.activity.todo.add', { ownerTypeId: 2, ownerId: dealId, title: action.title, deadline: new Date(slotMs + action.deadlineHours * 3_600_000).toISOString() }];
  }
}

export async function runRule(
  b24: B24Client,
  once: Once,
  rule: Rule,
  slotMs: number,
  log: { warn(obj: object, msg: string): void },
): Promise<RuleRunResult> {
  const deals = await once('deals', () => matchingDeals(b24, rule, slotMs));
  let acted = 0;
  let failed = 0;
  for (let start = 0; start < deals.length; start += CHUNK) {
    const chunk = deals.slice(start, start + CHUNK);
    const done = await once(`chunk:${start}`, async () => {
      const commands: Record<string, BatchCommand> = {};
      for (const id of chunk) commands[`d${id}`] = commandFor(rule, id, slotMs);
      const answer = await b24.batch(commands);
      const errors = Object.entries(answer.errors);
      for (const [key, error] of errors) log.warn({ err: error, ruleId: rule.id, dealId: Number(key.slice(1)) }, 'schedules: the portal refused the action on a deal');
      return { acted: chunk.length - errors.length, failed: errors.length };
    });
    acted += done.acted;
    failed += done.failed;
  }
  return { ruleId: rule.id, slot: new Date(slotMs).toISOString(), matched: deals.length, acted, failed };
}
