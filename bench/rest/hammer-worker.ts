/**
 * One of the processes of bench/rest.ts's shared-budget benchmark: a real child process that
 * calls `crm.deal.get` `calls` times, `concurrency` at once, as fast as its client lets it.
 *
 * Protocol over IPC: the parent sends `{type: 'job', job}` ({@link HammerJob}); the child builds its
 * client (b24kit over the shared store-backed limiter, or b24jssdk with its in-memory limiter),
 * makes its warm-up calls, answers `{ready}`, waits for `{type: 'go'}`, runs, and answers a
 * {@link HammerResult}. Then the next job; the parent ends the process by disconnecting.
 * `HAMMER_TRACE=1` prints b24kit's client events as JSON lines (for looking into a run).
 */
import type { Store } from '../../src/store/types.js';
import type { B24ClientEvent } from '../../src/rest/hooks.js';
import type { Installed, Model } from './common.js';

export interface HammerJob {
  client: 'b24kit' | 'b24jssdk';
  installed: Installed;
  model: Model;
  calls: number;
  concurrency: number;
  /** Deal IDs to read. */
  ids: number[];
  /** b24kit: the SQLite file every process opens (the shared store). */
  storePath: string;
  /** Calls before reporting ready (a warm process). */
  warmUpCalls: number;
}

export interface HammerResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  startMs: number;
  endMs: number;
  /** b24kit: 503/429 its client saw (the portal's stats are what count). */
  limitExceeded: number;
}

type Caller = (id: number) => Promise<void>;

async function prepare(job: HammerJob): Promise<{ call: Caller; close: () => Promise<void>; limitExceeded: () => number }> {
  // each process loads only its own client (both together double the start-up on 2 cores)
  if (job.client === 'b24kit') {
    const [{ openStore }, { createStoreRateLimiter }, { b24kitClient }] = await Promise.all([
      import('../../src/store/index.js'),
      import('../../src/rest/store-bucket.js'),
      import('./kit-client.js'),
    ]);
    const store: Store = await openStore({ url: job.storePath });
    // the app's limiter: store-backed, one per process; the portal's (scaled) limits given explicitly
    const limiter = createStoreRateLimiter({ store, planAware: false, defaultLimits: { drainPerSecond: job.model.drainPerSecond, burst: job.model.burst } });
    let limitExceeded = 0;
    const trace = process.env.HAMMER_TRACE ? (event: B24ClientEvent) => console.log(JSON.stringify({ pid: process.pid, at: Date.now(), ...event })) : undefined;
    const client = b24kitClient(job.installed, job.model, {
      limiter,
      onEvent: (event: B24ClientEvent) => {
        trace?.(event);
        if (event.type === 'limit-exceeded') limitExceeded += 1;
      },
    });
    return {
      call: async (id) => {
        await client.call('crm.deal.get', { id });
      },
      close: async () => {
        await client.close();
        await store.close();
      },
      limitExceeded: () => limitExceeded,
    };
  }
  const { sdkClient } = await import('./sdk-client.js');
  const b24 = sdkClient(job.installed, job.model);
  return {
    call: async (id) => {
      const result = await b24.actions.v2.call.make({ method: 'crm.deal.get', params: { id } });
      if (!result.isSuccess) throw new Error(result.getErrorMessages().join('; ') || 'call failed');
    },
    close: async () => {},
    limitExceeded: () => 0,
  };
}

async function runJob(job: HammerJob, call: Caller): Promise<Omit<HammerResult, 'limitExceeded'>> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const startMs = Date.now();
  const worker = async (): Promise<void> => {
    while (next < job.calls) {
      const index = next++;
      try {
        await call(job.ids[index % job.ids.length]!);
        ok += 1;
      } catch (error) {
        failed += 1;
        const code = String((error as { code?: unknown }).code ?? (error as Error).message ?? error).slice(0, 60);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return { ok, failed, errors, startMs, endMs: Date.now() };
}

/** Jobs one after another: a warm process serves several runs (a fresh portal and client each). */
let go: (() => void) | undefined;
let queue = Promise.resolve();
process.on('message', (message) => {
  const { type, job } = message as { type: 'job' | 'go'; job?: HammerJob };
  if (type === 'go') {
    go?.();
    return;
  }
  queue = queue
    .then(async () => {
      const started = new Promise<void>((resolve) => {
        go = resolve;
      });
      const prepared = await prepare(job!);
      // a warm process, as an app's are: connections open, code paths compiled (the parent lets the
      // bucket drain and resets the portal's stats before the start)
      for (let index = 0; index < job!.warmUpCalls; index += 1) await prepared.call(job!.ids[index % job!.ids.length]!);
      process.send?.({ ready: true });
      await started;
      const result = await runJob(job!, prepared.call);
      const out: HammerResult = { ...result, limitExceeded: prepared.limitExceeded() };
      await prepared.close();
      process.send?.(out);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
});
process.on('disconnect', () => process.exit(0));
