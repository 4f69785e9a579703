/**
 * The operating budgets in the shared store: every process of an app that opens the same database
 * paces each method of each portal together (docs/protocol.md §5.2: the portal sums a method's time per
 * app, not per process). The policy stays in operating-share.ts (`reserveOperating`,
 * `mergeOperating`, run in JS inside the transaction); this file only persists it, in
 * `b24kit_rest_operating` (migration 0011), through the same batched row transaction as the
 * leaky buckets (store-row-queue.ts).
 */
import type { Store, Transaction } from '../store/types.js';
import { DEFAULT_OPERATING_LIMITS, OperatingTracker, type OperatingLimits, type OperatingTrackerOptions } from './operating.js';
import type { OperatingReservation, OperatingStateStore, SharedOperatingState } from './operating-share.js';
import { StoreRowQueue, type RowCodec } from './store-row-queue.js';

interface OperatingRow {
  operating_seconds: number;
  reset_at_server_seconds: number;
  reset_at_ms: number;
  cost_seconds: number;
  blocked_until_ms: number;
  reservations: string;
}

/** `{portal}\u0000{method}` → its two columns. */
function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

function fromRow(row: OperatingRow): SharedOperatingState {
  let reservations: OperatingReservation[] = [];
  try {
    const parsed: unknown = JSON.parse(row.reservations);
    if (Array.isArray(parsed)) reservations = parsed as OperatingReservation[];
  } catch {
    // an unreadable list counts nothing in flight; the figure still paces the method
  }
  return {
    operatingSeconds: Number(row.operating_seconds),
    resetAtServerSeconds: Number(row.reset_at_server_seconds),
    resetAtMs: Number(row.reset_at_ms),
    costSeconds: Number(row.cost_seconds),
    blockedUntilMs: Number(row.blocked_until_ms),
    reservations,
  };
}

const OPERATING_ROWS: RowCodec<SharedOperatingState> = {
  async lock(tx, key) {
    const row = await tx.one<OperatingRow>(
      'SELECT operating_seconds, reset_at_server_seconds, reset_at_ms, cost_seconds, blocked_until_ms, reservations FROM b24kit_rest_operating WHERE budget_key = ? AND method = ? FOR UPDATE',
      splitKey(key),
    );
    return row ? { state: fromRow(row) } : undefined;
  },
  async create(tx, key, nowMs) {
    await tx.run('INSERT INTO b24kit_rest_operating (budget_key, method, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT (budget_key, method) DO NOTHING', [...splitKey(key), nowMs]);
  },
  async write(tx, key, state, nowMs) {
    await tx.run(
      `UPDATE b24kit_rest_operating SET operating_seconds = ?, reset_at_server_seconds = ?, reset_at_ms = ?, cost_seconds = ?, blocked_until_ms = ?, reservations = ?, updated_at_ms = ?
       WHERE budget_key = ? AND method = ?`,
      [state.operatingSeconds, Math.floor(state.resetAtServerSeconds), state.resetAtMs, state.costSeconds, state.blockedUntilMs, JSON.stringify(state.reservations), nowMs, ...splitKey(key)],
    );
  },
};

/** An {@link OperatingStateStore} over the shared {@link Store}: one short transaction per step, batched per key in this process. */
export class StoreOperatingStateStore implements OperatingStateStore {
  readonly #rows: StoreRowQueue<SharedOperatingState>;

  constructor(options: { store: Store }) {
    // the steps run on the callers' clock; this one only stamps `updated_at_ms`
    this.#rows = new StoreRowQueue(options.store, OPERATING_ROWS, Date.now);
  }

  modify<R>(key: string, step: (current: SharedOperatingState | undefined, nowMs: number) => { next: SharedOperatingState; result: R }): Promise<R> {
    return this.#rows.modify(key, step);
  }
}

export interface StoreOperatingTrackerOptions extends Omit<OperatingTrackerOptions, 'store'> {
  store: Store;
  /** @defaultValue {@link DEFAULT_OPERATING_LIMITS} (480 s, slowdown at 80 %) */
  limits?: Partial<OperatingLimits>;
}

/**
 * An operating tracker whose budgets every process opening the same database shares: give it (or
 * trackers over the same store) to every B24Client of the app. The calls' clocks must agree
 * across processes (the times in the rows are theirs; keep hosts on NTP).
 */
export function createStoreOperatingTracker(options: StoreOperatingTrackerOptions): OperatingTracker {
  const { store, limits, ...trackerOptions } = options;
  return new OperatingTracker({ ...DEFAULT_OPERATING_LIMITS, ...limits }, { ...trackerOptions, store: new StoreOperatingStateStore({ store }) });
}

/** Deletes a portal's operating budgets; register with `portals.registerCleanup` (runs on purge). */
export async function deletePortalOperating(tx: Transaction, memberId: string): Promise<void> {
  await tx.run('DELETE FROM b24kit_rest_operating WHERE budget_key = ?', [memberId]);
}
