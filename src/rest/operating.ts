/**
 * The per-method operating budget (protocol §5.2): the portal sums the server time of each method
 * (per app) over a rolling 10-minute window; once the sum reaches the limit (480 s), the next call
 * of THAT method answers 429 OPERATION_TIME_LIMIT until the oldest minute leaves the window. Every
 * answer reports the sum (`time.operating`) and when the oldest minute drops
 * (`time.operating_reset_at`), so the client can pace a method before the portal stops it.
 */

/** The `time` object of a REST answer (protocol §4.3); every key is optional on the wire. */
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
}

/** Added after `operating_reset_at` (whole seconds, converted across clocks). */
export const RESET_MARGIN_MS = 500;
/** How long a caller waits while a probe call of a method past its reset is in flight. */
const PROBE_WAIT_MS = 50;
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
      ? state
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

/**
 * Operating states of every (portal, method) this process calls, plus the calls in flight.
 * Method names are case-insensitive on the portal, so keys are lower-cased.
 */
export class OperatingTracker {
  readonly #states = new Map<string, OperatingState>();
  readonly #inflight = new Map<string, number>();

  constructor(readonly limits: OperatingLimits = DEFAULT_OPERATING_LIMITS) {}

  #key(portal: string, method: string): string {
    return `${portal}\u0000${method.toLowerCase()}`;
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
    return next.blockedUntilMs - nowMs;
  }

  /** The longest delay over `methods` (method → commands of it in this call). */
  delayMs(portal: string, methods: ReadonlyMap<string, number>, nowMs: number): number {
    let delay = 0;
    for (const [method, commands] of methods) {
      const key = this.#key(portal, method);
      delay = Math.max(delay, operatingDelayMs(this.#states.get(key), nowMs, this.limits, commands, this.#inflight.get(key) ?? 0));
    }
    return delay;
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
