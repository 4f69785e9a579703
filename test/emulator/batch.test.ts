import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { restErrors } from '../../src/emulator/rest-error.js';
import { control, createInstalledPortal, portalStats, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

interface BatchBody {
  result: Record<string, unknown> | unknown[];
  result_error: Record<string, { error: string; error_description: string }> | unknown[];
  result_total: Record<string, number> | unknown[];
  result_next: Record<string, number> | unknown[];
  result_time: Record<string, Record<string, number>> | unknown[];
}

/** Methods only these tests define: a list of `count` rows (50 a page), an echo, and a failure. */
function defineTestMethods(emu: RunningEmulator): void {
  emu.emulator.methods.define('test.list', {
    scope: 'basic',
    handler: ({ params }) => {
      const count = Number(params.count ?? 0);
      const rows = Array.from({ length: Math.min(50, count) }, (_, index) => ({ ID: String(index + 1), N: index + 1 }));
      return { result: rows, total: count, ...(count > 50 ? { next: 50 } : {}) };
    },
  });
  emu.emulator.methods.define('test.echo', { scope: 'basic', handler: ({ params }) => ({ result: params }) });
  emu.emulator.methods.define('test.fail', { scope: 'basic', handler: () => { throw restErrors.argument('boom', 'x'); } });
}

async function batch(portal: TestPortal, params: Record<string, unknown>): Promise<{ status: number; body: BatchBody; time: unknown }> {
  const { status, body } = await rest(portal, 'batch', params);
  return { status, body: body.result as BatchBody, time: body.time };
}

describe('batch', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    defineTestMethods(emu);
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('runs named commands and serializes empty sections as []', async () => {
    const { status, body, time } = await batch(portal, { halt: 0, cmd: { me: 'user.current', prof: 'profile' } });
    assert.equal(status, 200);
    const result = body.result as Record<string, { ID: string }>;
    assert.equal(result.me?.ID, '1');
    assert.equal(result.prof?.ID, '1');
    assert.deepEqual(body.result_error, []);
    assert.deepEqual(body.result_total, []);
    assert.deepEqual(body.result_next, []);
    const times = body.result_time as Record<string, Record<string, number>>;
    assert.deepEqual(Object.keys(times).sort(), ['me', 'prof']);
    assert.equal(typeof times.me?.operating, 'number');
    assert.equal(typeof (time as { start: number }).start, 'number');
  });

  it('answers an array cmd with array-keyed sections, and an object once a key is missing', async () => {
    const list = await batch(portal, { cmd: ['user.current', 'profile'] });
    assert.ok(Array.isArray(list.body.result));
    assert.equal((list.body.result as Array<{ ID: string }>)[1]?.ID, '1');
    assert.ok(Array.isArray(list.body.result_time));

    const gap = await batch(portal, { cmd: ['test.fail', 'profile'] });
    assert.deepEqual(Object.keys(gap.body.result as object), ['1']);
    assert.equal((gap.body.result_error as Record<string, { error: string }>)['0']?.error, 'ERROR_ARGUMENT');
  });

  it('reports total and next of list commands', async () => {
    const { body } = await batch(portal, { cmd: { big: 'test.list?count=120', small: 'test.list?count=3' } });
    assert.deepEqual(body.result_total, { big: 120, small: 3 });
    assert.deepEqual(body.result_next, { big: 50 });
  });

  it('substitutes $result[cmd][field], list indexes, $total and $next', async () => {
    const { body } = await batch(portal, {
      cmd: {
        me: 'user.current',
        page: 'test.list?count=120',
        echo:
          'test.echo?user=$result[me][ID]&first=$result[page][0][ID]&last=$result[page][49][ID]' +
          '&filter[>ID]=$result[page][49][ID]&total=$total[page]&next=$next[page]&text=id-$result[page][1][N]',
      },
    });
    const echo = (body.result as Record<string, Record<string, unknown>>).echo;
    assert.deepEqual(echo, { user: '1', first: '1', last: '50', filter: { '>ID': '50' }, total: 120, next: 50, text: 'id-2' });
  });

  it('resolves a reference to a missing key to the deepest value found; $RESULT to null', async () => {
    const { body } = await batch(portal, {
      cmd: {
        short: 'test.list?count=3',
        broken: 'test.fail',
        echo: 'test.echo?cursor=$result[short][49][ID]&gone=$result[broken][ID]&inline=x$result[short][49][ID]&case=$RESULT[short][0][ID]',
      },
    });
    const echo = (body.result as Record<string, Record<string, unknown>>).echo;
    // the walk stops at the missing row 49: the whole 3-row list is passed on (CORE processBatchElement)
    assert.deepEqual(echo?.cursor, [
      { ID: '1', N: 1 },
      { ID: '2', N: 2 },
      { ID: '3', N: 3 },
    ]);
    // the walk stops at the missing command: the whole result section so far is passed on
    assert.deepEqual(echo?.gone, { short: echo?.cursor });
    // inside a longer string only strings and numbers are substituted
    assert.equal(echo?.inline, 'x$result[short][49][ID]');
    assert.equal(echo?.case, null);
  });

  it('decodes a batch sent in the query string (double URL-encoding)', async () => {
    const inner = `test.echo?me=${encodeURIComponent('$result[me][ID]')}&fields[EMAIL][0][VALUE]=${encodeURIComponent('a@b.c')}`;
    const response = await fetch(`${portal.clientEndpoint}batch.json?auth=${portal.accessToken}&cmd[me]=user.current&cmd[echo]=${encodeURIComponent(inner)}`);
    const body = ((await response.json()) as { result: BatchBody }).result;
    assert.equal(response.status, 200);
    const echo = (body.result as Record<string, Record<string, unknown>>).echo;
    assert.deepEqual(echo, { me: '1', fields: { EMAIL: [{ VALUE: 'a@b.c' }] } });
  });

  it('runs the first 50 commands and fails the rest with ERROR_BATCH_LENGTH_EXCEEDED, still 200', async () => {
    const cmd: Record<string, string> = {};
    for (let i = 0; i < 52; i += 1) cmd[`c${i}`] = 'profile';
    const { status, body } = await batch(portal, { cmd });
    assert.equal(status, 200);
    assert.equal(Object.keys(body.result).length, 50);
    const errors = body.result_error as Record<string, { error: string }>;
    assert.deepEqual(Object.keys(errors), ['c50', 'c51']);
    assert.equal(errors.c50?.error, 'ERROR_BATCH_LENGTH_EXCEEDED');
  });

  it('refuses a nested batch and unknown methods per command', async () => {
    const { body } = await batch(portal, { cmd: { inner: 'batch?cmd[x]=profile', nope: 'no.such.method', ok: 'profile' } });
    const errors = body.result_error as Record<string, { error: string }>;
    assert.equal(errors.inner?.error, 'ERROR_BATCH_METHOD_NOT_ALLOWED');
    assert.equal(errors.nope?.error, 'ERROR_METHOD_NOT_FOUND');
    assert.deepEqual(Object.keys(body.result), ['ok']);
  });

  it('stops at the first error with halt=1 and runs everything with halt=0', async () => {
    const cmd = { a: 'profile', b: 'test.fail', c: 'user.current' };
    const halted = await batch(portal, { halt: 1, cmd });
    assert.deepEqual(Object.keys(halted.body.result), ['a']);
    assert.deepEqual(Object.keys(halted.body.result_error), ['b']);
    const haltedBool = await batch(portal, { halt: true, cmd });
    assert.deepEqual(Object.keys(haltedBool.body.result), ['a']);
    const all = await batch(portal, { halt: false, cmd });
    assert.deepEqual(Object.keys(all.body.result), ['a', 'c']);
    assert.equal((all.body.result_error as unknown as Record<string, { argument: string }>).b?.argument, 'x');
  });

  it('reads HALT and CMD in any case and halt="0" from a form body as false', async () => {
    const response = await fetch(`${portal.clientEndpoint}batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `auth=${portal.accessToken}&HALT=0&CMD[a]=test.fail&CMD[b]=profile`,
    });
    const body = ((await response.json()) as { result: BatchBody }).result;
    assert.deepEqual(Object.keys(body.result), ['b']);
  });

  it('checks scope per command', async () => {
    const narrow = await createInstalledPortal(emu, {}, { scope: ['crm'] });
    const { body } = await batch(narrow, { cmd: { me: 'user.current', prof: 'profile' } });
    assert.equal((body.result_error as Record<string, { error: string }>).me?.error, 'insufficient_scope');
    assert.deepEqual(Object.keys(body.result), ['prof']);
  });
});

describe('batch and the limits', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator();
    defineTestMethods(emu);
  });
  after(() => emu.close());

  it('bills each command to its own method and nothing to batch; a spent method fails alone with 429', async () => {
    const portal = await createInstalledPortal(emu, { operatingLimitSeconds: 0.05, cost: { readMs: 20 } });
    const { body } = await batch(portal, { cmd: ['user.current', 'user.current', 'user.current', 'user.current', 'profile'] });
    const results = body.result as Record<string, unknown>;
    assert.deepEqual(Object.keys(results), ['0', '1', '2', '4']);
    const errors = body.result_error as Record<string, { error: string }>;
    assert.equal(errors['3']?.error, 'OPERATION_TIME_LIMIT');
    const times = body.result_time as Record<string, { operating: number; start: number; finish: number }>;
    assert.equal(times['2']?.operating, 0.06);
    assert.equal(times['4']?.operating, 0.02);
    // commands follow one another on the emulator's time line
    assert.ok((times['1']?.start ?? 0) >= (times['0']?.finish ?? Infinity) - 1e-6);
    const stats = await portalStats(emu, portal.memberId);
    assert.deepEqual(stats.operatingSeconds, { 'user.current': 0.06, profile: 0.02 });
    assert.equal(stats.operatingRejections, 1);
    assert.equal(stats.commands, 4);
  });

  it('bills a batch as one request against the leaky bucket by default', async () => {
    const portal = await createInstalledPortal(emu, { burst: 3, drainPerSecond: 0.001 });
    const cmd = Array.from({ length: 10 }, () => 'profile');
    for (let i = 0; i < 3; i += 1) assert.equal((await rest(portal, 'batch', { cmd })).status, 200);
    const refused = await rest(portal, 'batch', { cmd });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error, 'QUERY_LIMIT_EXCEEDED');
  });
});

describe('batch billed per command', () => {
  let emu: RunningEmulator;
  before(async () => {
    emu = await startTestEmulator({ batchBilling: 'per-command' });
  });
  after(() => emu.close());

  it('adds one request per command to the leaky bucket', async () => {
    const portal = await createInstalledPortal(emu, { burst: 5, drainPerSecond: 0.01 });
    const tooMany = await rest(portal, 'batch', { cmd: Array.from({ length: 6 }, () => 'profile') });
    assert.equal(tooMany.status, 503);
    await control(emu, '/clock', { advanceSeconds: 1000 });
    const fits = await rest(portal, 'batch', { cmd: Array.from({ length: 5 }, () => 'profile') });
    assert.equal(fits.status, 200);
    const stats = await portalStats(emu, portal.memberId);
    assert.ok(stats.bucketLevel > 4.9 && stats.bucketLevel <= 5, `bucket level ${stats.bucketLevel}`);
    assert.equal((await rest(portal, 'profile')).status, 503);
  });
});
