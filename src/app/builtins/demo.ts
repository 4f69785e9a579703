/**
 * Built-in plugin `b24kit.demo`, registered in demo mode (`b24kit start` without B24_CLIENT_ID): when
 * the web role starts, the app is installed into the in-process emulator's demo portal the way a real
 * portal does it — the emulator POSTs ONAPPINSTALL to our /install, which verifies it with the
 * emulator's OAuth server and stores the portal — then one REST call proves the round trip, and a
 * trickle of sample events keeps the sample app busy. The emulator itself is started before the
 * app's parts open (demo-emulator.ts, imported lazily: a production app never loads the emulator).
 */
import type { Logger as PinoLogger } from 'pino';
import type { RunningEmulator } from '../../emulator/server.js';
import type { B24Client } from '../../rest/client.js';
import { defineBuiltinPlugin } from '../plugin.js';

/** The emulator's default app credentials (emulator/options.ts). */
export const DEMO_CLIENT_ID = 'local.b24kit.demo';
export const DEMO_CLIENT_SECRET = 'demo-secret';
/** Fixed, so that restarts re-install the same portal instead of piling up new ones. */
export const DEMO_MEMBER_ID = 'de70de70de70de70de70de70de70de70';
export const DEMO_DOMAIN = 'demo.bitrix24.test';
/** The sample app's robot the trickle runs now and then, when the portal has it. */
const SAMPLE_ROBOT = 'demo_score';

export const demoPlugin = defineBuiltinPlugin({
  name: 'b24kit.demo',
  setup(kit, options: { emulator: () => RunningEmulator | undefined; trickleMs: number | undefined }) {
    kit.service('web', async (ctx) => {
      const emulator = options.emulator();
      if (!emulator || !ctx.url) return;
      const portal = await installDemoPortal(emulator, ctx.url, ctx.client, ctx.log);
      ctx.log.warn(
        { emulatorUrl: emulator.url, memberId: portal.memberId, domain: portal.domain },
        `DEMO MODE — no B24_CLIENT_ID set; using the built-in Bitrix24 emulator at ${emulator.url}. Demo portal ${portal.domain} installed; set B24_CLIENT_ID, B24_CLIENT_SECRET and B24_APP_URL to serve real portals.`,
      );
      const control = controlApi(emulator.url, portal.memberId);
      // what the app made the portal send: the bindings and robots it registered at install
      const bindings = await control<Array<{ event: string }>>('GET', '/events/bindings');
      const robots = await control<Array<{ CODE?: string; code?: string }>>('GET', '/robots');
      const trickle = startDemoTrickle({
        control,
        memberId: portal.memberId,
        fireContactAdd: bindings.some((binding) => binding.event === 'ONCRMCONTACTADD'),
        ...(robots.some((robot) => (robot.CODE ?? robot.code) === SAMPLE_ROBOT) ? { robotCode: SAMPLE_ROBOT } : {}),
        ...(options.trickleMs !== undefined ? { intervalMs: options.trickleMs } : {}),
        logger: ctx.log,
      });
      return () => trickle.stop();
    });
  },
});

export interface DemoInstallResult {
  memberId: string;
  domain: string;
  /** The proof call's answer (user.current): the admin's name. */
  user: string;
}

/** Creates the demo portal in the emulator, installs the app at `appUrl` and makes one REST call through the stored tokens. */
export async function installDemoPortal(emulator: RunningEmulator, appUrl: string, client: (memberId: string) => B24Client, logger: PinoLogger): Promise<DemoInstallResult> {
  const portal = emulator.emulator.createPortal({ memberId: DEMO_MEMBER_ID, domain: DEMO_DOMAIN });
  const outcome = await controlApi(emulator.url, portal.memberId)<{ delivery?: { ok: boolean; status: number; body: string } | null }>('POST', '/install', { appUrl });
  if (!outcome.delivery?.ok) {
    throw new Error(`the demo install failed: our /install answered ${outcome.delivery?.status ?? '?'} ${outcome.delivery?.body ?? ''}`.trim());
  }
  const { result } = await client(portal.memberId).call<{ NAME?: string; LAST_NAME?: string; ID?: string }>('user.current');
  const user = [result.NAME, result.LAST_NAME].filter(Boolean).join(' ') || `user ${result.ID ?? '?'}`;
  logger.info({ memberId: portal.memberId, domain: portal.domain, method: 'user.current', user }, `demo REST call works: user.current → ${user}`);
  return { memberId: portal.memberId, domain: portal.domain, user };
}

type Control = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

/** The emulator's control API for one portal. */
function controlApi(emulatorUrl: string, memberId: string): Control {
  return async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${emulatorUrl}/_emulator/portals/${memberId}${path}`, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) } : {}),
    });
    if (!response.ok) throw new Error(`emulator control ${method} ${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
}

/**
 * The demo's trickle: every `intervalMs`, a new contact appears in the demo portal (seeded through
 * the control API, which fires nothing) and ONCRMCONTACTADD is fired for it through the emulator's
 * event path — so the event really arrives over HTTP at our /webhooks route, as from a portal.
 * Every fifth tick also runs the robot `robotCode`, when given (POST /robots/… from the emulator).
 */
interface DemoTrickleOptions {
  control: Control;
  memberId: string;
  /** Fire ONCRMCONTACTADD only when the app handles it. */
  fireContactAdd: boolean;
  /** A robot code to run now and then. */
  robotCode?: string;
  /** @defaultValue 3000 */
  intervalMs?: number;
  logger: PinoLogger;
}

function startDemoTrickle(options: DemoTrickleOptions): { stop(): Promise<void> } {
  const { control, memberId, logger } = options;
  let tick = 0;
  let running: Promise<void> = Promise.resolve();
  const fire = async (): Promise<void> => {
    tick += 1;
    if (options.fireContactAdd) {
      const seeded = await control<{ firstId: number | null }>('POST', '/crm/seed', { entity: 'contact', count: 1, fields: { NAME: 'Demo', LAST_NAME: 'Customer {id}' } });
      if (seeded.firstId !== null) {
        await control('POST', '/events', { event: 'ONCRMCONTACTADD', data: { FIELDS: { ID: String(seeded.firstId) } }, userId: 1 });
        logger.info({ memberId, event: 'ONCRMCONTACTADD', contactId: seeded.firstId }, `demo: fired ONCRMCONTACTADD for contact ${seeded.firstId}`);
      }
    }
    if (options.robotCode && tick % 5 === 1) {
      await control('POST', `/robots/${options.robotCode}/run`, { documentId: ['crm', 'CCrmDocumentDeal', 'DEAL_1'], properties: { weight: String(tick) } });
    }
  };
  const timer = setInterval(() => {
    running = running.then(fire).catch((error: unknown) => logger.warn({ err: error }, 'demo trickle failed'));
  }, options.intervalMs ?? 3000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
