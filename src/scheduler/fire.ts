/**
 * Firing a slot: in ONE transaction, insert the slot row (its primary key is the slot) and enqueue
 * its job. Any number of scheduler processes may try the same slot; one insert wins, the others
 * change nothing. A slot older than one already fired for the same (schedule, portal) is refused
 * too, so a scheduler whose clock lags cannot fire a slot behind a newer one; on PostgreSQL a
 * transaction-scoped advisory lock per (schedule, portal) makes that check race-free.
 */
import type { JobQueue } from '../queue/queue.js';
import type { Store } from '../store/types.js';

export const SLOTS_TABLE = 'b24kit_schedule_slots';

/** What a scheduled job receives as its payload. */
export interface ScheduledJobPayload {
  schedule: string;
  /** The slot, epoch ms. */
  fireTimeMs: number;
  timeZone: string;
  /** Slots missed before this one (catch-up `once`: this job stands for them too). */
  missedSlots: number;
}

export interface SlotToFire {
  schedule: string;
  jobName: string;
  memberId: string;
  fireTimeMs: number;
  timeZone: string;
  missedSlots: number;
  maxAttempts: number | undefined;
}

/** Returns the id of the job enqueued, or undefined when another scheduler fired this slot (or a newer one). */
export async function fireSlot(store: Store, queue: JobQueue, slot: SlotToFire, nowMs: number): Promise<number | undefined> {
  return store.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      await tx.run(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':${SLOTS_TABLE}:' || ? || ':' || ?))`, [slot.schedule, slot.memberId]);
    }
    const newer = await tx.one(`SELECT 1 AS x FROM ${SLOTS_TABLE} WHERE name = ? AND member_id = ? AND fire_time_ms >= ?`, [slot.schedule, slot.memberId, slot.fireTimeMs]);
    if (newer) return undefined;
    const inserted = await tx.all(
      `INSERT INTO ${SLOTS_TABLE} (name, member_id, fire_time_ms, missed_slots, created_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name, member_id, fire_time_ms) DO NOTHING RETURNING name`,
      [slot.schedule, slot.memberId, slot.fireTimeMs, slot.missedSlots, nowMs],
    );
    if (inserted.length === 0) return undefined;
    const payload: ScheduledJobPayload = { schedule: slot.schedule, fireTimeMs: slot.fireTimeMs, timeZone: slot.timeZone, missedSlots: slot.missedSlots };
    const { job } = await queue.enqueue(tx, {
      memberId: slot.memberId,
      name: slot.jobName,
      payload,
      key: `schedule:${slot.schedule}:${slot.fireTimeMs}`,
      runAtMs: nowMs,
      ...(slot.maxAttempts !== undefined ? { maxAttempts: slot.maxAttempts } : {}),
    });
    await tx.run(`UPDATE ${SLOTS_TABLE} SET job_id = ? WHERE name = ? AND member_id = ? AND fire_time_ms = ?`, [job.id, slot.schedule, slot.memberId, slot.fireTimeMs]);
    return job.id;
  });
}

/** Deletes a portal's fired slots (its uninstall with CLEAN). */
export async function deletePortalSlots(tx: import('../store/types.js').Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${SLOTS_TABLE} WHERE member_id = ?`, [memberId]);
}
