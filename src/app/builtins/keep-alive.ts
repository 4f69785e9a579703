/**
 * Built-in plugin `b24kit.keep-alive`: runs the refresh-token keep-alive (oauth/keep-alive.ts) on a
 * schedule in processes with the scheduler role, through the public `ctx.portals.refreshIdle`. Hourly
 * by default: the keep-alive itself only refreshes portals idle for 7 days, so an hourly check
 * costs one indexed query, and a portal never goes more than ~7 days and an hour without a refresh.
 * `protect` skips a firing while the previous run is still going.
 */
import { Cron } from 'croner';
import type { Logger } from '../../log/logger.js';
import { refreshIdlePortals, type KeepAliveOptions, type KeepAliveReport } from '../../oauth/keep-alive.js';
import { defineBuiltinPlugin } from '../plugin.js';

export const keepAlivePlugin = defineBuiltinPlugin({
  name: 'b24kit.keep-alive',
  setup(kit, options: { pattern: () => string | undefined }) {
    kit.service('scheduler', (ctx) => {
      const pattern = options.pattern();
      const schedule = scheduleRefresh(() => ctx.portals.refreshIdle(), { logger: ctx.log, ...(pattern ? { pattern } : {}) });
      return () => schedule.stop();
    });
  },
});

export interface KeepAliveScheduleOptions extends KeepAliveOptions {
  /** Cron pattern. @defaultValue '17 * * * *' (hourly, off the full hour) */
  pattern?: string;
  logger: Logger;
  /** Also run once right away. @defaultValue false */
  runAtStart?: boolean;
}

export interface KeepAliveSchedule {
  /** Runs the keep-alive now (what each firing does). */
  runNow(): Promise<KeepAliveReport | undefined>;
  /** The next firing, if scheduled. */
  nextRunAt(): Date | null;
  stop(): void;
}

export function scheduleKeepAlive(options: KeepAliveScheduleOptions): KeepAliveSchedule {
  const { pattern, logger, runAtStart, ...keepAlive } = options;
  return scheduleRefresh(() => refreshIdlePortals(keepAlive), { logger, ...(pattern ? { pattern } : {}), ...(runAtStart ? { runAtStart } : {}) });
}

function scheduleRefresh(refresh: () => Promise<KeepAliveReport>, options: { pattern?: string; logger: Logger; runAtStart?: boolean }): KeepAliveSchedule {
  const { pattern = '17 * * * *', logger, runAtStart = false } = options;
  const run = async (): Promise<KeepAliveReport | undefined> => {
    try {
      const report = await refresh();
      const level = report.failed.length > 0 || report.needsReauth.length > 0 ? 'warn' : report.idle > 0 ? 'info' : 'debug';
      logger[level](
        { idle: report.idle, refreshed: report.refreshed.length, needsReauth: report.needsReauth, failed: report.failed },
        'keep-alive: refreshed idle portals',
      );
      return report;
    } catch (error) {
      logger.error({ err: error }, 'keep-alive run failed');
      return undefined;
    }
  };
  // unnamed: croner's names are process-wide, and each app with the scheduler role runs its own
  const job = new Cron(pattern, { protect: true, unref: true }, async () => {
    await run();
  });
  if (runAtStart) void run();
  return { runNow: run, nextRunAt: () => job.nextRun(), stop: () => job.stop() };
}
