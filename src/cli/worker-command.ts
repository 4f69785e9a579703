/**
 * `b24kit worker`: runs jobs, and fires schedules unless `--no-scheduler` (the scheduler is safe to
 * run in any number of processes: one job per slot).
 */
import type { Command } from 'commander';
import { serve } from './serve.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Run jobs (and schedules) without a web server')
    .option('--app <module>', 'a module whose default export is the app (createApp())')
    .option('--no-scheduler', 'do not fire schedules or the refresh-token keep-alive in this process')
    .action(async (options: { app?: string; scheduler: boolean }) => {
      await serve({ web: false, worker: true, scheduler: options.scheduler }, options.app ? { app: options.app } : {}, 'worker');
    });
}
