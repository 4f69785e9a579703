/**
 * `b24kit start`: web + worker + scheduler in one process. Without B24_CLIENT_ID: demo mode
 * against an in-process emulator, with the sample app unless `--app` names one.
 */
import type { Command } from 'commander';
import { serve } from './serve.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Run the app: web server (PORT, default 3000), worker and scheduler; demo mode with a built-in emulator when B24_CLIENT_ID is unset')
    .option('--app <module>', 'a module whose default export is the app (createApp()); default: the demo app in demo mode, else no handlers')
    .option('--host <host>', 'address to listen on (default HOST, else 127.0.0.1 in demo mode and 0.0.0.0 otherwise)')
    .option('--keep-alive <cron>', "cron pattern of the refresh-token keep-alive (default: the app's keepAlivePattern, else '17 * * * *')")
    .addHelpText(
      'after',
      '\nEnvironment: B24_CLIENT_ID, B24_CLIENT_SECRET, B24_APP_URL, B24_OAUTH_URL, DATABASE_URL, B24KIT_SECRET_KEY, PORT, LOG_LEVEL',
    )
    .action(async (options: { app?: string; host?: string; keepAlive?: string }) => {
      await serve({ web: true, worker: true, scheduler: true }, options, 'start');
    });
}
