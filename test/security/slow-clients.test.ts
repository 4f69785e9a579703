/**
 * Slow clients do not hold connections: over real sockets, a client that sends part of its headers
 * and a client that trickles its body byte by byte are cut off by the server (408, then closed)
 * within a bounded time; a normal request still works; with `maxConnections` = N, the N+1th
 * connection is closed while N are held. The defaults reach createApp's server too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildWebServer, type WebServerOptions } from '../../src/server/app.js';
import { startTestApp } from '../app/helpers.js';

async function listen(options: WebServerOptions): Promise<{ server: FastifyInstance; port: number }> {
  const server = buildWebServer({
    ...options,
    routes: (app) => {
      app.post('/echo', async (request) => ({ received: request.body }));
    },
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  assert.ok(address && typeof address === 'object');
  return { server, port: address.port };
}

interface Client {
  socket: Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves with ms since connect when the server ends the connection (or `limitMs` passes: -1). */
  closed(limitMs: number): Promise<number>;
}

async function open(port: number): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1' });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => {}); // a reset is one way of being closed
  const start = Date.now();
  const ended = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - start)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => data,
    closed: (limitMs) => Promise.race([ended, new Promise<number>((resolve) => setTimeout(resolve, limitMs, -1).unref())]),
  };
}

async function until(condition: () => Promise<boolean>, limitMs = 2000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const connections = (server: FastifyInstance) => new Promise<number>((resolve, reject) => server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

describe('slow clients', () => {
  let server: FastifyInstance;
  let port: number;

  before(async () => {
    ({ server, port } = await listen({ headersTimeoutMs: 300, requestTimeoutMs: 500 }));
  });
  after(async () => {
    await server?.close();
  });

  it('a connection that sends part of its headers is closed by the server', async () => {
    const client = await open(port);
    client.socket.write('GET /health HTTP/1.1\r\nHost: app.example.com\r\nX-Slow: ');
    const closedAfterMs = await client.closed(3000);
    assert.notEqual(closedAfterMs, -1, 'still open after 3 s');
    assert.ok(closedAfterMs >= 250 && closedAfterMs < 1500, `closed after ${closedAfterMs} ms`);
    assert.match(client.received(), /^HTTP\/1\.1 408/);
  });

  it('a connection that trickles its body is cut off before it finishes', async () => {
    const client = await open(port);
    const length = 200; // at one byte per 20 ms: 4 s to send
    client.socket.write(`POST /echo HTTP/1.1\r\nHost: app.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < length && client.socket.writable) {
        client.socket.write('a');
        sent++;
      }
    }, 20);
    try {
      const closedAfterMs = await client.closed(3000);
      assert.notEqual(closedAfterMs, -1, 'still open after 3 s');
      assert.ok(closedAfterMs < 1500, `closed after ${closedAfterMs} ms`);
      assert.ok(sent < length, `the whole body (${sent} bytes) was accepted`);
      assert.match(client.received(), /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(timer);
    }
  });

  it('a normal request still works, body included', async () => {
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'event=ONCRMDEALADD&data[FIELDS][ID]=7' });
    assert.equal(echo.status, 200);
    assert.deepEqual(await echo.json(), { received: { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '7' } } } });
  });

  it('with maxConnections = 3, a fourth connection is closed while three are held; one more fits once one goes', async () => {
    const capped = await listen({ maxConnections: 3 });
    const held: Client[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await open(capped.port));
      await until(async () => (await connections(capped.server)) === 3);
      const fourth = await open(capped.port);
      fourth.socket.write('GET /health HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
      assert.notEqual(await fourth.closed(2000), -1, 'the fourth connection is still open');
      assert.equal(fourth.received(), '', 'the fourth connection got an answer');
      for (const client of held) assert.equal(await client.closed(0), -1, 'a held connection was closed');

      held.shift()!.socket.destroy();
      await until(async () => (await connections(capped.server)) === 2);
      const next = await open(capped.port);
      next.socket.write('GET /health HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n');
      assert.notEqual(await next.closed(2000), -1);
      assert.match(next.received(), /^HTTP\/1\.1 200/);
    } finally {
      for (const client of held) client.socket.destroy();
      await capped.server.close();
    }
  });

  it('defaults: 5 s headers, 10 s request, 5 s keep-alive, 30 s idle, 1024 connections', async () => {
    const { server: plain } = await listen({});
    try {
      assert.equal(plain.server.headersTimeout, 5000);
      assert.equal(plain.server.requestTimeout, 10_000);
      assert.equal(plain.server.keepAliveTimeout, 5000);
      assert.equal(plain.server.timeout, 30_000);
      assert.equal(plain.server.maxConnections, 1024);
    } finally {
      await plain.close();
    }
  });

  it("createApp's server cuts off a slow-header client by the default 5 s", async () => {
    const app = await startTestApp(() => {}, { roles: { web: true, worker: false, scheduler: false } });
    try {
      const client = await open(Number(new URL(app.url).port));
      client.socket.write('GET /health HTTP/1.1\r\nHost: app.example.com\r\n');
      const closedAfterMs = await client.closed(8000);
      assert.notEqual(closedAfterMs, -1, 'still open after 8 s');
      assert.ok(closedAfterMs >= 4500, `closed after ${closedAfterMs} ms, before the 5 s default`);
      assert.match(client.received(), /^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });
});
