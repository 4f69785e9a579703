/**
 * One atomic read-modify-write of a shared row, batched per process: the seam of the store-backed
 * REST limits (the leaky buckets, store-bucket.ts; the operating budgets, store-operating.ts). Each
 * `modify` is ONE short transaction: on SQLite `BEGIN IMMEDIATE` (the store's transaction) holds
 * the database's write lock; on PostgreSQL `SELECT … FOR UPDATE` locks the row (a missing row is
 * first inserted with `ON CONFLICT DO NOTHING`, so the first caller locks too). `step` runs in JS
 * between the read and the write; nothing else happens inside, so the lock is held for a few
 * statements. The policy stays in pure functions; this file only persists their states.
 */
import type { Store, Transaction } from '../store/types.js';

/** How one table keeps its rows (the SQL of a store-backed state). */
export interface RowCodec<S> {
  /** The row of `key`, locked (`FOR UPDATE`), with its state (undefined while the row holds none); undefined when there is no row. */
  lock(tx: Transaction, key: string): Promise<{ state: S | undefined } | undefined>;
  /** Inserts the row of `key` if missing (`ON CONFLICT DO NOTHING`), so that `lock` finds it. */
  create(tx: Transaction, key: string, nowMs: number): Promise<void>;
  /** Writes `state` as the row of `key`. */
  write(tx: Transaction, key: string, state: S, nowMs: number): Promise<void>;
}

/** A step: the state (undefined before the first write) and the caller's clock → the next state and a result. */
export type RowStep<S, R> = (current: S | undefined, nowMs: number) => { next: S; result: R };

interface Waiter<S> {
  step: RowStep<S, unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Most steps run in one transaction. */
const MAX_BATCH = 100;

export class StoreRowQueue<S> {
  readonly #store: Store;
  readonly #codec: RowCodec<S>;
  readonly #now: () => number;
  readonly #queues = new Map<string, Array<Waiter<S>>>();

  constructor(store: Store, codec: RowCodec<S>, now: () => number) {
    this.#store = store;
    this.#codec = codec;
    this.#now = now;
  }

  /**
   * Callers of one key in this process share a transaction: while one holds (or waits for) the
   * row, the next ones queue, and the following transaction runs all their steps in arrival
   * order, each on the state the previous step left, with one read and one write. Same contract,
   * a fraction of the round trips under load.
   */
  modify<R>(key: string, step: RowStep<S, R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiting = this.#queues.get(key);
      const waiter: Waiter<S> = { step, resolve: resolve as (value: unknown) => void, reject };
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
      let batch: Array<Waiter<S>> = [];
      try {
        const outcomes = await this.#store.transaction(async (tx) => {
          // Every request of a portal may queue on this row, so the lock must not wait for a WAL
          // flush: a state lost in a crash costs at most one refusal (then a resync), nothing else.
          if (tx.dialect === 'postgres') await tx.run('SET LOCAL synchronous_commit = off');
          let row = await this.#codec.lock(tx, key);
          if (!row) {
            // the key's first use: create the row, then lock it like everyone else
            await this.#codec.create(tx, key, Math.floor(this.#now()));
            row = await this.#codec.lock(tx, key);
          }
          batch = waiting.splice(0, MAX_BATCH); // taken under the lock: late arrivals join this batch
          const current = row?.state;
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
          if (state !== current && state !== undefined) await this.#codec.write(tx, key, state, Math.floor(nowMs));
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
}
