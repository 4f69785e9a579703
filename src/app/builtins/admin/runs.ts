/**
 * The last run and the last error of each declared job, event, schedule and robot, by owner: what
 * the plugins page shows for integrations (a plugin's own jobs) and the app. Read from the store,
 * so it covers every process — the web process that renders the page runs no jobs of its own in a
 * web/worker split. Bounded: the newest `recent` jobs of each name (one indexed-by-id query per
 * name); a run older than those is not shown, and the page says so.
 */
import { jobNames } from '../../job-names.js';
import type { Declaration, DeadLetterCount, ServiceContext } from '../../kit.js';

/** The newest jobs of each name that are read. */
export const RECENT_JOBS = 20;

export interface RunSummary {
  owner: string;
  kind: Declaration['kind'];
  /** The name as declared (`sync`, `ONCRMDEALADD`). */
  declared: string;
  /** The jobs' name in the queue (`job:sync`, `event:ONCRMDEALADD`, a plugin's `event:ONCRMDEALADD@shop`). */
  jobName: string;
  /** The newest attempt's end among the newest jobs, and whether it succeeded. */
  lastRun?: { atMs: number; ok: boolean; jobId: number };
  /** The newest failed attempt among the newest jobs: its message, and the job's state now. */
  lastError?: { atMs: number; message: string; jobId: number; jobState: string };
  /** Dead jobs of this name in the whole queue. */
  dead: number;
}

/** The queue name of what a declaration runs as a job; routes and services run none. */
function queuedName(entry: Declaration): string | undefined {
  switch (entry.kind) {
    case 'event':
      return jobNames.event(entry.name, entry.owner); // one job per owner's handler (fan-out)
    case 'job':
      return jobNames.job(entry.name);
    case 'schedule':
      return jobNames.schedule(entry.name);
    case 'robot':
      return jobNames.robot(entry.name);
    default:
      return undefined;
  }
}

/** One summary per declaration that runs as jobs, in declaration order. */
export async function runSummaries(svc: ServiceContext, declarations: Declaration[], deadLetters: DeadLetterCount[], recent = RECENT_JOBS): Promise<RunSummary[]> {
  const dead = new Map<string, number>();
  for (const entry of deadLetters) dead.set(entry.name, (dead.get(entry.name) ?? 0) + entry.count);
  const queued = declarations.flatMap((entry) => {
    const jobName = queuedName(entry);
    return jobName ? [{ entry, jobName }] : [];
  });
  return Promise.all(
    queued.map(async ({ entry, jobName }) => {
      const summary: RunSummary = { owner: entry.owner, kind: entry.kind, declared: entry.name, jobName, dead: dead.get(jobName) ?? 0 };
      for (const job of await svc.jobs.list({ name: jobName, limit: recent })) {
        for (const attempt of job.history) {
          if (!summary.lastRun || attempt.at > summary.lastRun.atMs) summary.lastRun = { atMs: attempt.at, ok: attempt.error === null, jobId: job.id };
          if (attempt.error !== null && (!summary.lastError || attempt.at > summary.lastError.atMs)) {
            summary.lastError = { atMs: attempt.at, message: attempt.error, jobId: job.id, jobState: job.state };
          }
        }
      }
      return summary;
    }),
  );
}
