/**
 * Opening an app's parts, in order: secrets → store → queue → portal core (registry, tokens,
 * installer, OAuth states, limiter) → REST clients → settings → receivers → lifecycle hooks and
 * purges (the framework's, then what the app and its plugins declared) → the web server with
 * every route. Each part is built once its inputs exist: nothing is patched in afterwards.
 * `close()` undoes what this opened (a store passed in by the caller stays open).
 */
import { AuthCache } from '../events/auth-cache.js';
import { deletePortalInbox, INBOX_TABLE, InboxWriter } from '../events/inbox.js';
import { deletePortalJobs, JOBS_TABLE } from '../queue/job-row.js';
import { deletePortalSlots, SLOTS_TABLE } from '../scheduler/fire.js';
import { EventReceiver } from '../events/receiver.js';
import { JobQueue } from '../queue/index.js';
import type { RateLimiter } from '../rest/limiter.js';
import type { PortalTokenService } from '../oauth/portal-token-provider.js';
import type { PortalInstaller } from '../oauth/installer.js';
import type { PortalHook } from '../oauth/lifecycle-hooks.js';
import { registerRobotRoutes } from '../server/routes/robots.js';
import { createSecretBox, resolveSecretKey } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import type { PortalInfo, PortalRegistry, PortalStateChange } from '../store/portals.js';
import type { Store } from '../store/types.js';
import type { FastifyInstance } from 'fastify';
import { bindingsHook } from './bindings.js';
import { PortalClients } from './clients.js';
import { APP_OWNER, type AppDefinitions } from './definitions.js';
import { deletePortalIntake, INTAKE_TABLE } from './intake.js';
import { jobNames } from './job-names.js';
import type { AppSignal } from './kit.js';
import { deletePortalOnce, ONCE_TABLE } from './once.js';
import { buildPortalServer, createPortalCore } from './portal-runtime.js';
import { deletePortalSettings, learnTimeZoneHook, PORTAL_SETTINGS_TABLE } from './portal-time-zone.js';
import { deletePortalValues, PORTAL_VALUES_TABLE, PortalValues } from './portal-values.js';
import { portalView } from './portal-view.js';
import { RobotReceiver } from './robot-receiver.js';
import { registerAppRoutes, type AppRouteParts } from './routes.js';
import type { ResolvedSettings } from './settings.js';

/** The OAuth app the services talk as (demo mode swaps in the emulator's). */
export interface AppCredentials {
  clientId: string;
  clientSecret: string;
  oauthUrl: string;
  oauthUrlOverride: boolean;
}

export interface AppServices {
  store: Store;
  queue: JobQueue;
  portals: PortalRegistry;
  tokens: PortalTokenService;
  installer: PortalInstaller;
  limiter: RateLimiter;
  server: FastifyInstance;
  clients: PortalClients;
  receiver: EventReceiver;
  /** Records deliveries (and drained offline records) with their jobs, group-committed. */
  inbox: InboxWriter;
  robots: RobotReceiver;
  values: PortalValues;
  /** Tells every observer (kit.observe); an observer's throw is logged, never propagated. */
  signal(signal: AppSignal): void;
  /** The public base URL: B24_APP_URL, or (demo) the listening URL once known. */
  appUrl: { current: string | undefined };
  close(): Promise<void>;
}

/** The framework's per-portal tables, purged on uninstall with CLEAN (the REST buckets: portal-runtime.ts). */
const FRAMEWORK_PURGES = {
  [INBOX_TABLE]: deletePortalInbox,
  [ONCE_TABLE]: deletePortalOnce,
  [PORTAL_SETTINGS_TABLE]: deletePortalSettings,
  [PORTAL_VALUES_TABLE]: deletePortalValues,
  [INTAKE_TABLE]: deletePortalIntake,
  [JOBS_TABLE]: deletePortalJobs,
  [SLOTS_TABLE]: deletePortalSlots,
} satisfies Record<string, Parameters<PortalRegistry['registerCleanup']>[1]>;

/** The app's own `ingest` and `enqueue`, which routes hand to their handlers. */
export type AppIntake = Pick<AppRouteParts, 'ingest' | 'enqueue'>;

export async function openServices(settings: ResolvedSettings, definitions: AppDefinitions, credentials: AppCredentials, intake: AppIntake): Promise<AppServices> {
  const { logger, nowMs } = settings;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'error while closing'));
    closers.length = 0;
  };
  try {
    const signal = (event: AppSignal): void => {
      for (const observer of definitions.observers) {
        try {
          observer(event);
        } catch (error) {
          logger.error({ err: error, signal: event.type }, 'an observer threw');
        }
      }
    };
    // onPortalStateChange: after the change is stored; a handler's throw or rejection is only logged
    const stateChanged = (change: PortalStateChange): void => {
      const log = logger.child({ memberId: change.memberId });
      log.info({ from: change.from ?? null, to: change.to, reason: change.reason, ...(change.bitrixCode ? { bitrixCode: change.bitrixCode } : {}) }, 'portal state changed');
      for (const { handler, owner } of definitions.stateHandlers) {
        const failed = (error: unknown): void => log.error({ err: error, ...(owner !== APP_OWNER ? { plugin: owner } : {}), to: change.to }, 'an onPortalStateChange handler failed');
        try {
          Promise.resolve(handler({ ...change })).catch(failed);
        } catch (error) {
          failed(error);
        }
      }
    };
    const secrets = createSecretBox(resolveSecretKey({ key: settings.secretKey, dataDir: settings.dataDir, logger }));
    let store = settings.store;
    if (!store) {
      const opened = await openStore({ url: settings.databaseUrl, logger });
      store = opened;
      closers.push(() => opened.close());
    }
    // the retry policy only: `batch` is the worker's business
    const jobTypes = Object.fromEntries([...definitions.jobs].map(([name, { options: { batch: _batch, ...retry } }]) => [jobNames.job(name), retry]));
    const queue = new JobQueue({ store, nowMs, logger: logger.child({ module: 'queue' }), jobTypes, ...settings.config.queue });
    const core = createPortalCore({
      store,
      secrets,
      ...credentials,
      logger,
      nowMs,
      ...(settings.fetch ? { fetch: settings.fetch } : {}),
      onCredentials: (entry) => signal({ type: 'credentials', route: entry.route, outcome: entry.outcome, memberId: entry.memberId ?? null }),
      onPortalStateChange: stateChanged,
      onTokenRefresh: (outcome) =>
        signal({ type: 'token.refresh', memberId: outcome.memberId, outcome: outcome.ok ? 'refreshed' : 'failed', reason: outcome.ok ? undefined : outcome.reason }),
    });
    const clients = new PortalClients({
      tokens: core.tokens,
      limiter: core.limiter,
      operatingStore: core.operatingStore,
      ...(settings.config.rest ? { rest: settings.config.rest } : {}),
      logger,
      onEvent: (event) => {
        if (event.type === 'request') signal({ type: 'rest.request', status: event.status, errorCode: event.errorCode });
        else if (event.type === 'retry') signal({ type: 'rest.retry', reason: event.reason });
      },
    });
    closers.push(() => clients.close());
    const values = new PortalValues({ store, secrets, nowMs, declarations: definitions.settings });
    const inbox = new InboxWriter({ store, queue, nowMs });
    const authCache = new AuthCache({ ttlMs: settings.config.authCacheMs ?? 2000 });
    const observer = {
      accepted: (label: string, outcome: 'queued' | 'duplicate' | 'ignored') => signal({ type: 'delivery.accepted', label, outcome }),
      rejected: (code: string) => signal({ type: 'delivery.rejected', code }),
    };
    const receiver = new EventReceiver({ writer: inbox, portals: core.portals, authCache, jobNamesFor: (event) => definitions.jobNamesForEvent(event), observer });
    const robots = new RobotReceiver({ writer: inbox, portals: core.portals, authCache, jobNameFor: (code) => definitions.jobNameForRobot(code), observer });
    const appUrl = { current: settings.appUrl };

    // lifecycle: the auth cache first (a new application_token must not meet a cached old one),
    // then the bindings, the time zone, and the hooks the app and its plugins declared
    const hookContext = (portal: PortalInfo, owner: string) => ({
      portal: portalView(portal),
      b24: clients.get(portal.memberId),
      settings: values.for<never>(portal.memberId, owner),
      log: logger.child({ memberId: portal.memberId, ...(owner !== APP_OWNER ? { plugin: owner } : {}) }),
    });
    const bindings = bindingsHook({
      definitions,
      appUrl: () => appUrl.current,
      client: (memberId) => clients.get(memberId),
      logger,
      ...(settings.config.offlineEvents?.notifyMinTimeoutSeconds !== undefined ? { offlineNotifySeconds: settings.config.offlineEvents.notifyMinTimeoutSeconds } : {}),
    });
    const timeZone = learnTimeZoneHook({ store, client: (memberId) => clients.get(memberId), nowMs, logger });
    const afterCredentials: Array<(portal: PortalInfo) => unknown> = [(portal) => authCache.forget(portal.memberId), bindings, timeZone];
    for (const [kind, register] of [
      ['install', (hook: PortalHook) => core.installer.onInstalled(hook)],
      ['update', (hook: PortalHook) => core.installer.onUpdated(hook)],
    ] as const) {
      const hooks = [...afterCredentials, ...definitions.hooks[kind].map(({ hook, owner }) => (portal: PortalInfo) => hook(hookContext(portal, owner)))];
      for (const hook of hooks) register(async (portal) => void (await hook(portal)));
    }
    core.installer.onUninstalled((portal) => authCache.forget(portal.memberId));
    for (const { hook, owner } of definitions.hooks.uninstall) {
      core.installer.onUninstalled(async (portal, details) => {
        await hook({ portal: portalView(portal), clean: details?.clean ?? false, log: logger.child({ memberId: portal.memberId, ...(owner !== APP_OWNER ? { plugin: owner } : {}) }) });
      });
    }
    for (const [table, cleanup] of Object.entries(FRAMEWORK_PURGES)) core.portals.registerCleanup(table, cleanup);
    for (const [table, { purge }] of definitions.purges) core.portals.registerCleanup(table, purge);

    const server = buildPortalServer(core, {
      logger,
      clientId: credentials.clientId,
      nowMs,
      allowedDomains: settings.portalDomains,
      ...(settings.config.server ? { server: settings.config.server } : {}),
      events: receiver,
      routes: (app) => {
        registerRobotRoutes(app, robots);
        registerAppRoutes(app, definitions.routes, {
          portals: core.portals,
          values,
          client: (memberId) => clients.get(memberId),
          ingest: intake.ingest,
          enqueue: intake.enqueue,
          nowMs,
          logger,
          signal,
        });
      },
    });
    return {
      store,
      queue,
      portals: core.portals,
      tokens: core.tokens,
      installer: core.installer,
      limiter: core.limiter,
      server,
      clients,
      receiver,
      inbox,
      robots,
      values,
      signal,
      appUrl,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
