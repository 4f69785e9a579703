/**
 * Waking idle workers when work arrives.
 *
 * - PostgreSQL: every enqueue sends `NOTIFY b24kit_jobs` (payload: the schema). NOTIFY is
 *   transactional — sent at commit, dropped on rollback — so a worker never wakes for a job it
 *   cannot see yet. {@link listenForJobs} holds a dedicated connection that LISTENs (a pooled
 *   connection would lose the subscription when returned to the pool).
 * - Any dialect, same process: {@link LocalWakeups}, an in-process signal (SQLite has no
 *   cross-process notifications; other processes poll).
 * - Jobs due later (a `runAtMs` in the future, a retry after its backoff): a worker that goes idle
 *   asks {@link nextDueAtMs} and sleeps until then, not until its next poll; a notification of a
 *   job enqueued for later wakes it to ask again. The poll stays as a slow safety net.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { backoffMs } from '../rest/retry.js';
import type { Queryable } from '../store/types.js';
import { JOBS_TABLE } from './job-row.js';

export const JOBS_CHANNEL = 'b24kit_jobs';

/**
 * When the next queued job named one of `names` becomes due: the earliest `run_at_ms` after
 * `nowMs` (epoch ms), or undefined when none is waiting. One index range scan (state, run_at_ms).
 */
export async function nextDueAtMs(db: Queryable, names: readonly string[], nowMs: number): Promise<number | undefined> {
  if (names.length === 0) return undefined;
  const row = await db.one<{ due: number | string | null }>(
    `SELECT MIN(run_at_ms) AS due FROM ${JOBS_TABLE} WHERE state = 'queued' AND run_at_ms > ? AND name IN (${names.map(() => '?').join(', ')})`,
    [Math.floor(nowMs), ...names],
  );
  return row?.due === null || row?.due === undefined ? undefined : Number(row.due);
}

/** An in-process "there may be work" signal between the queue and the workers of one process. */
export class LocalWakeups {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  /** Signals on the next turn of the event loop, after a caller's transaction has had a chance to commit. */
  notify(): void {
    setImmediate(() => this.#emitter.emit('wake'));
  }

  /** Calls `fn` on every signal; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void {
    this.#emitter.on('wake', fn);
    return () => this.#emitter.off('wake', fn);
  }
}

/** Sends the wake-up on PostgreSQL (inside `db`'s transaction, if it is one); a no-op on SQLite. */
export async function notifyJobs(db: Queryable): Promise<void> {
  if (db.dialect !== 'postgres') return;
  await db.run(`SELECT pg_notify('${JOBS_CHANNEL}', current_schema())`);
}

export interface ListenOptions {
  /** The same `postgres://…` URL the store uses. */
  url: string;
  /** Only wake for jobs enqueued in this schema. @defaultValue any schema */
  schema?: string;
  /** Called on every notification, and after every (re)connection (notifications may have been missed). */
  onWake: () => void;
  logger?: Logger;
}

export interface JobListener {
  close(): Promise<void>;
}

/**
 * LISTENs on `b24kit_jobs` over a dedicated connection, reconnecting (with backoff) when it drops.
 * Resolves once the first LISTEN is in place.
 */
export async function listenForJobs(options: ListenOptions): Promise<JobListener> {
  const logger = options.logger ?? silentLogger;
  let client: pg.Client | undefined;
  /** A connection still being opened: close() must end it too, or its socket keeps the process alive. */
  let connecting: pg.Client | undefined;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: options.url });
    next.on('notification', (message) => {
      if (message.channel !== JOBS_CHANNEL) return;
      if (options.schema !== undefined && message.payload !== options.schema) return;
      options.onWake();
    });
    next.on('error', (error) => {
      logger.warn({ err: error }, 'job listener: connection error');
      reconnectLater(next);
    });
    next.on('end', () => reconnectLater(next));
    connecting = next;
    try {
      await next.connect();
      await next.query(`LISTEN ${JOBS_CHANNEL}`);
    } catch (error) {
      // a connection that got as far as connect() but failed LISTEN is still open
      await next.end().catch(() => undefined);
      throw error;
    } finally {
      connecting = undefined;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    failures = 0;
    options.onWake();
  };

  const reconnectLater = (dead: pg.Client): void => {
    if (closed || client !== dead || timer !== undefined) return;
    client = undefined;
    dead.end().catch(() => undefined);
    failures += 1;
    const delay = backoffMs(Math.min(failures, 10), { maxAttempts: Number.POSITIVE_INFINITY, baseMs: 200, capMs: 10_000 }) ?? 10_000;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch((error: unknown) => {
        if (closed) return;
        logger.warn({ err: error }, 'job listener: reconnect failed');
        const placeholder = new pg.Client({ connectionString: options.url });
        client = placeholder;
        reconnectLater(placeholder);
      });
    }, delay);
    timer.unref();
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const current = client;
      client = undefined;
      // ending a connection still being opened aborts it; its connect() then fails quietly (closed)
      await Promise.all([current, connecting].map((c) => c?.end().catch(() => undefined)));
    },
  };
}
