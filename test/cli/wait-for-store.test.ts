/**
 * A process that starts while PostgreSQL cannot be reached waits for it (src/cli/wait-for-store.ts):
 * a port where nothing listens yet — the database "starting" — is waited for until a proxy to the
 * real server opens there, and a database refusing connections until it accepts them; a wrong
 * database name fails at once (it will not heal); an outage longer
 * than the wait fails with the store's error, logged meanwhile as Error objects.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import pg from 'pg';
import { waitForStore } from '../../src/cli/wait-for-store.js';
import { B24Error } from '../../src/errors.js';
import { databaseUrl, onPostgres } from '../contract/helpers/store.js';
import { freePort } from '../helpers/free-port.js';

type Line = { obj: Record<string, unknown>; msg?: string };

function recordingLogger(): { lines: Line[]; logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; debug(obj: object, msg?: string): void } } {
  const lines: Line[] = [];
  const push = (obj: object, msg?: string): void => void lines.push({ obj: obj as Record<string, unknown>, ...(msg !== undefined ? { msg } : {}) });
  return { lines, logger: { info: push, warn: push, error: push, debug: push } };
}

describe('waiting for the database at start', { skip: !onPostgres && 'PostgreSQL only (npm run test:pg)' }, () => {
  const target = new URL(databaseUrl);
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });
  const urlAt = (port: number, database = target.pathname): string => {
    const url = new URL(databaseUrl);
    url.host = `127.0.0.1:${port}`;
    url.pathname = database;
    return url.toString();
  };

  it('waits while nothing listens, and starts once the database answers', async () => {
    const port = await freePort();
    const { lines, logger } = recordingLogger();
    const started = Date.now();
    setTimeout(() => {
      const proxy = createServer((socket) => {
        const upstream = createConnection(Number(target.port || 5432), target.hostname);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      }).listen(port, '127.0.0.1');
      servers.push(proxy);
    }, 1500);
    await waitForStore(urlAt(port), { logger, timeoutMs: 20_000 });
    assert.ok(Date.now() - started >= 1400, 'it waited for the database');
    const waits = lines.filter((line) => line.msg?.startsWith('the database cannot be reached'));
    assert.ok(waits.length >= 1, JSON.stringify(lines));
    for (const wait of waits) {
      assert.ok(wait.obj.err instanceof B24Error, 'logged as an Error object');
      assert.equal((wait.obj.err as B24Error).code, 'B24_ERR_STORE');
      assert.match((wait.obj.err as Error).message, /ECONNREFUSED/);
    }
    assert.ok(lines.some((line) => line.msg === 'the database is reachable; starting'));
  });

  it('fails at once on what will not heal (a database that does not exist)', async () => {
    const { lines, logger } = recordingLogger();
    const started = Date.now();
    await assert.rejects(waitForStore(urlAt(Number(target.port || 5432), '/b24kit_no_such_database'), { logger, timeoutMs: 20_000 }), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_STORE' && /does not exist/.test(error.message));
    assert.ok(Date.now() - started < 5000, 'no waiting');
    assert.equal(lines.length, 0);
  });

  it('gives up after its timeout with the store error', async () => {
    const port = await freePort();
    const { lines, logger } = recordingLogger();
    await assert.rejects(waitForStore(urlAt(port), { logger, timeoutMs: 1200 }), (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_STORE' && /ECONNREFUSED/.test(error.message));
    assert.ok(lines.length >= 2, 'it retried before giving up');
  });

  it('waits while the database refuses connections (ALLOW_CONNECTIONS false, as for maintenance), and starts once it accepts them', async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const name = `b24kit_wait_${process.pid}`;
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      const { lines, logger } = recordingLogger();
      setTimeout(() => void admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`), 1500);
      await waitForStore(urlAt(Number(target.port || 5432), `/${name}`), { logger, timeoutMs: 20_000 });
      const waits = lines.filter((line) => line.msg?.startsWith('the database cannot be reached'));
      assert.ok(waits.length >= 1, JSON.stringify(lines));
      assert.match((waits[0]!.obj.err as Error).message, /is not currently accepting connections/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    }
  });

  it('does nothing for SQLite', async () => {
    const { lines, logger } = recordingLogger();
    await waitForStore('./data/never-opened.sqlite', { logger, timeoutMs: 10 });
    assert.equal(lines.length, 0);
  });
});
