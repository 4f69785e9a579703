/**
 * Built-in plugin `b24kit.demo`, registered in demo mode (`b24kit start` without B24_CLIENT_ID): when
 * the web role starts, the app is installed into the in-process emulator's demo portal the way a real
 * portal does it — the emulator POSTs ONAPPINSTALL to our /install, which verifies it with the
 * emulator's OAuth server and stores the portal — then one REST call proves the round trip, a
 * trickle of sample events keeps the sample app busy, and the built-in integrations the app
 * registered are configured and driven (demo-integrations.ts). The emulator itself is started before the
 * app's parts open (demo-emulator.ts, imported lazily: a production app never loads the emulator).
 */
import type { Logger as PinoLogger } from 'pino';
import type { RunningEmulator } from '../../emulator/server.js';
import type { B24Client } from '../../rest/client.js';
import { defineBuiltinPlugin } from '../plugin.js';
import type { PortalSettings } from '../types.js';
import { DEMO_INTEGRATIONS, type DemoDriver } from './demo-integrations.js';

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
  setup(
    kit,
    options: {
      emulator: () => RunningEmulator | undefined;
      trickleMs: number | undefined;
      adminToken: string | undefined;
      /** `app.settings(memberId, plugin)`: the integrations' demos configure the demo portal through it. */
      settings: (memberId: string, plugin: string) => PortalSettings;
    },
  ) {
    kit.service('web', async (ctx) => {
      const emulator = options.emulator();
      if (!emulator || !ctx.url) return;
      const portal = await installDemoPortal(emulator, ctx.url, ctx.client, ctx.log);
      const control = controlApi(emulator.url, portal.memberId);
      // what the app made the portal send: the bindings and robots it registered at install
      const bindings = await control<Array<{ event: string }>>('GET', '/events/bindings');
      const robots = await control<Array<{ CODE?: string; code?: string }>>('GET', '/robots');
      const fireContactAdd = bindings.some((binding) => binding.event === 'ONCRMCONTACTADD');
      const robotCode = robots.some((robot) => (robot.CODE ?? robot.code) === SAMPLE_ROBOT) ? SAMPLE_ROBOT : undefined;
      const intervalMs = options.trickleMs ?? DEFAULT_TRICKLE_MS;
      // the built-in integrations the app registered, configured for the demo portal (demo-integrations.ts)
      const setup = {
        emulator,
        appUrl: ctx.url,
        memberId: portal.memberId,
        timeZone: emulator.emulator.portal(portal.memberId)?.timeZone ?? 'UTC',
        intervalMs,
        nowMs: () => ctx.nowMs(),
        logger: ctx.log,
        settings: (plugin: string) => options.settings(portal.memberId, plugin),
        declarations: () => ctx.declarations(),
      };
      const drivers: DemoDriver[] = [];
      for (const integration of DEMO_INTEGRATIONS) {
        // one integration's demo failing to set up leaves the rest of the demo running
        const driver = await integration(setup).catch((error: unknown) => void ctx.log.warn({ err: error, integration: integration.name }, 'demo: an integration could not be set up'));
        if (driver) drivers.push(driver);
      }
      const banner = { emulatorUrl: emulator.url, appUrl: ctx.url, memberId: portal.memberId, domain: portal.domain };
      ctx.log.info(
        { banner },
        demoBanner({
          ...banner,
          ...(options.adminToken ? { adminToken: options.adminToken } : {}),
          fireContactAdd,
          ...(robotCode ? { robotCode } : {}),
          intervalMs,
          integrations: drivers.map((driver) => driver.banner),
        }),
      );
      const trickle = startDemoTrickle({ control, memberId: portal.memberId, fireContactAdd, ...(robotCode ? { robotCode } : {}), intervalMs, logger: ctx.log, run: ctx.nowMs().toString(36) });
      const running = drivers.map((driver) => driver.start());
      return async () => {
        await trickle.stop();
        for (const timer of running) await timer.stop();
      };
    });
  },
});

const DEFAULT_TRICKLE_MS = 3000;
/** The trickle runs the robot on every ROBOT_EVERY-th tick. */
const ROBOT_EVERY = 5;

export interface DemoBannerInput {
  emulatorUrl: string;
  appUrl: string;
  domain: string;
  /** A token generated for this run; absent when the admin token was configured (never printed then). */
  adminToken?: string;
  fireContactAdd: boolean;
  robotCode?: string;
  intervalMs: number;
  /** One line per built-in integration the demo drives (DemoDriver.banner). */
  integrations?: string[];
}

/**
 * The demo banner, logged once at info level when the demo portal is installed: what runs where,
 * what happens next, what to try, how to go real, how to stop. The dashboard link carries the demo
 * token in the URL fragment (`#token=`), which a browser never sends to a server, so it stays out of
 * access logs and Referer headers; a real token is never printed anywhere.
 */
export function demoBanner(input: DemoBannerInput): string {
  const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;
  const next: string[] = [];
  if (input.fireContactAdd) next.push(`every ${seconds(input.intervalMs)} the emulator adds a contact to ${input.domain} and sends ONCRMCONTACTADD to the app's handler (the sample app creates a welcome deal, then a follow-up job comments it)`);
  if (input.robotCode) next.push(`every ${seconds(input.intervalMs * ROBOT_EVERY)} the portal runs the robot ${input.robotCode}`);
  if (next.length === 0) next.push("the app handles none of the demo's events (ONCRMCONTACTADD, the robot demo_score): send your own through the emulator's control API (docs/emulator.md)");
  const dashboard = input.adminToken
    ? `${input.appUrl}/admin#token=${input.adminToken}  (a token made for this demo run only)`
    : `${input.appUrl}/admin  (with your B24KIT_ADMIN_TOKEN)`;
  return [
    'DEMO MODE — no B24_CLIENT_ID set: b24kit runs against its built-in Bitrix24 emulator.',
    `  emulator   ${input.emulatorUrl}  (the OAuth server and the portal ${input.domain})`,
    `  app        ${input.appUrl}  (installed in the demo portal; /health, /ready, /metrics)`,
    `  dashboard  ${dashboard}`,
    `What happens next: ${next.join('; ')}.`,
    ...(input.integrations ?? []).map((line) => `  ${line}`),
    'Try, in another terminal: npx b24kit portals list · npx b24kit jobs list · npx b24kit doctor',
    'Serve real portals: set B24_CLIENT_ID, B24_CLIENT_SECRET, B24_APP_URL and B24KIT_SECRET_KEY (docs/deploy.md).',
    'Ctrl-C to stop.',
  ].join('\n');
}

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
 * The demo's trickle: every `intervalMs`, a new contact with an address appears in the demo portal
 * (seeded through the control API, which fires nothing) and ONCRMCONTACTADD is fired for it through the emulator's
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
  intervalMs: number;
  logger: PinoLogger;
  /** This run's stamp in the contacts' addresses: the app's database outlives the emulator, whose IDs start again at 1. */
  run: string;
}

function startDemoTrickle(options: DemoTrickleOptions): { stop(): Promise<void> } {
  const { control, memberId, logger } = options;
  let tick = 0;
  let running: Promise<void> = Promise.resolve();
  const fire = async (): Promise<void> => {
    tick += 1;
    if (options.fireContactAdd) {
      const fields = { NAME: 'Demo', LAST_NAME: 'Customer {id}', EMAIL: [{ VALUE: `customer{id}.${options.run}@example.com`, VALUE_TYPE: 'WORK' }] };
      const seeded = await control<{ firstId: number | null }>('POST', '/crm/seed', { entity: 'contact', count: 1, fields });
      if (seeded.firstId !== null) {
        await control('POST', '/events', { event: 'ONCRMCONTACTADD', data: { FIELDS: { ID: String(seeded.firstId) } }, userId: 1 });
        logger.info({ memberId, event: 'ONCRMCONTACTADD', contactId: seeded.firstId }, `demo: fired ONCRMCONTACTADD for contact ${seeded.firstId}`);
      }
    }
    if (options.robotCode && tick % ROBOT_EVERY === 1) {
      await control('POST', `/robots/${options.robotCode}/run`, { documentId: ['crm', 'CCrmDocumentDeal', 'DEAL_1'], properties: { weight: String(tick) } });
    }
  };
  const timer = setInterval(() => {
    running = running.then(fire).catch((error: unknown) => logger.warn({ err: error }, 'demo trickle failed'));
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
