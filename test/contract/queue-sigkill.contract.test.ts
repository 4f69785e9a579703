/**
 * A worker process killed with SIGKILL mid-job: its job comes back when the lease expires, a
 * second worker completes it, and exactly one completion is recorded — with the lost lease in the
 * attempt history. The first worker is a real child process; the second worker's clock is moved
 * past the lease instead of sleeping through it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JobQueue, Worker, type JobContext } from '../../src/queue/index.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from './helpers/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/queue-doomed-worker.ts', import.meta.url));
// long, so the dead worker's lease cannot lapse in real time before the check below; the rescuer
// jumps its clock past it instead of waiting
const LEASE_MS = 30_000;

describe('worker killed mid-job', () => {
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

  it('SIGKILL mid-job → the job completes exactly once after its lease expires', async () => {
    const producer = new JobQueue({ store });
    const { job } = await producer.enqueue(store, { memberId: 'm1', name: 'charge', payload: { orderId: 'A-1' }, key: 'order-A-1' });

    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      cwd: repoRoot,
      env: { ...process.env, ...db.childEnv, LEASE_MS: String(LEASE_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await waitFor(() => stdout.includes(`started ${job.id}`), 30_000, `the child to start the job (stderr: ${stderr})`);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    const leased = await producer.get(job.id);
    assert.equal(leased?.state, 'running');
    assert.equal(leased?.leaseOwner, 'doomed-worker');

    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    // a second worker, whose clock is past the dead worker's lease
    let offsetMs = 0;
    const queue = new JobQueue({ store, leaseMs: LEASE_MS, nowMs: () => Date.now() + offsetMs });
    const completions: number[] = [];
    const worker = new Worker({
      queue,
      id: 'rescuer',
      pollIntervalMs: 20,
      handlers: {
        charge: ({ job: running, attempt }: JobContext) => {
          completions.push(running.id);
          return { charged: true, attempt };
        },
      },
    });
    await worker.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(completions, [], 'not while the dead worker’s lease lasts');
      offsetMs = LEASE_MS + 1000;
      const done = await waitFor(async () => {
        const current = await producer.get(job.id);
        return current?.state === 'succeeded' ? current : undefined;
      });
      assert.deepEqual(completions, [job.id], 'the handler ran to completion once');
      assert.equal(done.attempts, 2);
      assert.deepEqual(done.result, { charged: true, attempt: 2 });
      assert.deepEqual(
        done.history.map((h) => [h.attempt, h.error]),
        [
          [1, 'lease expired: worker doomed-worker stopped heartbeating'],
          [2, null],
        ],
      );
    } finally {
      await worker.stop();
    }
    // the completion is final: re-enqueuing the same order is a no-op, and nothing else runs
    assert.equal((await producer.enqueue(store, { memberId: 'm1', name: 'charge', payload: {}, key: 'order-A-1' })).created, false);
    assert.deepEqual(await producer.counts(), { queued: 0, running: 0, succeeded: 1, dead: 0 });
  });
});
