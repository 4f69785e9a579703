/**
 * `npm run chaos` (= `npm run bench -- chaos`): the chaos run of bench/chaos/run-chaos.ts, on
 * PostgreSQL (2 web + 3 worker + 1 scheduler processes) and then on SQLite (one process with every
 * role, SIGKILLed at 20 random moments), written to bench/README.md's "Chaos" section.
 *
 * PostgreSQL: DATABASE_URL (a postgres:// URL whose user may CREATE DATABASE; default the local
 * test server); the run creates its own database beside it and drops it afterwards. The outage is
 * simulated for that database only. `CHAOS_PG_RESTART='pg_ctlcluster <version> main restart'` restarts the
 * server for real instead — never on a shared server, never in CI.
 * Smaller runs: CHAOS_EVENTS, CHAOS_EVENTS_PER_SECOND (the timeline scales with them).
 */
import os from 'node:os';
import type { BenchSection } from './run.js';
import { runChaos, type ChaosOptions, type ChaosReport } from './chaos/run-chaos.js';

const events = Number(process.env.CHAOS_EVENTS ?? 20_000);
const eventsPerSecond = Number(process.env.CHAOS_EVENTS_PER_SECOND ?? 50);
const fireMs = (events / eventsPerSecond) * 1000;

const common = {
  portals: 20,
  events,
  eventsPerSecond,
  duplicateRate: 0.1,
  errorRate: 0.05,
  // the portals' bucket: above the plans' 2-5 requests/s, so 20,000 events fit in minutes (the
  // emulator and the app are told the same numbers; the shared bucket is what is tested)
  drainPerSecond: 50,
  burst: 100,
  leaseMs: 10_000,
  portalDownSeconds: 60,
  portalDownAtMs: 0.2 * fireMs,
  // expiries away from the outages: the emulator clock would end the portal's 60 s early
  expiriesAtMs: [0.1 * fireMs, 0.85 * fireMs],
  drainTimeoutMs: 600_000,
  keepLogs: true,
  log: (line: string) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`),
} satisfies Partial<ChaosOptions>;

export const POSTGRES_RUN: ChaosOptions = {
  ...common,
  dialect: 'postgres',
  adminUrl: process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : 'postgres://postgres@127.0.0.1:5432/test',
  web: 2,
  workers: 3,
  schedulers: 1,
  killEveryMs: 10_000,
  pgOutageAtMs: 0.6 * fireMs,
  pgOutageMs: 5000,
  ...(process.env.CHAOS_PG_RESTART ? { realPgRestart: process.env.CHAOS_PG_RESTART } : {}),
};

export const SQLITE_RUN: ChaosOptions = { ...common, dialect: 'sqlite', sqliteKills: 20 };

function row(name: string, value: string | number, expected: string, note = ''): string {
  return `| ${name} | ${value} | ${expected} | ${note} |`;
}

export function reportMarkdown(report: ChaosReport, options: ChaosOptions): string {
  const refreshes = report.refreshesPerPortal;
  const exact = refreshes.filter((n) => n === report.expiries).length;
  const processes =
    report.dialect === 'postgres' ? `${options.web} web + ${options.workers} worker + ${options.schedulers} scheduler processes` : 'one process (web + worker + scheduler)';
  const killing =
    report.dialect === 'postgres' ? `a worker SIGKILLed every ${(options.killEveryMs ?? 0) / 1000} s and restarted (${report.kills} kills)` : `SIGKILL at ${report.kills} random moments, restarted each time`;
  const outage =
    report.dialect === 'postgres'
      ? options.realPgRestart
        ? `PostgreSQL restarted once (\`${options.realPgRestart}\`)`
        : `PostgreSQL "restarted" once: the run's database refused connections for ${(options.pgOutageMs ?? 0) / 1000} s and its connections were terminated`
      : '';
  return [
    `**${report.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'}**: ${processes}; ${report.portals} portals on the emulator (its own process); ${report.eventsFired.toLocaleString('en-US')} events fired in ${report.fireSeconds.toFixed(0)} s, ${Math.round(options.duplicateRate * 100)}% of them delivered twice, all out of order; ${Math.round(options.errorRate * 100)}% of REST calls answered 500; one portal down ${options.portalDownSeconds} s; ${killing}${outage ? `; ${outage}` : ''}; access tokens expired ${report.expiries} times (emulator clock +3,700 s).`,
    '',
    '| measure | value | expected | note |',
    '|---|---|---|---|',
    row('deliveries (copies)', report.deliveries, '', `answers: ${Object.entries(report.deliveryStatuses).map(([status, n]) => `${status} × ${n}`).join(', ')}`),
    row('events acknowledged (a copy answered 2xx)', report.acknowledged, '', ''),
    row('events not acknowledged', report.notAcknowledged, '', 'every copy refused (the store down, the process killed): the portal does not resend, nothing was promised'),
    row('stored (inbox rows)', report.stored, '≥ acknowledged', ''),
    row('handled (jobs succeeded)', report.handled, '= stored', ''),
    row('effects (deals, distinct ORIGIN_ID)', report.effects, '= handled', ''),
    row('acknowledged, no deal (yet)', report.acknowledgedNotDone, '0', report.waitingForReauth > 0 ? `${report.waitingForReauth} of them wait in the queue for a portal in needs_reauth` : ''),
    row('**lost** (acknowledged, no deal, not in the queue)', report.lost, '0', ''),
    row('**duplicate effects** (deals beyond one per ORIGIN_ID)', report.duplicateEffects, '0', ''),
    row('deal found by ORIGIN_ID', report.foundByOriginId, '', "ctx.once's window (the deal added, the worker killed before the memo): closed by the look-up"),
    row('**503 QUERY_LIMIT_EXCEEDED** at the portals', report.rateLimitRejections, '0', ''),
    row('429 OPERATION_TIME_LIMIT at the portals', report.operatingRejections, '0', ''),
    row('**refreshes per expiry per portal**', `${exact} of ${refreshes.length} portals exactly ${report.expiries} (${[...new Set(refreshes)].sort().join(', ')})`, `all ${report.expiries}`, `refused refreshes: ${report.refreshesRefused}; the clock moves again only after every portal refreshed (or a minute)`),
    row('portals in needs_reauth', report.portalsNeedingReauth, '0', ''),
    row('**jobs stuck** (queued/running after the drain)', report.jobsStuck, '0', report.waitingForReauth > 0 ? `${report.waitingForReauth} of them: portals in needs_reauth (postponed, no attempt spent)` : ''),
    row('jobs dead', report.jobsDead, '0', ''),
    row('schedule runs (one per portal and minute)', report.scheduleRuns, '', `beyond one per slot: ${report.duplicateScheduleRuns}`),
    row('processes that crashed', Object.keys(report.crashes).length, '0', Object.entries(report.crashes).map(([name, exits]) => `${name}: ${exits.join(', ')}`).join('; ')),
    row('**drain after the last fault**', Number.isNaN(report.drainSecondsAfterLastFault) ? 'did not drain' : `${report.drainSecondsAfterLastFault.toFixed(1)} s`, '', report.portalsNeedingReauth > 0 ? 'the event jobs of every portal not in needs_reauth' : ''),
    row('log lines at error level', report.errorLogLines, '', ''),
    '',
    ...explanations(report).map((line) => `- ${line}`),
    '',
    '<details><summary>faults and refreshes, seconds from the first event</summary>',
    '',
    "The refreshes are the processes' log lines; a SIGKILLed process loses its last buffered lines, so this list is incomplete (the emulator's counts above are not).",
    '',
    '```',
    ...report.faults,
    '',
    ...report.refreshLog,
    '```',
    '',
    '</details>',
  ].join('\n');
}

/** What each non-zero of this run means (the causes were read from the processes' logs; bench/chaos/run-chaos.ts keeps them with `keepLogs`). */
function explanations(report: ChaosReport): string[] {
  const lines: string[] = [];
  if (report.notAcknowledged > 0) {
    lines.push(
      `Not acknowledged (${report.notAcknowledged}): every copy was answered 5xx — ${[
        report.deliveryStatuses['500'] ? '500 from a web process while the store refused connections' : '',
        report.deliveryStatuses['502']
          ? `502 from the balancer when no web process answered (${report.dialect === 'sqlite' ? `the one process restarted ${report.kills} times, each restart a new node process that compiles the app through tsx and opens the store, several seconds on this loaded machine` : 'the web processes were never killed: a connection error on both, not investigated further'})`
          : '',
      ]
        .filter(Boolean)
        .join(', ')}. Nothing was promised for them; Bitrix24 does not resend (docs/protocol.md §3.5), which is what offline events are for (docs/events.md).`,
    );
  }
  if (report.stored > report.acknowledged) {
    lines.push(
      `Stored but not acknowledged (${report.stored - report.acknowledged}): the process was killed after the event's commit and before its answer left; the portal saw a failure, the app ran the event anyway (no loss; a resend would have been recognized as a copy).`,
    );
  }
  if (report.foundByOriginId > 0) {
    lines.push(
      `Deal found by ORIGIN_ID (${report.foundByOriginId}): a worker was killed after its crm.deal.add and before ctx.once stored the result; the retried job found the deal by its natural key instead of adding a second one. Without the look-up each of these would be a duplicate effect.`,
    );
  }
  if (report.portalsNeedingReauth > 0) {
    lines.push(
      `Portals in needs_reauth (${report.portalsNeedingReauth}), and the jobs that wait for them (${report.waitingForReauth}): a SIGKILL landed between the OAuth server's rotation of a portal's token pair and the store write of the new pair, so the stored refresh token was spent; the next refresh was refused (${report.refreshesRefused} refused) and the portal moved to needs_reauth. No client can close that window (refresh tokens are single-use, docs/protocol.md §1.5); it is the token request plus one write, seconds here because the emulator and the store shared 2 cores with a load average near 20. Their events are not lost: the jobs are postponed without spending attempts until the portal is re-authorized.`,
    );
  }
  const slow = report.jobsStuck - report.waitingForReauth;
  if (slow > 0) {
    lines.push(
      `Jobs still queued when the run stopped waiting (${slow}, besides those of portals in needs_reauth): the queue had not drained within the run's wait (${Math.round(common.drainTimeoutMs / 1000)} s after the last event): ${report.handled.toLocaleString('en-US')} jobs were handled in all, the workers starved of CPU (a load average near 20 on 2 cores; each restart after a kill also recompiles the app through tsx). None was dead: they were waiting their turn or a retry's backoff.`,
    );
  }
  if (report.effects > report.handled) {
    lines.push(`Deals beyond the handled jobs (${report.effects - report.handled}): jobs that had added their deal but not yet finished when the processes were stopped; their retries find the deal by ORIGIN_ID.`);
  }
  if (report.errorLogLines > 0) {
    lines.push(`Log lines at error level (${report.errorLogLines}): the web processes' 500s and the workers' "could not record the outcome" while the store refused connections; each such job ran again after its lease.`);
  }
  return lines;
}

export async function run(): Promise<BenchSection> {
  const load = (): string => os.loadavg().map((n) => n.toFixed(1)).join(' / ');
  const parts: string[] = [];
  for (const options of [POSTGRES_RUN, SQLITE_RUN]) {
    const loadBefore = load();
    console.log(`chaos on ${options.dialect} …`);
    const report = await runChaos(options);
    console.log(JSON.stringify(report, null, 1));
    parts.push(`${reportMarkdown(report, options)}\n\nLoad average before / after (1, 5, 15 min): ${loadBefore} → ${load()} on a shared ${os.cpus().length}-core machine.`);
  }
  return {
    title: 'Chaos',
    markdown: [
      '`npm run chaos` (bench/chaos.ts, bench/chaos/): real processes of `b24kit web`, `b24kit worker`,',
      '`b24kit start` and a scheduler (`app.start({ scheduler: true })`), a load balancer in front of the web',
      'processes that records every delivery and its answer, the emulator in a process of its own. Each',
      "ONCRMDEALUPDATE creates one deal (ORIGIN_ID = the event's number) inside `ctx.once`, looked up by",
      'ORIGIN_ID first (docs/protocol.md §6.3); lost and duplicate effects are counted at the emulator.',
      'The short version with the same assertions is test/chaos/chaos.test.ts (`npm run test:pg`).',
      '',
      ...parts.flatMap((part) => [part, '']),
    ].join('\n'),
  };
}
