/**
 * The framework's own parts, registered as plugins when the app opens (after everything the app
 * and its plugins declared, so that they can see it): metrics, offline events (when the app
 * declares offline events), retention, the refresh-token keep-alive, the admin dashboard (when an
 * admin token is configured) and, in demo mode, the demo.
 */
import type { RunningEmulator } from '../../emulator/server.js';
import type { B24App } from '../create-app.js';
import type { ResolvedSettings } from '../settings.js';
import { trustsAProxy } from '../../server/app.js';
import { adminPlugin } from './admin/index.js';
import { demoPlugin } from './demo.js';
import { keepAlivePlugin } from './keep-alive.js';
import { metricsPlugin } from './metrics.js';
import { offlineEventsPlugin } from './offline-events.js';
import { retentionPlugin } from './retention.js';

export interface BuiltinSources {
  /** Whether the app declared events with `{ offline: true }`. */
  offlineEvents: boolean;
  /** The keep-alive's cron pattern (`b24kit start --keep-alive` wins over the app's). */
  keepAlivePattern: () => string | undefined;
  /** The demo emulator, once started. */
  demoEmulator: () => RunningEmulator | undefined;
}

export function registerBuiltins(app: B24App, settings: ResolvedSettings, sources: BuiltinSources): void {
  const { config } = settings;
  app.register(metricsPlugin, config.metrics ?? {});
  if (sources.offlineEvents) app.register(offlineEventsPlugin, { config: config.offlineEvents ?? {}, nowMs: settings.nowMs });
  app.register(retentionPlugin, { config: config.retention, intervalMs: config.scheduler?.intervalMs ?? 10_000 });
  app.register(keepAlivePlugin, { pattern: sources.keepAlivePattern });
  // no token, no dashboard: /admin and /admin/api do not exist (404 like any unknown path)
  if (settings.adminToken) app.register(adminPlugin, { token: settings.adminToken, trustProxy: trustsAProxy(config.server?.trustProxy) });
  if (settings.demo) {
    app.register(demoPlugin, {
      emulator: sources.demoEmulator,
      trickleMs: config.demoTrickleMs,
      // printed only when generated for this run: a configured token is never logged
      adminToken: settings.adminTokenGenerated ? settings.adminToken : undefined,
      settings: (memberId, plugin) => app.settings(memberId, plugin),
    });
  }
}
