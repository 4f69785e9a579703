/**
 * The app's Prometheus metrics, in a registry of its own (no prom-client global): two apps in one
 * process (tests) never mix their numbers. Gauges over the store (jobs and portals by state) are
 * read when /metrics is scraped, so every process reports the same totals.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CODES } from '../errors.js';
import type { CredentialsAudit } from '../oauth/installer.js';
import type { ReceiverObserver } from '../events/receiver.js';
import type { JobQueue } from '../queue/queue.js';
import type { B24ClientEvent } from '../rest/hooks.js';
import type { PortalRegistry } from '../store/portals.js';

export interface MetricsSources {
  queue: () => JobQueue | undefined;
  portals: () => PortalRegistry | undefined;
}

export class AppMetrics {
  readonly registry = new Registry();
  readonly eventsReceived: Counter<'event' | 'outcome'>;
  readonly eventsRejected: Counter<'reason'>;
  readonly jobRuns: Counter<'kind' | 'outcome'>;
  readonly handlerSeconds: Histogram<'kind'>;
  readonly restRequests: Counter<'status' | 'error_code'>;
  readonly restRetries: Counter<'reason'>;
  readonly portalCredentials: Counter<'route' | 'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.eventsReceived = new Counter({
      name: 'b24kit_events_received_total',
      help: 'Event and robot deliveries accepted, by event (declared events, framework events, robot:CODE of declared robots; everything else is "other") and outcome: queued, duplicate (collapsed on the dedupe key), ignored (no handler, nothing stored)',
      labelNames: ['event', 'outcome'],
      registers,
    });
    this.eventsRejected = new Counter({
      name: 'b24kit_events_rejected_total',
      help: 'Deliveries refused before anything was stored, by error code (B24_ERR_FORBIDDEN: missing or wrong token, or unknown portal; member mismatch; bad form)',
      labelNames: ['reason'],
      registers,
    });
    this.jobRuns = new Counter({
      name: 'b24kit_handler_runs_total',
      help: 'Handler runs in this process, by kind (event, job, schedule, robot) and outcome (ok, error)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.handlerSeconds = new Histogram({
      name: 'b24kit_handler_duration_seconds',
      help: 'Handler run time in this process',
      labelNames: ['kind'],
      buckets: [0.005, 0.025, 0.1, 0.5, 2, 10, 60],
      registers,
    });
    this.restRequests = new Counter({
      name: 'b24kit_rest_requests_total',
      help: 'HTTP exchanges with portals made by this process, by status (0 = no answer) and b24kit error code',
      labelNames: ['status', 'error_code'],
      registers,
    });
    this.restRetries = new Counter({ name: 'b24kit_rest_retries_total', help: 'REST calls tried again, by reason', labelNames: ['reason'], registers });
    this.portalCredentials = new Counter({
      name: 'b24kit_portal_credentials_total',
      help: "Attempts to store a portal's credentials, by route (install, update, oauth-callback) and outcome (stored, or the refusal's error code: B24_ERR_NOT_ADMIN, B24_ERR_CREDENTIALS_UNPROVEN, …)",
      labelNames: ['route', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'b24kit_jobs',
      help: 'Jobs in the store by state (all processes)',
      labelNames: ['state'],
      registers,
      async collect() {
        const queue = sources.queue();
        if (!queue) return;
        for (const [state, n] of Object.entries(await queue.counts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'b24kit_portals',
      help: 'Portals by state; needs_reauth = must be re-authorized (GET /oauth/start)',
      labelNames: ['state'],
      registers,
      async collect() {
        const portals = sources.portals();
        if (!portals) return;
        for (const [state, n] of Object.entries(await portals.countByState())) this.set({ state }, n);
      },
    });
  }

  /**
   * The event and robot receivers' observer. The receivers bound the `event` label (declared names
   * or `other`); `reason` is checked against the error registry here as well, so a label value can
   * only ever come from the code, never from a request.
   */
  readonly receiverObserver: ReceiverObserver = {
    accepted: (label, outcome) => this.eventsReceived.inc({ event: label, outcome }),
    rejected: (reason) => this.eventsRejected.inc({ reason: codeLabel(reason) }),
  };

  /** The installer's audit hook (PortalInstallerOptions.onCredentials). */
  readonly onCredentials = (entry: CredentialsAudit): void => {
    this.portalCredentials.inc({ route: entry.route, outcome: entry.outcome === 'stored' ? 'stored' : codeLabel(entry.outcome) });
  };

  /** The REST client's event hook (B24ClientOptions.onEvent). */
  readonly onRestEvent = (event: B24ClientEvent): void => {
    if (event.type === 'request') this.restRequests.inc({ status: String(event.status), error_code: event.errorCode ?? '' });
    else if (event.type === 'retry') this.restRetries.inc({ reason: event.reason });
  };
}

/** A label value from an error code: one of the registry's codes, never free text (bounded series). */
function codeLabel(code: string): string {
  return Object.hasOwn(ERROR_CODES, code) ? code : 'B24_ERR_INTERNAL';
}
