/**
 * The store-backed operating budgets (src/rest/store-operating.ts) on both dialects: one atomic
 * read-modify-write per `modify` across connections (no grant lost), the state as written (fractional
 * times, the grants' JSON), and a portal's rows gone on purge, the other portals' kept.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/types.js';
import { EMPTY_SHARED_OPERATING, reserveOperating, type SharedOperatingState } from '../../src/rest/operating-share.js';
import { StoreOperatingStateStore, deletePortalOperating } from '../../src/rest/store-operating.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

/** The state of `key`; a row with nothing in it (as a first `modify` creates it) reads as undefined. */
const read = (store: StoreOperatingStateStore, key: string): Promise<SharedOperatingState | undefined> =>
  store.modify(key, (current) => ({
    next: current ?? EMPTY_SHARED_OPERATING,
    result: current === undefined || JSON.stringify(current) === JSON.stringify(EMPTY_SHARED_OPERATING) ? undefined : current,
  }));

describe('store-backed operating budgets', () => {
  let db: TestDatabase;
  let one: Store;
  let two: Store;

  before(async () => {
    db = createTestDatabase();
    one = await db.open();
    two = await db.open(); // a second connection (pool): another process, as far as locks go
  });
  after(async () => {
    await Promise.all([one.close(), two.close()]);
    await db.drop();
  });

  it('keeps the state as written, per portal and method', async () => {
    const a = new StoreOperatingStateStore({ store: one });
    const b = new StoreOperatingStateStore({ store: two });
    const written: SharedOperatingState = {
      operatingSeconds: 401.25,
      resetAtServerSeconds: 1_767_225_660,
      resetAtMs: 1_767_225_660_000.5,
      costSeconds: 0.125,
      blockedUntilMs: 0,
      reservations: [{ id: 'x.1', seconds: 0.25, expiresAtMs: 1_767_225_700_000.5 }],
    };
    assert.equal(await read(a, 'member\u0000crm.deal.add'), undefined, 'nothing before the first write');
    await a.modify('member\u0000crm.deal.add', () => ({ next: written, result: undefined }));
    assert.deepEqual(await read(b, 'member\u0000crm.deal.add'), written);
    assert.equal(await read(b, 'member\u0000crm.deal.update'), undefined, 'methods apart');
  });

  it('is one atomic read-modify-write: 2 connections × 60 concurrent grants lose none', { timeout: 60_000 }, async () => {
    const stores = [new StoreOperatingStateStore({ store: one }), new StoreOperatingStateStore({ store: two })];
    const limits = { limitSeconds: 1e9, slowdownAt: 1 };
    // the first grant goes alone (no figure yet); afterwards a figure lets them all through
    await stores[0]!.modify('p\u0000m', () => ({ next: { ...EMPTY_SHARED_OPERATING, resetAtServerSeconds: 1, resetAtMs: 1e15, costSeconds: 0.001 }, result: undefined }));
    const waits = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        stores[i % 2]!.modify('p\u0000m', (current) => {
          const { next, result } = reserveOperating(current ?? EMPTY_SHARED_OPERATING, 0, limits, 1, `call.${i}`, 1e12);
          return { next, result: result.waitMs };
        }),
      ),
    );
    assert.deepEqual(new Set(waits), new Set([0]));
    const state = await read(stores[1]!, 'p\u0000m');
    assert.equal(state?.reservations.length, 120);
    assert.equal(new Set(state?.reservations.map((r) => r.id)).size, 120);
  });

  it("deletes a portal's budgets on purge, and only its own", async () => {
    const budgets = new StoreOperatingStateStore({ store: one });
    for (const key of ['leaving\u0000crm.deal.add', 'leaving\u0000user.get', 'staying\u0000crm.deal.add']) {
      await budgets.modify(key, () => ({ next: { ...EMPTY_SHARED_OPERATING, operatingSeconds: 1, resetAtServerSeconds: 1 }, result: undefined }));
    }
    await one.transaction((tx) => deletePortalOperating(tx, 'leaving'));
    assert.equal(await read(budgets, 'leaving\u0000crm.deal.add'), undefined);
    assert.equal(await read(budgets, 'leaving\u0000user.get'), undefined);
    assert.equal((await read(budgets, 'staying\u0000crm.deal.add'))?.operatingSeconds, 1);
  });
});
