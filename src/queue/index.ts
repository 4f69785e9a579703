/** The durable job queue (see types.ts for its semantics). */
export { JobQueue, type QueueOptions, type PostponeOptions } from './queue.js';
export { Worker, defaultPostponeFor, type WorkerOptions, type JobContext, type JobHandler } from './worker.js';
export type { BatchJobContext, BatchJobHandler, BatchJobOutcome, BatchJobType } from './batch-run.js';
export type { GroupClaimOptions } from './claim-batch.js';
export { NonRetryableError, isNonRetryable, isPortalUnavailable } from './errors.js';
export { listenForJobs, notifyJobs, JOBS_CHANNEL, type ListenOptions, type JobListener } from './notify.js';
export { retryDelayMs, postponeDelayMs, DEFAULT_JOB_TYPE, type ResolvedJobType } from './backoff.js';
export type { FailOutcome } from './lease.js';
export type { Job, JobState, AttemptRecord, EnqueueInput, EnqueueResult, EnqueueManyResult, JobTypeOptions, ClaimOptions, LeaseCheck, ListOptions, Json } from './types.js';
