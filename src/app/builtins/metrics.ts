/**
 * Built-in plugin `b24kit.metrics`: the app's Prometheus metrics at `GET /metrics`, in a registry
 * of its own (no prom-client global: two apps in one process never mix their numbers). Counters
 * are fed by the framework's signals (`kit.observe`); gauges over the store (jobs and portals by
 * state) are read when /metrics is scraped, so every process reports the same totals. Written on
 * the public seam only, as a user's metrics plugin would be.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CODES } from '../../errors.js';
import type { AppSignal, ServiceContext } from '../kit.js';
import { defineBuiltinPlugin } from '../plugin.js';

export const metricsPlugin = defineBuiltinPlugin({
  name: 'b24kit.metrics',
  setup(kit) {
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
      }
    });
    kit.service('web', (ctx) => {
      running = ctx;
      return () => void (running = undefined);
    });
    kit.route('GET', '/metrics', async (ctx) => {
      ctx.header('content-type', registry.contentType);
      return ctx.raw(await registry.metrics());
    });
  },
});

/** A label value from an error code: one of the registry's codes, never free text (bounded series). */
function codeLabel(code: string): string {
  return Object.hasOwn(ERROR_CODES, code) ? code : 'B24_ERR_INTERNAL';
}
