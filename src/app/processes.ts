/**
 * The three roles of a process — web (the routes), worker (runs jobs), scheduler (fires slots and
 * the token keep-alive) — started together (`b24kit start`) or apart (`b24kit web`, `b24kit
 * worker`). Stopping is the reverse: no new slots, no new requests, running jobs finish (up to
 * the shutdown timeout) or are released with their attempt given back.
 */
import { isIPv6 } from 'node:net';
import { inboxByEvent, inboxPerMinute } from '../events/inbox-stats.js';
import { refreshIdlePortals } from '../oauth/keep-alive.js';
import { countDeadLetters } from '../queue/dead-letter-counts.js';
import { Worker } from '../queue/index.js';
import { levelAt } from '../rest/limiter.js';
import { readStoredBuckets } from '../rest/store-bucket.js';
import { Scheduler } from '../scheduler/index.js';
import { APP_OWNER, type AppDefinitions } from './definitions.js';
import { buildBatchHandlers, buildWorkerHandlers } from './handlers.js';
import { jobNames } from './job-names.js';
import type { Declaration, ProcessRole, ServiceContext, ServiceStop } from './kit.js';
import { deleteJobsOnce } from './once.js';
import { postponeForPortal } from './portal-gate.js';
import { portalTimeZones } from './portal-time-zone.js';
import { portalView } from './portal-view.js';
import type { AppServices } from './services.js';
import type { ResolvedSettings } from './settings.js';

export interface Roles {
  /** Serve HTTP (install, OAuth, events, robots, health, metrics). @defaultValue true */
  web?: boolean;
  /** Run jobs. @defaultValue true */
  worker?: boolean;
  /** Fire schedules, the refresh-token keep-alive and the retention purge. @defaultValue true */
  scheduler?: boolean;
  /** Listen address (`b24kit start --host`): wins over the app's. @defaultValue the app's `host` (HOST; '127.0.0.1' in demo mode, '0.0.0.0' otherwise) */
  host?: string;
  /** Listen port (0 = any free one). @defaultValue the app's `port` (PORT, 3000) */
  port?: number;
  /** Cron pattern of the refresh-token keep-alive. @defaultValue the app's `keepAlivePattern` ('17 * * * *') */
  keepAlivePattern?: string;
}

export interface RunningRoles {
  /** The listening URL, when web runs. */
  url: string | undefined;
  worker: Worker | undefined;
  scheduler: Scheduler | undefined;
  stop(): Promise<void>;
}

/** The app's worker: a handler per declared job type, the portal-aware postpone policy. */
export function createAppWorker(settings: ResolvedSettings, definitions: AppDefinitions, services: AppServices, overrides: { pollIntervalMs?: number } = {}): Worker {
  const { logger } = settings;
  const handlerServices = {
    store: services.store,
    portals: services.portals,
    clients: services.clients,
    logger,
    nowMs: settings.nowMs,
    values: services.values,
    signal: services.signal,
  };
  return new Worker({
    queue: services.queue,
    handlers: buildWorkerHandlers(definitions, handlerServices),
    batchHandlers: buildBatchHandlers(definitions, handlerServices),
    concurrency: settings.config.worker?.concurrency ?? 8,
    pollIntervalMs: overrides.pollIntervalMs ?? settings.config.worker?.pollIntervalMs ?? 1000,
    postponeFor: postponeForPortal,
    logger: logger.child({ module: 'worker' }),
    // LISTEN needs the store's URL: known when the app opened the store itself
    ...(services.store.dialect === 'postgres' && !settings.store ? { listen: { url: settings.databaseUrl } } : {}),
  });
}

export async function startRoles(settings: ResolvedSettings, definitions: AppDefinitions, services: AppServices, roles: Roles): Promise<RunningRoles> {
  const { logger } = settings;
  // stopped in reverse: the plugins' services first (no new work), then the scheduler, the web
  // server (in-flight requests finish), and last the worker, which drains
  const stops: Array<{ name: string; stop: () => Promise<void> | void }> = [];
  const abort = new AbortController();
  const stopAll = async (): Promise<void> => {
    abort.abort();
    for (const { name, stop } of stops.reverse()) {
      await Promise.resolve()
        .then(stop)
        .catch((error: unknown) => logger.warn({ err: error, role: name }, 'error while stopping'));
    }
    stops.length = 0;
  };
  try {
    let url: string | undefined;
    let worker: Worker | undefined;
    let scheduler: Scheduler | undefined;
    const played: ProcessRole[] = [];
    if (roles.worker !== false) {
      const running = createAppWorker(settings, definitions, services);
      await running.start();
      worker = running;
      played.push('worker');
      stops.push({ name: 'worker', stop: () => running.stop({ graceful: true, timeoutMs: settings.config.worker?.shutdownTimeoutMs ?? 25_000 }) });
    }
    if (roles.web !== false) {
      const server = services.server;
      const host = roles.host ?? settings.host;
      await server.listen({ port: roles.port ?? settings.port, host });
      const address = server.server.address();
      const port = typeof address === 'object' && address ? address.port : settings.port;
      url = `http://${urlHost(host)}:${port}`;
      services.appUrl.current ??= url;
      played.push('web');
      // in-flight requests finish (their transactions commit before the answer); new ones get 503
      stops.push({ name: 'web', stop: () => server.close() });
    }
    if (roles.scheduler !== false) {
      const running = new Scheduler({
        store: services.store,
        queue: services.queue,
        // each portal in its own zone when known (learned at install, portal-time-zone.ts), else the default
        portals: async () => {
          const [active, zones] = await Promise.all([services.portals.list({ state: 'active' }), portalTimeZones(services.store)]);
          return active.map((portal) => ({ memberId: portal.memberId, timeZone: zones.get(portal.memberId) ?? null }));
        },
        defaultTimeZone: settings.config.scheduler?.defaultTimeZone ?? 'UTC',
        intervalMs: settings.config.scheduler?.intervalMs ?? 10_000,
        nowMs: settings.nowMs,
        logger: logger.child({ module: 'scheduler' }),
      });
      for (const entry of definitions.schedules.values()) {
        running.schedule(entry.name, entry.cron, {
          jobName: jobNames.schedule(entry.name),
          ...(entry.options.tz ? { tz: entry.options.tz } : {}),
          ...(entry.options.catchUp ? { catchUp: entry.options.catchUp } : {}),
          ...(entry.options.maxAttempts ? { maxAttempts: entry.options.maxAttempts } : {}),
        });
      }
      running.start();
      scheduler = running;
      played.push('scheduler');
      stops.push({ name: 'scheduler', stop: () => running.stop() });
    }
    const counts = await services.portals.countByState();
    logger.info(
      { url, store: services.store.location, portals: counts, roles: { web: url !== undefined, worker: worker !== undefined, scheduler: scheduler !== undefined } },
      url ? `b24kit listening on ${url}` : 'b24kit started',
    );
    if (counts.needs_reauth > 0) logger.warn({ count: counts.needs_reauth }, 'portals need re-authorization: see `b24kit portals list --state needs_reauth`');
    if (url && !settings.demo) logger.info({ appUrl: services.appUrl.current }, `install handler: ${services.appUrl.current ?? url}/install`);
    // the services of the app and its plugins for the roles this process plays, in declaration order
    const context = serviceContext(settings, services, url, abort.signal, definitions);
    for (const entry of definitions.services) {
      if (!played.includes(entry.role)) continue;
      const log = entry.owner === APP_OWNER ? logger : logger.child({ plugin: entry.owner });
      const stop: ServiceStop | void = await entry.start({ ...context, log });
      if (typeof stop === 'function') stops.push({ name: `${entry.owner} (${entry.role})`, stop });
    }
    return { url, worker, scheduler, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function serviceContext(settings: ResolvedSettings, services: AppServices, url: string | undefined, signal: AbortSignal, definitions: AppDefinitions): ServiceContext {
  return {
    declarations: () => declarations(definitions),
    events: {
      perMinute: ({ sinceMs }) => inboxPerMinute(services.store, sinceMs),
      byEvent: ({ sinceMs }) => inboxByEvent(services.store, sinceMs),
    },
    limits: {
      buckets: async () => {
        const now = settings.nowMs();
        return (await readStoredBuckets(services.store)).map((bucket) => {
          const limits = services.limiter.limitsFor(bucket.key);
          return {
            memberId: bucket.key,
            level: bucket.state ? levelAt(bucket.state, now, limits) : 0,
            drainPerSecond: limits.drainPerSecond,
            burst: limits.burst,
            licenseFamily: bucket.licenseFamily,
            pausedUntilMs: bucket.state && bucket.state.pausedUntilMs > now ? bucket.state.pausedUntilMs : 0,
          };
        });
      },
      operating: () => {
        const tracker = services.clients.operating;
        return [...tracker.entries()].map(({ portal, method, state }) => ({
          memberId: portal,
          method,
          operatingSeconds: state.operatingSeconds,
          limitSeconds: tracker.limits.limitSeconds,
          resetAtMs: state.resetAtMs,
        }));
      },
    },
    log: settings.logger,
    nowMs: settings.nowMs,
    url,
    signal,
    store: services.store,
    client: (memberId) => services.clients.get(memberId),
    jobs: {
      counts: (filter = {}) => services.queue.counts(filter),
      list: (filter = {}) => services.queue.list(filter),
      get: (id) => services.queue.get(id),
      replay: (id) => services.queue.replay(id),
      replayDead: (filter = {}) => services.queue.replayDead(filter),
      discard: (id) => services.queue.discard(id, deleteJobsOnce),
      discardDead: (filter = {}) => services.queue.discardDead(filter, deleteJobsOnce),
      deadLetters: () => countDeadLetters(services.store),
    },
    portals: {
      list: async (filter = {}) => (await services.portals.list(filter.state ? { state: filter.state } : {})).map(portalView),
      get: async (memberId) => {
        const portal = await services.portals.info(memberId);
        return portal ? portalView(portal) : undefined;
      },
      countByState: () => services.portals.countByState(),
      refreshIdle: (options = {}) => refreshIdlePortals({ portals: services.portals, tokens: services.tokens, ...options }),
      tokenTimes: async () =>
        (await services.portals.list())
          .filter((portal) => portal.state !== 'uninstalled')
          .map((portal) => ({
            memberId: portal.memberId,
            domain: portal.domain,
            state: portal.state,
            accessTokenExpiresAtMs: portal.expiresAtMs,
            refreshTokenObtainedAtMs: portal.lastRefreshedAtMs ?? portal.createdAtMs,
            refreshFailures: portal.refreshFailures,
            installedByUserId: portal.installedByUserId,
            installedAtMs: portal.createdAtMs,
            needsReauthSinceMs: portal.state === 'needs_reauth' ? portal.needsReauthSinceMs : null,
          })),
    },
  };
}

/** The listen address as a URL's host: a wildcard becomes the loopback, an IPv6 address goes in brackets (HOST=::1). */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIPv6(host) ? `[${host}]` : host;
}

/** What each owner declared, for `ServiceContext.declarations()`. */
function declarations(definitions: AppDefinitions): Declaration[] {
  const list: Declaration[] = [];
  // an event handled by several owners is one declaration per owner (each runs its own job)
  for (const [name, entries] of definitions.events) for (const entry of entries) list.push({ owner: entry.owner, kind: 'event', name });
  for (const [name, entry] of definitions.jobs) list.push({ owner: entry.owner, kind: 'job', name });
  for (const entry of definitions.schedules.values()) list.push({ owner: entry.owner, kind: 'schedule', name: entry.name });
  for (const [name, entry] of definitions.robots) list.push({ owner: entry.owner, kind: 'robot', name });
  for (const entry of definitions.routes) list.push({ owner: entry.owner, kind: 'route', name: `${entry.method} ${entry.path}` });
  for (const entry of definitions.services) list.push({ owner: entry.owner, kind: 'service', name: entry.role });
  return list;
}
