/**
 * One method's operating budget as every process of an app sees it (docs/protocol.md §5.2: the portal
 * sums a method's server time per app, whichever process sent the calls). Pure functions over a
 * plain-JSON state that a store keeps in a row (store-operating.ts): the freshest figure any process
 * has seen, and the calls granted and not yet answered — each process's, so that N processes
 * together never send more than the budget holds. The policy is operating.ts's `operatingDelayMs`,
 * applied to the shared figure and the shared calls in flight.
 */
import { PROBE_WAIT_MS, operatingDelayMs, type OperatingLimits, type OperatingState } from './operating.js';

/** A call granted by {@link reserveOperating}, counted until released (or until it expires). */
export interface OperatingReservation {
  /** Unique per call: the tracker's id and a counter. */
  id: string;
  /** The budget it may use: the method's cost per call × its commands, in seconds. */
  seconds: number;
  /** Epoch ms after which it no longer counts (its process died, or lost the release). */
  expiresAtMs: number;
}

/** The shared state of one (portal, method). Times are epoch ms of the processes' clocks. */
export interface SharedOperatingState {
  /** The freshest `time.operating` seen by any process, in seconds. */
  operatingSeconds: number;
  /** Its `operating_reset_at` as the portal sent it (Unix seconds); 0 while no figure is known. */
  resetAtServerSeconds: number;
  /** The same moment on the processes' clock, epoch ms. */
  resetAtMs: number;
  /** Server time of one call of the method, in seconds (the last estimate published). */
  costSeconds: number;
  /** After a 429: no call before this epoch ms. 0 when not blocked. */
  blockedUntilMs: number;
  reservations: OperatingReservation[];
}

export const EMPTY_SHARED_OPERATING: Readonly<SharedOperatingState> = Object.freeze({
  operatingSeconds: 0,
  resetAtServerSeconds: 0,
  resetAtMs: 0,
  costSeconds: 0,
  blockedUntilMs: 0,
  reservations: [],
});

/**
 * Whether figure `a` is fresher than `b`. Within one window position (the same reset time) the sum
 * only grows, so the larger figure has seen more calls; a later reset means the window has moved.
 * This holds whatever clock each answer's `start` came from.
 */
function fresher(a: { resetAtServerSeconds: number; operatingSeconds: number }, b: { resetAtServerSeconds: number; operatingSeconds: number }): boolean {
  if (a.resetAtServerSeconds !== b.resetAtServerSeconds) return a.resetAtServerSeconds > b.resetAtServerSeconds;
  return a.operatingSeconds > b.operatingSeconds;
}

/** Folds one process's view (its freshest answer, its cost estimate, a 429's block) into the shared state. */
export function mergeOperating(shared: SharedOperatingState, local: OperatingState | undefined): SharedOperatingState {
  if (!local) return shared;
  const localFigure = { resetAtServerSeconds: local.resetAtServerSeconds ?? 0, operatingSeconds: local.operatingSeconds };
  const takeFigure = localFigure.resetAtServerSeconds > 0 && fresher(localFigure, shared);
  const costSeconds = local.costSeconds > 0 ? local.costSeconds : shared.costSeconds;
  const blockedUntilMs = Math.max(shared.blockedUntilMs, local.blockedUntilMs);
  if (!takeFigure && costSeconds === shared.costSeconds && blockedUntilMs === shared.blockedUntilMs) return shared;
  return {
    ...shared,
    ...(takeFigure ? { operatingSeconds: local.operatingSeconds, resetAtServerSeconds: localFigure.resetAtServerSeconds, resetAtMs: local.resetAtMs } : {}),
    costSeconds,
    blockedUntilMs,
  };
}

/** The shared state folded into one process's view: the fresher figure and the later block win (undefined while neither knows anything). */
export function foldShared(local: OperatingState | undefined, shared: SharedOperatingState): OperatingState | undefined {
  if (!local && shared.resetAtServerSeconds === 0 && shared.blockedUntilMs === 0) return undefined;
  const base: OperatingState = local ?? { operatingSeconds: 0, resetAtMs: 0, observedServerMs: 0, costSeconds: 0, blockedUntilMs: 0, resetAtServerSeconds: 0 };
  const takeFigure = shared.resetAtServerSeconds > 0 && fresher(shared, { resetAtServerSeconds: base.resetAtServerSeconds ?? 0, operatingSeconds: base.operatingSeconds });
  return {
    ...base,
    ...(takeFigure ? { operatingSeconds: shared.operatingSeconds, resetAtMs: shared.resetAtMs, resetAtServerSeconds: shared.resetAtServerSeconds } : {}),
    costSeconds: base.costSeconds > 0 ? base.costSeconds : shared.costSeconds,
    blockedUntilMs: Math.max(base.blockedUntilMs, shared.blockedUntilMs),
  };
}

/**
 * May a call running `commands` commands of the method go now? The delay of `operatingDelayMs`
 * on the shared figure with every process's granted calls counted as in flight; without any figure
 * yet, one call at a time (whose answer brings the first). When the answer is go (`waitMs` 0), the
 * call is reserved until {@link releaseOperating} or `ttlMs`. Expired reservations are dropped.
 */
export function reserveOperating(
  shared: SharedOperatingState,
  nowMs: number,
  limits: OperatingLimits,
  commands: number,
  id: string,
  ttlMs: number,
): { next: SharedOperatingState; result: { waitMs: number } } {
  const live = shared.reservations.filter((reservation) => reservation.expiresAtMs > nowMs);
  const state = live.length === shared.reservations.length ? shared : { ...shared, reservations: live };
  let waitMs: number;
  if (state.blockedUntilMs > nowMs) waitMs = state.blockedUntilMs - nowMs;
  else if (state.resetAtServerSeconds === 0) waitMs = live.length > 0 ? PROBE_WAIT_MS : 0;
  else {
    const cost = state.costSeconds;
    const reservedSeconds = live.reduce((sum, reservation) => sum + reservation.seconds, 0);
    const inflight = cost > 0 ? reservedSeconds / cost : live.length;
    const view: OperatingState = { operatingSeconds: state.operatingSeconds, resetAtMs: state.resetAtMs, observedServerMs: 0, costSeconds: cost, blockedUntilMs: 0 };
    waitMs = operatingDelayMs(view, nowMs, limits, commands, inflight);
  }
  if (waitMs > 0) return { next: state, result: { waitMs } };
  const reservation: OperatingReservation = { id, seconds: Math.max(0, state.costSeconds) * commands, expiresAtMs: nowMs + ttlMs };
  return { next: { ...state, reservations: [...live, reservation] }, result: { waitMs: 0 } };
}

/** The call `id` was answered (its figure merged in the same step) or failed: it no longer counts. */
export function releaseOperating(shared: SharedOperatingState, id: string): SharedOperatingState {
  const reservations = shared.reservations.filter((reservation) => reservation.id !== id);
  return reservations.length === shared.reservations.length ? shared : { ...shared, reservations };
}

/**
 * Where the shared states live: one atomic read-modify-write per call, with no other `modify` of
 * the same key interleaved across processes (the contract of `BucketStateStore`; store-operating.ts).
 * `key` is `{portal}\u0000{method}` (the method lower-cased).
 */
export interface OperatingStateStore {
  modify<R>(key: string, step: (current: SharedOperatingState | undefined, nowMs: number) => { next: SharedOperatingState; result: R }): Promise<R>;
}
