/**
 * The scheduler: cron schedules evaluated per portal, in the portal's time zone when known. Each
 * tick computes, for every (schedule, portal), the slot due now (slots.ts) and fires it (fire.ts):
 * one job per slot across all scheduler processes. `tick(nowMs)` takes the clock as an argument,
 * so tests drive it without timers.
 */
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { JobQueue } from '../queue/queue.js';
import type { Store } from '../store/types.js';
import { CronCache, compileCron, type CompiledCron } from './cron.js';
import { FIRE_BATCH, fireSlots, SLOTS_TABLE, type SlotToFire } from './fire.js';
import { dueSlot, type CatchUpPolicy } from './slots.js';

export interface ScheduleOptions {
  /**
   * IANA time zone for every portal (e.g. `Europe/Berlin`). When omitted, each portal's own time
   * zone, or the scheduler's `defaultTimeZone` when the portal's is unknown.
   */
  tz?: string;
  /** What to do with slots missed while no scheduler ran (see slots.ts). @defaultValue 'skip' */
  catchUp?: CatchUpPolicy;
  /** How late a slot may still fire under `skip` (and on a schedule's first tick), in ms. @defaultValue 60000 */
  graceMs?: number;
  /** The job type enqueued for each slot. @defaultValue the schedule's name */
  jobName?: string;
  /** maxAttempts of the enqueued jobs. @defaultValue the job type's */
  maxAttempts?: number;
}

export interface SchedulePortal {
  memberId: string;
  /** IANA time zone of the portal, when known. */
  timeZone?: string | null;
}

export interface SchedulerOptions {
  store: Store;
  queue: JobQueue;
  /** The portals to schedule for (the active ones), asked on every tick. */
  portals: () => Promise<readonly SchedulePortal[]> | readonly SchedulePortal[];
  /** @defaultValue 'UTC' */
  defaultTimeZone?: string;
  /** Period of the ticks `start()` runs, in ms. @defaultValue 10000 */
  intervalMs?: number;
  /** @defaultValue Date.now */
  nowMs?: () => number;
  logger?: Logger;
}

export interface FiredSlot {
  schedule: string;
  memberId: string;
  fireTimeMs: number;
  missedSlots: number;
  jobId: number;
}

export interface TickReport {
  nowMs: number;
  fired: FiredSlot[];
  /** Slots another scheduler fired first. */
  lost: number;
  /** (schedule, portal) pairs that failed (bad time zone, store error); logged. */
  errors: number;
}

interface Definition {
  name: string;
  pattern: string;
  tz: string | undefined;
  catchUp: CatchUpPolicy;
  graceMs: number;
  jobName: string;
  maxAttempts: number | undefined;
}

export class Scheduler {
  readonly #store: Store;
  readonly #queue: JobQueue;
  readonly #portals: SchedulerOptions['portals'];
  readonly #defaultTimeZone: string;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  readonly #logger: Logger;
  readonly #definitions = new Map<string, Definition>();
  readonly #crons = new CronCache();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<unknown> | undefined;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#portals = options.portals;
    this.#defaultTimeZone = options.defaultTimeZone ?? 'UTC';
    this.#intervalMs = Math.max(100, options.intervalMs ?? 10_000);
    this.#nowMs = options.nowMs ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    compileCron('* * * * *', this.#defaultTimeZone);
  }

  /** Declares a schedule. Throws B24_ERR_SCHEDULE for an invalid pattern or time zone. */
  schedule(name: string, cron: string, options: ScheduleOptions = {}): this {
    compileCron(cron, options.tz ?? this.#defaultTimeZone);
    this.#definitions.set(name, {
      name,
      pattern: cron,
      tz: options.tz,
      catchUp: options.catchUp ?? 'skip',
      graceMs: Math.max(0, options.graceMs ?? 60_000),
      jobName: options.jobName ?? name,
      maxAttempts: options.maxAttempts,
    });
    return this;
  }

  /** Fires every slot due at `nowMs` for every schedule and portal. */
  async tick(nowMs: number = this.#nowMs()): Promise<TickReport> {
    const report: TickReport = { nowMs, fired: [], lost: 0, errors: 0 };
    const definitions = [...this.#definitions.values()];
    if (definitions.length === 0) return report;
    const portals = await this.#portals();
    const last = await this.#lastFired(definitions.map((d) => d.name));
    for (const definition of definitions) {
      // portals share a handful of time zones: each zone's latest slot is computed once per tick
      const latest = new Map<CompiledCron, number | undefined>();
      const due: SlotToFire[] = [];
      for (const portal of portals) {
        const timeZone = definition.tz ?? portal.timeZone ?? this.#defaultTimeZone;
        try {
          const lastFiredMs = last.get(`${definition.name}\u0000${portal.memberId}`);
          const cron = this.#crons.get(definition.pattern, timeZone);
          if (!latest.has(cron)) latest.set(cron, cron.latestAtOrBefore(nowMs));
          const slot = dueSlot({ cron: { ...cron, latestAtOrBefore: () => latest.get(cron) }, nowMs, lastFiredMs, catchUp: definition.catchUp, graceMs: definition.graceMs });
          if (slot) due.push({ schedule: definition.name, jobName: definition.jobName, memberId: portal.memberId, timeZone, maxAttempts: definition.maxAttempts, ...slot });
        } catch (error) {
          report.errors += 1;
          this.#logger.error({ schedule: definition.name, memberId: portal.memberId, timeZone, err: error }, 'schedule tick failed');
        }
      }
      for (let offset = 0; offset < due.length; offset += FIRE_BATCH) {
        const batch = due.slice(offset, offset + FIRE_BATCH);
        try {
          const jobIds = await fireSlots(this.#store, this.#queue, batch, nowMs);
          batch.forEach((slot, index) => {
            const jobId = jobIds[index];
            if (jobId === undefined) return void (report.lost += 1);
            report.fired.push({ schedule: definition.name, memberId: slot.memberId, jobId, fireTimeMs: slot.fireTimeMs, missedSlots: slot.missedSlots });
            this.#logger.info({ schedule: definition.name, memberId: slot.memberId, fireTimeMs: slot.fireTimeMs, missedSlots: slot.missedSlots, jobId }, 'schedule fired');
          });
        } catch (error) {
          report.errors += batch.length;
          this.#logger.error({ schedule: definition.name, portals: batch.length, err: error }, 'schedule tick failed');
        }
      }
    }
    return report;
  }

  /** Ticks every `intervalMs` (never two ticks at once) until `stop()`. */
  start(): void {
    if (this.#timer) return;
    const run = (): void => {
      if (this.#ticking) return;
      this.#ticking = this.tick()
        .catch((error: unknown) => this.#logger.error({ err: error }, 'scheduler tick failed'))
        .finally(() => (this.#ticking = undefined));
    };
    this.#timer = setInterval(run, this.#intervalMs);
    run();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  /** Deletes fired slots older than `olderThanMs`, keeping the latest of each (schedule, portal). Returns how many. */
  async pruneSlots(olderThanMs: number): Promise<number> {
    const result = await this.#store.run(
      `DELETE FROM ${SLOTS_TABLE} WHERE fire_time_ms < ?
       AND fire_time_ms < (SELECT MAX(s.fire_time_ms) FROM ${SLOTS_TABLE} s WHERE s.name = ${SLOTS_TABLE}.name AND s.member_id = ${SLOTS_TABLE}.member_id)`,
      [olderThanMs],
    );
    return result.rowCount;
  }

  async #lastFired(names: string[]): Promise<Map<string, number>> {
    const rows = await this.#store.all<{ name: string; member_id: string; last: number }>(
      `SELECT name, member_id, MAX(fire_time_ms) AS last FROM ${SLOTS_TABLE} WHERE name IN (${names.map(() => '?').join(', ')}) GROUP BY name, member_id`,
      names,
    );
    return new Map(rows.map((row) => [`${row.name}\u0000${row.member_id}`, Number(row.last)]));
  }
}
