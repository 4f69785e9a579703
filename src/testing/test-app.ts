/**
 * `startTestApp`: an app and a Bitrix24 emulator in one process, wired as a deployment and a real
 * portal would be — the app's OAuth server is the emulator's, a portal installs the app by POSTing
 * ONAPPINSTALL to its /install, and fired events arrive over HTTP at its /webhooks, so a test
 * goes through the same code as production (docs/testing.md).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp, type B24App } from '../app/create-app.js';
import { appInternals } from '../app/internals.js';
import type { Roles } from '../app/processes.js';
import type { AppConfig } from '../app/settings.js';
import type { CreatePortalInput } from '../emulator/emulator.js';
import type { InstallOutcome } from '../emulator/lifecycle.js';
import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from '../emulator/server.js';
import { B24Error } from '../errors.js';
import type { JobQueue } from '../queue/index.js';
import type { Job } from '../queue/types.js';
import { createServerLogger } from '../server/logging.js';
import { openStore } from '../store/index.js';
import { emulatorControl } from './control.js';

export interface TestAppOptions {
  /**
   * createApp options laid over the test's own — `rest`, `queue`, `retention`, `logger`, `nowMs`,
   * … — or `store` (a store of yours: the app and `close()` leave it open).
   * @defaultValue an in-memory SQLite store, a random secret key, the emulator's OAuth server and
   * credentials, `portalDomains: ['*.bitrix24.test']`, a silent logger, the emulator's clock, a
   * worker polling every 20 ms, `/metrics` rendered on every request (`metrics.cacheMs: 0`)
   */
  config?: Partial<AppConfig>;
  /** Which roles run besides web (always on: portals install through it). @defaultValue the worker; no scheduler */
  roles?: Pick<Roles, 'worker' | 'scheduler' | 'keepAlivePattern'>;
  /** The emulator's options: limits, cost model, token lifetimes, client credentials. @defaultValue the emulator's */
  emulator?: Omit<StartEmulatorOptions, 'port' | 'host'>;
  /**
   * The portal that installs the app at start: member_id, domain, plan, limits, time zone… `false`
   * for none (then install with `installPortal`). @defaultValue a professional-plan portal
   */
  portal?: CreatePortalInput | false;
}

/** A portal of the emulator with the app installed. */
export interface TestPortal {
  memberId: string;
  domain: string;
  /** Where the portal's REST answers, e.g. `http://127.0.0.1:41234/rest/` on the emulator. */
  clientEndpoint: string;
}

export interface FireEventOptions {
  /** The portal the event happens in. @defaultValue the portal installed at start */
  memberId?: string;
  /** The user the change is attributed to (`auth[user_id]`). @defaultValue 1 */
  userId?: number;
  /** Longest wait for the delivery and for the jobs, in ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** What `startTestApp` returns. `P` is undefined when it was started with `portal: false`. */
export interface TestApp<P extends TestPortal | undefined = TestPortal> {
  app: B24App;
  emulator: RunningEmulator;
  /** The portal installed at start. */
  portal: P;
  /** The app's listening URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Creates another portal in the emulator and installs the app into it. */
  installPortal(input?: CreatePortalInput): Promise<TestPortal>;
  /**
   * Fires `event` in a portal as a change there would: the emulator POSTs it to the handler the
   * app bound at install. Resolves with the portal's jobs queued since, oldest first — once each
   * has run (succeeded, died, or waits for its retry) when the worker role runs here. A job not
   * due yet (an enqueue with `runAtMs`, an offline drain's window) is returned as it is.
   */
  fireEvent(event: string, data?: Record<string, unknown>, options?: FireEventOptions): Promise<Job[]>;
  /** Stops the app, closes the store it opened, stops the emulator. */
  close(): Promise<void>;
}

/** Declares what the app under test handles, as the app's module does: `(app) => app.on(…)`. */
export type DefineTestApp = (app: B24App) => void | Promise<void>;

/**
 * Starts an emulator and an app declared by `define` against it, and installs the app into a new
 * portal. The app is created here, not passed in: its credentials and OAuth server are the
 * emulator's, which exists only now. Call `close()` when done (`after(() => t.close())`).
 */
export async function startTestApp(define: DefineTestApp, options: TestAppOptions & { portal: false }): Promise<TestApp<undefined>>;
export async function startTestApp(define: DefineTestApp, options?: TestAppOptions): Promise<TestApp>;
export async function startTestApp(define: DefineTestApp, options: TestAppOptions = {}): Promise<TestApp<TestPortal | undefined>> {
  const emulator = await startEmulator({ ...options.emulator, port: 0, host: '127.0.0.1' });
  const cleanup: Array<() => Promise<void>> = [() => emulator.close()];
  const close = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };
  try {
    let store = options.config?.store;
    if (!store) {
      const opened = await openStore({ url: ':memory:' });
      cleanup.push(() => opened.close());
      store = opened;
    }
    const app = createApp({
      store,
      secretKey: randomBytes(32),
      clientId: emulator.emulator.options.clientId,
      clientSecret: emulator.emulator.options.clientSecret,
      oauthUrl: emulator.url,
      // the emulator's portals are *.bitrix24.test: /oauth/start may redirect there
      portalDomains: ['*.bitrix24.test'],
      host: '127.0.0.1',
      port: 0,
      logger: createServerLogger({ level: 'silent' }),
      // one clock for both sides: moving the emulator's (POST /_emulator/clock) expires tokens for the app too
      nowMs: () => emulator.emulator.clock.nowMs(),
      worker: { pollIntervalMs: 20, shutdownTimeoutMs: 5000 },
      ...options.config,
      // a test reads /metrics right after what it did: rendered on every request unless it asks otherwise
      metrics: { cacheMs: 0, ...options.config?.metrics },
    });
    await define(app);
    const roles = { worker: true, scheduler: false, ...options.roles, web: true };
    cleanup.push(() => app.stop());
    await app.start(roles);
    const url = app.url!;

    const installPortal = async (input: CreatePortalInput = {}): Promise<TestPortal> => {
      const created = await emulatorControl<{ member_id: string; domain: string; client_endpoint: string }>(emulator, '/portals', input);
      const installed = await emulatorControl<InstallOutcome>(emulator, `/portals/${created.member_id}/install`, { appUrl: url });
      if (!installed.delivery?.ok) {
        throw new Error(`installing into ${created.domain} failed: the app's /install answered ${installed.delivery?.status ?? '-'} ${installed.delivery?.body ?? ''}`.trim());
      }
      return { memberId: created.member_id, domain: created.domain, clientEndpoint: created.client_endpoint };
    };
    const portal = options.portal === false ? undefined : await installPortal(options.portal);

    const fireEvent = async (event: string, data: Record<string, unknown> = {}, fire: FireEventOptions = {}): Promise<Job[]> => {
      const memberId = fire.memberId ?? portal?.memberId;
      if (memberId === undefined) throw new Error('fireEvent: no portal was installed at start (portal: false): pass { memberId }');
      const timeoutMs = fire.timeoutMs ?? 10_000;
      const { settings, services } = appInternals(app);
      const { queue } = await services();
      const [newest] = await queue.list({ memberId, limit: 1 });
      await emulatorControl(emulator, `/portals/${memberId}/events`, { event, data, ...(fire.userId !== undefined ? { userId: fire.userId } : {}) });
      await emulatorControl(emulator, `/portals/${memberId}/events/flush`, { timeoutMs });
      return jobsSince(queue, memberId, newest?.id ?? 0, { wait: roles.worker !== false, timeoutMs, nowMs: settings.nowMs });
    };

    return { app, emulator, portal, url, installPortal, fireEvent, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** The portal's jobs with an id above `afterId`, oldest first; with `wait`, once each has run. */
async function jobsSince(queue: JobQueue, memberId: string, afterId: number, options: { wait: boolean; timeoutMs: number; nowMs: () => number }): Promise<Job[]> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const jobs = (await queue.list({ memberId, limit: 1000 })).filter((job) => job.id > afterId).reverse();
    const pending = jobs.filter((job) => !hasRun(job, options.nowMs()));
    if (!options.wait || pending.length === 0) return jobs;
    if (Date.now() > deadline) {
      throw new B24Error('B24_ERR_TIMEOUT', `fireEvent: job ${pending.map((job) => `${job.id} (${job.name}, ${job.state})`).join(', ')} did not run within ${options.timeoutMs} ms`);
    }
    await sleep(10);
  }
}

/** Succeeded or dead; or queued again after an attempt or a postpone; or not due yet. */
function hasRun(job: Job, nowMs: number): boolean {
  if (job.state === 'succeeded' || job.state === 'dead') return true;
  return job.state === 'queued' && (job.history.length > 0 || job.postpones > 0 || job.runAtMs > nowMs);
}
