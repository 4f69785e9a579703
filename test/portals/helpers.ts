/**
 * An app under test: the real portals runtime (registry, token service, installer, web server on a
 * real socket) over a temp store, against a real emulator. The app's clock is the emulator's, so
 * moving the emulator clock expires tokens and OAuth states for both sides at once.
 */
import { randomBytes } from 'node:crypto';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { PortalLifecycleHooks } from '../../src/oauth/lifecycle-hooks.js';
import { createPortalRuntime, type PortalRuntime } from '../../src/app/portal-runtime.js';
import { createServerLogger } from '../../src/server/logging.js';
import { createSecretBox } from '../../src/store/crypto.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import { control, startTestEmulator } from '../helpers/emulator.js';

export interface AppUnderTest {
  emu: RunningEmulator;
  runtime: PortalRuntime;
  store: Store;
  db: TestDatabase;
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** Every log line the app wrote (JSON strings). */
  logs: string[];
  /** The encryption key, hex (for child processes that open the same store). */
  secretKeyHex: string;
  close(): Promise<void>;
}

export interface AppUnderTestOptions {
  hooks?: Partial<PortalLifecycleHooks>;
  /** @defaultValue the emulator's client_id */
  clientId?: string;
  /** Reuse an emulator (not closed by close()). */
  emu?: RunningEmulator;
  /** SQLite's busy timeout of the app's store, in ms. @defaultValue the store's (5000) */
  busyTimeoutMs?: number;
  /** @defaultValue the installer's (10000) */
  installStoreRetryMs?: number;
  /** The OAuth server the app asks (token grants, app.info). @defaultValue the emulator's URL */
  oauthUrl?: string;
}

export async function startAppUnderTest(options: AppUnderTestOptions = {}): Promise<AppUnderTest> {
  const emu = options.emu ?? (await startTestEmulator());
  const db = createTestDatabase();
  const store = await db.open(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {});
  const logs: string[] = [];
  const logger = createServerLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const key = randomBytes(32);
  const runtime = createPortalRuntime({
    store,
    secrets: createSecretBox(key),
    clientId: options.clientId ?? emu.emulator.options.clientId,
    clientSecret: emu.emulator.options.clientSecret,
    oauthUrl: options.oauthUrl ?? emu.url,
    oauthUrlOverride: true,
    logger,
    nowMs: () => emu.emulator.clock.nowMs(),
    // the emulator's portals, as a developer allows them (B24KIT_PORTAL_DOMAINS)
    allowedDomains: ['*.bitrix24.test'],
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.installStoreRetryMs !== undefined ? { installStoreRetryMs: options.installStoreRetryMs } : {}),
  });
  await runtime.server.listen({ port: 0, host: '127.0.0.1' });
  const address = runtime.server.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    emu,
    runtime,
    store,
    db,
    url,
    logs,
    secretKeyHex: key.toString('hex'),
    async close() {
      await runtime.server.close();
      await store.close();
      await db.drop();
      if (!options.emu) await emu.close();
    },
  };
}

export interface EmulatorInstall {
  memberId: string;
  domain: string;
  access_token: string;
  refresh_token: string;
  application_token: string;
  client_endpoint: string;
  server_endpoint: string;
  delivery: { ok: boolean; status: number; body: string } | null;
}

/** Creates a portal in the emulator and installs the app; with `appUrl`, the emulator POSTs ONAPPINSTALL there. */
export async function emulatorInstall(emu: RunningEmulator, appUrl: string | null, portal: Record<string, unknown> = {}): Promise<EmulatorInstall> {
  const created = await control<{ member_id: string; domain: string }>(emu, '/portals', portal);
  const installed = await control<Omit<EmulatorInstall, 'memberId' | 'domain'>>(emu, `/portals/${created.member_id}/install`, { appUrl });
  return { ...installed, memberId: created.member_id, domain: created.domain };
}

/** POSTs a form in PHP bracket syntax, as Bitrix24 does. */
export async function postForm(url: string, form: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const { default: qs } = await import('qs');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: qs.stringify(form, { arrayFormat: 'indices' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The ONAPPINSTALL form for an emulator install (what the portal would POST). */
export function installForm(install: EmulatorInstall, overrides: Record<string, string | undefined> = {}): Record<string, unknown> {
  const auth: Record<string, string | undefined> = {
    access_token: install.access_token,
    expires: String(Math.floor(Date.now() / 1000) + 3600),
    expires_in: '3600',
    scope: 'crm,bizproc,user_brief,placement',
    domain: install.domain,
    server_endpoint: install.server_endpoint,
    status: 'L',
    client_endpoint: install.client_endpoint,
    member_id: install.memberId,
    user_id: '1',
    refresh_token: install.refresh_token,
    application_token: install.application_token,
    ...overrides,
  };
  for (const key of Object.keys(auth)) if (auth[key] === undefined) delete auth[key];
  return { event: 'ONAPPINSTALL', data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' }, ts: String(Math.floor(Date.now() / 1000)), auth };
}

/** Rows of the portals table for a member (raw, sealed values). */
export async function rawPortal(store: Store, memberId: string): Promise<Record<string, unknown> | undefined> {
  return store.one('SELECT * FROM portals WHERE member_id = ?', [memberId]);
}

/** GETs `url` without following redirects: status, Location and the JSON body (undefined when not JSON). */
export async function getManual(url: string): Promise<{ status: number; location: string | null; body: Record<string, unknown> | undefined }> {
  const response = await fetch(url, { redirect: 'manual' });
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  return { status: response.status, location: response.headers.get('location'), body };
}
