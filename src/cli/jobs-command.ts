/**
 * `b24kit jobs list|show|retry|discard`: the durable queue from the command line. Payloads never hold
 * portal tokens (events are stored without auth tokens); values under keys that look like
 * secrets (a robot run event_token; keys containing token, secret or password) are masked anyway.
 */
import { maskSecrets } from '../mask-secrets.js';
import { InvalidArgumentError, type Command } from 'commander';
import { JobQueue, type Job, type JobState } from '../queue/index.js';
import { deleteJobsOnce } from '../app/once.js';
import { cliConfig, withStore } from './context.js';

const STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'dead'];

function state(value: string): JobState {
  if (!(STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${STATES.join(', ')}`);
  return value as JobState;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a positive integer');
  return n;
}

function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function publicJob(job: Job): Job {
  return { ...job, payload: maskSecrets(job.payload), result: maskSecrets(job.result) };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function registerJobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('List, show, retry and discard jobs of the durable queue');

  jobs
    .command('list')
    .description('Jobs, newest first')
    .option('--state <state>', `only jobs in this state (${STATES.join(', ')})`, state)
    .option('--portal <memberId>', "only this portal's jobs")
    .option('--name <name>', 'only this job type, e.g. event:ONCRMDEALADD, job:sync, schedule:nightly, robot:score')
    .option('--limit <n>', 'at most this many (≤ 1000)', positive, 50)
    .option('--json', 'print JSON')
    .action(async (options: { state?: JobState; portal?: string; name?: string; limit: number; json?: boolean }) => {
      const config = cliConfig();
      const list = await withStore(config, (store) =>
        new JobQueue({ store }).list({
          limit: options.limit,
          ...(options.state ? { state: options.state } : {}),
          ...(options.portal ? { memberId: options.portal } : {}),
          ...(options.name ? { name: options.name } : {}),
        }),
      );
      if (options.json) return void console.log(JSON.stringify(list.map(publicJob), null, 2));
      if (list.length === 0) return void console.log('no jobs');
      const rows = [['ID', 'PORTAL', 'NAME', 'STATE', 'ATTEMPTS', 'POSTPONES', 'RUN AT', 'LAST ERROR']];
      for (const job of list) {
        rows.push([String(job.id), job.memberId, job.name, job.state, `${job.attempts}/${job.maxAttempts}`, String(job.postpones), time(job.runAtMs), (job.lastError ?? '').slice(0, 80)]);
      }
      console.log(table(rows));
    });

  jobs
    .command('show')
    .description('One job: payload (secrets masked), last error, attempt history')
    .argument('<id>', 'job id', positive)
    .option('--json', 'print JSON')
    .action(async (id: number, options: { json?: boolean }) => {
      const config = cliConfig();
      const job = await withStore(config, (store) => new JobQueue({ store }).get(id));
      if (!job) {
        console.error(`b24kit: no job ${id}`);
        process.exitCode = 1;
        return;
      }
      const shown = publicJob(job);
      if (options.json) return void console.log(JSON.stringify(shown, null, 2));
      const lines: Array<[string, string]> = [
        ['id', String(job.id)],
        ['portal', job.memberId],
        ['name', job.name],
        ['key', job.key ?? '-'],
        ['state', job.state],
        ['attempts', `${job.attempts}/${job.maxAttempts}`],
        ['postpones', String(job.postpones)],
        ['run at', time(job.runAtMs)],
        ['created', time(job.createdAtMs)],
        ['finished', time(job.finishedAtMs)],
        ['last error', job.lastError ?? '-'],
        ['payload', JSON.stringify(shown.payload)],
      ];
      console.log(lines.map(([k, v]) => `${k.padEnd(11)} ${v}`).join('\n'));
      if (job.history.length > 0) {
        console.log('\nattempts:');
        for (const entry of job.history) console.log(`  #${entry.attempt} ${time(entry.at)} ${entry.durationMs} ms ${entry.error ?? 'ok'}`);
      }
    });

  registerDeadLetterCommand(jobs, {
    name: 'retry',
    description: 'Run a dead (or waiting) job again now, attempts reset; or every dead job with --dead',
    one: async (queue, id) => `job ${id} (${(await queue.replay(id)).name}) queued again`,
    all: async (queue, filter) => `${await queue.replayDead(filter)} dead job(s) queued again`,
  });
  registerDeadLetterCommand(jobs, {
    name: 'discard',
    description: 'Delete a dead job for good (with its ctx.once memos); or every dead job with --dead',
    one: async (queue, id) => `job ${id} (${(await queue.discard(id, deleteJobsOnce)).name}) discarded`,
    all: async (queue, filter) => `${await queue.discardDead(filter, deleteJobsOnce)} dead job(s) discarded`,
  });
}

/** A command over one job (`<id>`) or over the dead letters (`--dead [--portal] [--name]`); the action answers the line to print. */
function registerDeadLetterCommand(
  jobs: Command,
  spec: {
    name: string;
    description: string;
    one: (queue: JobQueue, id: number) => Promise<string>;
    all: (queue: JobQueue, filter: { memberId?: string; name?: string }) => Promise<string>;
  },
): void {
  jobs
    .command(spec.name)
    .description(spec.description)
    .argument('[id]', 'job id', positive)
    .option('--dead', `${spec.name} every dead job (optionally of one portal / job type)`)
    .option('--portal <memberId>', 'with --dead: only this portal')
    .option('--name <name>', 'with --dead: only this job type')
    .action(async (id: number | undefined, options: { dead?: boolean; portal?: string; name?: string }) => {
      if ((id === undefined) === !options.dead) {
        console.error('b24kit: give a job id, or --dead (not both)');
        process.exitCode = 1;
        return;
      }
      const line = await withStore(cliConfig(), (store) => {
        const queue = new JobQueue({ store });
        if (id !== undefined) return spec.one(queue, id);
        return spec.all(queue, { ...(options.portal ? { memberId: options.portal } : {}), ...(options.name ? { name: options.name } : {}) });
      });
      console.log(line);
    });
}
