/**
 * The leaky buckets in the shared store: every process of an app that opens the same database
 * draws from ONE budget per portal, as the portal counts it (protocol §5.1: per portal and source
 * IP, not per process). The policy stays in limiter.ts (`reserveSlot`, `resyncFull`, run in JS
 * inside the transaction); this file only persists it, in `b24kit_rest_buckets` (migration 0006),
 * next to each portal's cached plan (plans.ts).
 */
import type { Store, Transaction } from '../store/types.js';
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

interface Waiter {
  step: (current: BucketState | undefined, nowMs: number) => { next: BucketState; result: unknown };
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Most steps run in one transaction. */
const MAX_BATCH = 100;

const SELECT_FOR_UPDATE = 'SELECT level, at_ms, paused_until_ms, epoch FROM b24kit_rest_buckets WHERE bucket_key = ? FOR UPDATE';

/**
 * A {@link BucketStateStore} over the shared {@link Store}. `modify` is ONE short transaction:
 * on SQLite `BEGIN IMMEDIATE` (the store's transaction) holds the database's write lock; on
 * PostgreSQL `SELECT … FOR UPDATE` locks the portal's row (a missing row is first inserted with
 * `ON CONFLICT DO NOTHING`, so the first caller locks too). `step` runs in JS between the read and
 * the write; nothing else happens inside, so the lock is held for a few statements.
 */
export class StoreBucketStateStore implements BucketStateStore, PlanStore {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #queues = new Map<string, Waiter[]>();

  constructor(options: StoreBucketStateStoreOptions) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Callers of one key in this process share a transaction: while one holds (or waits for) the
   * row, the next ones queue, and the following transaction runs all their steps in arrival
   * order, each on the state the previous step left, with one read and one write. Same contract,
   * a fraction of the round trips under load.
   */
  modify<R>(key: string, step: (current: BucketState | undefined, nowMs: number) => { next: BucketState; result: R }): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiting = this.#queues.get(key);
      const waiter: Waiter = { step, resolve: resolve as (value: unknown) => void, reject };
      if (waiting) {
        waiting.push(waiter);
        return;
      }
      this.#queues.set(key, [waiter]);
      void this.#drain(key);
    });
  }

  async #drain(key: string): Promise<void> {
    const waiting = this.#queues.get(key)!;
    while (waiting.length > 0) {
      let batch: Waiter[] = [];
      try {
        const outcomes = await this.#store.transaction(async (tx) => {
          // Every request of a portal queues on this row, so the lock must not wait for a WAL flush:
          // a bucket state lost in a crash costs at most one 503 (then a resync), nothing else.
          if (tx.dialect === 'postgres') await tx.run('SET LOCAL synchronous_commit = off');
          let row = await tx.one<BucketRow>(SELECT_FOR_UPDATE, [key]);
          if (!row) {
            // the portal's first request: create the row, then lock it like everyone else
            await tx.run('INSERT INTO b24kit_rest_buckets (bucket_key, updated_at_ms) VALUES (?, ?) ON CONFLICT (bucket_key) DO NOTHING', [key, Math.floor(this.#now())]);
            row = await tx.one<BucketRow>(SELECT_FOR_UPDATE, [key]);
          }
          batch = waiting.splice(0, MAX_BATCH); // taken under the lock: late arrivals join this batch
          const current = fromRow(row);
          let state = current;
          let nowMs = 0;
          const results = batch.map((waiter): { ok: true; value: unknown } | { ok: false; error: unknown } => {
            nowMs = this.#now(); // read under the lock: the model never goes back in time
            try {
              const { next, result } = waiter.step(state, nowMs);
              state = next;
              return { ok: true, value: result };
            } catch (error) {
              return { ok: false, error };
            }
          });
          if (state !== current && state !== undefined) {
            await tx.run('UPDATE b24kit_rest_buckets SET level = ?, at_ms = ?, paused_until_ms = ?, epoch = ?, updated_at_ms = ? WHERE bucket_key = ?', [
              state.level,
              state.atMs,
              state.pausedUntilMs,
              state.epoch ?? 0,
              Math.floor(nowMs),
              key,
            ]);
          }
          return results;
        });
        outcomes.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.error)));
      } catch (error) {
        // nothing was written: the steps of this batch (or, if it failed before taking one, of everyone waiting) did not happen
        for (const waiter of batch.length > 0 ? batch : waiting.splice(0)) waiter.reject(error);
      }
    }
    this.#queues.delete(key);
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
