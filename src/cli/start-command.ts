/**
 * `b24kit start`: the web server (install, OAuth, lifecycle events) and the refresh-token
 * keep-alive. Without B24_CLIENT_ID: demo mode against an in-process emulator. SIGINT/SIGTERM
 * close everything and exit 0.
 */
import type { Command } from 'commander';
import { startApp } from '../runtime/start.js';
import { createServerLogger } from '../server/logging.js';
import { cliConfig } from './context.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Run the app: web server (PORT, default 3000) and keep-alive; demo mode with a built-in emulator when B24_CLIENT_ID is unset')
    .option('--host <host>', 'address to listen on (default 127.0.0.1 in demo mode, 0.0.0.0 otherwise)')
    .option('--keep-alive <cron>', 'cron pattern of the refresh-token keep-alive', '17 * * * *')
    .addHelpText(
      'after',
      '\nEnvironment: B24_CLIENT_ID, B24_CLIENT_SECRET, B24_APP_URL, B24_OAUTH_URL, DATABASE_URL, B24KIT_SECRET_KEY, PORT, LOG_LEVEL',
    )
    .action(async (options: { host?: string; keepAlive: string }) => {
      const config = cliConfig();
      const logger = createServerLogger({ level: config.logLevel });
      const app = await startApp({ config, logger, keepAlivePattern: options.keepAlive, ...(options.host ? { host: options.host } : {}) });
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        app.close().then(
          () => {
            logger.info({}, 'stopped');
            logger.flush();
            process.exit(0);
          },
          (error: unknown) => {
            logger.error({ err: String(error) }, 'shutdown failed');
            logger.flush();
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
