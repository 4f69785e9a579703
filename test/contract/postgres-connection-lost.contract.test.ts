/**
 * PostgreSQL only: the server ends a connection that a transaction holds (a restart, a failover,
 * `pg_terminate_backend`) while no statement runs on it. pg-pool listens for a client's errors
 * only while the client is idle in the pool, so without a listener of the store's own the client's
 * 'error' event had no listener and crashed the process (found by the chaos run, bench/chaos/).
 * Now that transaction fails with B24_ERR_STORE, and the store goes on with a new connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { B24Error } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, databaseUrl, onPostgres, type TestDatabase } from './helpers/store.js';

describe('PostgreSQL: the server ends a connection inside a transaction', { skip: !onPostgres && 'PostgreSQL only (npm run test:pg)' }, () => {
  let db: TestDatabase;
  let store: Store;
  let admin: pg.Client;

  before(async () => {
    db = createTestDatabase();
    store = await db.open();
    await store.migrate();
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
  });

  after(async () => {
    await admin.end();
    await store.close();
    await db.drop();
  });

  it('fails that transaction with B24_ERR_STORE, crashes nothing, and the next one works', async () => {
    await assert.rejects(
      store.transaction(async (tx) => {
        const row = await tx.one<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [row!.pid]);
        await sleep(300); // the server's "terminating connection" arrives while no statement runs
        await tx.run('SELECT 1');
      }),
      (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_STORE',
    );
    const row = await store.one<{ one: number }>('SELECT 1 AS one');
    assert.equal(row?.one, 1);
    const inTransaction = await store.transaction((tx) => tx.one<{ one: number }>('SELECT 1 AS one'));
    assert.equal(inTransaction?.one, 1);
  });
});
