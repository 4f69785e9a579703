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
import { runBatchHandler, type BatchJobOutcome, type BatchJobType } from './batch-run.js';
import { errorText, isNonRetryable, isPortalUnavailable, NonRetryableError } from './errors.js';
import { listenForJobs, nextDueAtMs, type JobListener } from './notify.js';
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
  /** Handlers by job name. The worker claims only jobs it has a handler (or a batch handler) for. */
  handlers: Record<string, JobHandler<never, unknown>>;
  /**
   * Batch job types by name: the worker claims a job of such a name with up to `size` − 1 more due
   * jobs of the same name and portal, and runs them in one handler call (batch-run.ts). A batch
   * takes one of the worker's `concurrency` slots. @defaultValue none
   */
  batchHandlers?: Record<string, BatchJobType>;
  /** Lease owner id; unique per worker. @defaultValue `${hostname}:${pid}:${random}` */
  id?: string;
  /** Jobs run at once by this worker. @defaultValue 4 */
  concurrency?: number;
  /**
   * How often an idle worker looks for due jobs, in ms: a safety net. Wake-ups make it sooner — a
   * notification of new work, and the due time of the next delayed job, which an idle worker asks
   * the store for (notify.ts). @defaultValue 1000
   */
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
  /** The job (a batch's lead). */
  job: Job;
  /** Every job of the run: `[job]`, or a batch's jobs. */
  jobs: Job[];
  /** A batch's jobs whose lease was lost (their outcomes are discarded). */
  lost: Set<number>;
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
  readonly #batchHandlers: Map<string, BatchJobType>;
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
    this.#batchHandlers = new Map(Object.entries(options.batchHandlers ?? {}));
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1000);
    this.#leaseMs = Math.max(1, options.leaseMs ?? options.queue.leaseMs);
    this.#heartbeatMs = Math.max(1, options.heartbeatMs ?? Math.floor(this.#leaseMs / 3));
    this.#postponeFor = options.postponeFor ?? defaultPostponeFor;
    this.#logger = options.logger ?? silentLogger;
    this.#listen = options.listen;
  }

  /** Handler runs going on now (a batch is one). */
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
    this.#logger.info({ workerId: this.id, concurrency: this.#concurrency, jobs: [...this.#handlers.keys(), ...this.#batchHandlers.keys()] }, 'worker started');
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
    for (const job of running.jobs) {
      if (running.lost.has(job.id)) continue;
      try {
        await this.#queue.release(job.id, this.id, { attempt: job.attempts });
        this.#logger.info({ jobId: job.id, memberId: job.memberId, name: job.name }, 'job released on shutdown');
      } catch (error) {
        if (!isLeaseLost(error)) this.#logger.warn({ jobId: job.id, err: error }, 'could not release job');
      }
    }
  }

  async #run(): Promise<void> {
    const names = [...this.#handlers.keys(), ...this.#batchHandlers.keys()];
    const batchSizes = Object.fromEntries([...this.#batchHandlers].map(([name, type]) => [name, type.size]));
    while (!this.#stopping) {
      const free = this.#concurrency - this.#running.size;
      let claimed = 0;
      // before the claim reads its clock: a job that falls due while the claim runs is "next due", not missed
      const claimedAtMs = this.#queue.nowMs();
      if (free > 0) {
        try {
          if (this.#batchHandlers.size === 0) {
            const jobs = await this.#queue.claim(this.id, { limit: free, names, leaseMs: this.#leaseMs });
            claimed = jobs.length;
            for (const job of jobs) this.#start(job);
          } else {
            const runs = await this.#queue.claimGroups(this.id, { limit: free, names, leaseMs: this.#leaseMs, batchSizes });
            claimed = runs.length;
            for (const jobs of runs) {
              const batch = this.#batchHandlers.get(jobs[0]!.name);
              if (batch) this.#startBatch(jobs, batch);
              else this.#start(jobs[0]!);
            }
          }
        } catch (error) {
          this.#logger.warn({ workerId: this.id, err: error }, 'claim failed');
        }
      }
      if (free > 0 && claimed === free) continue; // there may be more: claim again (the loop waits once full)
      await this.#idle(free > 0 ? await this.#nextDue(names, claimedAtMs) : undefined);
    }
  }

  /**
   * When the next job of ours that the last claim could not yet take is due (queue clock, epoch ms):
   * the earliest due after `afterMs`, the time just before that claim; undefined when none, or unknown.
   * Counting from the claim, not from now, matters: a timer may fire a millisecond before the due time
   * by the wall clock, and the claim takes a few; a job that fell due meanwhile was not seen by the claim
   * and is no longer "later" by now, and would otherwise wait for the poll. It comes back as due, so the
   * loop claims again at once. Jobs due before the claim that it left (a portal at its cap) are excluded,
   * or the loop would spin on them; a finished job's signal wakes the loop for those.
   */
  async #nextDue(names: readonly string[], afterMs: number): Promise<number | undefined> {
    try {
      return await nextDueAtMs(this.#queue.store, names, afterMs);
    } catch (error) {
      this.#logger.warn({ workerId: this.id, err: error }, 'next due time unknown; polling');
      return undefined;
    }
  }

  /** Sleeps until a wake-up, the next job's due time, or the poll interval, whichever comes first. */
  #idle(dueAtMs?: number): Promise<void> {
    if (this.#wakePending || this.#stopping) {
      this.#wakePending = false;
      return Promise.resolve();
    }
    const untilDueMs = dueAtMs === undefined ? Number.POSITIVE_INFINITY : Math.max(0, dueAtMs - this.#queue.nowMs());
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.min(this.#pollIntervalMs, untilDueMs));
      this.#wake = done;
    });
  }

  #signal(): void {
    if (this.#wake) this.#wake();
    else this.#wakePending = true;
  }

  #start(job: Job): void {
    const abort = new AbortController();
    const running: Running = { job, jobs: [job], lost: new Set(), abort, discarded: false, done: Promise.resolve() };
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
      this.#logger.warn({ ...log, err: error }, 'lease lost; the outcome of this run will be discarded');
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
        if (!isLeaseLost(error)) this.#logger.warn({ ...log, err: error }, 'heartbeat failed');
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
    await this.#record(job, ok ? { status: 'done', result } : { status: 'retry', error: failure }, log, Math.round(performance.now() - started));
  }

  /** Records one job's outcome under its lease: complete, postpone (portal unavailable), retry or dead. */
  async #record(job: Job, outcome: BatchJobOutcome, log: Record<string, unknown>, durationMs: number): Promise<void> {
    const check = { attempt: job.attempts };
    try {
      if (outcome.status === 'done') {
        await this.#queue.complete(job.id, this.id, outcome.result, check);
        this.#logger.debug({ ...log, durationMs }, 'job succeeded');
        return;
      }
      const failure = outcome.status === 'dead' ? asNonRetryable(outcome.error) : outcome.error;
      const postponeMs = outcome.status === 'dead' ? undefined : this.#postponeFor(failure, job);
      if (postponeMs !== undefined) {
        const postponed = await this.#queue.postpone(job.id, this.id, this.#queue.nowMs() + postponeMs, { ...check, reason: errorText(failure) });
        this.#logger.info({ ...log, err: failure, runAtMs: postponed.runAtMs }, 'job postponed (attempt not counted)');
        return;
      }
      const failed = await this.#queue.fail(job.id, this.id, failure, check);
      if (failed.state === 'dead') this.#logger.error({ ...log, err: failure }, 'job dead');
      else this.#logger.warn({ ...log, err: failure, runAtMs: failed.job.runAtMs }, 'job failed; retry scheduled');
    } catch (error) {
      if (isLeaseLost(error)) this.#logger.warn({ ...log, err: error }, 'outcome discarded: lease lost');
      else this.#logger.error({ ...log, err: error }, 'could not record the outcome; the lease will expire and the job run again');
    }
  }

  #startBatch(jobs: Job[], type: BatchJobType): void {
    const lead = jobs[0]!;
    const abort = new AbortController();
    const running: Running = { job: lead, jobs, lost: new Set(), abort, discarded: false, done: Promise.resolve() };
    this.#running.set(lead.id, running);
    running.done = this.#executeBatch(running, type).finally(() => {
      this.#running.delete(lead.id);
      this.#signal();
    });
  }

  /**
   * One handler call for a batch's jobs. Each job keeps its own lease (heartbeats extend every one
   * still held; a job whose lease is lost drops out and its outcome is discarded) and its own
   * outcome: the handler reports one per job, and a handler that throws gives every job its error.
   */
  async #executeBatch(running: Running, type: BatchJobType): Promise<void> {
    const { jobs, lost } = running;
    const log = { workerId: this.id, name: running.job.name, memberId: running.job.memberId, jobIds: jobs.map((job) => job.id) };
    const heartbeat = async (): Promise<void> => {
      if (running.discarded) throw new B24Error('B24_ERR_LEASE_LOST', `Batch of job ${running.job.id}: the leases are no longer held`);
      for (const job of jobs) {
        if (lost.has(job.id)) continue;
        try {
          await this.#queue.extendLease(job.id, this.id, this.#leaseMs, { attempt: job.attempts });
        } catch (error) {
          if (!isLeaseLost(error)) throw error;
          lost.add(job.id);
          this.#logger.warn({ ...log, jobId: job.id, err: error }, 'lease lost; the outcome of this job will be discarded');
        }
      }
      if (lost.size === jobs.length && !running.discarded) {
        running.discarded = true;
        running.abort.abort(new B24Error('B24_ERR_LEASE_LOST', `Batch of job ${running.job.id}: every lease was lost`));
      }
    };
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        if (!isLeaseLost(error)) this.#logger.warn({ ...log, err: error }, 'heartbeat failed');
      });
    }, this.#heartbeatMs);
    timer.unref();
    const started = performance.now();
    let outcomes: BatchJobOutcome[];
    try {
      outcomes = await runBatchHandler(type.handler, { jobs, signal: running.abort.signal, heartbeat, logger: this.#logger });
    } finally {
      clearInterval(timer);
    }
    if (running.discarded) return;
    const durationMs = Math.round(performance.now() - started);
    this.#logger.debug({ ...log, durationMs }, 'batch ran');
    await Promise.all(
      jobs.map((job, index) =>
        lost.has(job.id) ? undefined : this.#record(job, outcomes[index]!, { workerId: this.id, jobId: job.id, memberId: job.memberId, name: job.name, attempt: job.attempts }, durationMs),
      ),
    );
  }
}

/** A batch's `dead` outcome: the error as is when the queue already ends any job on it, else wrapped so it does. */
function asNonRetryable(error: unknown): unknown {
  if (isNonRetryable(error)) return error;
  return new NonRetryableError(errorText(error), { cause: error });
}

function isLeaseLost(error: unknown): boolean {
  return error instanceof B24Error && error.code === 'B24_ERR_LEASE_LOST';
}
