/**
 * The three roles of a process — web (the routes), worker (runs jobs), scheduler (fires slots and
 * the token keep-alive) — started together (`b24kit start`) or apart (`b24kit web`, `b24kit
 * worker`). Stopping is the reverse: no new slots, no new requests, running jobs finish (up to
 * the shutdown timeout) or are released with their attempt given back.
 */
import { isIPv6 } from 'node:net';
import { Worker } from '../queue/index.js';
import { Scheduler } from '../scheduler/index.js';
import { installDemoPortal, startDemoTrickle } from '../runtime/demo.js';
import { scheduleKeepAlive } from '../runtime/keep-alive-schedule.js';
import type { AppDefinitions } from './definitions.js';
import { buildWorkerHandlers } from './handlers.js';
import { jobNames } from './job-names.js';
import type { AppMetrics } from './metrics.js';
import { DEFAULT_OFFLINE_DRAIN_CRON } from './offline-events.js';
import { postponeForPortal } from './portal-gate.js';
import { resolveRetention, RetentionRunner } from './retention.js';
import { portalTimeZones } from './portal-settings.js';
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
export function createAppWorker(
  settings: ResolvedSettings,
  definitions: AppDefinitions,
  services: AppServices,
  metrics: AppMetrics,
  overrides: { pollIntervalMs?: number } = {},
): Worker {
  const { logger } = settings;
  return new Worker({
    queue: services.queue,
    handlers: buildWorkerHandlers(definitions, {
      store: services.store,
      portals: services.runtime.portals,
      clients: services.clients,
      logger,
      metrics,
      nowMs: settings.nowMs,
      inbox: services.inbox,
      offline: settings.config.offlineEvents ?? {},
      settings: () => {
        throw new Error('settings are not wired yet');
      },
    }),
    concurrency: settings.config.worker?.concurrency ?? 8,
    pollIntervalMs: overrides.pollIntervalMs ?? settings.config.worker?.pollIntervalMs ?? 1000,
    postponeFor: postponeForPortal,
    logger: logger.child({ module: 'worker' }),
    // LISTEN needs the store's URL: known when the app opened the store itself
    ...(services.store.dialect === 'postgres' && !settings.store ? { listen: { url: settings.databaseUrl } } : {}),
  });
}

export async function startRoles(settings: ResolvedSettings, definitions: AppDefinitions, services: AppServices, metrics: AppMetrics, roles: Roles): Promise<RunningRoles> {
  const { logger } = settings;
  // stopped in this order: no new work (demo trickle, slots, keep-alive, HTTP), then the worker drains
  const ORDER = ['trickle', 'scheduler', 'retention', 'keepAlive', 'web', 'worker'] as const;
  const stops = new Map<(typeof ORDER)[number], () => Promise<void>>();
  const stopAll = async (): Promise<void> => {
    for (const name of ORDER) {
      const stop = stops.get(name);
      stops.delete(name);
      await stop?.().catch((error: unknown) => logger.warn({ err: String(error), role: name }, 'error while stopping'));
    }
  };
  try {
    let url: string | undefined;
    let worker: Worker | undefined;
    let scheduler: Scheduler | undefined;
    const server = services.runtime.server;
    if (roles.web !== false) {
      const host = roles.host ?? settings.host;
      await server.listen({ port: roles.port ?? settings.port, host });
      const address = server.server.address();
      const port = typeof address === 'object' && address ? address.port : settings.port;
      url = `http://${urlHost(host)}:${port}`;
      services.appUrl.current ??= url;
      // in-flight requests finish (their transactions commit before the answer); new ones get 503
      stops.set('web', () => server.close());
    }
    if (roles.worker !== false) {
      const running = createAppWorker(settings, definitions, services, metrics);
      await running.start();
      worker = running;
      stops.set('worker', () => running.stop({ graceful: true, timeoutMs: settings.config.worker?.shutdownTimeoutMs ?? 25_000 }));
    }
    if (roles.scheduler !== false) {
      const running = new Scheduler({
        store: services.store,
        queue: services.queue,
        // each portal in its own zone when known (learned at install, portal-settings.ts), else the default
        portals: async () => {
          const [active, zones] = await Promise.all([services.runtime.portals.list({ state: 'active' }), portalTimeZones(services.store)]);
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
      const drainCron = settings.config.offlineEvents?.drainCron ?? DEFAULT_OFFLINE_DRAIN_CRON;
      if (definitions.offlineEvents.size > 0 && drainCron !== false) {
        // the safety net of the ONOFFLINEEVENT pings (online deliveries are never repeated)
        running.schedule(jobNames.offlineDrain, drainCron, { jobName: jobNames.offlineDrain, tz: 'UTC' });
      }
      running.start();
      scheduler = running;
      stops.set('scheduler', () => running.stop());
      // retention (retention.ts): purges past their windows, once per fire time across processes
      const retention = resolveRetention(settings.config.retention);
      if (retention.cron !== false) {
        const purger = new RetentionRunner({
          store: services.store,
          retention,
          intervalMs: settings.config.scheduler?.intervalMs ?? 10_000,
          nowMs: settings.nowMs,
          logger: logger.child({ module: 'retention' }),
        });
        purger.start();
        stops.set('retention', () => purger.stop());
      }
      const keepAlive = scheduleKeepAlive({
        portals: services.runtime.portals,
        tokens: services.runtime.tokens,
        logger,
        ...((roles.keepAlivePattern ?? settings.config.keepAlivePattern) ? { pattern: roles.keepAlivePattern ?? settings.config.keepAlivePattern } : {}),
      });
      stops.set('keepAlive', async () => keepAlive.stop());
    }
    const counts = await services.runtime.portals.countByState();
    logger.info({ url, store: services.store.location, portals: counts, roles: { web: url !== undefined, worker: worker !== undefined, scheduler: scheduler !== undefined } }, url ? `b24kit listening on ${url}` : 'b24kit started');
    if (counts.needs_reauth > 0) logger.warn({ count: counts.needs_reauth }, 'portals need re-authorization: see `b24kit portals list --state needs_reauth`');
    if (services.emulator && url) {
      const emulatorUrl = services.emulator.url;
      const portal = await installDemoPortal(services.emulator, services.runtime, url, logger);
      logger.warn(
        { emulatorUrl, memberId: portal.memberId, domain: portal.domain },
        `DEMO MODE — no B24_CLIENT_ID set; using the built-in Bitrix24 emulator at ${emulatorUrl}. Demo portal ${portal.domain} installed; set B24_CLIENT_ID, B24_CLIENT_SECRET and B24_APP_URL to serve real portals.`,
      );
      const trickle = startDemoTrickle({
        emulatorUrl,
        memberId: portal.memberId,
        fireContactAdd: definitions.events.has('ONCRMCONTACTADD'),
        ...(definitions.robots.has('demo_score') ? { robotCode: 'demo_score' } : {}),
        intervalMs: settings.config.demoTrickleMs ?? 3000,
        logger,
      });
      stops.set('trickle', () => trickle.stop());
    } else if (url) {
      logger.info({ appUrl: services.appUrl.current }, `install handler: ${services.appUrl.current ?? url}/install`);
    }
    return { url, worker, scheduler, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The listen address as a URL's host: a wildcard becomes the loopback, an IPv6 address goes in brackets (HOST=::1). */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return isIPv6(host) ? `[${host}]` : host;
}
