/** `b24kit web`: the web role only (install, OAuth, event and robot receivers, health, metrics). */
import type { Command } from 'commander';
import { serve } from './serve.js';

export function registerWebCommand(program: Command): void {
  program
    .command('web')
    .description('Run the web server only (events are stored and queued; run `b24kit worker` to process them)')
    .option('--app <module>', 'a module whose default export is the app (createApp())')
    .option('--host <host>', 'address to listen on (default HOST, else 0.0.0.0)')
    .action(async (options: { app?: string; host?: string }) => {
      await serve({ web: true, worker: false, scheduler: false }, options, 'web');
    });
}
