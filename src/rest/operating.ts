/**
 * The per-method operating budget (docs/protocol.md §5.2): the portal sums the server time of each method
 * (per app) over a rolling 10-minute window; once the sum reaches the limit (480 s), the next call
 * of THAT method answers 429 OPERATION_TIME_LIMIT until the oldest minute leaves the window. Every
 * answer reports the sum (`time.operating`) and when the oldest minute drops
 * (`time.operating_reset_at`), so the client can pace a method before the portal stops it.
 */
import { randomBytes } from 'node:crypto';
import { EMPTY_SHARED_OPERATING, foldShared, mergeOperating, releaseOperating, reserveOperating, type OperatingStateStore, type SharedOperatingState } from './operating-share.js';

/** The `time` object of a REST answer (docs/protocol.md §4.3); every key is optional on the wire. */
export interface RestTime {
  start?: number;
  finish?: number;
  duration?: number;
  processing?: number;
  date_start?: string;
  date_finish?: string;
  /** Seconds this method has used in the current window. */
  operating?: number;
  /** Unix seconds at which the oldest minute of the window drops off. */
  operating_reset_at?: number;
}

export interface OperatingLimits {
  /** The portal's budget per method and window, in seconds. @defaultValue 480 */
  limitSeconds: number;
  /** Share of the budget (0..1) above which calls are spread out until the reset. @defaultValue 0.8 */
  slowdownAt: number;
}

export const DEFAULT_OPERATING_LIMITS: Readonly<OperatingLimits> = Object.freeze({ limitSeconds: 480, slowdownAt: 0.8 });

/** What the client knows about one method's budget on one portal. */
export interface OperatingState {
  /** Last reported `time.operating`, in seconds. */
  operatingSeconds: number;
  /** Local epoch ms at which the oldest minute leaves the window (0 when unknown). */
  resetAtMs: number;
  /** Portal time (epoch ms) of the observation; older observations arriving late are ignored. */
  observedServerMs: number;
  /** Server time of one call of this method, in seconds (moving average). */
  costSeconds: number;
  /** After a 429: no call before this local epoch ms. 0 when not blocked. */
  blockedUntilMs: number;
  /** `operating_reset_at` of the figure as the portal sent it (Unix seconds); 0 or absent when unknown. */
  resetAtServerSeconds?: number;
}

/** Added after `operating_reset_at` (whole seconds, converted across clocks). */
export const RESET_MARGIN_MS = 500;
/** How long a caller waits while a probe call of a method past its reset is in flight. */
export const PROBE_WAIT_MS = 50;
const COST_SMOOTHING = 0.3;

/**
 * Folds one answer's `time` into the state. The reset time is converted from the portal's clock to
 * ours through the answer's own `start`, so a skewed local clock does not matter; `start` is
 * earlier than the portal's time when the answer reaches us, so the converted reset errs late.
 */
export function observeOperating(state: OperatingState | undefined, time: RestTime, localNowMs: number): OperatingState {
  const serverNowMs = ((time.start ?? time.finish) ?? localNowMs / 1000) * 1000;
  const callCost = time.processing ?? time.duration;
  const previousCost = state?.costSeconds ?? 0;
  const costSeconds =
    typeof callCost === 'number' && Number.isFinite(callCost) && callCost >= 0
      ? state && previousCost > 0
        ? previousCost + COST_SMOOTHING * (callCost - previousCost)
        : callCost
      : previousCost;
  if (state && serverNowMs < state.observedServerMs) return { ...state, costSeconds };
  const resetAtMs =
    typeof time.operating_reset_at === 'number' ? localNowMs + (time.operating_reset_at * 1000 - serverNowMs) : (state?.resetAtMs ?? 0);
  return {
    operatingSeconds: typeof time.operating === 'number' ? time.operating : (state?.operatingSeconds ?? 0),
    resetAtMs,
    observedServerMs: serverNowMs,
    costSeconds,
    blockedUntilMs: state && state.blockedUntilMs > localNowMs ? state.blockedUntilMs : 0,
    resetAtServerSeconds: typeof time.operating_reset_at === 'number' ? time.operating_reset_at : (state?.resetAtServerSeconds ?? 0),
  };
}

/**
 * How long to hold back a call that runs `commands` commands of this method while `inflight`
 * others are on their way, in ms:
 * - blocked after a 429 → until the block ends;
 * - the budget would be used up (reported + what is in flight + this call) → until the reset;
 * - above `slowdownAt` → the remaining budget is spread evenly over the time left to the reset;
 * - past the reset with a stale figure near the limit → one probe call at a time refreshes it.
 */
export function operatingDelayMs(
  state: OperatingState | undefined,
  nowMs: number,
  limits: OperatingLimits,
  commands = 1,
  inflight = 0,
): number {
  if (!state) return 0;
  if (state.blockedUntilMs > nowMs) return state.blockedUntilMs - nowMs;
  const nearLimit = state.operatingSeconds >= limits.slowdownAt * limits.limitSeconds;
  if (nowMs >= state.resetAtMs) return nearLimit && inflight > 0 ? PROBE_WAIT_MS : 0;
  const cost = state.costSeconds;
  const projected = state.operatingSeconds + cost * (inflight + commands);
  const untilResetMs = state.resetAtMs - nowMs + RESET_MARGIN_MS;
  if (projected >= limits.limitSeconds) return untilResetMs;
  if (!nearLimit || cost <= 0) return 0;
  const remaining = limits.limitSeconds - state.operatingSeconds - cost * inflight;
  return Math.min(untilResetMs, (untilResetMs * cost * commands) / remaining);
}

/**
 * The portal answered 429 OPERATION_TIME_LIMIT: block the method until the known reset, or for
 * `fallbackMs` when no reset time has been seen (or it has passed).
 */
export function blockOperating(state: OperatingState | undefined, nowMs: number, fallbackMs: number): OperatingState {
  const base: OperatingState = state ?? { operatingSeconds: 0, resetAtMs: 0, observedServerMs: 0, costSeconds: 0, blockedUntilMs: 0 };
  const until = base.resetAtMs > nowMs ? base.resetAtMs + RESET_MARGIN_MS : nowMs + fallbackMs;
  return { ...base, blockedUntilMs: Math.max(base.blockedUntilMs, until) };
}

/** What {@link OperatingTracker.acquire} answers: wait `waitMs` and ask again, or (0) send the call and `release` when done. */
export interface OperatingGrant {
  waitMs: number;
  /** The call was answered (its `time` already observed) or failed: it no longer counts as in flight. Idempotent. */
  release(): void;
}

export interface OperatingTrackerOptions {
  /**
   * Where every process's view of each method meets (store-operating.ts: `createStoreOperatingStore`).
   * Without it the tracker knows only this process's calls, and N processes near a method's limit
   * can together send N times what is left. @defaultValue none (this process alone)
   */
  store?: OperatingStateStore;
  /**
   * With a store: a method whose figure is more than this many calls (at its cost) below the
   * slowdown threshold goes without the store, as long as this process's view of it is younger
   * than `syncMs`. Closer, every call of it is granted in the store. @defaultValue 1000
   */
  shareWithinCalls?: number;
  /** With a store: how old this process's view of a method far from its limit may grow before it is synced, in ms. @defaultValue 1000 */
  syncMs?: number;
  /** With a store: how long a granted call counts when it is never released (its process died), in ms. @defaultValue 120000 */
  reservationTtlMs?: number;
}

const NO_RELEASE: OperatingGrant['release'] = () => undefined;

/**
 * Operating states of every (portal, method) this process calls, plus the calls in flight.
 * Method names are case-insensitive on the portal, so keys are lower-cased. With a
 * {@link OperatingTrackerOptions.store}, the processes that share it pace each method together.
 */
export class OperatingTracker {
  readonly #states = new Map<string, OperatingState>();
  readonly #inflight = new Map<string, number>();
  readonly #store: OperatingStateStore | undefined;
  readonly #shareWithinCalls: number;
  readonly #syncMs: number;
  readonly #ttlMs: number;
  /** When this process last exchanged its view of a key with the store (its clock, epoch ms). */
  readonly #synced = new Map<string, number>();
  /** Keys whose granted call ended without a figure (an error answer, or no `time`): not held to one call at a time. */
  readonly #figureless = new Set<string>();
  readonly #id = randomBytes(6).toString('hex');
  #sequence = 0;

  constructor(
    readonly limits: OperatingLimits = DEFAULT_OPERATING_LIMITS,
    options: OperatingTrackerOptions = {},
  ) {
    this.#store = options.store;
    this.#shareWithinCalls = options.shareWithinCalls ?? 1000;
    this.#syncMs = options.syncMs ?? 1000;
    this.#ttlMs = options.reservationTtlMs ?? 120_000;
  }

  /** Whether the calls of this tracker are paced together with other processes (a store is set). */
  get shared(): boolean {
    return this.#store !== undefined;
  }

  #key(portal: string, method: string): string {
    return `${portal}\u0000${method.toLowerCase()}`;
  }

  /** Every method's state, by portal (for monitoring). */
  *entries(): IterableIterator<{ portal: string; method: string; state: OperatingState }> {
    for (const [key, state] of this.#states) {
      const [portal, method] = key.split('\u0000') as [string, string];
      yield { portal, method, state };
    }
  }

  get(portal: string, method: string): OperatingState | undefined {
    return this.#states.get(this.#key(portal, method));
  }

  observe(portal: string, method: string, time: RestTime | undefined, nowMs: number): void {
    if (!time || typeof time !== 'object') return;
    const key = this.#key(portal, method);
    this.#states.set(key, observeOperating(this.#states.get(key), time, nowMs));
  }

  block(portal: string, method: string, nowMs: number, fallbackMs: number): number {
    const key = this.#key(portal, method);
    const next = blockOperating(this.#states.get(key), nowMs, fallbackMs);
    this.#states.set(key, next);
    // the other processes hold the method too: the portal refuses it to all of them
    if (this.#store) this.#publish(key, undefined);
    return next.blockedUntilMs - nowMs;
  }

  /** The longest delay over `methods` (method → commands of it in this call), from this process's view alone. */
  delayMs(portal: string, methods: ReadonlyMap<string, number>, nowMs: number): number {
    let delay = 0;
    for (const [method, commands] of methods) {
      const key = this.#key(portal, method);
      delay = Math.max(delay, operatingDelayMs(this.#states.get(key), nowMs, this.limits, commands, this.#inflight.get(key) ?? 0));
    }
    return delay;
  }

  /**
   * Asks to send a call that runs `methods` (method → commands): how long to wait first, or a
   * grant that counts it in flight until released. Without a store this is {@link delayMs} and
   * {@link begin}. With one, a method near its limit (or not synced for `syncMs`) is granted in
   * the store, against every process's calls in flight and the freshest figure any of them saw.
   * Release the grant after its answer was observed: the release publishes that figure in the
   * same step, so the call is never counted by neither.
   */
  async acquire(portal: string, methods: ReadonlyMap<string, number>, nowMs: number): Promise<OperatingGrant> {
    const localWaitMs = this.delayMs(portal, methods, nowMs);
    if (localWaitMs > 0) return { waitMs: localWaitMs, release: NO_RELEASE };
    const reserved: Array<{ key: string; id: string }> = [];
    if (this.#store) {
      for (const [method, commands] of methods) {
        const key = this.#key(portal, method);
        if (!this.#mustShare(key, nowMs)) continue;
        const id = `${this.#id}.${(this.#sequence += 1)}`;
        // callers arriving while this one syncs go on this view (when it is far from the limit)
        this.#synced.set(key, nowMs);
        // the step is pure (a store may run it again); the caller's clock, as every time in the row
        const { waitMs, shared } = await this.#store.modify(key, (current) => {
          const merged = mergeOperating(current ?? EMPTY_SHARED_OPERATING, this.#states.get(key));
          const { next, result } = reserveOperating(merged, nowMs, this.limits, commands, id, this.#ttlMs);
          return { next, result: { waitMs: result.waitMs, shared: next } };
        });
        this.#fold(key, shared);
        this.#synced.set(key, nowMs);
        if (waitMs > 0) {
          for (const grant of reserved) this.#publish(grant.key, grant.id);
          return { waitMs, release: NO_RELEASE };
        }
        reserved.push({ key, id });
      }
    }
    this.begin(portal, methods);
    let released = false;
    return {
      waitMs: 0,
      release: () => {
        if (released) return;
        released = true;
        this.end(portal, methods);
        for (const grant of reserved) {
          if (!this.#states.get(grant.key)?.resetAtServerSeconds) this.#figureless.add(grant.key);
          this.#publish(grant.key, grant.id);
        }
      },
    };
  }

  /** Whether a call of `key` must be granted in the store. */
  #mustShare(key: string, nowMs: number): boolean {
    const state = this.#states.get(key);
    // no figure yet: the store may have one (or another process's first call is on its way); a
    // method whose answers bring none (errors only so far) is not held to one call at a time
    if (!state || !state.resetAtServerSeconds) return !this.#figureless.has(key);
    if (nowMs - (this.#synced.get(key) ?? Number.NEGATIVE_INFINITY) >= this.#syncMs) return true;
    // past the reset the figure is stale: one probe for all processes
    if (nowMs >= state.resetAtMs) return true;
    if (state.costSeconds <= 0) return false;
    return (this.limits.slowdownAt * this.limits.limitSeconds - state.operatingSeconds) / state.costSeconds < this.#shareWithinCalls;
  }

  /**
   * Merges this process's view of `key` into the store and drops the reservation `id`, in one
   * step, so that an answered call is counted by its figure or its reservation, never by neither.
   * Runs after the current synchronous code (the answer's observation) has finished. A failure
   * only leaves the reservation to expire.
   */
  #publish(key: string, id: string | undefined): void {
    void this.#store!
      .modify(key, (current) => {
        const merged = mergeOperating(current ?? EMPTY_SHARED_OPERATING, this.#states.get(key));
        const next = id === undefined ? merged : releaseOperating(merged, id);
        return { next, result: next };
      })
      .then(
        (shared) => this.#fold(key, shared),
        () => undefined,
      );
  }

  #fold(key: string, shared: SharedOperatingState): void {
    const next = foldShared(this.#states.get(key), shared);
    if (next) this.#states.set(key, next);
  }

  begin(portal: string, methods: ReadonlyMap<string, number>): void {
    for (const [method, commands] of methods) {
      const key = this.#key(portal, method);
      this.#inflight.set(key, (this.#inflight.get(key) ?? 0) + commands);
    }
  }

  end(portal: string, methods: ReadonlyMap<string, number>): void {
    for (const [method, commands] of methods) {
      const key = this.#key(portal, method);
      const left = (this.#inflight.get(key) ?? 0) - commands;
      if (left > 0) this.#inflight.set(key, left);
      else this.#inflight.delete(key);
    }
  }
}
