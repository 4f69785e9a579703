/**
 * The worker runner: claims jobs, runs the handler of each job's name with a context, heartbeats
 * while it runs, and records the outcome — complete, retry/dead (fail), or postpone when the
 * portal is rate-limited or down. `stop({ graceful })` stops claiming, then lets running jobs
 * finish (graceful) or hands their leases back at once.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { B24Error } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { postponeDelayMs } from './backoff.js';
import { errorText, isPortalUnavailable } from './errors.js';
import { listenForJobs, type JobListener } from './notify.js';
import type { JobQueue } from './queue.js';
import type { Job } from './types.js';

export interface JobContext<P = unknown> {
  job: Job<P>;
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * Aborted when this run's outcome can no longer count: the lease was lost (another worker may
   * have the job now) or the worker is stopping without grace. Pass it to fetch and friends.
   */
  signal: AbortSignal;
  /** Extends the lease now (the worker also heartbeats on its own). Throws B24_ERR_LEASE_LOST. */
  heartbeat(): Promise<void>;
  /** Stores an intermediate result under the lease (the `ctx.once` memo). */
  saveResult(value: unknown): Promise<void>;
  logger: Logger;
}

export type JobHandler<P = unknown, R = unknown> = (ctx: JobContext<P>) => Promise<R> | R;

export interface WorkerOptions {
  queue: JobQueue;
  /** Handlers by job name. The worker claims only jobs it has a handler for. */
  handlers: Record<string, JobHandler<never, unknown>>;
  /** Lease owner id; unique per worker. @defaultValue `${hostname}:${pid}:${random}` */
  id?: string;
  /** Jobs run at once by this worker. @defaultValue 4 */
  concurrency?: number;
  /** How often an idle worker looks for due jobs, in ms (wake-ups make it sooner). @defaultValue 1000 */
  pollIntervalMs?: number;
  /** Visibility timeout of this worker's claims, in ms. @defaultValue the queue's leaseMs */
  leaseMs?: number;
  /** Heartbeat period, in ms. @defaultValue leaseMs / 3 */
  heartbeatMs?: number;
  /** PostgreSQL: LISTEN for enqueues over a dedicated connection (the store's URL and schema). */
  listen?: { url: string; schema?: string };
  /**
   * For a handler's error: how long to postpone the job without burning the attempt, in ms; or
   * undefined to fail it (retry with backoff, or dead). @defaultValue postpone (with growing
   * delays) on rate limits, operating limits, server, network and timeout errors of the portal
   */
  postponeFor?: (error: unknown, job: Job) => number | undefined;
  logger?: Logger;
}

interface Running {
  job: Job;
  abort: AbortController;
  /** The outcome no longer counts: the lease was lost, or stop() released it. */
  discarded: boolean;
  done: Promise<void>;
}

export function defaultPostponeFor(error: unknown, job: Job): number | undefined {
  return isPortalUnavailable(error) ? postponeDelayMs(job.postpones + 1) : undefined;
}

export class Worker {
  readonly id: string;
  readonly #queue: JobQueue;
  readonly #handlers: Map<string, JobHandler<unknown, unknown>>;
  readonly #concurrency: number;
  readonly #pollIntervalMs: number;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #postponeFor: (error: unknown, job: Job) => number | undefined;
  readonly #logger: Logger;
  readonly #listen: WorkerOptions['listen'];
  readonly #running = new Map<number, Running>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wakePending = false;
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #listener: JobListener | undefined;

  constructor(options: WorkerOptions) {
    this.#queue = options.queue;
    this.#handlers = new Map(Object.entries(options.handlers) as Array<[string, JobHandler<unknown, unknown>]>);
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1000);
    this.#leaseMs = Math.max(1, options.leaseMs ?? options.queue.leaseMs);
    this.#heartbeatMs = Math.max(1, options.heartbeatMs ?? Math.floor(this.#leaseMs / 3));
    this.#postponeFor = options.postponeFor ?? defaultPostponeFor;
    this.#logger = options.logger ?? silentLogger;
    this.#listen = options.listen;
  }

  /** Jobs running now. */
  get active(): number {
    return this.#running.size;
  }

  /** Starts claiming. Resolves once the worker listens (PostgreSQL) and its loop runs. */
  async start(): Promise<void> {
    if (this.#loop) return;
    this.#stopping = false;
    this.#unsubscribe = this.#queue.onLocalWake(() => this.#signal());
    if (this.#listen && this.#queue.store.dialect === 'postgres') {
      const listener = await listenForJobs({ ...this.#listen, onWake: () => this.#signal(), logger: this.#logger });
      if (this.#stopping) {
        // stop() ran while we connected and found nothing to close: an open LISTEN connection would keep the process alive
        await listener.close();
        return;
      }
      this.#listener = listener;
    }
    this.#logger.info({ workerId: this.id, concurrency: this.#concurrency, jobs: [...this.#handlers.keys()] }, 'worker started');
    this.#loop = this.#run();
  }

  /**
   * Stops claiming. Graceful (the default): running jobs may finish for up to `timeoutMs`; then,
   * or at once when not graceful, the remaining ones are released (back to the queue, attempt not
   * burned) and their late outcomes discarded.
   */
  async stop(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const graceful = options.graceful ?? true;
    this.#stopping = true;
    this.#signal();
    await this.#loop;
    this.#loop = undefined;
    this.#unsubscribe?.();
    await this.#listener?.close();
    this.#listener = undefined;
    if (graceful && this.#running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs ?? 30_000)));
      await Promise.race([Promise.all([...this.#running.values()].map((r) => r.done)), timeout]);
      clearTimeout(timer);
    }
    await Promise.all([...this.#running.values()].map((running) => this.#releaseRunning(running)));
    this.#logger.info({ workerId: this.id, graceful }, 'worker stopped');
  }

  async #releaseRunning(running: Running): Promise<void> {
    if (running.discarded) return;
    running.discarded = true;
    running.abort.abort(new B24Error('B24_ERR_LEASE_LOST', 'The worker is stopping; the job was released'));
    try {
      await this.#queue.release(running.job.id, this.id, { attempt: running.job.attempts });
      this.#logger.info({ jobId: running.job.id, memberId: running.job.memberId, name: running.job.name }, 'job released on shutdown');
    } catch (error) {
      if (!isLeaseLost(error)) this.#logger.warn({ jobId: running.job.id, err: errorText(error) }, 'could not release job');
    }
  }

  async #run(): Promise<void> {
    const names = [...this.#handlers.keys()];
    while (!this.#stopping) {
      const free = this.#concurrency - this.#running.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const jobs = await this.#queue.claim(this.id, { limit: free, names, leaseMs: this.#leaseMs });
          claimed = jobs.length;
          for (const job of jobs) this.#start(job);
        } catch (error) {
          this.#logger.warn({ workerId: this.id, err: errorText(error) }, 'claim failed');
        }
      }
      if (free > 0 && claimed === free) continue; // there may be more: claim again (the loop waits once full)
      await this.#idle();
    }
  }

  #idle(): Promise<void> {
    if (this.#wakePending || this.#stopping) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#pollIntervalMs);
      this.#wake = done;
    });
  }

  #signal(): void {
    if (this.#wake) this.#wake();
    else this.#wakePending = true;
  }

  #start(job: Job): void {
    const abort = new AbortController();
    const running: Running = { job, abort, discarded: false, done: Promise.resolve() };
    this.#running.set(job.id, running);
    running.done = this.#execute(running).finally(() => {
      this.#running.delete(job.id);
      this.#signal(); // a slot is free
    });
  }

  async #execute(running: Running): Promise<void> {
    const { job } = running;
    const check = { attempt: job.attempts };
    const log = { workerId: this.id, jobId: job.id, memberId: job.memberId, name: job.name, attempt: job.attempts };
    const loseLease = (error: unknown): void => {
      if (running.discarded) return;
      running.discarded = true;
      running.abort.abort(error);
      this.#logger.warn({ ...log, err: errorText(error) }, 'lease lost; the outcome of this run will be discarded');
    };
    const heartbeat = async (): Promise<void> => {
      if (running.discarded) throw new B24Error('B24_ERR_LEASE_LOST', `Job ${job.id}: the lease is no longer held`);
      try {
        await this.#queue.extendLease(job.id, this.id, this.#leaseMs, check);
      } catch (error) {
        if (isLeaseLost(error)) loseLease(error);
        throw error;
      }
    };
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        // a store hiccup: keep running; if the lease does expire meanwhile, the outcome is refused later
        if (!isLeaseLost(error)) this.#logger.warn({ ...log, err: errorText(error) }, 'heartbeat failed');
      });
    }, this.#heartbeatMs);
    timer.unref();

    const handler = this.#handlers.get(job.name);
    let ok = false;
    let result: unknown;
    let failure: unknown;
    const started = performance.now();
    try {
      if (!handler) throw new B24Error('B24_ERR_JOB_NON_RETRYABLE', `No handler for job type "${job.name}"`);
      result = await handler({
        job,
        attempt: job.attempts,
        signal: running.abort.signal,
        heartbeat,
        saveResult: (value) => this.#queue.saveResult(job.id, this.id, value, check),
        logger: this.#logger,
      });
      ok = true;
    } catch (error) {
      failure = error;
    } finally {
      clearInterval(timer);
    }
    if (running.discarded) return;
    const durationMs = Math.round(performance.now() - started);
    try {
      if (ok) {
        await this.#queue.complete(job.id, this.id, result, check);
        this.#logger.debug({ ...log, durationMs }, 'job succeeded');
        return;
      }
      const postponeMs = this.#postponeFor(failure, job);
      if (postponeMs !== undefined) {
        const postponed = await this.#queue.postpone(job.id, this.id, this.#queue.nowMs() + postponeMs, { ...check, reason: errorText(failure) });
        this.#logger.info({ ...log, err: errorText(failure), runAtMs: postponed.runAtMs }, 'job postponed (attempt not counted)');
        return;
      }
      const outcome = await this.#queue.fail(job.id, this.id, failure, check);
      if (outcome.state === 'dead') this.#logger.error({ ...log, err: errorText(failure) }, 'job dead');
      else this.#logger.warn({ ...log, err: errorText(failure), runAtMs: outcome.job.runAtMs }, 'job failed; retry scheduled');
    } catch (error) {
      if (isLeaseLost(error)) this.#logger.warn({ ...log, err: errorText(error) }, 'outcome discarded: lease lost');
      else this.#logger.error({ ...log, err: errorText(error) }, 'could not record the outcome; the lease will expire and the job run again');
    }
  }
}

function isLeaseLost(error: unknown): boolean {
  return error instanceof B24Error && error.code === 'B24_ERR_LEASE_LOST';
}
