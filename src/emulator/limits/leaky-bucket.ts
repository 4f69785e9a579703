/**
 * The portal's request counter (docs/protocol.md §5.1, D:limits.md): every incoming request adds to the
 * counter, the counter drains by `drainPerSecond`, and a request that lifts it above `burst` is
 * refused with 503 QUERY_LIMIT_EXCEEDED.
 *
 * Whether a refused request still adds to the counter is UNCONFIRMED. The docs say "each incoming
 * request increases the counter", so by default it does (`countRefused`): a client that keeps
 * hammering while refused stays refused longer. Pass `countRefused: false` for the lenient reading.
 */
export interface BucketState {
  level: number;
  updatedAtMs: number;
}

export interface BucketLimits {
  drainPerSecond: number;
  burst: number;
}

/** Slack for float error in `level`, far below one request. */
const EPSILON = 1e-9;

export function drainedLevel(state: BucketState, nowMs: number, drainPerSecond: number): number {
  const elapsedSeconds = Math.max(0, nowMs - state.updatedAtMs) / 1000;
  const level = state.level - elapsedSeconds * drainPerSecond;
  // snap float residue (49.99999999997) to the integer it stands for, so drift never refuses a request
  const rounded = Math.round(level);
  return Math.max(0, Math.abs(level - rounded) < EPSILON ? rounded : level);
}

/** Adds `cost` requests if they fit; mutates the state and returns whether they were accepted. */
export function tryAdd(state: BucketState, nowMs: number, limits: BucketLimits, cost = 1, countRefused = true): boolean {
  const level = drainedLevel(state, nowMs, limits.drainPerSecond);
  state.updatedAtMs = Math.max(state.updatedAtMs, nowMs);
  const accepted = level + cost <= limits.burst + EPSILON;
  state.level = accepted || countRefused ? level + cost : level;
  return accepted;
}

/** Seconds until `cost` more requests would be accepted (0 when they fit now). */
export function secondsUntilFits(state: BucketState, nowMs: number, limits: BucketLimits, cost = 1): number {
  const excess = drainedLevel(state, nowMs, limits.drainPerSecond) + cost - limits.burst;
  return excess <= EPSILON ? 0 : excess / limits.drainPerSecond;
}
