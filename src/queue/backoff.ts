/**
 * Job retry timing. The backoff formula itself is the one every retry path in b24kit uses
 * (`backoffMs` in src/rest/retry.ts: exponential, full jitter, capped); this file only maps a job
 * type's options onto it.
 */
import { backoffMs } from '../rest/retry.js';
import type { JobTypeOptions } from './types.js';

/** A job type's options with every default filled in (`retryPermanentErrors` is always set by resolveJobType). */
export type ResolvedJobType = Required<Omit<JobTypeOptions, 'retryPermanentErrors'>> & { retryPermanentErrors?: boolean };

export const DEFAULT_JOB_TYPE: Readonly<ResolvedJobType> = Object.freeze({ maxAttempts: 8, baseDelayMs: 1000, capDelayMs: 600_000, retryPermanentErrors: false });

/** Postponing (portal rate-limited or down) backs off too, but never gives up. */
const POSTPONE_BACKOFF = Object.freeze({ baseMs: 1000, capMs: 300_000 });

export function resolveJobType(options: JobTypeOptions | undefined, defaults: ResolvedJobType = DEFAULT_JOB_TYPE): ResolvedJobType {
  return {
    maxAttempts: Math.max(1, Math.floor(options?.maxAttempts ?? defaults.maxAttempts)),
    baseDelayMs: Math.max(0, options?.baseDelayMs ?? defaults.baseDelayMs),
    capDelayMs: Math.max(0, options?.capDelayMs ?? defaults.capDelayMs),
    retryPermanentErrors: options?.retryPermanentErrors ?? defaults.retryPermanentErrors ?? false,
  };
}

/**
 * The delay before retrying a job whose attempt number `attempt` (1-based) just failed, in ms; or
 * undefined when that was its last attempt (the job goes dead).
 */
export function retryDelayMs(attempt: number, maxAttempts: number, type: ResolvedJobType, random: () => number = Math.random): number | undefined {
  return backoffMs(attempt, { maxAttempts, baseMs: type.baseDelayMs, capMs: type.capDelayMs }, Number.POSITIVE_INFINITY, random);
}

/** The delay of a job's `postpones`-th consecutive postpone (1-based), in ms. Always defined. */
export function postponeDelayMs(postpones: number, random: () => number = Math.random): number {
  const policy = { maxAttempts: Number.POSITIVE_INFINITY, baseMs: POSTPONE_BACKOFF.baseMs, capMs: POSTPONE_BACKOFF.capMs };
  return backoffMs(Math.max(1, postpones), policy, Number.POSITIVE_INFINITY, random) ?? POSTPONE_BACKOFF.capMs;
}
