/**
 * Which slot a tick fires — a pure function of the schedule, the last slot fired and the clock.
 *
 * - `skip`: the latest slot at or before now fires if it is newer than the last one fired and at
 *   most `graceMs` old; older missed slots are dropped.
 * - `once`: the latest slot at or before now fires if it is newer than the last one fired, however
 *   old, standing for every slot missed since (their number travels in the job's payload).
 * - A schedule never fired for a portal (new portal, new schedule, empty store) has no past to
 *   catch up: under both policies its latest slot fires only if at most `graceMs` old.
 */
import type { CompiledCron } from './cron.js';

export type CatchUpPolicy = 'skip' | 'once';

export interface SlotDecision {
  /** The slot to fire, epoch ms. */
  fireTimeMs: number;
  /** Slots after the last fired one and before this one that will never fire on their own (capped at maxCount). */
  missedSlots: number;
}

export interface DueSlotInput {
  cron: CompiledCron;
  nowMs: number;
  /** The latest slot already fired for this (schedule, portal), epoch ms. */
  lastFiredMs: number | undefined;
  catchUp: CatchUpPolicy;
  graceMs: number;
  /** Stop counting missed slots here. @defaultValue 10000 */
  maxCount?: number;
}

export function dueSlot(input: DueSlotInput): SlotDecision | undefined {
  const latest = input.cron.latestAtOrBefore(input.nowMs);
  if (latest === undefined) return undefined;
  if (input.lastFiredMs !== undefined && latest <= input.lastFiredMs) return undefined;
  const late = input.nowMs - latest;
  if ((input.catchUp === 'skip' || input.lastFiredMs === undefined) && late > input.graceMs) return undefined;
  return { fireTimeMs: latest, missedSlots: input.lastFiredMs === undefined ? 0 : countBetween(input.cron, input.lastFiredMs, latest, input.maxCount ?? 10_000) };
}

/** Fire times strictly between `afterMs` and `beforeMs`, counted up to `max`. */
function countBetween(cron: CompiledCron, afterMs: number, beforeMs: number, max: number): number {
  let count = 0;
  for (let t = cron.nextAfter(afterMs); t !== undefined && t < beforeMs && count < max; t = cron.nextAfter(t)) count += 1;
  return count;
}
