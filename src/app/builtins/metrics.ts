/**
 * Built-in plugin `b24kit.metrics`: the app's Prometheus metrics at `GET /metrics`, in a registry
 * of its own (no prom-client global: two apps in one process never mix their numbers). Counters
 * are fed by the framework's signals (`kit.observe`); gauges over the store (jobs and portals by
 * state, dead letters, token ages) are read when /metrics is scraped, so every process reports the
 * same totals. Written on the public seam only, as a user's metrics plugin would be. What each
 * metric means, and alerts on them: docs/operations.md.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { B24Error, ERROR_CODES } from '../../errors.js';
import { REFRESH_FAILURE_REASONS } from '../../oauth/refresh-failure.js';
import type { AppSignal, PortalTokenTimes, ServiceContext } from '../kit.js';
import { defineBuiltinPlugin } from '../plugin.js';

/** `createApp({ metrics })`. */
export interface MetricsConfig {
  /**
   * Also one series per installed portal, labelled `member_id`: seconds until its access token
   * expires and the age of its refresh token. Off by default: `/metrics` asks for no credentials
   * (docs/security.md), and these series list the app's portals — turn it on only where /metrics
   * is reachable by your scraper alone. @defaultValue false
   */
  perPortal?: boolean;
  /**
   * With `perPortal`: series for at most this many portals, the oldest refresh tokens first; the
   * rest are counted in `b24kit_portal_series_omitted`. @defaultValue 1000
   */
  maxPortals?: number;
  /**
   * How long one scrape's answer is served again, in ms. `/metrics` asks for no credentials and its
   * gauges query the store (whole-table counts): within this time, however many requests come,
   * each process renders it at most once (concurrent scrapes share one rendering). Prometheus
   * scrapes every 15–60 s, so the numbers are at most this much older. 0 renders every request.
   * @defaultValue 5000
   */
  cacheMs?: number;
}

export const metricsPlugin = defineBuiltinPlugin({
  name: 'b24kit.metrics',
  setup(kit, config: MetricsConfig = {}) {
    const perPortal = config.perPortal ?? false;
    const maxPortals = config.maxPortals ?? 1000;
    if (!Number.isSafeInteger(maxPortals) || maxPortals < 1) throw new B24Error('B24_ERR_CONFIG', `metrics.maxPortals must be a positive integer (got ${String(config.maxPortals)})`);
    const cacheMs = config.cacheMs ?? 5000;
    if (!Number.isFinite(cacheMs) || cacheMs < 0) throw new B24Error('B24_ERR_CONFIG', `metrics.cacheMs must be a number of milliseconds ≥ 0 (got ${String(config.cacheMs)})`);
    const registry = new Registry();
    const registers = [registry];
    // what the gauges read: set when the web role starts (the only role that serves /metrics)
    let running: ServiceContext | undefined;
    const eventsReceived = new Counter({
      name: 'b24kit_events_received_total',
      help: 'Event and robot deliveries accepted, by event (declared events, framework events, robot:CODE of declared robots; everything else is "other") and outcome: queued, duplicate (collapsed on the dedupe key), ignored (no handler, nothing stored)',
      labelNames: ['event', 'outcome'],
      registers,
    });
    const eventsRejected = new Counter({
      name: 'b24kit_events_rejected_total',
      help: 'Deliveries refused before anything was stored, by error code (B24_ERR_FORBIDDEN: missing or wrong token, or unknown portal; member mismatch; bad form)',
      labelNames: ['reason'],
      registers,
    });
    const handlerRuns = new Counter({
      name: 'b24kit_handler_runs_total',
      help: 'Handler runs in this process, by kind (event, job, schedule, robot) and outcome (ok, error)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const handlerSeconds = new Histogram({
      name: 'b24kit_handler_duration_seconds',
      help: 'Handler run time in this process',
      labelNames: ['kind'],
      buckets: [0.005, 0.025, 0.1, 0.5, 2, 10, 60],
      registers,
    });
    const restRequests = new Counter({
      name: 'b24kit_rest_requests_total',
      help: 'HTTP exchanges with portals made by this process, by status (0 = no answer) and b24kit error code',
      labelNames: ['status', 'error_code'],
      registers,
    });
    const restRetries = new Counter({ name: 'b24kit_rest_retries_total', help: 'REST calls tried again, by reason', labelNames: ['reason'], registers });
    const portalCredentials = new Counter({
      name: 'b24kit_portal_credentials_total',
      help: "Attempts to store a portal's credentials, by route (install, update, oauth-callback) and outcome (stored, or the refusal's error code: B24_ERR_NOT_ADMIN, B24_ERR_CREDENTIALS_UNPROVEN, …)",
      labelNames: ['route', 'outcome'],
      registers,
    });
    const routeRequests = new Counter({
      name: 'b24kit_route_requests_total',
      help: "Requests to the app's and plugins' own routes, by route pattern and outcome (ok, unauthorized, error)",
      labelNames: ['route', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'b24kit_jobs',
      help: 'Jobs in the store by state (all processes)',
      labelNames: ['state'],
      registers,
      async collect() {
        if (!running) return;
        for (const [state, n] of Object.entries(await running.jobs.counts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'b24kit_portals',
      help: 'Portals by state; needs_reauth = must be re-authorized (GET /oauth/start)',
      labelNames: ['state'],
      registers,
      async collect() {
        if (!running) return;
        for (const [state, n] of Object.entries(await running.portals.countByState())) this.set({ state }, n);
      },
    });

    const deadLetters = new Gauge({
      name: 'b24kit_dead_letters',
      help: 'Dead jobs in the store (all processes), by job name and the error code of their last error (B24_ERR_*, or other for an error without one)',
      labelNames: ['job', 'error_code'],
      registers,
    });
    const refreshTokenMaxAge = new Gauge({
      name: 'b24kit_portal_refresh_token_max_age_seconds',
      help: 'Age of the oldest refresh token among active portals (0 without any): the keep-alive refreshes portals idle for 7 days; a refresh token may die after 28 days unused',
      registers,
    });
    const accessTokenExpiresIn = new Gauge({
      name: 'b24kit_portal_access_token_expires_in_seconds',
      help: "Per portal (createApp({ metrics: { perPortal: true } })): seconds until its stored access token expires; negative for an idle portal, whose token is refreshed on its next use",
      labelNames: ['member_id', 'state'],
      registers,
    });
    const refreshTokenAge = new Gauge({
      name: 'b24kit_portal_refresh_token_age_seconds',
      help: 'Per portal (createApp({ metrics: { perPortal: true } })): seconds since its refresh token was obtained (install, code exchange or refresh)',
      labelNames: ['member_id', 'state'],
      registers,
    });
    const portalSeriesOmitted = new Gauge({
      name: 'b24kit_portal_series_omitted',
      help: 'Installed portals left out of the per-portal series by metrics.maxPortals (0 when perPortal is off)',
      registers,
    });
    const tokenRefreshes = new Counter({ name: 'b24kit_token_refreshes_total', help: 'Token pairs obtained by refreshing, in this process', registers });
    const tokenRefreshFailures = new Counter({
      name: 'b24kit_token_refresh_failures_total',
      help: 'Failed token refreshes in this process, by reason (invalid_grant: the refresh token was refused and the portal needs re-authorization; unreachable, bad_answer, oauth_error, invalid_client, wrong_client, no_refresh_token, store_write, wait_timeout)',
      labelNames: ['reason'],
      registers,
    });
    // every reason at 0 from the start: an alert on increase() sees the first failure too
    for (const reason of REFRESH_FAILURE_REASONS) tokenRefreshFailures.inc({ reason }, 0);

    /** The gauges over the store that need more than one query's worth of shaping, read once per scrape. */
    const readStore = async (ctx: ServiceContext): Promise<void> => {
      const [dead, tokens] = await Promise.all([ctx.jobs.deadLetters(), ctx.portals.tokenTimes()]);
      deadLetters.reset();
      for (const entry of dead) deadLetters.set({ job: entry.name, error_code: entry.code }, entry.count);
      const now = ctx.nowMs();
      const ageS = (portal: PortalTokenTimes): number => Math.max(0, Math.round((now - portal.refreshTokenObtainedAtMs) / 1000));
      refreshTokenMaxAge.set(tokens.reduce((max, portal) => (portal.state === 'active' ? Math.max(max, ageS(portal)) : max), 0));
      accessTokenExpiresIn.reset();
      refreshTokenAge.reset();
      if (!perPortal) return void portalSeriesOmitted.set(0);
      const shown = [...tokens].sort((a, b) => a.refreshTokenObtainedAtMs - b.refreshTokenObtainedAtMs).slice(0, maxPortals);
      portalSeriesOmitted.set(tokens.length - shown.length);
      for (const portal of shown) {
        const labels = { member_id: portal.memberId, state: portal.state };
        accessTokenExpiresIn.set(labels, Math.round((portal.accessTokenExpiresAtMs - now) / 1000));
        refreshTokenAge.set(labels, ageS(portal));
      }
    };

    kit.observe((signal: AppSignal) => {
      switch (signal.type) {
        case 'delivery.accepted':
          return void eventsReceived.inc({ event: signal.label, outcome: signal.outcome });
        case 'delivery.rejected':
          return void eventsRejected.inc({ reason: codeLabel(signal.code) });
        case 'handler':
          handlerRuns.inc({ kind: signal.kind, outcome: signal.outcome });
          return void handlerSeconds.observe({ kind: signal.kind }, signal.seconds);
        case 'rest.request':
          return void restRequests.inc({ status: String(signal.status), error_code: signal.errorCode ?? '' });
        case 'rest.retry':
          return void restRetries.inc({ reason: signal.reason });
        case 'credentials':
          return void portalCredentials.inc({ route: signal.route, outcome: signal.outcome === 'stored' ? 'stored' : codeLabel(signal.outcome) });
        case 'route':
          return void routeRequests.inc({ route: signal.path, outcome: signal.outcome });
        case 'token.refresh':
          if (signal.outcome === 'refreshed') return void tokenRefreshes.inc();
          return void tokenRefreshFailures.inc({ reason: signal.reason ?? 'unreachable' });
      }
    });
    kit.service('web', (ctx) => {
      running = ctx;
      return () => void (running = undefined);
    });
    /** The last rendering (or the one under way: atMs -1) and when it finished, by the real clock. */
    let rendered: { text: Promise<string>; atMs: number } | undefined;
    const render = async (): Promise<string> => {
      if (running) await readStore(running);
      return registry.metrics();
    };
    kit.route('GET', '/metrics', async (ctx) => {
      // a rendering under way is shared; a finished one is served for cacheMs from its end
      if (!rendered || (rendered.atMs >= 0 && performance.now() - rendered.atMs >= cacheMs)) {
        const text = render();
        const current: { text: Promise<string>; atMs: number } = { text, atMs: -1 };
        rendered = current;
        text.then(
          () => void (current.atMs = performance.now()),
          // a failed rendering is not served again
          () => void (rendered === current && (rendered = undefined)),
        );
      }
      const text = await rendered.text;
      ctx.header('content-type', registry.contentType);
      return ctx.raw(text);
    });
  },
});

/** A label value from an error code: one of the registry's codes, never free text (bounded series). */
function codeLabel(code: string): string {
  return Object.hasOwn(ERROR_CODES, code) ? code : 'B24_ERR_INTERNAL';
}
