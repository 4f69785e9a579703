/**
 * The client-side mirror of a portal's leaky bucket (docs/protocol.md §5.1): every request adds 1, the
 * counter drains by `drainPerSecond`, and the portal refuses a request that would lift it above
 * `burst` with 503 QUERY_LIMIT_EXCEEDED. The limit is counted per portal (and source IP), so every
 * process of an app must draw from ONE shared state: the policy lives in pure functions here and
 * the state behind a {@link BucketStateStore}, whose only job is an atomic read-modify-write.
 */

/** Limits of one portal's bucket. */
export interface BucketLimits {
  /** Requests drained per second. @defaultValue 2 (5 on Enterprise) */
  drainPerSecond: number;
  /** Bucket size: requests that may be sent back to back. @defaultValue 50 (250 on Enterprise) */
  burst: number;
}

/** Limits of every plan but Enterprise (docs/protocol.md §5.1). */
export const STANDARD_BUCKET: Readonly<BucketLimits> = Object.freeze({ drainPerSecond: 2, burst: 50 });
/** Limits of the Enterprise plan (docs/protocol.md §5.1). */
export const ENTERPRISE_BUCKET: Readonly<BucketLimits> = Object.freeze({ drainPerSecond: 5, burst: 250 });

/**
 * The limits for an `app.info` `LICENSE_FAMILY` (or `LICENSE`, e.g. `en_ent250`): Enterprise
 * plans get 5/250, everything else 2/50.
 */
export function bucketLimitsForLicense(licenseFamily: string | undefined): BucketLimits {
  const family = (licenseFamily ?? '').toLowerCase().replace(/^[a-z]{2}_/, '');
  return family.startsWith('ent') ? { ...ENTERPRISE_BUCKET } : { ...STANDARD_BUCKET };
}

/**
 * One portal's bucket as the client believes it to be. Plain JSON so that a store can keep it in
 * a row. `atMs` may lie in the future: the level then already counts requests that were granted
 * a slot and are waiting for it (virtual scheduling), so concurrent callers queue up in order.
 */
export interface BucketState {
  /** Requests in the bucket at `atMs`. */
  level: number;
  /** Epoch ms at which `level` holds. */
  atMs: number;
  /** No request may be sent before this epoch ms (set after a 503). 0 when not paused. */
  pausedUntilMs: number;
  /** Resynchronisations so far: a caller whose slot predates the last one takes a new slot. */
  epoch?: number;
}

export const EMPTY_BUCKET: Readonly<BucketState> = Object.freeze({ level: 0, atMs: 0, pausedUntilMs: 0 });

export interface Reservation {
  /** Whether a slot was taken. False only when the wait would exceed `maxWaitMs` (state unchanged). */
  granted: boolean;
  /** How long the caller must wait before sending, in ms (≥ 0). */
  waitMs: number;
  /** The bucket's resync count when the slot was granted. */
  epoch: number;
}

/** The level at `nowMs`, drained since `state.atMs` (never below 0). */
export function levelAt(state: BucketState, nowMs: number, limits: BucketLimits): number {
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  return Math.max(0, state.level - (elapsedMs / 1000) * limits.drainPerSecond);
}

/**
 * Reserves `cost` slots: when can a request be sent so that the portal's bucket, draining as
 * ours does, stays within `burst`? Pure: returns the next state and the wait. A reservation whose
 * wait would exceed `maxWaitMs` is refused and leaves the state unchanged, so a caller whose
 * deadline is near does not burn a slot it will never use.
 */
export function reserveSlot(
  state: BucketState,
  nowMs: number,
  limits: BucketLimits,
  cost = 1,
  maxWaitMs = Number.POSITIVE_INFINITY,
  headroom = 0,
): { next: BucketState; reservation: Reservation } {
  const epoch = state.epoch ?? 0;
  const startMs = Math.max(nowMs, state.atMs, state.pausedUntilMs);
  const level = levelAt(state, startMs, limits);
  const ceiling = Math.max(cost, limits.burst - headroom);
  const excess = level + cost - ceiling;
  const sendAtMs = excess > 0 ? startMs + (excess / limits.drainPerSecond) * 1000 : startMs;
  const waitMs = Math.max(0, sendAtMs - nowMs);
  if (waitMs > maxWaitMs) return { next: state, reservation: { granted: false, waitMs, epoch } };
  const next: BucketState = {
    level: levelAt({ ...state, level, atMs: startMs }, sendAtMs, limits) + cost,
    atMs: sendAtMs,
    pausedUntilMs: state.pausedUntilMs,
    epoch,
  };
  return { next, reservation: { granted: true, waitMs, epoch } };
}

/**
 * The portal answered 503 QUERY_LIMIT_EXCEEDED: our mirror was wrong (another process, another
 * app on the same IP, or a restart lost the state). Assume the bucket is full now — plus the
 * refused request itself, since the docs say every incoming request adds to the counter (whether a
 * refused one does is UNCONFIRMED; assuming it does costs one drain interval) — and send nothing
 * for `pauseMs`. Reservations already granted keep their place in the queue.
 */
export function resyncFull(state: BucketState, nowMs: number, limits: BucketLimits, pauseMs: number): BucketState {
  const atMs = Math.max(nowMs, state.atMs);
  return {
    level: Math.max(levelAt(state, atMs, limits), limits.burst + 1),
    atMs,
    pausedUntilMs: Math.max(state.pausedUntilMs, nowMs + pauseMs),
    epoch: (state.epoch ?? 0) + 1,
  };
}

/**
 * Where bucket states live. The in-memory store serves one process; a store over the shared
 * database makes every process of the app draw from one budget.
 *
 * The contract is ONE atomic read-modify-write per call: read the state of `key` (undefined when
 * there is none yet), call `step` with it and the store's clock, persist `next`, and return
 * `result` — with no other `modify` of the same key interleaved, across processes. `step` is a
 * pure function of its arguments (it may be called again if the store retries a transaction).
 *
 * A SQL implementation over the shared store is one transaction per call:
 * ```
 *   BEGIN;                                   -- SQLite: BEGIN IMMEDIATE
 *   SELECT state FROM rest_buckets WHERE key = $1 FOR UPDATE;   -- PG row lock
 *   -- step(current, nowMs) in JS: reserveSlot / resyncFull from this file, never a SQL copy
 *   INSERT INTO rest_buckets(key, state) VALUES ($1, $2)
 *     ON CONFLICT (key) DO UPDATE SET state = excluded.state;
 *   COMMIT;
 * ```
 * (PG: insert the row with `ON CONFLICT DO NOTHING` before the `SELECT … FOR UPDATE` so the first
 * caller also locks.) `nowMs` may come from the database (`now()`) when processes run on hosts
 * whose clocks disagree; waits are durations, so only the differences matter.
 */
export interface BucketStateStore {
  modify<R>(key: string, step: (current: BucketState | undefined, nowMs: number) => { next: BucketState; result: R }): Promise<R>;
}

/** Bucket states in this process's memory. */
export class InMemoryBucketStore implements BucketStateStore {
  readonly #states = new Map<string, BucketState>();

  constructor(private readonly now: () => number = Date.now) {}

  async modify<R>(key: string, step: (current: BucketState | undefined, nowMs: number) => { next: BucketState; result: R }): Promise<R> {
    // a synchronous read-modify-write cannot interleave within one event loop
    const { next, result } = step(this.#states.get(key), this.now());
    this.#states.set(key, next);
    return result;
  }

  /** The current state of `key`, for tests and diagnostics. */
  peek(key: string): BucketState | undefined {
    return this.#states.get(key);
  }
}

export interface RateLimiterOptions {
  /** Where bucket states live. @defaultValue a new {@link InMemoryBucketStore} */
  store?: BucketStateStore;
  /** Limits of portals without an override. @defaultValue {@link STANDARD_BUCKET} (2/s, 50) */
  defaultLimits?: BucketLimits;
  /**
   * Added to every non-zero wait, in ms: the portal measures arrival on its own clock and rounds;
   * a few ms keep us on the safe side of `burst`. @defaultValue 15
   */
  safetyMs?: number;
  /**
   * Slots of the bucket kept free, in requests. Requests do not arrive when they were sent: a
   * first request opens a connection, later ones reuse it, so arrivals bunch by the latency's
   * jitter; each spare slot absorbs 1/drain seconds of it. The steady rate stays `drainPerSecond`;
   * only the initial burst is smaller. @defaultValue enough slots for {@link headroomMs}
   */
  headroom?: number;
  /**
   * Without a fixed `headroom`: the bunching of arrivals to absorb, in ms — `ceil(drain × headroomMs)`
   * slots, at least 1 (1 slot at 2/s, 2 at 5/s). @defaultValue 250
   */
  headroomMs?: number;
  /** The clock of the default in-memory store, epoch ms. @defaultValue Date.now */
  now?: () => number;
  /**
   * Where each portal's plan comes from (app.info `LICENSE_FAMILY`, cached). Without it the limits
   * are the default's until {@link RateLimiter.setPlanLimits} (or `B24Client.applyPlanFromAppInfo`)
   * says otherwise. @defaultValue none
   */
  plans?: PlanSource;
  /** Per-portal limits from configuration, keyed like the buckets (member_id); they win over the plan. */
  portalLimits?: Record<string, Partial<BucketLimits>>;
}

/**
 * Plan-aware limits (see src/rest/plans.ts): the limits of a portal's plan, read through
 * `readLicense` (app.info) only when unknown or stale. Never rejects: without a plan the limiter
 * keeps the default limits, which are the lower ones.
 */
export interface PlanSource {
  limitsFor(key: string, readLicense: () => Promise<string | undefined>): Promise<BucketLimits | undefined>;
}

/**
 * Buckets of many portals, keyed by member_id. Share one instance (over a shared store) between
 * every client of an app so that they draw from one budget per portal.
 */
export class RateLimiter {
  readonly store: BucketStateStore;
  readonly #defaultLimits: BucketLimits;
  /** Limits of each portal's plan, when known. */
  readonly #planLimits = new Map<string, BucketLimits>();
  /** Explicit limits (configuration, a client's `limits`): they win over the plan. */
  readonly #overrides = new Map<string, Partial<BucketLimits>>();
  readonly #plans: PlanSource | undefined;
  readonly #safetyMs: number;
  readonly #headroom: number | undefined;
  readonly #headroomMs: number;
  /** The last resync count seen per key, so that waiting callers notice a resync. */
  readonly #epochs = new Map<string, number>();

  constructor(options: RateLimiterOptions = {}) {
    this.store = options.store ?? new InMemoryBucketStore(options.now);
    this.#defaultLimits = { ...(options.defaultLimits ?? STANDARD_BUCKET) };
    this.#safetyMs = options.safetyMs ?? 15;
    this.#headroom = options.headroom === undefined ? undefined : Math.max(0, options.headroom);
    this.#headroomMs = Math.max(0, options.headroomMs ?? 250);
    this.#plans = options.plans;
    for (const [key, limits] of Object.entries(options.portalLimits ?? {})) this.setLimits(key, limits);
  }

  /** Overrides the limits of one portal; they win over its plan. */
  setLimits(key: string, limits: Partial<BucketLimits>): void {
    this.#overrides.set(key, { ...this.#overrides.get(key), ...definedLimits(limits) });
  }

  /** Sets the limits of one portal's plan (from app.info); explicit limits still win. */
  setPlanLimits(key: string, limits: BucketLimits): void {
    this.#planLimits.set(key, { ...limits });
  }

  /** The limits in force: the default, then the portal's plan, then its explicit limits. */
  limitsFor(key: string): BucketLimits {
    const plan = this.#planLimits.get(key);
    const override = this.#overrides.get(key);
    if (!plan && !override) return this.#defaultLimits;
    return { ...this.#defaultLimits, ...plan, ...override };
  }

  /**
   * Makes sure the portal's plan is known before its requests are paced: with a plan source, the
   * first call for a portal (and the first after the cached plan went stale) asks it, which may
   * call `readLicense` (app.info). A portal whose limits are fully set explicitly needs no plan.
   */
  async preparePortal(key: string, readLicense: () => Promise<string | undefined>): Promise<void> {
    if (!this.#plans) return;
    const override = this.#overrides.get(key);
    if (override?.drainPerSecond !== undefined && override.burst !== undefined) return;
    const limits = await this.#plans.limitsFor(key, readLicense);
    if (limits) this.#planLimits.set(key, limits);
  }

  /** Takes a slot for one request to portal `key`; returns how long to wait before sending. */
  async reserve(key: string, maxWaitMs = Number.POSITIVE_INFINITY, cost = 1): Promise<Reservation> {
    const limits = this.limitsFor(key);
    const reservation = await this.store.modify(key, (current, nowMs) => {
      const { next, reservation } = reserveSlot(current ?? EMPTY_BUCKET, nowMs, limits, cost, maxWaitMs, this.#headroomFor(limits));
      return { next, result: reservation };
    });
    this.#epochs.set(key, Math.max(this.#epochs.get(key) ?? 0, reservation.epoch));
    return reservation.waitMs > 0 ? { ...reservation, waitMs: reservation.waitMs + this.#safetyMs } : reservation;
  }

  /** Spare slots for `limits`: fixed, or what the drain frees in `headroomMs` (at least 1). */
  #headroomFor(limits: BucketLimits): number {
    if (this.#headroom !== undefined) return this.#headroom;
    return Math.min(Math.max(1, Math.ceil((limits.drainPerSecond * this.#headroomMs) / 1000)), Math.max(0, limits.burst - 1));
  }

  /** The portal answered 503 QUERY_LIMIT_EXCEEDED: assume a full bucket and pause `pauseMs`. */
  async resync(key: string, pauseMs: number): Promise<void> {
    const limits = this.limitsFor(key);
    const epoch = await this.store.modify(key, (current, nowMs) => {
      const next = resyncFull(current ?? EMPTY_BUCKET, nowMs, limits, pauseMs);
      return { next, result: next.epoch ?? 0 };
    });
    this.#epochs.set(key, Math.max(this.#epochs.get(key) ?? 0, epoch));
  }

  /**
   * Whether a slot granted at `epoch` is still good: false once the portal refused a request
   * after it was granted (seen by this limiter), because the slot was computed from a model the
   * portal has since contradicted. Such a caller takes a new slot instead of sending.
   */
  isCurrent(key: string, epoch: number): boolean {
    return (this.#epochs.get(key) ?? 0) <= epoch;
  }
}

function definedLimits(limits: Partial<BucketLimits>): Partial<BucketLimits> {
  const out: Partial<BucketLimits> = {};
  if (limits.drainPerSecond !== undefined) out.drainPerSecond = limits.drainPerSecond;
  if (limits.burst !== undefined) out.burst = limits.burst;
  return out;
}
