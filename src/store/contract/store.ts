/**
 * What every Store promises, whatever its dialect or driver: migrations applied once under
 * concurrency, `?` placeholders, BIGINT as numbers, upserts with RETURNING, unique violations as
 * B24_ERR_STORE, transactions that commit or roll back, row locks (FOR UPDATE, SKIP LOCKED).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../errors.js';
import { loadMigrations } from '../migrations.js';
import { isUniqueViolation } from '../sql.js';
import type { Store } from '../types.js';
import type { ContractDatabase, ContractDatabaseFactory } from './types.js';

export function describeStoreSuite(createDatabase: ContractDatabaseFactory): void {
  describe('store', () => {
    let db: ContractDatabase;
    let store: Store;

    before(async () => {
      db = await createDatabase();
      store = await db.open();
      await store.exec('CREATE TABLE contract_kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL, flag INTEGER NOT NULL DEFAULT 0)');
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('applies every migration on open, and a second migrate applies nothing', async () => {
      const rows = await store.all<{ version: number }>('SELECT version FROM b24kit_migrations ORDER BY version');
      const expected = loadMigrations(store.dialect).map((m) => m.version);
      assert.deepEqual(rows.map((r) => r.version), expected);
      const again = await store.migrate();
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, Math.max(...expected));
    });

    it('two processes migrating a fresh database at once apply each migration exactly once', async () => {
      const fresh = await createDatabase();
      try {
        const [a, b] = await Promise.all([fresh.open(), fresh.open()]);
        const [c] = await Promise.all([fresh.open(), a.migrate(), b.migrate()]);
        const rows = await c.all<{ version: number; n: number }>('SELECT version, COUNT(*) AS n FROM b24kit_migrations GROUP BY version');
        assert.ok(rows.length >= 1);
        for (const row of rows) assert.equal(row.n, 1);
        await Promise.all([a.close(), b.close(), c.close()]);
      } finally {
        await fresh.drop();
      }
    });

    it('binds ? placeholders, leaves ? in literals alone, and returns BIGINT as numbers', async () => {
      const big = 1_767_225_600_123;
      await store.run('INSERT INTO contract_kv (k, v) VALUES (?, ?)', ['big', big]);
      const row = await store.one<{ v: number; lit: string }>("SELECT v, '?' AS lit FROM contract_kv WHERE k = ?", ['big']);
      assert.deepEqual(row, { v: big, lit: '?' });
      const count = await store.one<{ n: number }>('SELECT COUNT(*) AS n FROM contract_kv WHERE k = ?', ['big']);
      assert.equal(count?.n, 1);
      assert.equal(await store.one('SELECT v FROM contract_kv WHERE k = ?', ['none']), undefined);
    });

    it('sends booleans as 1/0', async () => {
      await store.run('INSERT INTO contract_kv (k, v, flag) VALUES (?, ?, ?)', ['flag', 1, true]);
      assert.equal((await store.one<{ flag: number }>('SELECT flag FROM contract_kv WHERE k = ?', ['flag']))?.flag, 1);
      assert.equal((await store.all('SELECT k FROM contract_kv WHERE flag = ?', [false])).some((r) => r.k === 'flag'), false);
    });

    it('upserts with ON CONFLICT … DO UPDATE and RETURNING', async () => {
      const sql = 'INSERT INTO contract_kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = contract_kv.v + excluded.v RETURNING v';
      assert.deepEqual(await store.all(sql, ['up', 5]), [{ v: 5 }]);
      assert.deepEqual(await store.all(sql, ['up', 7]), [{ v: 12 }]);
      const result = await store.run('UPDATE contract_kv SET v = 0 WHERE k IN (?, ?)', ['up', 'missing']);
      assert.equal(result.rowCount, 1);
    });

    it('reports unique violations as B24_ERR_STORE that isUniqueViolation recognizes', async () => {
      await store.run('INSERT INTO contract_kv (k, v) VALUES (?, ?)', ['value-7f3a', 1]);
      await assert.rejects(store.run('INSERT INTO contract_kv (k, v) VALUES (?, ?)', ['value-7f3a', 2]), (error: unknown) => {
        assert.ok(error instanceof B24Error);
        assert.equal(error.code, 'B24_ERR_STORE');
        assert.ok(isUniqueViolation(error));
        assert.ok(!error.message.includes('value-7f3a'), 'parameters stay out of the message');
        return true;
      });
    });

    it('commits a transaction that resolves and rolls back one that throws', async () => {
      const value = await store.transaction(async (tx) => {
        await tx.run('INSERT INTO contract_kv (k, v) VALUES (?, ?)', ['tx-ok', 1]);
        return (await tx.one<{ v: number }>('SELECT v FROM contract_kv WHERE k = ?', ['tx-ok']))?.v;
      });
      assert.equal(value, 1);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.run('INSERT INTO contract_kv (k, v) VALUES (?, ?)', ['tx-rollback', 1]);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.ok(await store.one('SELECT k FROM contract_kv WHERE k = ?', ['tx-ok']));
      assert.equal(await store.one('SELECT k FROM contract_kv WHERE k = ?', ['tx-rollback']), undefined);
    });

    it('refuses store calls inside a transaction callback and tx calls after it ended', async () => {
      let leaked: { run: (sql: string) => Promise<unknown> } | undefined;
      await assert.rejects(
        store.transaction(async (tx) => {
          leaked = tx;
          await store.one('SELECT 1 AS one');
        }),
        (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_STORE' && /inside store.transaction/.test(error.message),
      );
      await assert.rejects(leaked!.run('SELECT 1'), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_STORE');
      // plain calls work again afterwards
      assert.deepEqual(await store.one('SELECT 1 AS one'), { one: 1 });
    });

    it('serializes read-modify-write transactions with SELECT … FOR UPDATE (no lost updates)', async () => {
      await store.run('INSERT INTO contract_kv (k, v) VALUES (?, 0)', ['counter']);
      const other = await db.open({ migrate: false }); // a second connection pool, like a second process
      try {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? store : other).transaction(async (tx) => {
              const row = await tx.one<{ v: number }>('SELECT v FROM contract_kv WHERE k = ? FOR UPDATE', ['counter']);
              await tx.run('UPDATE contract_kv SET v = ? WHERE k = ?', [row!.v + 1, 'counter']);
            }),
          ),
        );
      } finally {
        await other.close();
      }
      assert.equal((await store.one<{ v: number }>('SELECT v FROM contract_kv WHERE k = ?', ['counter']))?.v, 40);
    });

    it('hands out disjoint rows with FOR UPDATE SKIP LOCKED (the queue pattern)', async () => {
      for (let i = 0; i < 10; i++) await store.run('INSERT INTO contract_kv (k, v) VALUES (?, 0)', [`job-${i}`]);
      const claim = (): Promise<string | undefined> =>
        store.transaction(async (tx) => {
          const row = await tx.one<{ k: string }>("SELECT k FROM contract_kv WHERE k LIKE 'job-%' AND v = 0 ORDER BY k LIMIT 1 FOR UPDATE SKIP LOCKED");
          if (!row) return undefined;
          await tx.run('UPDATE contract_kv SET v = 1 WHERE k = ?', [row.k]);
          return row.k;
        });
      const claimed = await Promise.all(Array.from({ length: 12 }, claim));
      const got = claimed.filter((k): k is string => k !== undefined);
      assert.equal(got.length, 10);
      assert.equal(new Set(got).size, 10);
    });

    it('plain queries issued while a transaction is open do not join it', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const tx = store.transaction(async (t) => {
        await t.run('INSERT INTO contract_kv (k, v) VALUES (?, 1)', ['inside']);
        await gate;
        throw new Error('rollback');
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const outside = store.run('INSERT INTO contract_kv (k, v) VALUES (?, 1)', ['outside']);
      release();
      await assert.rejects(tx, /rollback/);
      await outside;
      assert.equal(await store.one('SELECT k FROM contract_kv WHERE k = ?', ['inside']), undefined);
      assert.ok(await store.one('SELECT k FROM contract_kv WHERE k = ?', ['outside']));
    });
  });
}
