import { Command } from 'commander';
import { registerEmulatorCommand } from './emulator-command.js';

/** Builds the `b24kit` command line. Each command lives in a file of its own. */
export function buildCli(): Command {
  const program = new Command();
  program
    .name('b24kit')
    .description('Bitrix24 server applications: run the app, its workers and the Bitrix24 emulator')
    .showHelpAfterError();
  registerEmulatorCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildCli().parseAsync(argv);
}
