/**
 * An acknowledged event is on disk: the store commits durably by default on both dialects.
 * SQLite: WAL, and every write is fsynced before it resolves — by default the store fsyncs the WAL
 * itself on the thread pool after COMMIT (the connection's own PRAGMA synchronous then reads 1,
 * NORMAL, and the fsync count grows with each acknowledged group); PostgreSQL: the inbox's
 * transaction commits with `synchronous_commit` on (the store never turns it off for it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InboxWriter, INBOX_TABLE } from '../../src/events/inbox.js';
import { JobQueue } from '../../src/queue/index.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

describe('durable commit', () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('an event answered by the inbox was fsynced (SQLite) or committed with synchronous_commit=on (PostgreSQL)', async () => {
    const queue = new JobQueue({ store });
    const writer = new InboxWriter({ store, queue, nowMs: () => 1 });
    const entry = (key: string) => ({ memberId: 'm1', dedupeKey: key, event: 'ONCRMDEALADD', job: { name: 'event:ONCRMDEALADD', payload: {} } });
    if (store instanceof SqliteStore) {
      assert.deepEqual(await store.one('PRAGMA journal_mode'), { journal_mode: 'wal' });
      const before = store.walSyncs;
      assert.equal((await writer.record(entry('durable-1'))).status, 'queued');
      assert.ok(store.walSyncs > before, 'the WAL was fsynced before the delivery was answered');
      // a read-only transaction writes nothing and waits for no fsync
      const afterWrite = store.walSyncs;
      await store.transaction((tx) => tx.all(`SELECT * FROM ${INBOX_TABLE}`));
      assert.equal(store.walSyncs, afterWrite);
    } else {
      assert.deepEqual(await store.one('SHOW synchronous_commit'), { synchronous_commit: 'on' });
      assert.deepEqual(await store.transaction((tx) => tx.one('SHOW synchronous_commit')), { synchronous_commit: 'on' });
      assert.equal((await writer.record(entry('durable-1'))).status, 'queued');
    }
    assert.deepEqual(await store.one(`SELECT COUNT(*) AS n FROM ${INBOX_TABLE} WHERE dedupe_key = ?`, ['durable-1']), { n: 1 });
  });
});
