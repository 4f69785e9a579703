/**
 * Opening an app's parts, in order: (demo emulator) → secrets → store → queue → portal runtime
 * (registry, tokens, installer, web server with the inbox, robot and metrics routes) → clients.
 * `close()` undoes what this opened (a store passed in by the caller stays open).
 */
import { AuthCache } from '../events/auth-cache.js';
import { OFFLINE_NOTIFY_EVENT } from '../events/bindings.js';
import { deletePortalInbox, InboxWriter } from '../events/inbox.js';
import { EventReceiver } from '../events/receiver.js';
import type { RunningEmulator } from '../emulator/server.js';
import { JobQueue } from '../queue/index.js';
import { createPortalRuntime, type PortalRuntime } from '../runtime/portal-runtime.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, startDemoEmulator } from '../runtime/demo.js';
import { registerMetricsRoute } from '../server/routes/metrics.js';
import { registerRobotRoutes } from '../server/routes/robots.js';
import { createSecretBox, resolveSecretKey } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { bindingsHook } from './bindings.js';
import { PortalClients } from './clients.js';
import type { AppDefinitions } from './definitions.js';
import { jobNames } from './job-names.js';
import type { AppMetrics } from './metrics.js';
import { offlinePingJob } from './offline-events.js';
import { deletePortalOnce } from './once.js';
import { deletePortalSettings, learnTimeZoneHook, PORTAL_SETTINGS_TABLE } from './portal-settings.js';
import { RobotReceiver } from './robot-receiver.js';
import type { ResolvedSettings } from './settings.js';

export interface AppServices {
  store: Store;
  queue: JobQueue;
  runtime: PortalRuntime;
  clients: PortalClients;
  receiver: EventReceiver;
  /** Records deliveries (and drained offline records) with their jobs, group-committed. */
  inbox: InboxWriter;
  robots: RobotReceiver;
  /** Set in demo mode. */
  emulator: RunningEmulator | undefined;
  /** The public base URL: B24_APP_URL, or (demo) the listening URL once known. */
  appUrl: { current: string | undefined };
  close(): Promise<void>;
}

export async function openServices(settings: ResolvedSettings, definitions: AppDefinitions, metrics: AppMetrics): Promise<AppServices> {
  const { logger, nowMs } = settings;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: String(error) }, 'error while closing'));
    closers.length = 0;
  };
  try {
    let credentials = { clientId: settings.clientId, clientSecret: settings.clientSecret, oauthUrl: settings.oauthUrl, oauthUrlOverride: settings.oauthUrlOverride };
    let emulator: RunningEmulator | undefined;
    if (settings.demo) {
      const running = await startDemoEmulator();
      emulator = running;
      closers.push(() => running.close());
      credentials = { clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, oauthUrl: running.url, oauthUrlOverride: true };
      logger.warn({ emulatorUrl: running.url }, `DEMO MODE — no B24_CLIENT_ID set; using the built-in Bitrix24 emulator at ${running.url}`);
    }
    const secrets = createSecretBox(resolveSecretKey({ key: settings.secretKey, dataDir: settings.dataDir, logger }));
    let store = settings.store;
    if (!store) {
      const opened = await openStore({ url: settings.databaseUrl, logger });
      store = opened;
      closers.push(() => opened.close());
    }
    const jobTypes = Object.fromEntries([...definitions.jobs].map(([name, { options }]) => [jobNames.job(name), options]));
    const queue = new JobQueue({ store, nowMs, logger: logger.child({ module: 'queue' }), jobTypes, ...settings.config.queue });
    const observer = metrics.receiverObserver;
    const appUrl = { current: settings.appUrl };
    // the receivers and clients need the registry the runtime builds; routes and hooks reach them through `late`
    const late: { events?: EventReceiver; robots?: RobotReceiver; clients?: PortalClients; authCache?: AuthCache } = {};
    const hook = bindingsHook({
      definitions,
      appUrl: () => appUrl.current,
      client: (memberId) => late.clients!.get(memberId),
      logger,
      ...(settings.config.offlineEvents?.notifyMinTimeoutSeconds !== undefined ? { offlineNotifySeconds: settings.config.offlineEvents.notifyMinTimeoutSeconds } : {}),
    });
    // the portal's time zone for its schedules (portal-settings.ts)
    const timeZone = learnTimeZoneHook({ store, client: (memberId) => late.clients!.get(memberId), nowMs, logger });
    const runtime = createPortalRuntime({
      store,
      secrets,
      clientId: credentials.clientId!,
      clientSecret: credentials.clientSecret!,
      oauthUrl: credentials.oauthUrl,
      oauthUrlOverride: credentials.oauthUrlOverride,
      logger,
      nowMs,
      // a new application_token (install, update) must not meet this process's cached old one
      hooks: {
        onInstalled: [(portal) => late.authCache?.forget(portal.memberId), hook, timeZone],
        onUpdated: [(portal) => late.authCache?.forget(portal.memberId), hook, timeZone],
        // events of an uninstalled portal answer 410 at once in this process (others: within authCacheMs)
        onUninstalled: [(portal) => late.authCache?.forget(portal.memberId)],
      },
      ...(settings.fetch ? { fetch: settings.fetch } : {}),
      allowedDomains: settings.portalDomains,
      onCredentials: metrics.onCredentials,
      events: { accept: (memberId, body) => late.events!.accept(memberId, body) },
      routes: (server) => {
        registerRobotRoutes(server, { accept: (memberId, code, body) => late.robots!.accept(memberId, code, body) });
        registerMetricsRoute(server, metrics.registry);
      },
    });
    const writer = new InboxWriter({ store, queue, nowMs });
    const authCache = new AuthCache({ ttlMs: settings.config.authCacheMs ?? 2000 });
    const offline = settings.config.offlineEvents ?? {};
    const receiver = new EventReceiver({
      writer,
      portals: runtime.portals,
      authCache,
      jobNameFor: (event) => definitions.jobNameForEvent(event),
      // the offline queue's ping enqueues the portal's drain (offline-events.ts), when the app has offline events
      jobFor: (delivery) =>
        delivery.event === OFFLINE_NOTIFY_EVENT && definitions.offlineEvents.size > 0 ? offlinePingJob(nowMs(), offline.coalesceMs) : undefined,
      observer,
    });
    const robots = new RobotReceiver({ writer, portals: runtime.portals, authCache, jobNameFor: (code) => definitions.jobNameForRobot(code), observer });
    late.authCache = authCache;
    runtime.portals.registerCleanup('b24kit_event_inbox', deletePortalInbox);
    runtime.portals.registerCleanup('b24kit_job_once', deletePortalOnce);
    runtime.portals.registerCleanup(PORTAL_SETTINGS_TABLE, deletePortalSettings);
    runtime.portals.registerCleanup('b24kit_jobs', async (tx, memberId) => void (await tx.run('DELETE FROM b24kit_jobs WHERE member_id = ?', [memberId])));
    runtime.portals.registerCleanup('b24kit_schedule_slots', async (tx, memberId) => void (await tx.run('DELETE FROM b24kit_schedule_slots WHERE member_id = ?', [memberId])));
    const clients = new PortalClients({ tokens: runtime.tokens, limiter: runtime.limiter, ...(settings.config.rest ? { rest: settings.config.rest } : {}), logger, onEvent: metrics.onRestEvent });
    Object.assign(late, { events: receiver, robots, clients });
    closers.push(() => clients.close());
    return { store, queue, runtime, clients, receiver, inbox: writer, robots, emulator, appUrl, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
