/**
 * The leaky buckets in the shared store: every process of an app that opens the same database
 * draws from ONE budget per portal, as the portal counts it (docs/protocol.md §5.1: per portal and source
 * IP, not per process). The policy stays in limiter.ts (`reserveSlot`, `resyncFull`, run in JS
 * inside the transaction); this file only persists it, in `b24kit_rest_buckets` (migration 0006),
 * next to each portal's cached plan (plans.ts).
 */
import type { Store, Transaction } from '../store/types.js';
import { StoreRowQueue, type RowCodec } from './store-row-queue.js';
import type { B24Logger } from './hooks.js';
import { RateLimiter, type BucketState, type BucketStateStore, type RateLimiterOptions } from './limiter.js';
import { PortalPlans, type PlanRecord, type PlanStore, type PortalPlansOptions } from './plans.js';

export interface StoreBucketStateStoreOptions {
  store: Store;
  /**
   * The clock the bucket model runs on, epoch ms: the caller's (the client's injected clock, the
   * app's `nowMs`), read inside the transaction, after the row lock is held. Every process sharing
   * the store must use the same time source: waits are differences of these readings, so hosts
   * whose clocks disagree by d ms can send d × drain / 1000 requests too many (keep them on NTP).
   * @defaultValue Date.now
   */
  now?: () => number;
}

interface BucketRow {
  level: number | null;
  at_ms: number | null;
  paused_until_ms: number | null;
  epoch: number | null;
}

const SELECT_FOR_UPDATE = 'SELECT level, at_ms, paused_until_ms, epoch FROM b24kit_rest_buckets WHERE bucket_key = ? FOR UPDATE';

/** The bucket columns of `b24kit_rest_buckets` (the plan columns are PlanStore's). */
const BUCKET_ROWS: RowCodec<BucketState> = {
  async lock(tx, key) {
    const row = await tx.one<BucketRow>(SELECT_FOR_UPDATE, [key]);
    return row ? { state: fromRow(row) } : undefined;
  },
  async create(tx, key, nowMs) {
    await tx.run('INSERT INTO b24kit_rest_buckets (bucket_key, updated_at_ms) VALUES (?, ?) ON CONFLICT (bucket_key) DO NOTHING', [key, nowMs]);
  },
  async write(tx, key, state, nowMs) {
    await tx.run('UPDATE b24kit_rest_buckets SET level = ?, at_ms = ?, paused_until_ms = ?, epoch = ?, updated_at_ms = ? WHERE bucket_key = ?', [
      state.level,
      state.atMs,
      state.pausedUntilMs,
      state.epoch ?? 0,
      nowMs,
      key,
    ]);
  },
};

/**
 * A {@link BucketStateStore} over the shared {@link Store}: `modify` is one short transaction on
 * the portal's row (store-row-queue.ts), callers of one portal in this process batched into one.
 */
export class StoreBucketStateStore implements BucketStateStore, PlanStore {
  readonly #store: Store;
  readonly #rows: StoreRowQueue<BucketState>;

  constructor(options: StoreBucketStateStoreOptions) {
    this.#store = options.store;
    this.#rows = new StoreRowQueue(options.store, BUCKET_ROWS, options.now ?? Date.now);
  }

  /** One atomic read-modify-write of the portal's bucket (see {@link StoreRowQueue.modify}). */
  modify<R>(key: string, step: (current: BucketState | undefined, nowMs: number) => { next: BucketState; result: R }): Promise<R> {
    return this.#rows.modify(key, step);
  }

  /** The current state of `key` (undefined before its first request), for tests and diagnostics. */
  async peek(key: string): Promise<BucketState | undefined> {
    return fromRow(await this.#store.one<BucketRow>('SELECT level, at_ms, paused_until_ms, epoch FROM b24kit_rest_buckets WHERE bucket_key = ?', [key]));
  }

  async readPlan(key: string): Promise<PlanRecord | undefined> {
    const row = await this.#store.one<{ license_family: string | null; plan_checked_at_ms: number | null }>(
      'SELECT license_family, plan_checked_at_ms FROM b24kit_rest_buckets WHERE bucket_key = ?',
      [key],
    );
    if (!row || row.license_family === null || row.plan_checked_at_ms === null) return undefined;
    return { licenseFamily: row.license_family, checkedAtMs: Number(row.plan_checked_at_ms) };
  }

  async writePlan(key: string, plan: PlanRecord): Promise<void> {
    // leaves the bucket columns alone: a plan read must not reset a portal's budget
    await this.#store.run(
      `INSERT INTO b24kit_rest_buckets (bucket_key, license_family, plan_checked_at_ms, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (bucket_key) DO UPDATE SET license_family = excluded.license_family, plan_checked_at_ms = excluded.plan_checked_at_ms`,
      [key, plan.licenseFamily, Math.floor(plan.checkedAtMs), Math.floor(plan.checkedAtMs)],
    );
  }
}

function fromRow(row: BucketRow | undefined): BucketState | undefined {
  if (!row || row.level === null || row.at_ms === null) return undefined;
  return { level: Number(row.level), atMs: Number(row.at_ms), pausedUntilMs: Number(row.paused_until_ms ?? 0), epoch: Number(row.epoch ?? 0) };
}

/** Deletes a portal's bucket and plan; register with `portals.registerCleanup` (runs on purge). */
export async function deletePortalBuckets(tx: Transaction, memberId: string): Promise<void> {
  await tx.run('DELETE FROM b24kit_rest_buckets WHERE bucket_key = ?', [memberId]);
}

export interface StoreRateLimiterOptions extends Omit<RateLimiterOptions, 'store' | 'plans'> {
  store: Store;
  /** The clock of the buckets and plans, epoch ms (see {@link StoreBucketStateStoreOptions.now}). @defaultValue Date.now */
  now?: () => number;
  /**
   * Read each portal's plan from app.info (on first use, then every `refreshAfterMs`) and pace it
   * at 5/s, 250 on Enterprise. `false` keeps every portal at `defaultLimits`. @defaultValue true
   */
  planAware?: boolean;
  /** How often a portal's plan is read again, in ms. @defaultValue 86400000 (a day) */
  planRefreshAfterMs?: number;
  logger?: B24Logger;
}

/**
 * THE limiter of an app's process: one per process, shared by every B24Client of every portal,
 * over the store that all the app's processes open. Per-portal `portalLimits` (configuration) win
 * over the plan.
 */
export function createStoreRateLimiter(options: StoreRateLimiterOptions): RateLimiter {
  const { store, now = Date.now, planAware = true, planRefreshAfterMs, logger, ...limiterOptions } = options;
  const buckets = new StoreBucketStateStore({ store, now });
  const planOptions: PortalPlansOptions = { store: buckets, now, ...(planRefreshAfterMs !== undefined ? { refreshAfterMs: planRefreshAfterMs } : {}), ...(logger ? { logger } : {}) };
  return new RateLimiter({ ...limiterOptions, store: buckets, ...(planAware ? { plans: new PortalPlans(planOptions) } : {}) });
}

/** A bucket row as stored (for monitoring; the policy never reads it this way). */
export interface StoredBucket {
  key: string;
  /** Null until the portal's first request. */
  state: BucketState | null;
  licenseFamily: string | null;
}

/** Every bucket in the store, by key. */
export async function readStoredBuckets(store: Store): Promise<StoredBucket[]> {
  const rows = await store.all<BucketRow & { bucket_key: string; license_family: string | null }>(
    'SELECT bucket_key, level, at_ms, paused_until_ms, epoch, license_family FROM b24kit_rest_buckets ORDER BY bucket_key',
  );
  return rows.map((row) => ({
    key: row.bucket_key,
    state: row.level === null ? null : { level: Number(row.level), atMs: Number(row.at_ms ?? 0), pausedUntilMs: Number(row.paused_until_ms ?? 0) },
    licenseFamily: row.license_family,
  }));
}
