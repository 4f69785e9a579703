/**
 * The portal's request counter (protocol §5.1): every request adds 1, the counter drains by
 * `drainPerSecond`, and a request that would lift it above `burst` is refused with
 * 503 QUERY_LIMIT_EXCEEDED. A refused request is not counted.
 */
export interface BucketState {
  level: number;
  updatedAtMs: number;
}

export interface BucketLimits {
  drainPerSecond: number;
  burst: number;
}

export function drainedLevel(state: BucketState, nowMs: number, drainPerSecond: number): number {
  const elapsedSeconds = Math.max(0, nowMs - state.updatedAtMs) / 1000;
  return Math.max(0, state.level - elapsedSeconds * drainPerSecond);
}

/** Adds `cost` requests if they fit; mutates and returns whether they were accepted. */
export function tryAdd(state: BucketState, nowMs: number, limits: BucketLimits, cost = 1): boolean {
  const level = drainedLevel(state, nowMs, limits.drainPerSecond);
  state.updatedAtMs = Math.max(state.updatedAtMs, nowMs);
  if (level + cost > limits.burst) {
    state.level = level;
    return false;
  }
  state.level = level + cost;
  return true;
}
