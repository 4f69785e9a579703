/**
 * An app under test: the public `startTestApp` (src/testing/) over a temp store (SQLite, or
 * PostgreSQL with DATABASE_URL), with fast retries, every log line kept, and no portal at start:
 * tests install theirs with `install()`, the way a real portal does it — the emulator POSTs
 * ONAPPINSTALL to our /install, and the app binds its events at install, so fired events arrive
 * over HTTP at /webhooks.
 */
import type { B24App } from '../../src/app/create-app.js';
import type { AppConfig } from '../../src/app/settings.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createServerLogger } from '../../src/server/logging.js';
import type { Store } from '../../src/store/types.js';
import { startTestApp as startPublicTestApp } from '../../src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import { control, UNLIMITED_PORTAL } from '../helpers/emulator.js';
import { emulatorInstall, type EmulatorInstall } from '../portals/helpers.js';

export interface TestApp {
  app: B24App;
  emu: RunningEmulator;
  store: Store;
  db: TestDatabase;
  url: string;
  logs: string[];
  /** Creates a portal (unlimited bucket unless given) and installs the app into it. */
  install(portal?: Record<string, unknown>): Promise<EmulatorInstall>;
  close(): Promise<void>;
}

/** `define` declares the handlers; `start` picks the roles (default: web + worker, no scheduler). */
export async function startTestApp(
  define: (app: B24App) => void,
  options: { config?: Partial<AppConfig>; roles?: { web?: boolean; worker?: boolean; scheduler?: boolean } } = {},
): Promise<TestApp> {
  const db = createTestDatabase();
  const store = await db.open();
  const logs: string[] = [];
  const logger = createServerLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const dropStore = async (): Promise<void> => {
    await store.close();
    await db.drop();
  };
  try {
    const t = await startPublicTestApp(define, {
      portal: false,
      config: {
        store,
        logger,
        // the security tests pin which hosts /oauth/start may redirect to: none beyond the cloud's and installed portals'
        portalDomains: [],
        // the tests' portals are unlimited; the client must not throttle them to 2/s either
        rest: { limits: { drainPerSecond: 100_000, burst: 100_000 }, retry: { maxAttempts: 2, baseMs: 20, capMs: 100 }, timeoutMs: 5000 },
        queue: { defaults: { baseDelayMs: 20, capDelayMs: 200 } },
        worker: { pollIntervalMs: 20, concurrency: 8, shutdownTimeoutMs: 5000 },
        ...options.config,
      },
      roles: { worker: options.roles?.worker ?? true, scheduler: options.roles?.scheduler ?? false },
    });
    return {
      app: t.app,
      emu: t.emulator,
      store,
      db,
      url: t.url,
      logs,
      install: (portal = {}) => emulatorInstall(t.emulator, t.url, { ...UNLIMITED_PORTAL, ...portal }),
      async close() {
        await t.close();
        await dropStore();
      },
    };
  } catch (error) {
    await dropStore();
    throw error;
  }
}

/** Fires an event in the emulator (delivered to the app's bound handler) and waits until it was delivered. */
export async function fireAndFlush(emu: RunningEmulator, memberId: string, event: string, data: unknown, userId = 1): Promise<void> {
  await control(emu, `/portals/${memberId}/events`, { event, data, userId });
  await control(emu, `/portals/${memberId}/events/flush`, {});
}

/** How many rows a table holds (optionally for one portal). */
export async function countRows(store: Store, table: string, memberId?: string): Promise<number> {
  const row = await store.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}${memberId ? ' WHERE member_id = ?' : ''}`, memberId ? [memberId] : []);
  return Number(row?.n ?? 0);
}

/** Polls until `check` returns a value other than undefined/false. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The event form a portal would POST (PHP bracket syntax is built by postForm). */
export function eventForm(install: EmulatorInstall, event: string, data: unknown, overrides: { auth?: Record<string, string>; ts?: string } = {}): Record<string, unknown> {
  return {
    event,
    event_handler_id: '1',
    data,
    ts: overrides.ts ?? '1767225600',
    auth: {
      domain: install.domain,
      client_endpoint: install.client_endpoint,
      server_endpoint: install.server_endpoint,
      member_id: install.memberId,
      application_token: install.application_token,
      user_id: '1',
      status: 'L',
      scope: 'crm',
      ...overrides.auth,
    },
  };
}
