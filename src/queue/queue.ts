/**
 * The queue's API: one object per process over the store. Workers (worker.ts) and the scheduler
 * use it; so will the event receiver (enqueue inside its inbox transaction) and the CLI (list,
 * get, replay). See types.ts for the delivery semantics.
 */
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { Queryable, SqlValue, Store } from '../store/types.js';
import { DEFAULT_JOB_TYPE, resolveJobType, type ResolvedJobType } from './backoff.js';
import { claimJobs, reapExpiredLeases } from './claim.js';
import { claimJobGroups, type GroupClaimOptions } from './claim-batch.js';
import type { QueueContext } from './context.js';
import { discardDeadJobs, discardJob, purgeJobs, replayDeadJobs, replayJob, type BeforeDiscard, type DeadJobFilter } from './dead-letter.js';
import { enqueueJob, enqueueJobs } from './enqueue.js';
import { JOB_COLUMNS, JOBS_TABLE, toJob, type JobRow } from './job-row.js';
import { completeJob, extendLease, failJob, postponeJob, releaseJob, saveResult, type FailOutcome } from './lease.js';
import { LocalWakeups } from './notify.js';
import type { ClaimOptions, EnqueueInput, EnqueueManyResult, EnqueueResult, Job, JobState, JobTypeOptions, LeaseCheck, ListOptions } from './types.js';

export interface QueueOptions {
  store: Store;
  /** Retry policy per job type (by job name); types not listed use `defaults`. */
  jobTypes?: Record<string, JobTypeOptions>;
  /** Retry policy of the types not in `jobTypes`. @defaultValue { maxAttempts: 8, baseDelayMs: 1000, capDelayMs: 600000, retryPermanentErrors: false } */
  defaults?: JobTypeOptions;
  /** The visibility timeout of a claim, in ms: a worker that stops heartbeating loses its job after this long. @defaultValue 30000 */
  leaseMs?: number;
  /**
   * At most this many running jobs per portal (member_id), across all workers and processes.
   * Bitrix24 drains a portal's request budget at ~2 requests/s, so a few concurrent jobs per portal
   * already saturate it. `Infinity` for no cap. @defaultValue 4
   */
  maxRunningPerPortal?: number;
  /** The clock, epoch ms (tests move it). @defaultValue Date.now */
  nowMs?: () => number;
  /** The random source of the backoff jitter, in [0, 1). @defaultValue Math.random */
  random?: () => number;
  logger?: Logger;
}

export interface PostponeOptions extends LeaseCheck {
  /** Why (kept as last_error, e.g. "B24_ERR_RATE_LIMITED: …"). */
  reason?: string;
}

export class JobQueue {
  readonly #ctx: QueueContext;

  constructor(options: QueueOptions) {
    const defaults = resolveJobType(options.defaults, DEFAULT_JOB_TYPE);
    const types = new Map<string, ResolvedJobType>();
    for (const [name, type] of Object.entries(options.jobTypes ?? {})) types.set(name, resolveJobType(type, defaults));
    this.#ctx = {
      store: options.store,
      nowMs: options.nowMs ?? Date.now,
      random: options.random ?? Math.random,
      leaseMs: Math.max(1, options.leaseMs ?? 30_000),
      maxRunningPerPortal: Math.max(1, options.maxRunningPerPortal ?? 4),
      jobType: (name) => types.get(name) ?? defaults,
      wakeups: new LocalWakeups(),
      logger: options.logger ?? silentLogger,
    };
  }

  get store(): Store {
    return this.#ctx.store;
  }

  /** Default visibility timeout of a claim, in ms. */
  get leaseMs(): number {
    return this.#ctx.leaseMs;
  }

  nowMs(): number {
    return this.#ctx.nowMs();
  }

  /** The resolved retry policy of a job type. */
  jobType(name: string): ResolvedJobType {
    return this.#ctx.jobType(name);
  }

  /**
   * Enqueues a job through `db`: the store, or a transaction of the caller's (then the job exists
   * only if that transaction commits). Idempotent on (memberId, name, key).
   */
  enqueue<P>(db: Queryable, input: EnqueueInput<P>): Promise<EnqueueResult<P>> {
    return enqueueJob(this.#ctx, db, input);
  }

  /**
   * Enqueues many jobs through `db` in few statements (multi-row INSERTs, one wake-up), each
   * idempotent on (memberId, name, key) as with {@link enqueue}. Returns `{ id, created }` per
   * input, in order; not the whole job (no row is read back). Atomic only inside a transaction.
   */
  enqueueMany(db: Queryable, inputs: ReadonlyArray<EnqueueInput<unknown>>): Promise<EnqueueManyResult[]> {
    return enqueueJobs(this.#ctx, db, inputs);
  }

  /** Leases up to `limit` due jobs to `workerId`, fairly across portals and within each portal's cap. */
  claim(workerId: string, limitOrOptions: number | ClaimOptions = 1): Promise<Job[]> {
    return claimJobs(this.#ctx, workerId, typeof limitOrOptions === 'number' ? { limit: limitOrOptions } : limitOrOptions);
  }

  /**
   * Like {@link claim}, for workers with batch job types: up to `limit` runs, each one job or, for
   * a name in `batchSizes`, up to that many due jobs of the same name and portal (claim-batch.ts).
   */
  claimGroups(workerId: string, options: GroupClaimOptions): Promise<Job[][]> {
    return claimJobGroups(this.#ctx, workerId, options);
  }

  /** Heartbeat: extends the lease by `leaseMs` from now. Returns the new expiry. */
  extendLease(jobId: number, workerId: string, leaseMs: number = this.#ctx.leaseMs, check: LeaseCheck = {}): Promise<number> {
    return extendLease(this.#ctx, jobId, workerId, leaseMs, check);
  }

  /** Stores an intermediate result (the `ctx.once` memo) under the lease. */
  saveResult(jobId: number, workerId: string, result: unknown, check: LeaseCheck = {}): Promise<void> {
    return saveResult(this.#ctx, jobId, workerId, result, check);
  }

  complete(jobId: number, workerId: string, result?: unknown, check: LeaseCheck = {}): Promise<Job> {
    return completeJob(this.#ctx, jobId, workerId, result, check);
  }

  fail(jobId: number, workerId: string, error: unknown, check: LeaseCheck = {}): Promise<FailOutcome> {
    return failJob(this.#ctx, jobId, workerId, error, check);
  }

  /** Puts the job back until `untilMs` without burning its attempt. */
  postpone(jobId: number, workerId: string, untilMs: number, options: PostponeOptions = {}): Promise<Job> {
    return postponeJob(this.#ctx, jobId, workerId, untilMs, options.reason, options);
  }

  /** Gives the job back at once without burning its attempt (graceful shutdown). */
  release(jobId: number, workerId: string, check: LeaseCheck = {}): Promise<Job> {
    return releaseJob(this.#ctx, jobId, workerId, check);
  }

  replay(jobId: number): Promise<Job> {
    return replayJob(this.#ctx, jobId);
  }

  replayDead(filter: DeadJobFilter = {}): Promise<number> {
    return replayDeadJobs(this.#ctx, filter);
  }

  /** Deletes a dead job for good (B24_ERR_JOB_STATE for any other state). `beforeDelete` runs in the same transaction. */
  discard(jobId: number, beforeDelete?: BeforeDiscard): Promise<Job> {
    return discardJob(this.#ctx, jobId, beforeDelete);
  }

  /** Deletes every dead job (of one portal and/or one job type). Returns how many. */
  discardDead(filter: DeadJobFilter = {}, beforeDelete?: BeforeDiscard): Promise<number> {
    return discardDeadJobs(this.#ctx, filter, beforeDelete);
  }

  /** Returns expired leases to the queue now (claims do this too). Returns how many. */
  reapExpired(): Promise<number> {
    return this.#ctx.store.transaction((tx) => reapExpiredLeases(tx, this.#ctx.nowMs()));
  }

  /** Deletes finished jobs (default: succeeded ones) that ended before `finishedBeforeMs`. */
  purge(options: { finishedBeforeMs: number; states?: ReadonlyArray<'succeeded' | 'dead'> }): Promise<number> {
    return purgeJobs(this.#ctx, options);
  }

  async get<P = unknown, R = unknown>(id: number): Promise<Job<P, R> | undefined> {
    const row = await this.#ctx.store.one<JobRow>(`SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE} WHERE id = ?`, [id]);
    return row ? toJob<P, R>(row) : undefined;
  }

  /** Jobs, newest first. */
  async list(options: ListOptions = {}): Promise<Job[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const filters: Array<[string, SqlValue | undefined]> = [
      ['state = ?', options.state],
      ['member_id = ?', options.memberId],
      ['name = ?', options.name],
      ['id < ?', options.beforeId],
    ];
    for (const [clause, value] of filters) {
      if (value === undefined) continue;
      where.push(clause);
      params.push(value);
    }
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit ?? 50)));
    const rows = await this.#ctx.store.all<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM ${JOBS_TABLE}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`,
      params,
    );
    return rows.map((row) => toJob(row));
  }

  /** How many jobs are in each state. */
  async counts(filter: { memberId?: string } = {}): Promise<Record<JobState, number>> {
    const rows = await this.#ctx.store.all<{ state: JobState; n: number }>(
      `SELECT state, COUNT(*) AS n FROM ${JOBS_TABLE}${filter.memberId !== undefined ? ' WHERE member_id = ?' : ''} GROUP BY state`,
      filter.memberId !== undefined ? [filter.memberId] : [],
    );
    const counts: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, dead: 0 };
    for (const row of rows) counts[row.state] = Number(row.n);
    return counts;
  }

  /** Calls `fn` when a job is enqueued or replayed through this queue object (this process only). */
  onLocalWake(fn: () => void): () => void {
    return this.#ctx.wakeups.subscribe(fn);
  }

  /** Signals this process's workers that work may be waiting. */
  wakeLocal(): void {
    this.#ctx.wakeups.notify();
  }
}
