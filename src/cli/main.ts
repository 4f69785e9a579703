import { Command } from 'commander';
import { describeError } from './context.js';
import { registerEmulatorCommand } from './emulator-command.js';
import { registerStartCommand } from './start-command.js';
import { registerMigrateCommand } from './migrate-command.js';
import { registerPortalsCommand } from './portals-command.js';
import { registerCallCommand } from './call-command.js';
import { registerWebCommand } from './web-command.js';
import { registerWorkerCommand } from './worker-command.js';
import { registerJobsCommand } from './jobs-command.js';
import { registerSettingsCommand } from './settings-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerSyncCommand } from './sync-command.js';

/** Builds the `b24kit` command line. Each command lives in a file of its own. */
function buildCli(): Command {
  const program = new Command();
  program
    .name('b24kit')
    .description('Bitrix24 server applications: run the app, its workers and the Bitrix24 emulator')
    .showHelpAfterError();
  registerStartCommand(program);
  registerWebCommand(program);
  registerWorkerCommand(program);
  registerJobsCommand(program);
  registerMigrateCommand(program);
  registerPortalsCommand(program);
  registerSettingsCommand(program);
  registerCallCommand(program);
  registerEmulatorCommand(program);
  registerDoctorCommand(program);
  registerSyncCommand(program);
  return program;
}

/**
 * Parses `argv` and runs the command. Usage errors exit through commander (code 1); a command
 * that fails (a port already in use, say) prints one line and sets exit code 1, not a stack trace.
 * A B24Error's stable code leads the line, so scripts can tell failures apart.
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    console.error(`b24kit: ${describeError(error)}`);
    process.exitCode = 1;
  }
}
