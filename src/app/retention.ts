/**
 * Retention: without it the jobs, the event inbox and the schedule slots grow forever. The
 * scheduler role runs `purgeExpired` on a cron (`retention.cron`, hourly by default):
 *
 * - succeeded jobs after `succeededJobsDays` (7), dead jobs after `deadJobsDays` (30: they are for
 *   humans to inspect and replay, so they stay longer), counted from `finished_at_ms`; queued and
 *   running jobs are never touched. The `ctx.once` memos of a deleted job go with it.
 * - inbox rows after `inboxDays` (7), counted from `received_at_ms`. The inbox row is what makes a
 *   repeated delivery a duplicate (the job's idempotency key helps only while the job row exists),
 *   so the window must cover the longest time a copy can arrive late — e.g. an offline record that
 *   was recorded but whose `event.offline.clear` failed comes back when its reservation is
 *   recovered, which may be days later if the portal was unreachable or needed re-authorization.
 * - schedule slots after `scheduleSlotsDays` (7), always keeping the latest slot of each
 *   (schedule, portal): it is what tells the scheduler which slot fired last.
 *
 * Deletes run in batches of `batchSize` rows (`DELETE … WHERE key IN (SELECT key … LIMIT n)`,
 * portable on SQLite and PostgreSQL), each its own short statement/transaction, yielding between
 * batches: a huge backlog never holds SQLite's write lock for long.
 *
 * Once per fire time across processes: the run claims a row in the slots table (`b24kit:retention`,
 * member_id '') as fire.ts does for schedules; the process whose insert wins runs the purge. Runs
 * overlapping anyway (clock skew firing different slots, a run still going at the next slot) are
 * harmless: every statement is an idempotent delete of rows already past their window.
 */
import { B24Error } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { INBOX_TABLE } from '../events/inbox.js';
import { JOBS_TABLE } from '../queue/job-row.js';
import { compileCron, type CompiledCron } from '../scheduler/cron.js';
import { SLOTS_TABLE } from '../scheduler/fire.js';
import type { Store } from '../store/types.js';
import { ONCE_TABLE } from './once.js';
import type { RetentionConfig } from './settings.js';

export const DAY_MS = 86_400_000;
/** The slot name of the retention run (the `b24kit:` prefix is refused in user schedule names). */
export const RETENTION_SLOT = 'b24kit:retention';

export const DEFAULT_RETENTION = {
  succeededJobsDays: 7,
  deadJobsDays: 30,
  inboxDays: 7,
  scheduleSlotsDays: 7,
  // hourly, off the full hour and off the keep-alive's minute 17
  cron: '37 * * * *',
  batchSize: 1000,
} as const;

export interface ResolvedRetention {
  succeededJobsDays: number;
  deadJobsDays: number;
  inboxDays: number;
  scheduleSlotsDays: number;
  cron: string | false;
  batchSize: number;
}

export interface RetentionReport {
  succeededJobs: number;
  deadJobs: number;
  inbox: number;
  scheduleSlots: number;
  /** Statements run (batches). */
  batches: number;
}

/**
 * Defaults filled in. Throws B24_ERR_CONFIG for a window that is not a positive number of days, a
 * batch size outside 1..10000, or a cron that does not compile: all are mistakes in the app's
 * configuration, refused when the app starts (not the B24_ERR_SCHEDULE of a user schedule).
 */
export function resolveRetention(config: RetentionConfig = {}): ResolvedRetention {
  const resolved: ResolvedRetention = { ...DEFAULT_RETENTION, ...stripUndefined(config) };
  for (const key of ['succeededJobsDays', 'deadJobsDays', 'inboxDays', 'scheduleSlotsDays'] as const) {
    const days = resolved[key];
    if (typeof days !== 'number' || Number.isNaN(days) || days <= 0) throw new B24Error('B24_ERR_CONFIG', `retention.${key} must be a positive number of days (Infinity keeps forever), got ${String(days)}`);
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1 || resolved.batchSize > 10_000) {
    throw new B24Error('B24_ERR_CONFIG', `retention.batchSize must be an integer in 1..10000, got ${String(resolved.batchSize)}`);
  }
  if (resolved.cron !== false) {
    try {
      compileCron(resolved.cron, 'UTC');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new B24Error('B24_ERR_CONFIG', `retention.cron must be a cron pattern (UTC) or false: ${reason}`, { cause: error });
    }
  }
  return resolved;
}

function stripUndefined(config: RetentionConfig): Partial<ResolvedRetention> {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)) as Partial<ResolvedRetention>;
}

/** The instant before which rows of a `days` window are expired; undefined for Infinity (keep forever). */
function cutoff(nowMs: number, days: number): number | undefined {
  return Number.isFinite(days) ? nowMs - Math.round(days * DAY_MS) : undefined;
}

export interface PurgeOptions {
  nowMs: number;
  /** Checked between batches: a stopping process ends the run early (the next run continues). */
  shouldStop?: () => boolean;
}

/** Deletes everything past its window (see the file comment), in batches. Idempotent. */
export async function purgeExpired(store: Store, retention: ResolvedRetention, options: PurgeOptions): Promise<RetentionReport> {
  const report: RetentionReport = { succeededJobs: 0, deadJobs: 0, inbox: 0, scheduleSlots: 0, batches: 0 };
  const n = retention.batchSize;
  const loop = async (batch: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      if (options.shouldStop?.()) return total;
      const deleted = await batch();
      report.batches += 1;
      total += deleted;
      if (deleted < n) return total;
      // let other writers (another process, this one's receiver) take the lock between batches
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const jobs = (state: 'succeeded' | 'dead', beforeMs: number) => () =>
    store.transaction(async (tx) => {
      // the state and time are checked again on the row itself: a dead job replayed meanwhile stays (PostgreSQL rechecks after a row lock)
      const rows = await tx.all<{ id: number }>(
        `DELETE FROM ${JOBS_TABLE} WHERE id IN (SELECT id FROM ${JOBS_TABLE} WHERE state = ? AND finished_at_ms < ? LIMIT ${n})
         AND state = ? AND finished_at_ms < ? RETURNING id`,
        [state, beforeMs, state, beforeMs],
      );
      if (rows.length > 0) await tx.run(`DELETE FROM ${ONCE_TABLE} WHERE job_id IN (${rows.map(() => '?').join(', ')})`, rows.map((row) => row.id));
      return rows.length;
    });
  const succeededBefore = cutoff(options.nowMs, retention.succeededJobsDays);
  if (succeededBefore !== undefined) report.succeededJobs = await loop(jobs('succeeded', succeededBefore));
  const deadBefore = cutoff(options.nowMs, retention.deadJobsDays);
  if (deadBefore !== undefined) report.deadJobs = await loop(jobs('dead', deadBefore));
  const inboxBefore = cutoff(options.nowMs, retention.inboxDays);
  if (inboxBefore !== undefined) {
    report.inbox = await loop(
      async () =>
        (
          await store.run(
            `DELETE FROM ${INBOX_TABLE} WHERE (member_id, dedupe_key) IN (SELECT member_id, dedupe_key FROM ${INBOX_TABLE} WHERE received_at_ms < ? LIMIT ${n})
             AND received_at_ms < ?`,
            [inboxBefore, inboxBefore],
          )
        ).rowCount,
    );
  }
  const slotsBefore = cutoff(options.nowMs, retention.scheduleSlotsDays);
  if (slotsBefore !== undefined) {
    // the latest slot of each (schedule, portal) stays: the scheduler reads it (scheduler.ts #lastFired)
    report.scheduleSlots = await loop(
      async () =>
        (
          await store.run(
            `DELETE FROM ${SLOTS_TABLE} WHERE (name, member_id, fire_time_ms) IN (
               SELECT s.name, s.member_id, s.fire_time_ms FROM ${SLOTS_TABLE} s WHERE s.fire_time_ms < ?
               AND s.fire_time_ms < (SELECT MAX(l.fire_time_ms) FROM ${SLOTS_TABLE} l WHERE l.name = s.name AND l.member_id = s.member_id)
               LIMIT ${n})`,
            [slotsBefore],
          )
        ).rowCount,
    );
  }
  return report;
}

/**
 * Claims the retention run of `fireTimeMs` for this process: true for exactly one of any number of
 * processes trying the same fire time, false as well when a later fire time was already claimed.
 */
export async function claimRetentionRun(store: Store, fireTimeMs: number, nowMs: number): Promise<boolean> {
  const rows = await store.all(
    `INSERT INTO ${SLOTS_TABLE} (name, member_id, fire_time_ms, missed_slots, created_at_ms)
     SELECT ?, '', ?, 0, ? WHERE NOT EXISTS (SELECT 1 FROM ${SLOTS_TABLE} WHERE name = ? AND member_id = '' AND fire_time_ms >= ?)
     ON CONFLICT (name, member_id, fire_time_ms) DO NOTHING RETURNING name`,
    [RETENTION_SLOT, fireTimeMs, nowMs, RETENTION_SLOT, fireTimeMs],
  );
  return rows.length > 0;
}

export interface RetentionRunnerOptions {
  store: Store;
  retention: ResolvedRetention;
  /** Period of the checks `start()` runs, in ms (the scheduler's tick). @defaultValue 10000 */
  intervalMs?: number;
  /** @defaultValue Date.now */
  nowMs?: () => number;
  logger?: Logger;
}

/**
 * Runs `purgeExpired` once per fire time of `retention.cron` (UTC) across processes. The latest
 * fire time at or before now runs if no process ran it (nor a later one) — so a slot missed while
 * no scheduler ran is made up at the next start.
 */
export class RetentionRunner {
  readonly #store: Store;
  readonly #retention: ResolvedRetention;
  readonly #cron: CompiledCron | undefined;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  readonly #logger: Logger;
  /** The latest fire time this process already handled (claimed or lost): no query per tick. */
  #handledMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopping = false;

  constructor(options: RetentionRunnerOptions) {
    this.#store = options.store;
    this.#retention = options.retention;
    this.#cron = options.retention.cron === false ? undefined : compileCron(options.retention.cron, 'UTC');
    this.#intervalMs = Math.max(100, options.intervalMs ?? 10_000);
    this.#nowMs = options.nowMs ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Runs the purge if the fire time due at `nowMs` is this process's to run. Returns its report, or undefined. */
  async tick(nowMs: number = this.#nowMs()): Promise<RetentionReport | undefined> {
    const fireTimeMs = this.#cron?.latestAtOrBefore(nowMs);
    if (fireTimeMs === undefined || fireTimeMs <= this.#handledMs) return undefined;
    const won = await claimRetentionRun(this.#store, fireTimeMs, nowMs);
    this.#handledMs = fireTimeMs;
    if (!won) return undefined;
    const started = Date.now();
    const report = await purgeExpired(this.#store, this.#retention, { nowMs, shouldStop: () => this.#stopping });
    const deleted = report.succeededJobs + report.deadJobs + report.inbox + report.scheduleSlots;
    this.#logger[deleted > 0 ? 'info' : 'debug']({ ...report, fireTimeMs, ms: Date.now() - started }, 'retention: purged expired rows');
    return report;
  }

  /** Checks every `intervalMs` (never two runs at once) until `stop()`. */
  start(): void {
    if (this.#timer || !this.#cron) return;
    this.#stopping = false;
    const run = (): void => {
      if (this.#running) return;
      this.#running = this.tick()
        .catch((error: unknown) => this.#logger.error({ err: error }, 'retention run failed'))
        .finally(() => (this.#running = undefined));
    };
    this.#timer = setInterval(run, this.#intervalMs);
    this.#timer.unref();
    run();
  }

  /** Stops the timer; a run in progress stops after its current batch. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopping = true;
    await this.#running;
  }
}
