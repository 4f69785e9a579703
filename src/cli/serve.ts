/**
 * What `start`, `web` and `worker` share: load the app, start its roles, and stop gracefully on
 * SIGINT/SIGTERM (no new work; running jobs finish or are released; the store closes) → exit 0.
 */
import type { Roles } from '../app/processes.js';
import { createServerLogger } from '../server/logging.js';
import { loadApp } from './app-loader.js';
import { cliConfig } from './context.js';

export interface ServeOptions {
  app?: string;
  host?: string;
  keepAlive?: string;
}

export async function serve(roles: Roles, options: ServeOptions, command: string): Promise<void> {
  const config = cliConfig();
  const logger = createServerLogger({ level: config.logLevel });
  const app = await loadApp({ logger, ...(options.app ? { appPath: options.app } : {}) });
  if (app.demo && command !== 'start') throw new Error(`demo mode (no B24_CLIENT_ID) runs only with \`b24kit start\`, not \`b24kit ${command}\``);
  await app.start({ ...roles, ...(options.host ? { host: options.host } : {}), ...(options.keepAlive ? { keepAlivePattern: options.keepAlive } : {}) });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => {
        logger.info({}, 'stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
