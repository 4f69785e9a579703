/**
 * Firing slots: in ONE transaction, insert the slot rows (their primary key is the slot) and enqueue
 * their jobs. Any number of scheduler processes may try the same slot; one insert wins, the others
 * change nothing. A slot older than one already fired for the same (schedule, portal) is refused
 * too, so a scheduler whose clock lags cannot fire a slot behind a newer one; on PostgreSQL a
 * transaction-scoped advisory lock per schedule makes that check race-free.
 *
 * A tick fires its slots in batches (`fireSlots`): a few statements per batch of up to 500 portals,
 * not a transaction per portal — a daily schedule fires for every portal in the same tick.
 */
import { B24Error } from '../errors.js';
import type { JobQueue } from '../queue/queue.js';
import { chunkSizes, valuesRows } from '../store/sql.js';
import type { SqlValue, Store } from '../store/types.js';

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

/** Slots fired per transaction. */
export const FIRE_BATCH = 500;

/**
 * Fires `slots` (one schedule's, one slot per portal) in one transaction. Returns, in input order, the
 * id of each slot's job, or undefined when another scheduler fired that slot (or a newer one).
 */
export async function fireSlots(store: Store, queue: JobQueue, slots: readonly SlotToFire[], nowMs: number): Promise<Array<number | undefined>> {
  if (slots.length === 0) return [];
  const schedule = slots[0]!.schedule;
  if (slots.some((slot) => slot.schedule !== schedule)) throw new Error('fireSlots: one schedule per call');
  return store.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      await tx.run(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':${SLOTS_TABLE}:' || ?))`, [schedule]);
    }
    const members = slots.map((slot) => slot.memberId);
    const latest = new Map(
      (
        await tx.all<{ member_id: string; last: number }>(
          `SELECT member_id, MAX(fire_time_ms) AS last FROM ${SLOTS_TABLE} WHERE name = ? AND member_id IN (${members.map(() => '?').join(', ')}) GROUP BY member_id`,
          [schedule, ...members],
        )
      ).map((row) => [row.member_id, Number(row.last)]),
    );
    const firing = slots.filter((slot) => !(slot.fireTimeMs <= (latest.get(slot.memberId) ?? -Infinity)));
    // under the lock no other scheduler inserts this schedule's slots, so every slot left wins: enqueue first, then
    // insert the slots with their jobs' ids (a conflict would mean the lock failed: throw, rolling back the jobs too)
    const jobs = await queue.enqueueMany(
      tx,
      firing.map((slot) => {
        const payload: ScheduledJobPayload = { schedule, fireTimeMs: slot.fireTimeMs, timeZone: slot.timeZone, missedSlots: slot.missedSlots };
        return {
          memberId: slot.memberId,
          name: slot.jobName,
          payload,
          key: `schedule:${schedule}:${slot.fireTimeMs}`,
          runAtMs: nowMs,
          ...(slot.maxAttempts !== undefined ? { maxAttempts: slot.maxAttempts } : {}),
        };
      }),
    );
    const jobIds = new Map(firing.map((slot, index) => [slot.memberId, jobs[index]!.id]));
    let offset = 0;
    for (const size of chunkSizes(tx.dialect, firing.length, FIRE_BATCH)) {
      const chunk = firing.slice(offset, (offset += size));
      const params: SqlValue[] = chunk.flatMap((slot) => [schedule, slot.memberId, slot.fireTimeMs, slot.missedSlots, nowMs, jobIds.get(slot.memberId)!]);
      const inserted = await tx.all<{ member_id: string }>(
        `INSERT INTO ${SLOTS_TABLE} (name, member_id, fire_time_ms, missed_slots, created_at_ms, job_id) VALUES ${valuesRows(size, '(?, ?, ?, ?, ?, ?)')}
         ON CONFLICT (name, member_id, fire_time_ms) DO NOTHING RETURNING member_id`,
        params,
      );
      if (inserted.length !== size) throw new B24Error('B24_ERR_STORE', `Schedule ${schedule}: ${size - inserted.length} slots were fired meanwhile by another scheduler`);
    }
    return slots.map((slot) => jobIds.get(slot.memberId));
  });
}

/** Fires one slot: {@link fireSlots} of one. */
export async function fireSlot(store: Store, queue: JobQueue, slot: SlotToFire, nowMs: number): Promise<number | undefined> {
  return (await fireSlots(store, queue, [slot], nowMs))[0];
}

/** Deletes a portal's fired slots (its uninstall with CLEAN). */
export async function deletePortalSlots(tx: import('../store/types.js').Transaction, memberId: string): Promise<void> {
  await tx.run(`DELETE FROM ${SLOTS_TABLE} WHERE member_id = ?`, [memberId]);
}
