/**
 * The durable job queue's vocabulary. Semantics, written down plainly:
 *
 * - **At least once, one recorded completion.** A handler may run more than once (its worker died,
 *   or its lease expired while it was still running), but exactly one outcome is recorded: only the
 *   worker holding the current lease may complete, fail, postpone or extend a job; any other gets
 *   `B24_ERR_LEASE_LOST` and its result is discarded. Side effects that must not repeat belong
 *   behind an idempotency key (or `ctx.once`).
 * - **Attempts.** A claim is an attempt. A failure schedules a retry after exponential backoff with
 *   full jitter, until `maxAttempts`; then the job is `dead`, keeping its last error and the history
 *   of every attempt. A lease that expired (the worker died) counts as a failed attempt.
 *   `postpone` and `release` give the attempt back: a rate-limited or unreachable portal, or a
 *   worker shutting down, costs a job nothing.
 * - **Idempotency key.** Unique per (memberId, name, key) for as long as the job row exists (also
 *   after it succeeded or died): enqueuing the same key again returns the existing job.
 */

export type JobState = 'queued' | 'running' | 'succeeded' | 'dead';

/** JSON-serializable data: payloads and results are stored as JSON text. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One finished attempt (or a lost lease), oldest first in {@link Job.history}. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  attempt: number;
  /** When the attempt ended (or its lost lease was noticed), epoch ms. */
  at: number;
  /** The error message, or null when the attempt succeeded. */
  error: string | null;
  /** From the claim to the end of the attempt, in ms. */
  durationMs: number;
}

export interface Job<P = unknown, R = unknown> {
  id: number;
  memberId: string;
  /** The job type: which handler runs it. */
  name: string;
  payload: P;
  key: string | null;
  state: JobState;
  /** Attempts made so far, the running one included. */
  attempts: number;
  maxAttempts: number;
  /** Times the job was postponed (these do not count as attempts). */
  postpones: number;
  /** Not claimable before this instant, epoch ms. */
  runAtMs: number;
  leaseOwner: string | null;
  leaseExpiresAtMs: number | null;
  /** When the current (or last) attempt was claimed, epoch ms. */
  startedAtMs: number | null;
  /** When the job succeeded or died, epoch ms. */
  finishedAtMs: number | null;
  lastError: string | null;
  history: AttemptRecord[];
  /** The handler's result (or the memo that `ctx.once` builds up while running). */
  result: R | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface EnqueueInput<P = unknown> {
  /** The portal the job belongs to (fairness and the concurrency cap are per portal). */
  memberId: string;
  /** The job type. */
  name: string;
  /** JSON-serializable. */
  payload: P;
  /** Idempotency key: a second enqueue with the same (memberId, name, key) returns the first job. */
  key?: string;
  /** Not before this instant, epoch ms. @defaultValue now */
  runAtMs?: number;
  /** Overrides the job type's maxAttempts for this job. */
  maxAttempts?: number;
}

export interface EnqueueResult<P = unknown> {
  job: Job<P>;
  /** False when a job with the same idempotency key already existed (nothing was enqueued). */
  created: boolean;
}

/** One job of `enqueueMany`: its id, and whether this call created it (false: the key already had a job). */
export interface EnqueueManyResult {
  id: number;
  created: boolean;
}

/** Retry policy of a job type. */
export interface JobTypeOptions {
  /** Attempts in all, the first one included. @defaultValue 8 */
  maxAttempts?: number;
  /** Ceiling of the first retry's delay, in ms (full jitter: the delay is uniform below it). @defaultValue 1000 */
  baseDelayMs?: number;
  /** Largest delay of any retry, in ms. @defaultValue 600000 (10 minutes) */
  capDelayMs?: number;
  /**
   * Retry a permanent error of the portal — a 400 validation error, ACCESS_DENIED or
   * insufficient_scope, ERROR_METHOD_NOT_FOUND, "Not found" (`classifyError` → `permanent`,
   * src/rest/error-class.ts) — like any other failure, within `maxAttempts`. For a job that expects
   * the cause to go away (an administrator granting access, an object created elsewhere a little
   * later). @defaultValue false: such a job goes dead on its first attempt, keeping the portal's
   * code and message
   */
  retryPermanentErrors?: boolean;
}

export interface ClaimOptions {
  /** How many jobs to claim at most. @defaultValue 1 */
  limit?: number;
  /** Only jobs of these types (the ones this worker has handlers for). @defaultValue all */
  names?: readonly string[];
  /** The visibility timeout: the lease lasts this long unless extended, in ms. @defaultValue the queue's leaseMs */
  leaseMs?: number;
}

/** Identifies the lease a call acts under. `attempt` guards against a stale run of the same worker. */
export interface LeaseCheck {
  /** The attempt the caller runs (Job.attempts at claim time). Checked when given. */
  attempt?: number;
}

export interface ListOptions {
  state?: JobState;
  memberId?: string;
  name?: string;
  /** Only jobs with a smaller id (paging, newest first). */
  beforeId?: number;
  /** @defaultValue 50 */
  limit?: number;
}
