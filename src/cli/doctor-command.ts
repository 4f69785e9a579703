/**
 * `b24kit doctor`: is this deployment ready? One line per check (✔ ok, ✖ failed with what to fix,
 * – skipped and why), exit code 0 when nothing failed and 1 otherwise; `--json` prints one JSON
 * document instead. The checks are in doctor-checks.ts.
 */
import type { Command } from 'commander';
import { B24Error } from '../errors.js';
import { cliConfig, cliLogger } from './context.js';
import { runDoctor, type CheckResult } from './doctor-checks.js';

const MARKS: Record<CheckResult['status'], string> = { ok: '✔', fail: '✖', skip: '–' };

/** One line per check: `✔ database: …`, `✖ oauth: … — fix: …`. */
export function formatChecks(results: readonly CheckResult[]): string {
  return results.map((result) => `${MARKS[result.status]} ${result.check}: ${result.status === 'skip' ? `skipped (${result.message})` : result.message}${result.fix ? ` — fix: ${result.fix}` : ''}`).join('\n');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("Check this deployment: configuration, database and migrations, the OAuth server, the public app URL, each portal's event bindings; prints what to fix")
    .option('--app <module>', "the app module whose events the portals' bindings are checked against (default: the demo app in demo mode, else the lifecycle events only)")
    .option('--json', 'print one JSON document: { ok, checks: [{ check, portal?, status, message, fix? }] }')
    .action(async (options: { app?: string; json?: boolean }) => {
      // a logger for the app module and the REST client; a bad configuration is the first check's to report
      let logger;
      try {
        logger = cliLogger(cliConfig(), 'error');
      } catch (error) {
        if (!(error instanceof B24Error)) throw error;
        logger = cliLogger({ logLevel: 'error', logFormat: undefined }, 'error');
      }
      const results = await runDoctor({ logger, ...(options.app ? { appPath: options.app } : {}) });
      const ok = results.every((result) => result.status !== 'fail');
      if (options.json) console.log(JSON.stringify({ ok, checks: results }, null, 2));
      else console.log(formatChecks(results));
      if (!ok) process.exitCode = 1;
    });
}
