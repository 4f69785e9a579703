/**
 * A process that starts while its PostgreSQL cannot be reached — a deploy that starts the app and
 * the database together, a failover, the database restarting — waits for it instead of exiting at
 * once: a supervisor would restart it into the same outage, again and again, and a worker restarted
 * during a short outage would count as a crash. Only an outage is waited for (refused, reset,
 * unreachable, the server starting, shutting down or refusing connections: `isStoreUnavailable`); a
 * wrong password or database name fails at once, as it will not heal.
 *
 * Two steps, one deadline: `waitForStore` probes the server with one plain connection (SQLite needs
 * no probe), then `whileStoreUnavailable` retries opening the app's store and migrations, since an
 * outage may begin between the probe and the open.
 */
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { retryWhileStoreUnavailable } from '../store/outage-retry.js';
import { storeError } from '../store/sql.js';

/** How long a starting process waits for an unreachable PostgreSQL before it gives up. */
export const STORE_WAIT_MS = 60_000;

export interface WaitForStoreOptions {
  logger: Logger;
  /** @defaultValue {@link STORE_WAIT_MS} */
  timeoutMs?: number;
  /** How long one connection attempt may take. @defaultValue 5000 */
  connectTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `attempt` until it succeeds, retrying while it fails on a store outage, up to the timeout. */
export function whileStoreUnavailable<T>(attempt: () => Promise<T>, options: WaitForStoreOptions): Promise<T> {
  return retryWhileStoreUnavailable(attempt, {
    timeoutMs: options.timeoutMs ?? STORE_WAIT_MS,
    firstPauseMs: 250,
    maxPauseMs: 5000,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    onRetry: (error, count, retryInMs) => options.logger.warn({ err: error, attempt: count, retryInMs }, 'the database cannot be reached; waiting for it before starting'),
    onRecovered: (count) => options.logger.info({ attempt: count }, 'the database is reachable; starting'),
  });
}

/** Waits until a PostgreSQL URL accepts a connection and a query (nothing for SQLite). */
export async function waitForStore(url: string, options: WaitForStoreOptions): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(url)) return;
  await whileStoreUnavailable(async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 });
    // a connection that breaks after connect() emits 'error'; without a listener it would crash the process
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      throw storeError(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }, options);
}
