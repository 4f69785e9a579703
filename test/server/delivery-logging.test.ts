/**
 * Logging on the delivery hot path (server/app.ts): at `info`, an accepted event delivery or POST to
 * a plugin's route writes no line (Fastify's per-request lines go to `debug` for deliveries); a
 * failed one is still logged, with its request id; other routes log their requests as before; at
 * `debug` deliveries are logged too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { buildWebServer } from '../../src/server/app.js';
import { createServerLogger } from '../../src/server/logging.js';

function capture(level: string): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createServerLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createServerLogger({ level, destination }) };
}

async function serve(level: string) {
  const { lines, logger } = capture(level);
  const server = buildWebServer({
    loggerInstance: logger,
    routes: (app) => {
      app.post('/webhooks/:memberId/event', async (request) => {
        if ((request.body as { fail?: string }).fail) throw new Error('store down');
        return { status: 'queued' };
      });
      // a plugin's route (a store's order webhook)
      app.post('/api/v1/:memberId/orders', async (_request, reply) => reply.status(202).send({ outcome: 'created' }));
    },
  });
  await server.ready();
  const post = (body: string) => server.inject({ method: 'POST', url: '/webhooks/m1/event', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
  return { lines, server, post };
}

describe('delivery logging', () => {
  it('at info: an accepted delivery logs nothing, a failed one logs its error, other routes log as before', async () => {
    const { lines, server, post } = await serve('info');
    try {
      assert.equal((await post('event=ONCRMDEALADD')).statusCode, 200);
      assert.equal(lines.length, 0, 'no line for an accepted delivery');
      const order = await server.inject({ method: 'POST', url: '/api/v1/m1/orders', headers: { 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(order.statusCode, 202);
      assert.equal(lines.length, 0, "no line for an accepted POST to a plugin's route");
      assert.equal((await post('event=ONCRMDEALADD&fail=1')).statusCode, 500);
      const errors = lines.filter((line) => (line.level as number) >= 50);
      assert.ok(errors.length >= 1, 'the failure is logged');
      assert.ok(errors.every((line) => typeof line.reqId === 'string'), 'with the request id');
      lines.length = 0;
      assert.equal((await server.inject({ method: 'GET', url: '/health' })).statusCode, 200);
      assert.deepEqual(
        lines.map((line) => line.msg),
        ['incoming request', 'request completed'],
      );
    } finally {
      await server.close();
    }
  });

  it('at debug: deliveries are logged, with the request id', async () => {
    const { lines, server, post } = await serve('debug');
    try {
      assert.equal((await post('event=ONCRMDEALADD')).statusCode, 200);
      assert.deepEqual(
        lines.map((line) => [line.msg, line.level, typeof line.reqId]),
        [
          ['incoming request', 20, 'string'],
          ['request completed', 20, 'string'],
        ],
      );
    } finally {
      await server.close();
    }
  });
});
