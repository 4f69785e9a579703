/**
 * Which rules are due at a tick. Policy in one pure function: a rule is due at its latest fire
 * time at or before the tick, when that time is less than `lookbackMs` before the tick; a tick
 * missed (the scheduler down for a minute) is covered by the next, and the slot's intake id
 * (`rule:slot`) makes the ticks that see the same slot act once.
 */
import { Cron } from 'croner';
import type { Rule } from './rules.js';

export interface DueRule {
  rule: Rule;
  /** The rule's fire time this tick stands for, epoch ms. */
  slotMs: number;
}

export function dueRules(rules: readonly Rule[], tickMs: number, timeZone: string, lookbackMs: number): DueRule[] {
  const due: DueRule[] = [];
  for (const rule of rules) {
    // croner counts a run in the reference's own second as before it: +1 ms makes "at or before"
    const slot = new Cron(rule.cron, { timezone: timeZone, paused: true }).previousRuns(1, new Date(tickMs + 1))[0]?.getTime();
    if (slot !== undefined && slot > tickMs - lookbackMs) due.push({ rule, slotMs: slot });
  }
  return due;
}

/** The intake id of a rule's slot: one job per (portal, rule, slot), however many ticks see it. */
export function slotId(ruleId: string, slotMs: number): string {
  return `${ruleId}:${new Date(slotMs).toISOString()}`;
}
