/**
 * `b24kit start`: the web server and the keep-alive (the worker and the scheduler join with the
 * events issue). With B24_CLIENT_ID it serves real portals; without it, demo mode (demo.ts).
 */
import type { Logger as PinoLogger } from 'pino';
import type { B24kitConfig } from '../config/index.js';
import type { RunningEmulator } from '../emulator/server.js';
import { createSecretBox, resolveSecretKey } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, installDemoPortal, startDemoEmulator, type DemoInstallResult } from './demo.js';
import { scheduleKeepAlive, type KeepAliveSchedule } from './keep-alive-schedule.js';
import { createPortalRuntime, type PortalRuntime } from './portal-runtime.js';

export interface StartOptions {
  config: B24kitConfig;
  logger: PinoLogger;
  /** Listen address. @defaultValue '127.0.0.1' in demo mode, '0.0.0.0' otherwise */
  host?: string;
  /** Keep-alive cron pattern. @defaultValue hourly */
  keepAlivePattern?: string;
}

export interface StartedApp {
  /** e.g. `http://127.0.0.1:3000` */
  url: string;
  runtime: PortalRuntime;
  keepAlive: KeepAliveSchedule;
  /** Set in demo mode. */
  demo?: { emulatorUrl: string; portal: DemoInstallResult };
  close(): Promise<void>;
}

export async function startApp(options: StartOptions): Promise<StartedApp> {
  const { config, logger } = options;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: String(error) }, 'error while closing'));
  };
  try {
    let emulator: RunningEmulator | undefined;
    let credentials = { clientId: config.clientId, clientSecret: config.clientSecret, oauthUrl: config.oauthUrl, oauthUrlOverride: config.oauthUrlOverride };
    if (config.demo) {
      emulator = await startDemoEmulator();
      const running = emulator;
      closers.push(() => running.close());
      credentials = { clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, oauthUrl: emulator.url, oauthUrlOverride: true };
      logger.warn({ emulatorUrl: emulator.url }, `DEMO MODE — no B24_CLIENT_ID set; using the built-in Bitrix24 emulator at ${emulator.url}`);
    }
    const secrets = createSecretBox(resolveSecretKey({ key: config.secretKey, dataDir: config.dataDir, logger }));
    const store: Store = await openStore({ url: config.databaseUrl, logger });
    closers.push(() => store.close());
    const runtime = createPortalRuntime({
      store,
      secrets,
      clientId: credentials.clientId!,
      clientSecret: credentials.clientSecret!,
      oauthUrl: credentials.oauthUrl,
      oauthUrlOverride: credentials.oauthUrlOverride,
      logger,
    });
    const host = options.host ?? (config.demo ? '127.0.0.1' : '0.0.0.0');
    await runtime.server.listen({ port: config.port, host });
    closers.push(() => runtime.server.close());
    const address = runtime.server.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

    const keepAlive = scheduleKeepAlive({ portals: runtime.portals, tokens: runtime.tokens, logger, ...(options.keepAlivePattern ? { pattern: options.keepAlivePattern } : {}) });
    closers.push(async () => keepAlive.stop());

    const counts = await runtime.portals.countByState();
    logger.info({ url, store: store.location, portals: counts }, `b24kit listening on ${url}`);
    if (counts.needs_reauth > 0) logger.warn({ count: counts.needs_reauth }, 'portals need re-authorization: see `b24kit portals list --state needs_reauth`');

    let demo: StartedApp['demo'];
    if (emulator) {
      const portal = await installDemoPortal(emulator, runtime, url, logger);
      demo = { emulatorUrl: emulator.url, portal };
      logger.warn(
        { emulatorUrl: emulator.url, memberId: portal.memberId, domain: portal.domain },
        `DEMO MODE — no B24_CLIENT_ID set; using the built-in Bitrix24 emulator at ${emulator.url}. Demo portal ${portal.domain} installed; set B24_CLIENT_ID, B24_CLIENT_SECRET and B24_APP_URL to serve real portals.`,
      );
    } else {
      logger.info({ appUrl: config.appUrl }, `install handler: ${config.appUrl}/install`);
    }
    return { url, runtime, keepAlive, ...(demo ? { demo } : {}), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
