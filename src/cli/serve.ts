/**
 * What `start`, `web` and `worker` share: load the app, start its roles, and stop gracefully on
 * SIGINT/SIGTERM (no new work; running jobs finish or are released; the store closes) → exit 0.
 */
import type { Roles } from '../app/processes.js';
import { logDestination } from '../log/format.js';
import { createServerLogger } from '../server/logging.js';
import { loadApp } from './app-loader.js';
import { cliConfig } from './context.js';
import { STORE_WAIT_MS, waitForStore, whileStoreUnavailable } from './wait-for-store.js';
import { appInternals } from '../app/internals.js';

export interface ServeOptions {
  app?: string;
  host?: string;
  keepAlive?: string;
}

export async function serve(roles: Roles, options: ServeOptions, command: string): Promise<void> {
  const config = cliConfig();
  const logger = createServerLogger({ level: config.logLevel, destination: logDestination(config.logFormat, process.stdout) });
  const app = await loadApp({ logger, ...(options.app ? { appPath: options.app } : {}) });
  if (app.demo && command !== 'start') throw new Error(`demo mode (no B24_CLIENT_ID) runs only with \`b24kit start\`, not \`b24kit ${command}\``);
  // an app given a store of its own opened it already; a configured PostgreSQL must answer first
  const { store, databaseUrl } = appInternals(app).settings;
  if (!store && /^postgres(ql)?:\/\//.test(databaseUrl)) {
    const deadline = Date.now() + STORE_WAIT_MS;
    await waitForStore(databaseUrl, { logger, timeoutMs: STORE_WAIT_MS });
    // the store opens (and migrates) here, so that an outage beginning after the probe is waited for too
    await whileStoreUnavailable(() => app.init(), { logger, timeoutMs: Math.max(0, deadline - Date.now()) });
  }
  // the handlers go in before start: a Ctrl-C while the app starts (the demo banner comes from
  // inside start) stops it cleanly instead of killing the process with the default action
  const started = app.start({ ...roles, ...(options.host ? { host: options.host } : {}), ...(options.keepAlive ? { keepAlivePattern: options.keepAlive } : {}) });
  let stopping = false;
  const straggler = new SignalStraggler(Boolean(process.env.npm_lifecycle_event));
  const stop = (signal: string): void => {
    straggler.received();
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    started
      .catch(() => undefined) // a failed start is reported by main(); what it opened is closed by app.stop()
      .then(() => app.stop())
      .then(() => straggler.settled())
      .then(
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
  // `on`, not `once`: a Ctrl-C under `npm start` reaches node twice (the terminal signals the whole
  // foreground group, and npm forwards its own copy); a repeat must not fall to the default action,
  // which would kill the process mid-shutdown with exit code 130
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await started;
}

/** How long a process started by npm waits, after its shutdown, for npm's forwarded copy of the signal. */
export const NPM_SIGNAL_GRACE_MS = 1000;

/**
 * Under `npm start`, a Ctrl-C reaches node twice: the terminal signals the whole foreground group,
 * and npm forwards its own copy (@npmcli/run-script's signal-manager). Node restores the default
 * action of a signal while it tears the process down, so a copy that lands during `process.exit`
 * kills the process (npm then exits 130) although the shutdown was clean — seen in CI on a busy
 * machine, where npm forwarded its copy after node had finished stopping. A process started by
 * npm therefore exits only after the second signal or {@link NPM_SIGNAL_GRACE_MS}, whichever comes
 * first; a process started otherwise (node, Docker, systemd) gets one signal and exits at once.
 */
export class SignalStraggler {
  #count = 0;
  #onSecond: (() => void) | undefined;

  constructor(private readonly underNpm: boolean) {}

  received(): void {
    this.#count += 1;
    if (this.#count >= 2) this.#onSecond?.();
  }

  /** Resolves when exiting can no longer race a forwarded copy of the stop signal. */
  settled(graceMs = NPM_SIGNAL_GRACE_MS): Promise<void> {
    if (!this.underNpm || this.#count >= 2) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.#onSecond = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
