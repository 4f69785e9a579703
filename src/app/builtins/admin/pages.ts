/**
 * The dashboard's pages, rendered from what the service context reads (all processes) and what
 * this process observed itself (signals: said so on the page). Pure functions of their input.
 */
import type { Job, JobState } from '../../../queue/types.js';
import type { BucketView, Declaration, DeadLetterCount, EventMinute, OperatingView, PortalTokenTimes } from '../../kit.js';
import type { PortalView } from '../../types.js';
import { maskSecrets } from '../../../mask-secrets.js';
import { barChart } from './charts.js';
import { actionForm, html, Html, layout, span, when } from './html.js';
import type { ProcessStats } from './process-stats.js';
import type { RunSummary } from './runs.js';

const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'dead'];

/** `failed`: the last try sent a wrong token; `waitMinutes`: this address is refused that long (too many failures). */
export function loginPage(state: { failed?: boolean; waitMinutes?: number } = {}): string {
  const message =
    state.waitMinutes !== undefined
      ? html`<p class="error">Too many failed logins from this address. Try again in ${String(state.waitMinutes)} min.</p>`
      : state.failed
        ? html`<p class="error">Wrong token.</p>`
        : '';
  return layout(
    'Log in',
    undefined,
    undefined,
    html`<form id="login" class="login" method="post" action="/admin/login">
${message}
<label for="token">Admin token (B24KIT_ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button></form>
<script src="/admin/static/login.js"></script>`,
  );
}

export interface PortalsInput {
  nowMs: number;
  portals: PortalView[];
  tokens: PortalTokenTimes[];
  buckets: BucketView[];
  operatingLimitSeconds: number;
  stats: ProcessStats;
}

export function portalsPage(input: PortalsInput, csrf: string): string {
  const tokens = new Map(input.tokens.map((entry) => [entry.memberId, entry]));
  const buckets = new Map(input.buckets.map((entry) => [entry.memberId, entry]));
  const rows = input.portals.map((portal) => {
    const times = tokens.get(portal.memberId);
    const bucket = buckets.get(portal.memberId);
    const reauth = portal.state === 'needs_reauth';
    const seen = input.stats.stateChanges.get(portal.memberId);
    const reason = reauth
      ? html`<div class="bad">needs re-authorization${times?.needsReauthSinceMs ? html` since ${when(times.needsReauthSinceMs)}` : ''}: ${
          seen && seen.to === 'needs_reauth' ? `${seen.reason}${seen.bitrixCode ? ` (${seen.bitrixCode})` : ''}` : 'its refresh token was refused by the OAuth server'
        }</div><div class="note">An administrator of ${portal.domain} opens /oauth/start?domain=${portal.domain}</div>`
      : '';
    return html`<tr class="${reauth ? 'reauth' : ''}" data-member-id="${portal.memberId}">
<td><strong>${portal.domain}</strong><div class="note">${portal.memberId}</div></td>
<td class="state-${portal.state}">${portal.state}${reason}</td>
<td>${bucket?.licenseFamily ?? 'not read yet'}</td>
<td>${times?.installedByUserId ?? '–'}<div class="note">${when(times?.installedAtMs)}</div></td>
<td>${times ? html`${when(times.accessTokenExpiresAtMs)}<div class="note">${times.accessTokenExpiresAtMs >= input.nowMs ? `in ${span(times.accessTokenExpiresAtMs - input.nowMs)}` : `expired ${span(input.nowMs - times.accessTokenExpiresAtMs)} ago (refreshed on use)`}</div>` : '–'}</td>
<td>${times ? when(times.refreshTokenObtainedAtMs) : '–'}</td>
<td>${times ? span(input.nowMs - times.refreshTokenObtainedAtMs) : '–'}${times && times.refreshFailures > 0 ? html`<div class="bad">${times.refreshFailures} failed refreshes</div>` : ''}</td>
<td>${bucket ? `${bucket.drainPerSecond}/s, burst ${bucket.burst}` : 'plan default'}<div class="note">operating ${input.operatingLimitSeconds} s / method / 10 min</div></td>
</tr>`;
  });
  const counts = { active: 0, needs_reauth: 0, uninstalled: 0 } as Record<string, number>;
  for (const portal of input.portals) counts[portal.state] = (counts[portal.state] ?? 0) + 1;
  return layout(
    'Portals',
    'portals',
    csrf,
    html`<p><span class="ok">${counts.active} active</span> · <span class="${counts.needs_reauth ? 'bad' : ''}">${counts.needs_reauth} need re-authorization</span> · ${counts.uninstalled} uninstalled</p>
<table id="portals"><thead><tr><th>portal</th><th>state</th><th>plan</th><th>installed by / when</th><th>access token expires</th><th>last refresh</th><th>refresh-token age</th><th>limits in force</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="8">No portal has installed the app yet.</td></tr>`}</tbody></table>
<p class="note">A refresh token not used for 28 days dies; the keep-alive refreshes portals idle for 7 days. The reason of a needs_reauth is the one this process saw, else the only cause b24kit marks it for (the refresh token was refused).</p>`,
  );
}

export interface QueueInput {
  nowMs: number;
  counts: Record<JobState, number>;
  byPortal: Array<{ memberId: string; domain: string; counts: Record<JobState, number> }>;
  /** Installed portals not listed in `byPortal`. */
  portalsOmitted: number;
  /** The most jobs `running` and `dead` hold. */
  maxRows: number;
  running: Job[];
  dead: Job[];
  deadLetters: DeadLetterCount[];
  flash: string | undefined;
}

export function queuePage(input: QueueInput, csrf: string): string {
  const deadNames = [...new Set(input.deadLetters.map((entry) => entry.name))].sort();
  return layout(
    'Queue',
    'queue',
    csrf,
    html`${input.flash ? html`<p class="flash" role="status">${input.flash}</p>` : ''}
<table id="counts"><thead><tr><th>portal</th>${JOB_STATES.map((state) => html`<th>${state}</th>`)}</tr></thead><tbody>
<tr><td><strong>all portals</strong></td>${JOB_STATES.map((state) => html`<td class="${state === 'dead' && input.counts.dead ? 'bad' : ''}">${input.counts[state]}</td>`)}</tr>
${input.byPortal.map((entry) => html`<tr><td>${entry.domain}<div class="note">${entry.memberId}</div></td>${JOB_STATES.map((state) => html`<td>${entry.counts[state]}</td>`)}</tr>`)}
</tbody></table>
${input.portalsOmitted > 0 ? html`<p class="note">${input.portalsOmitted} more portals not listed; GET /admin/api/jobs?memberId=… reads any one.</p>` : ''}
<h2>Running</h2>
<table id="running"><thead><tr><th>id</th><th>job</th><th>portal</th><th>attempt</th><th>lease</th></tr></thead><tbody>
${input.running.length ? input.running.map((job) => html`<tr><td>${job.id}</td><td>${job.name}</td><td>${job.memberId}</td><td>${job.attempts} of ${job.maxAttempts}</td><td>${job.leaseOwner ?? '–'}<div class="note">until ${when(job.leaseExpiresAtMs)}${job.leaseExpiresAtMs ? ` (${span(job.leaseExpiresAtMs - input.nowMs)})` : ''}</div></td></tr>`) : html`<tr><td colspan="5">Nothing running.</td></tr>`}
</tbody></table>
<h2>Dead letters</h2>
<table id="dead-letters"><thead><tr><th>job</th><th>error code</th><th>count</th></tr></thead><tbody>
${input.deadLetters.length ? input.deadLetters.map((entry) => html`<tr><td>${entry.name}</td><td>${entry.code}</td><td>${entry.count}</td></tr>`) : html`<tr><td colspan="3">No dead letters.</td></tr>`}
</tbody></table>
${deadNames.map((name) => html`<p>All dead <strong>${name}</strong>: ${actionForm('/admin/queue/replay-dead', csrf, { name }, 'Replay all')} ${actionForm('/admin/queue/discard-dead', csrf, { name }, 'Discard all', 'danger')}</p>`)}
<table id="dead"><thead><tr><th>id</th><th>job</th><th>portal</th><th>died</th><th>last error</th><th>attempts</th><th>payload</th><th></th></tr></thead><tbody>
${input.dead.length ? input.dead.map((job) => deadRow(job, csrf)) : html`<tr><td colspan="8">No dead jobs.</td></tr>`}
</tbody></table>
${input.dead.length >= input.maxRows ? html`<p class="note">The newest ${input.maxRows} dead jobs; older ones: GET /admin/api/jobs?state=dead&amp;beforeId=…</p>` : ''}
<p class="note">Replay runs a dead job again now with its attempts reset; discard deletes it for good. Values under keys that look like secrets are masked.</p>`,
  );
}

function deadRow(job: Job, csrf: string): Html {
  return html`<tr data-job-id="${job.id}"><td>${job.id}</td><td>${job.name}</td><td>${job.memberId}</td><td>${when(job.finishedAtMs)}</td>
<td class="error-text">${job.lastError ?? ''}</td>
<td><details><summary>${job.attempts} of ${job.maxAttempts}</summary><ol>${job.history.map((attempt) => html`<li>${when(attempt.at)} · ${attempt.durationMs} ms · ${attempt.error ?? 'ok'}</li>`)}</ol></details></td>
<td><details><summary>payload</summary><pre>${JSON.stringify(maskSecrets(job.payload), null, 2)}</pre></details></td>
<td>${actionForm('/admin/queue/replay', csrf, { id: job.id }, 'Replay')} ${actionForm('/admin/queue/discard', csrf, { id: job.id }, 'Discard', 'danger')}</td></tr>`;
}

export interface EventsInput {
  nowMs: number;
  minutes: EventMinute[];
  windowMinutes: number;
  byEvent: Array<{ event: string; queued: number; ignored: number }>;
  stats: ProcessStats;
}

export function eventsPage(input: EventsInput, csrf: string): string {
  const start = Math.floor(input.nowMs / 60_000) * 60_000 - (input.windowMinutes - 1) * 60_000;
  const byMinute = new Map(input.minutes.map((minute) => [minute.minuteStartMs, minute]));
  const bars = Array.from({ length: input.windowMinutes }, (_, i) => {
    const at = start + i * 60_000;
    const minute = byMinute.get(at);
    return { label: new Date(at).toISOString().slice(11, 16), value: minute?.queued ?? 0, stacked: minute?.ignored ?? 0 };
  });
  const accepted = [...input.stats.accepted.entries()].sort();
  const rejected = [...input.stats.rejected.entries()].sort();
  return layout(
    'Events',
    'events',
    csrf,
    html`${barChart(bars, { title: `Deliveries stored per minute, last ${input.windowMinutes} min (blue: queued, orange: ignored)`, width: 900 })}
<h2>By event (last ${input.windowMinutes} min, all processes)</h2>
<table id="by-event"><thead><tr><th>event</th><th>queued</th><th>ignored</th></tr></thead><tbody>
${input.byEvent.length ? input.byEvent.map((entry) => html`<tr><td>${entry.event}</td><td>${entry.queued}</td><td>${entry.ignored}</td></tr>`) : html`<tr><td colspan="3">No deliveries.</td></tr>`}
</tbody></table>
<h2>By outcome (this process, since it started)</h2>
<table id="outcomes"><thead><tr><th>outcome</th><th>deliveries</th></tr></thead><tbody>
${accepted.length ? accepted.map(([outcome, n]) => html`<tr><td>${outcome}</td><td>${n}</td></tr>`) : html`<tr><td colspan="2">None yet.</td></tr>`}
</tbody></table>
<h2>Rejections by reason (this process, since it started)</h2>
<table id="rejections"><thead><tr><th>reason</th><th>deliveries</th></tr></thead><tbody>
${rejected.length ? rejected.map(([reason, n]) => html`<tr><td>${reason}</td><td class="bad">${n}</td></tr>`) : html`<tr><td colspan="2">None.</td></tr>`}
</tbody></table>
<p class="note">Stored deliveries come from the event inbox and count every process (duplicates and rejections are never stored). Outcomes and rejections are counted by the process that received them: with several web processes, each shows its own (sum them in /metrics: b24kit_events_received_total, b24kit_events_rejected_total).</p>`,
  );
}

export interface LimitsInput {
  nowMs: number;
  buckets: BucketView[];
  operating: OperatingView[];
  domains: Map<string, string>;
  stats: ProcessStats;
}

export function limitsPage(input: LimitsInput, csrf: string): string {
  const name = (memberId: string): string => input.domains.get(memberId) ?? memberId;
  const maxBurst = Math.max(0, ...input.buckets.map((bucket) => bucket.burst));
  const operatingBy = new Map<string, OperatingView[]>();
  for (const entry of input.operating) operatingBy.set(entry.memberId, [...(operatingBy.get(entry.memberId) ?? []), entry]);
  const status503 = input.stats.restStatus.get(503) ?? 0;
  const status429 = input.stats.restStatus.get(429) ?? 0;
  return layout(
    'Limits',
    'limits',
    csrf,
    html`<p id="rest-refusals">Refused by portals (this process, since it started): <span class="${status503 ? 'bad' : 'ok'}">503 QUERY_LIMIT_EXCEEDED: ${status503}</span> · <span class="${status429 ? 'bad' : 'ok'}">429 OPERATION_TIME_LIMIT: ${status429}</span> <span class="note">(expected 0: the client paces itself)</span></p>
${barChart(
  input.buckets.map((bucket) => ({ label: name(bucket.memberId), value: bucket.level })),
  { title: 'Leaky bucket level per portal (requests; all processes share it)', ...(maxBurst > 0 && maxBurst < 10_000 ? { limit: { value: maxBurst, label: `burst ${maxBurst}` } } : {}) },
)}
<table id="buckets"><thead><tr><th>portal</th><th>level</th><th>limits</th><th>plan</th><th>paused until</th></tr></thead><tbody>
${input.buckets.length ? input.buckets.map((bucket) => html`<tr><td>${name(bucket.memberId)}</td><td>${bucket.level.toFixed(1)}</td><td>${bucket.drainPerSecond}/s, burst ${bucket.burst}</td><td>${bucket.licenseFamily ?? '–'}</td><td>${bucket.pausedUntilMs ? when(bucket.pausedUntilMs) : '–'}</td></tr>`) : html`<tr><td colspan="5">No REST request made yet.</td></tr>`}
</tbody></table>
<h2>Operating seconds per method (this process's view)</h2>
${[...operatingBy.entries()].map(([memberId, entries]) =>
  barChart(
    entries.map((entry) => ({ label: entry.method, value: entry.operatingSeconds })),
    { title: `${name(memberId)}: seconds used per method in the 10-minute window`, unit: 's', limit: { value: entries[0]!.limitSeconds, label: `budget ${entries[0]!.limitSeconds} s` }, height: 150 },
  ),
)}
<table id="operating"><thead><tr><th>portal</th><th>method</th><th>operating s</th><th>budget s</th><th>window resets</th></tr></thead><tbody>
${input.operating.length ? input.operating.map((entry) => html`<tr><td>${name(entry.memberId)}</td><td>${entry.method}</td><td>${entry.operatingSeconds.toFixed(2)}</td><td>${entry.limitSeconds}</td><td>${when(entry.resetAtMs)}</td></tr>`) : html`<tr><td colspan="5">No method reported operating time to this process yet.</td></tr>`}
</tbody></table>
<p class="note">Bucket levels are read from the store, shared by every process. Operating seconds are what the portal reported to this process's calls (each process keeps its own view); the 503/429 counters are this process's (sum them across processes in /metrics: b24kit_rest_requests_total).</p>`,
  );
}

export interface PluginsInput {
  nowMs: number;
  declarations: Declaration[];
  runs: RunSummary[];
  /** The newest jobs of each name the runs were read from. */
  recent: number;
}

export function pluginsPage(input: PluginsInput, csrf: string): string {
  const owners = new Map<string, Declaration[]>();
  for (const entry of input.declarations) owners.set(entry.owner, [...(owners.get(entry.owner) ?? []), entry]);
  return layout(
    'Plugins',
    'plugins',
    csrf,
    html`<p class="note">The app, its integrations and the other plugins: the last run and the last error of each job, event, schedule and robot they declared (from the newest ${input.recent} jobs of each name, all processes), and the dead jobs of each name.</p>
<table id="runs"><thead><tr><th>owner</th><th>runs as</th><th>last run</th><th>last error</th><th>dead</th></tr></thead><tbody>
${input.runs.length ? input.runs.map((run) => runRow(run, input.nowMs)) : html`<tr><td colspan="5">Nothing declared runs as a job.</td></tr>`}
</tbody></table>
<h2>Declarations</h2>
<table id="plugins"><thead><tr><th>owner</th><th>declared</th></tr></thead><tbody>
${[...owners.entries()].map(([owner, entries]) => html`<tr><td><strong>${owner}</strong></td><td><ul>${entries.map((entry) => html`<li>${entry.kind}: <code>${entry.name}</code></li>`)}</ul></td></tr>`)}
</tbody></table>`,
  );
}

function runRow(run: RunSummary, nowMs: number): Html {
  const ago = (atMs: number): string => `${span(nowMs - atMs)} ago`;
  return html`<tr data-job-name="${run.jobName}"><td><strong>${run.owner}</strong></td><td><code>${run.jobName}</code></td>
<td>${run.lastRun ? html`<span class="${run.lastRun.ok ? 'ok' : 'bad'}">${run.lastRun.ok ? 'ok' : 'failed'}</span> ${when(run.lastRun.atMs)}<div class="note">${ago(run.lastRun.atMs)}, job ${run.lastRun.jobId}</div>` : html`<span class="note">no run among the newest jobs</span>`}</td>
<td>${run.lastError ? html`<div class="error-text">${run.lastError.message}</div><div class="note">${when(run.lastError.atMs)} (${ago(run.lastError.atMs)}), job ${run.lastError.jobId}, now ${run.lastError.jobState}</div>` : '–'}</td>
<td class="${run.dead ? 'bad' : ''}">${run.dead}</td></tr>`;
}
