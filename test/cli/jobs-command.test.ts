/**
 * `b24kit jobs retry|discard` run as a separate process from source (src/cli/run.ts) over a SQLite
 * file holding dead letters: a discard deletes the job and its `ctx.once` memos, a bulk discard
 * keeps to its filter, a queued job is refused with its code, and the argument mistakes exit 1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ONCE_TABLE } from '../../src/app/once.js';
import { JobQueue, NonRetryableError } from '../../src/queue/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../helpers/cli.js';

const cli = (env: NodeJS.ProcessEnv, args: string[]) => runCli(args, { env });

describe('b24kit jobs retry|discard', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: Store;
  let queue: JobQueue;
  const dead: Record<string, number> = {};
  let queuedId: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'b24kit-jobs-cli-'));
    const url = path.join(dir, 'b24kit.sqlite');
    env = { ...process.env, DATABASE_URL: url, B24KIT_DATA_DIR: dir, LOG_LEVEL: 'warn' };
    for (const name of ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_APP_URL', 'B24_OAUTH_URL']) delete env[name];
    store = await openStore({ url });
    queue = new JobQueue({ store });
    for (const [label, memberId, name] of [
      ['a', 'm1', 'job:sync'],
      ['b', 'm1', 'job:export'],
      ['c', 'm2', 'job:sync'],
      ['d', 'm2', 'job:export'],
    ] as const) {
      dead[label] = (await queue.enqueue(store, { memberId, name, payload: { label } })).job.id;
    }
    for (const job of await queue.claim('w1', 4)) {
      await store.run(`INSERT INTO ${ONCE_TABLE} (job_id, once_key, member_id, result, created_at_ms) VALUES (?, 'step', ?, '1', 0)`, [job.id, job.memberId]);
      await queue.fail(job.id, 'w1', new NonRetryableError('boom'));
    }
    queuedId = (await queue.enqueue(store, { memberId: 'm1', name: 'job:sync', payload: { label: 'queued' } })).job.id;
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const memos = async (jobId: number): Promise<number> => Number((await store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${ONCE_TABLE} WHERE job_id = ?`, [jobId]))!.n);

  it('discards one dead job with its memos', async () => {
    const run = await cli(env, ['jobs', 'discard', String(dead.a)]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), `job ${dead.a} (job:sync) discarded`);
    assert.equal(await queue.get(dead.a!), undefined);
    assert.equal(await memos(dead.a!), 0);
    assert.equal(await memos(dead.b!), 1, "another job's memo stays");
  });

  it('refuses a job that is not dead, and an unknown one, with their codes', async () => {
    const queued = await cli(env, ['jobs', 'discard', String(queuedId)]);
    assert.equal(queued.code, 1);
    assert.match(queued.stderr, /B24_ERR_JOB_STATE/);
    assert.doesNotMatch(queued.stderr, /\n\s+at /, 'no stack trace');
    assert.equal((await queue.get(queuedId))?.state, 'queued');
    const unknown = await cli(env, ['jobs', 'discard', '999999']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /B24_ERR_JOB_NOT_FOUND/);
  });

  it('discards dead jobs in bulk within the filter, and retries the rest', async () => {
    const bulk = await cli(env, ['jobs', 'discard', '--dead', '--name', 'job:export', '--portal', 'm2']);
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.equal(bulk.stdout.trim(), '1 dead job(s) discarded');
    assert.equal(await queue.get(dead.d!), undefined);
    assert.equal(await memos(dead.d!), 0);
    const retried = await cli(env, ['jobs', 'retry', '--dead']);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout.trim(), '2 dead job(s) queued again');
    assert.equal((await queue.get(dead.b!))?.state, 'queued');
    assert.equal((await queue.get(dead.c!))?.state, 'queued');
  });

  it('exits 1 when given both an id and --dead, or neither', async () => {
    for (const args of [['jobs', 'discard'], ['jobs', 'discard', '1', '--dead']]) {
      const run = await cli(env, args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, /give a job id, or --dead \(not both\)/);
    }
  });
});
