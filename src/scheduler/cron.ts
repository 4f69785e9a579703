/** Cron patterns through croner, compiled once per (pattern, time zone). */
import { Cron } from 'croner';
import { B24Error } from '../errors.js';

export interface CompiledCron {
  pattern: string;
  timeZone: string;
  /** The latest fire time at or before `nowMs`, epoch ms (whole seconds), or undefined. */
  latestAtOrBefore(nowMs: number): number | undefined;
  /** The first fire time strictly after `afterMs`, epoch ms, or undefined. */
  nextAfter(afterMs: number): number | undefined;
}

/** Compiles `pattern` in `timeZone` (IANA); throws B24_ERR_SCHEDULE when either is invalid. */
export function compileCron(pattern: string, timeZone: string): CompiledCron {
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: timeZone, paused: true });
    cron.nextRun(new Date(0)); // an unknown time zone only fails when a date is converted
  } catch (error) {
    throw new B24Error('B24_ERR_SCHEDULE', `Invalid schedule "${pattern}" in time zone "${timeZone}": ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return {
    pattern,
    timeZone,
    // croner includes a run earlier in the reference's own second, so +1 ms makes "at or before now"
    latestAtOrBefore: (nowMs) => cron.previousRuns(1, new Date(nowMs + 1))[0]?.getTime(),
    nextAfter: (afterMs) => cron.nextRun(new Date(afterMs))?.getTime(),
  };
}

/** A small cache: portals share a handful of time zones. */
export class CronCache {
  readonly #compiled = new Map<string, CompiledCron>();

  get(pattern: string, timeZone: string): CompiledCron {
    const key = `${timeZone}\u0000${pattern}`;
    let compiled = this.#compiled.get(key);
    if (!compiled) {
      compiled = compileCron(pattern, timeZone);
      this.#compiled.set(key, compiled);
    }
    return compiled;
  }
}
