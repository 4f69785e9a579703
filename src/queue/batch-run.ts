/**
 * Batch job types: one handler call for several due jobs of one name and portal (claimed together
 * by claim-batch.ts), one outcome per job. One bad job does not fail its neighbours: the handler
 * says which jobs are done, which should be retried (with their error) and which are dead.
 */
import type { Logger } from '../log/logger.js';
import type { Job } from './types.js';

/**
 * One job's outcome in a batch:
 * - `done`: the job succeeded, `result` is stored;
 * - `retry`: the job failed with `error`, exactly as if a single job's handler had thrown it —
 *   postponed when the portal is rate-limited or down, dead at once on a permanent portal error
 *   (unless the type retries those) or a NonRetryableError, else retried with backoff until its
 *   attempts run out;
 * - `dead`: the job goes to the dead letter now, keeping `error`.
 */
export type BatchJobOutcome<R = unknown> = { status: 'done'; result?: R } | { status: 'retry'; error: unknown } | { status: 'dead'; error: unknown };

export interface BatchJobContext<P = unknown> {
  /** The batch's jobs, all of one name and portal, oldest first; `job.attempts` is this attempt of each. */
  jobs: ReadonlyArray<Job<P>>;
  /** Aborted when no job's outcome can count any more (every lease lost, or the worker stops without grace). */
  signal: AbortSignal;
  /** Extends every lease still held (the worker also heartbeats on its own). */
  heartbeat(): Promise<void>;
  logger: Logger;
}

/**
 * Runs a batch. Returns one outcome per job of `ctx.jobs`, in the same order; a missing one counts
 * as `retry`. A throw (or rejection) is every job's `retry` with that error: throw for what failed
 * the whole batch (the portal unreachable), report per job what concerns one job.
 */
export type BatchJobHandler<P = unknown, R = unknown> = (ctx: BatchJobContext<P>) => Promise<ReadonlyArray<BatchJobOutcome<R> | undefined>> | ReadonlyArray<BatchJobOutcome<R> | undefined>;

/** A batch job type of a worker. */
export interface BatchJobType {
  /** Jobs per handler call at most (2 or more; 1 runs each job alone). */
  size: number;
  handler: BatchJobHandler<never, unknown>;
}

/** Calls the handler and gives back one outcome per job, whatever it returned or threw. */
export async function runBatchHandler(handler: BatchJobHandler<never, unknown>, ctx: BatchJobContext): Promise<BatchJobOutcome[]> {
  let reported: ReadonlyArray<BatchJobOutcome | undefined>;
  try {
    reported = await handler(ctx as BatchJobContext<never>);
  } catch (error) {
    return ctx.jobs.map(() => ({ status: 'retry', error }));
  }
  return ctx.jobs.map((job, index) => {
    const outcome = Array.isArray(reported) ? (reported[index] as BatchJobOutcome | undefined) : undefined;
    if (outcome && (outcome.status === 'done' || outcome.status === 'retry' || outcome.status === 'dead')) return outcome;
    return { status: 'retry', error: new Error(`the batch handler reported no outcome for job ${job.id}`) };
  });
}
