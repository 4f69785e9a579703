/**
 * `b24kit jobs list|show|retry`: the durable queue from the command line. Payloads never hold
 * portal tokens (events are stored without auth tokens); values under keys that look like
 * secrets (a robot run event_token; keys containing token, secret or password) are masked anyway.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { JobQueue, type Job, type JobState } from '../queue/index.js';
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

/** Masks values under secret-looking keys, at any depth. */
function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, /token|secret|password/i.test(key) ? '[redacted]' : maskSecrets(inner)]));
  }
  return value;
}

function publicJob(job: Job): Job {
  return { ...job, payload: maskSecrets(job.payload), result: maskSecrets(job.result) };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function registerJobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('List, show and retry jobs of the durable queue');

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

  jobs
    .command('retry')
    .description('Run a dead (or waiting) job again now, attempts reset; or every dead job with --dead')
    .argument('[id]', 'job id', positive)
    .option('--dead', 'retry every dead job (optionally of one portal / job type)')
    .option('--portal <memberId>', 'with --dead: only this portal')
    .option('--name <name>', 'with --dead: only this job type')
    .action(async (id: number | undefined, options: { dead?: boolean; portal?: string; name?: string }) => {
      if ((id === undefined) === !options.dead) {
        console.error('b24kit: give a job id, or --dead (not both)');
        process.exitCode = 1;
        return;
      }
      const config = cliConfig();
      await withStore(config, async (store) => {
        const queue = new JobQueue({ store });
        if (id !== undefined) {
          const job = await queue.replay(id);
          console.log(`job ${job.id} (${job.name}) queued again`);
        } else {
          const count = await queue.replayDead({ ...(options.portal ? { memberId: options.portal } : {}), ...(options.name ? { name: options.name } : {}) });
          console.log(`${count} dead job(s) queued again`);
        }
      });
    });
}
