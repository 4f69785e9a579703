/**
 * After install and after every ONAPPUPDATE (the portal drops an app's handlers on update,
 * docs/protocol.md §2.4): reconcile the portal's bindings with what the app declares — the events
 * module's `reconcileBindings` (src/events/bindings.ts) binds the declared events to
 * `{appUrl}/webhooks/{memberId}/event` (offline ones with `event_type=offline`, plus ONOFFLINEEVENT
 * online for the drain's ping), unbinds stale ones of ours, and registers the robots at
 * `{appUrl}/robots/{memberId}/{code}`. A failure is logged by the installer's hook runner and does
 * not undo the install.
 */
import type { Logger as PinoLogger } from 'pino';
import { reconcileBindings } from '../events/bindings.js';
import type { B24Client } from '../rest/client.js';
import type { PortalInfo } from '../store/portals.js';
import type { AppDefinitions } from './definitions.js';
import { DEFAULT_OFFLINE_NOTIFY_SECONDS } from './builtins/offline-events.js';

export interface BindingsOptions {
  definitions: AppDefinitions;
  /** The public base URL, or undefined when not known yet (then nothing is bound). */
  appUrl: () => string | undefined;
  client: (memberId: string) => B24Client;
  logger: PinoLogger;
  /** ONOFFLINEEVENT's minTimeout when offline events are declared; false = not bound. @defaultValue 10 */
  offlineNotifySeconds?: number | false;
}

export function bindingsHook(options: BindingsOptions): (portal: PortalInfo) => Promise<void> {
  return async (portal) => {
    const appUrl = options.appUrl();
    const log = options.logger.child({ memberId: portal.memberId, module: 'bindings' });
    if (!appUrl) {
      log.warn({}, 'no public app URL (B24_APP_URL): event and robot bindings were not made');
      return;
    }
    const report = await reconcileBindings({
      client: options.client(portal.memberId),
      appUrl,
      memberId: portal.memberId,
      ...declaredBindings(options.definitions, options.offlineNotifySeconds),
      robots: [...options.definitions.robots.values()].map((robot) => robot.definition),
      logger: log,
    });
    log.info(
      { bound: report.bound.length, unbound: report.unbound.length, kept: report.kept.length, robotsAdded: report.robotsAdded, robotsUpdated: report.robotsUpdated },
      'bindings reconciled',
    );
  };
}

/**
 * The event bindings an app declares (its handlers' events, online or offline, and ONOFFLINEEVENT's
 * ping when offline events are declared): what the install hook binds and `b24kit doctor` checks.
 */
export function declaredBindings(
  definitions: AppDefinitions,
  offlineNotifySeconds: number | false = DEFAULT_OFFLINE_NOTIFY_SECONDS,
): { events: string[]; offlineEvents: string[]; offlineNotify?: { minTimeoutSeconds: number } } {
  const offlineEvents = [...definitions.offlineEvents];
  return {
    events: definitions.onlineEvents(),
    offlineEvents,
    ...(offlineEvents.length > 0 && offlineNotifySeconds !== false ? { offlineNotify: { minTimeoutSeconds: offlineNotifySeconds } } : {}),
  };
}
