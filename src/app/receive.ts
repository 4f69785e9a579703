/**
 * `app.receive(payload)`: an event through the whole pipeline in-process, for users' tests —
 * the same receiver as `POST /webhooks/:memberId/event` (validation, application_token, dedupe,
 * inbox + job in one transaction), then the job runs: on this app's worker if it is running, else
 * on a worker started for the occasion. Resolves when the job succeeded, died, or was put back
 * (retry scheduled or postponed), with the job as it then is. An event handled by several owners
 * (the app and plugins: fan-out) has a job each; `receive` waits for all of them.
 */
import { parseForm } from '../server/body-parsers.js';
import { isRecord } from '../oauth/install-payload.js';
import { B24Error } from '../errors.js';
import { Worker, type Job, type JobQueue } from '../queue/index.js';
import type { InboxStatus } from '../events/inbox.js';
import type { EventReceiver } from '../events/receiver.js';

export interface ReceiveOptions {
  /** Run the job and wait for it. @defaultValue true */
  run?: boolean;
  /** Give up waiting after this long, in ms. @defaultValue 30000 */
  timeoutMs?: number;
}

export interface ReceiveResult {
  status: InboxStatus;
  /** The event's job (queued events), as it is when `receive` resolves: the first handler's. */
  job?: Job;
  /** Every job of the event (one per owner's handler), in registration order, `job` first. */
  jobs?: Job[];
}

export async function receiveInProcess(
  parts: { receiver: EventReceiver; queue: JobQueue; worker: Worker | undefined; makeWorker: () => Worker },
  payload: Record<string, unknown> | string,
  options: ReceiveOptions = {},
): Promise<ReceiveResult> {
  const body = typeof payload === 'string' ? parseForm(payload) : payload;
  const auth = isRecord(body.auth) ? body.auth : {};
  if (typeof auth.member_id !== 'string') throw new B24Error('B24_ERR_BAD_REQUEST', 'auth[member_id] is missing');
  const received = await parts.receiver.accept(auth.member_id, body);
  if (received.jobId === undefined) return { status: received.status };
  const ids = received.jobIds ?? [received.jobId];
  const result = (jobs: Job[]): ReceiveResult => ({ status: received.status, job: jobs[0]!, jobs });
  if (options.run === false) return result(await Promise.all(ids.map(async (id) => (await parts.queue.get(id))!)));
  const temporary = parts.worker ? undefined : parts.makeWorker();
  await temporary?.start();
  try {
    // polled side by side: each job within the same timeout
    return result(await Promise.all(ids.map((id) => settled(parts.queue, id, options.timeoutMs ?? 30_000))));
  } finally {
    await temporary?.stop({ graceful: true, timeoutMs: 5000 });
  }
}

/** Polls the job until its attempt ended: succeeded, dead, or queued again after an attempt or a postpone. */
async function settled(queue: JobQueue, jobId: number, timeoutMs: number): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await queue.get(jobId))!;
    const tried = job.history.length > 0 || job.postpones > 0;
    if (job.state === 'succeeded' || job.state === 'dead' || (job.state === 'queued' && tried)) return job;
    if (Date.now() > deadline) throw new B24Error('B24_ERR_TIMEOUT', `app.receive: job ${jobId} did not finish within ${timeoutMs} ms (state ${job.state})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
