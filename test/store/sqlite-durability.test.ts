/**
 * SQLite durability and checkpoints (src/store/sqlite.ts, sqlite-checkpointer.ts): FULL unless
 * NORMAL is chosen explicitly; a bad value is refused; once the store has written a while, WAL
 * checkpoints run in a worker thread (the writer's own automatic checkpoint becomes a distant
 * backstop), the WAL is copied into the database, and close() ends the thread and removes the WAL.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/index.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, CHECKPOINTER_AFTER_COMMITS, SqliteStore } from '../../src/store/sqlite.js';
import { B24Error } from '../../src/errors.js';
import { WalSync } from '../../src/store/sqlite-wal-sync.js';

const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-sqlite-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite durability', () => {
  it('FULL by default: the store fsyncs the WAL off the event loop (the connection commits at NORMAL, 1) before a write resolves', async () => {
    const store = new SqliteStore({ path: path.join(dir, 'full.sqlite') });
    try {
      assert.deepEqual(await store.one('PRAGMA journal_mode'), { journal_mode: 'wal' });
      assert.deepEqual(await store.one('PRAGMA synchronous'), { synchronous: 1 });
      await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      const before = store.walSyncs;
      await store.transaction((tx) => tx.run('INSERT INTO t DEFAULT VALUES'));
      assert.equal(store.walSyncs, before + 1, 'a write transaction waits for one fsync');
      await store.run('INSERT INTO t DEFAULT VALUES');
      assert.equal(store.walSyncs, before + 2, 'so does a plain write');
      await store.all('SELECT * FROM t');
      assert.equal(store.walSyncs, before + 2, 'a read waits for none');
    } finally {
      await store.close();
    }
  });

  it("FULL in COMMIT (SQLite's own, PRAGMA synchronous 2) when asked for, and NORMAL (1) without any fsync", async () => {
    const inCommit = await openStore({ url: path.join(dir, 'in-commit.sqlite'), fsyncOffEventLoop: false });
    const normal = new SqliteStore({ path: path.join(dir, 'normal.sqlite'), synchronous: 'NORMAL' });
    try {
      assert.deepEqual(await inCommit.one('PRAGMA synchronous'), { synchronous: 2 });
      assert.deepEqual(await normal.one('PRAGMA synchronous'), { synchronous: 1 });
      await normal.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      await normal.transaction((tx) => tx.run('INSERT INTO t DEFAULT VALUES'));
      assert.equal(normal.walSyncs, 0);
    } finally {
      await inCommit.close();
      await normal.close();
    }
  });

  it('commits share fsyncs: one running, the next shared by everyone who asked meanwhile', async () => {
    const file = path.join(dir, 'shared.sqlite');
    const store = new SqliteStore({ path: file });
    await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const before = store.walSyncs;
    await Promise.all(Array.from({ length: 20 }, () => store.transaction((tx) => tx.run('INSERT INTO t DEFAULT VALUES'))));
    const used = store.walSyncs - before;
    assert.ok(used >= 1 && used < 20, `20 concurrent transactions shared fsyncs (${used})`);
    await store.close();
    // a WAL that cannot be synced (here a directory in its place) fails the write: never answered as durable
    mkdirSync(path.join(dir, 'broken.sqlite-wal'));
    const sync = new WalSync(path.join(dir, 'broken.sqlite'));
    try {
      await assert.rejects(sync.afterNow(), /EISDIR/);
    } finally {
      await sync.close();
    }
  });

  it('refuses a synchronous level it does not know (OFF would acknowledge what a crash loses)', () => {
    assert.throws(
      () => new SqliteStore({ path: path.join(dir, 'off.sqlite'), synchronous: 'OFF' as 'FULL' }),
      (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_CONFIG' && /FULL or NORMAL/.test(error.message),
    );
  });

  it('checkpoints in a worker thread once the store writes, and close() ends it and removes the WAL', async () => {
    const file = path.join(dir, 'checkpoint.sqlite');
    const store = new SqliteStore({ path: file });
    await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    assert.deepEqual(await store.one('PRAGMA wal_autocheckpoint'), { wal_autocheckpoint: 1000 });
    for (let i = 0; i < CHECKPOINTER_AFTER_COMMITS + 20; i++) {
      await store.transaction((tx) => tx.run('INSERT INTO t (body) VALUES (?)', ['x'.repeat(2000)]));
    }
    // the writer's own checkpoint is now only a backstop, far away
    assert.deepEqual(await store.one('PRAGMA wal_autocheckpoint'), { wal_autocheckpoint: BACKSTOP_AUTOCHECKPOINT_PAGES });
    const deadline = Date.now() + 10_000;
    while (store.backgroundCheckpoints === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(store.backgroundCheckpoints > 0, 'the worker thread copied the WAL into the database');
    await store.close();
    assert.equal(existsSync(`${file}-wal`), false, 'the last connection closed checkpointed and removed the WAL');
    const reopened = await openStore({ url: file, migrate: false });
    try {
      assert.deepEqual(await reopened.one('SELECT COUNT(*) AS n FROM t'), { n: CHECKPOINTER_AFTER_COMMITS + 20 });
    } finally {
      await reopened.close();
    }
  });

  it('a database that is not in WAL mode (here :memory:) gets SQLite\'s own FULL: there is no WAL to fsync', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      assert.deepEqual(await store.one('PRAGMA journal_mode'), { journal_mode: 'memory' });
      assert.deepEqual(await store.one('PRAGMA synchronous'), { synchronous: 2 });
      await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      await store.transaction((tx) => tx.run('INSERT INTO t DEFAULT VALUES'));
      assert.equal(store.walSyncs, 0);
    } finally {
      await store.close();
    }
  });

  it('a store in memory, or one told not to, never starts the thread', async () => {
    for (const store of [new SqliteStore({ path: ':memory:' }), new SqliteStore({ path: path.join(dir, 'inline.sqlite'), backgroundCheckpoint: false })]) {
      await store.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      for (let i = 0; i < CHECKPOINTER_AFTER_COMMITS + 5; i++) await store.transaction((tx) => tx.run('INSERT INTO t DEFAULT VALUES'));
      assert.equal(store.backgroundCheckpoints, 0);
      const autocheckpoint = (await store.one<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'))!.wal_autocheckpoint;
      assert.equal(autocheckpoint, 1000);
      await store.close();
    }
  });
});
