/**
 * Demo mode (`b24kit start` without B24_CLIENT_ID): an in-process Bitrix24 emulator with one demo
 * portal, into which the running app is installed the way a real portal would do it — the emulator
 * POSTs ONAPPINSTALL to our /install, which verifies it with the emulator's OAuth server (app.info)
 * and stores the portal. Then one REST call proves the round trip.
 */
import type { Logger as PinoLogger } from 'pino';
import { startEmulator, type RunningEmulator } from '../emulator/server.js';
import type { PortalRuntime } from './portal-runtime.js';

/** The emulator's default app credentials (emulator/options.ts). */
export const DEMO_CLIENT_ID = 'local.b24kit.demo';
export const DEMO_CLIENT_SECRET = 'demo-secret';
/** Fixed, so that restarts re-install the same portal instead of piling up new ones. */
export const DEMO_MEMBER_ID = 'de70de70de70de70de70de70de70de70';
export const DEMO_DOMAIN = 'demo.bitrix24.test';

export async function startDemoEmulator(): Promise<RunningEmulator> {
  return startEmulator({ port: 0, host: '127.0.0.1', clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET });
}

export interface DemoInstallResult {
  memberId: string;
  domain: string;
  /** The proof call's answer (user.current): the admin's name. */
  user: string;
}

/**
 * Creates the demo portal in the emulator, installs the app with `appUrl` (our server's URL) and
 * makes one REST call through the stored, encrypted tokens.
 */
export async function installDemoPortal(emulator: RunningEmulator, runtime: PortalRuntime, appUrl: string, logger: PinoLogger): Promise<DemoInstallResult> {
  const portal = emulator.emulator.createPortal({ memberId: DEMO_MEMBER_ID, domain: DEMO_DOMAIN });
  const response = await fetch(`${emulator.url}/_emulator/portals/${portal.memberId}/install`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appUrl }),
  });
  const outcome = (await response.json()) as { delivery?: { ok: boolean; status: number; body: string } | null };
  if (!response.ok || !outcome.delivery?.ok) {
    throw new Error(`the demo install failed: our /install answered ${outcome.delivery?.status ?? response.status} ${outcome.delivery?.body ?? ''}`.trim());
  }
  const client = runtime.client(portal.memberId);
  try {
    const { result } = await client.call<{ NAME?: string; LAST_NAME?: string; ID?: string }>('user.current');
    const user = [result.NAME, result.LAST_NAME].filter(Boolean).join(' ') || `user ${result.ID ?? '?'}`;
    logger.info({ memberId: portal.memberId, domain: portal.domain, method: 'user.current', user }, `demo REST call works: user.current → ${user}`);
    return { memberId: portal.memberId, domain: portal.domain, user };
  } finally {
    await client.close();
  }
}

/**
 * The demo's trickle: every `intervalMs`, a new contact appears in the demo portal (seeded through
 * the control API, which fires nothing) and ONCRMCONTACTADD is fired for it through the emulator's
 * event path — so the event really arrives over HTTP at our /webhooks route, as from a portal.
 * Every fifth tick also runs the robot `robotCode`, when given (POST /robots/… from the emulator).
 */
export interface DemoTrickleOptions {
  emulatorUrl: string;
  memberId: string;
  /** Fire ONCRMCONTACTADD only when the app handles it. */
  fireContactAdd: boolean;
  /** A robot code to run now and then. */
  robotCode?: string;
  /** @defaultValue 3000 */
  intervalMs?: number;
  logger: PinoLogger;
}

export function startDemoTrickle(options: DemoTrickleOptions): { stop(): Promise<void> } {
  const { emulatorUrl, memberId, logger } = options;
  const control = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${emulatorUrl}/_emulator/portals/${memberId}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`emulator control ${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
  let tick = 0;
  let running: Promise<void> = Promise.resolve();
  const fire = async (): Promise<void> => {
    tick += 1;
    if (options.fireContactAdd) {
      const seeded = await control<{ firstId: number | null }>('/crm/seed', { entity: 'contact', count: 1, fields: { NAME: 'Demo', LAST_NAME: 'Customer {id}' } });
      if (seeded.firstId !== null) {
        await control('/events', { event: 'ONCRMCONTACTADD', data: { FIELDS: { ID: String(seeded.firstId) } }, userId: 1 });
        logger.info({ memberId, event: 'ONCRMCONTACTADD', contactId: seeded.firstId }, `demo: fired ONCRMCONTACTADD for contact ${seeded.firstId}`);
      }
    }
    if (options.robotCode && tick % 5 === 1) {
      await control(`/robots/${options.robotCode}/run`, { documentId: ['crm', 'CCrmDocumentDeal', 'DEAL_1'], properties: { weight: String(tick) } });
    }
  };
  const timer = setInterval(() => {
    running = running.then(fire).catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'demo trickle failed'));
  }, options.intervalMs ?? 3000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
