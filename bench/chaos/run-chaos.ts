/**
 * The chaos run (issue 12, item 1): the app's processes over one store, 20 portals on the emulator
 * (its own process), events with duplicates and out-of-order deliveries, 5xx from the portals, one
 * portal down, workers SIGKILLed and restarted, a PostgreSQL outage, access tokens expiring — then
 * it counts, at the load balancer, in the store and at the emulator, what was acknowledged, stored
 * and done, and how often.
 *
 * `runChaos(options)` is used by bench/chaos.ts (`npm run chaos`, the full run) and by
 * test/chaos/chaos.test.ts (the short run with the same assertions, in `npm run test:pg`).
 *
 * The PostgreSQL outage is simulated from the client's side — the run's own database stops
 * accepting connections (`ALTER DATABASE … WITH ALLOW_CONNECTIONS false`) and its connections are
 * terminated, then it is allowed again — because other users share the server. A real restart of
 * the server (`realPgRestart`, e.g. `pg_ctlcluster <version> main restart`) is only run when asked for.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { emulatorControl } from '../../src/testing/control.js';
import { CHAOS_ORIGINATOR, FOUND_BY_ORIGIN_ID } from './shared.js';
import { startChaosProxy, type ChaosProxy } from './proxy.js';
import { cliArgs, REPO_ROOT, SupervisedChild } from './processes.js';

export interface ChaosOptions {
  dialect: 'postgres' | 'sqlite';
  /** PostgreSQL: a connection that may CREATE DATABASE; the run's database is created beside it and dropped afterwards. */
  adminUrl?: string;
  portals: number;
  /** Distinct events fired (duplicates come on top). */
  events: number;
  /** How fast they are fired. */
  eventsPerSecond: number;
  /** Share of events the emulator delivers more than once (2 or 3 copies), all delivered out of order. */
  duplicateRate: number;
  /** Share of the portals' REST calls answered 500. */
  errorRate: number;
  /** PostgreSQL: the process counts. */
  web?: number;
  workers?: number;
  schedulers?: number;
  /** PostgreSQL: SIGKILL one worker (in turn) this often while events are fired, and restart it. */
  killEveryMs?: number;
  /** SQLite: SIGKILL the one process at this many random moments while events are fired, and restart it. */
  sqliteKills?: number;
  /**
   * Hold each SIGKILL until this long after the last token expiry. A kill between the OAuth
   * server's rotation of a pair and its store write loses the pair (refresh tokens are single-use,
   * docs/protocol.md §1.5): the test keeps the two apart, the full run does not. @defaultValue 0
   */
  killQuietMs?: number;
  /** One portal answers 503 to everything for this long (emulator clock), from `portalDownAtMs`. */
  portalDownSeconds: number;
  portalDownAtMs: number;
  /** PostgreSQL: the run's database refuses connections for `pgOutageMs` from `pgOutageAtMs`. */
  pgOutageAtMs?: number;
  pgOutageMs?: number;
  /** PostgreSQL: a shell command that restarts the server, run instead of the simulated outage (never in CI). */
  realPgRestart?: string;
  /** The emulator clock jumps past the access tokens' lifetime at these moments (ms after the first event). */
  expiriesAtMs: number[];
  /** The job lease of every process. */
  leaseMs: number;
  /** The portals' bucket (emulator and app alike). */
  drainPerSecond: number;
  burst: number;
  /** Give up waiting for the queue to drain after this long. */
  drainTimeoutMs: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Keep the children's log files (their folder is reported). */
  keepLogs?: boolean;
}

export interface ChaosReport {
  dialect: 'postgres' | 'sqlite';
  portals: number;
  eventsFired: number;
  deliveries: number;
  /** Distinct events at least one copy of which was answered 2xx. */
  acknowledged: number;
  /** Distinct events no copy of which was answered 2xx (the portal does not resend them). */
  notAcknowledged: number;
  /** Answers to event deliveries by HTTP status. */
  deliveryStatuses: Record<string, number>;
  /** Inbox rows of the event. */
  stored: number;
  /** Event jobs that succeeded. */
  handled: number;
  /** Distinct ORIGIN_IDs among the deals at the emulator. */
  effects: number;
  /** Acknowledged events without a deal. */
  acknowledgedNotDone: number;
  /** Of those, the ones not even waiting in the queue. */
  lost: number;
  /** Deals beyond the first per ORIGIN_ID. */
  duplicateEffects: number;
  /** Times the handler found its deal by ORIGIN_ID (ctx.once's window, closed by the natural key). */
  foundByOriginId: number;
  /** At the portals: 503 QUERY_LIMIT_EXCEEDED and 429 OPERATION_TIME_LIMIT. */
  rateLimitRejections: number;
  operatingRejections: number;
  /** Access-token expiries, and successful refreshes per portal. */
  expiries: number;
  refreshesPerPortal: number[];
  /** The index in `refreshesPerPortal` of the portal that was down. */
  downPortalIndex: number;
  refreshesRefused: number;
  jobsDead: number;
  /** Portals the app moved to needs_reauth (a refresh token the OAuth server refused). */
  portalsNeedingReauth: number;
  /** Seconds from the first event, process and portal of every successful refresh and every refused one (to lay beside `faults`). */
  refreshLog: string[];
  /** Event jobs still queued or running when the run gave up waiting. */
  jobsStuck: number;
  /** Of those, the jobs of portals in needs_reauth (they wait for the portal's re-authorization). */
  waitingForReauth: number;
  /** Schedule jobs beyond one per portal and slot. */
  duplicateScheduleRuns: number;
  scheduleRuns: number;
  kills: number;
  /** Exits nobody asked for, per process name. */
  crashes: Record<string, string[]>;
  /** From the first event to the last one fired, and from the last fault to an empty queue. */
  fireSeconds: number;
  drainSecondsAfterLastFault: number;
  /** Processes' log lines at level error (50) or above. */
  errorLogLines: number;
  logDir: string;
  faults: string[];
}

const EVENT_NAME = 'ONCRMDEALUPDATE';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`chaos: timed out waiting for ${what}`);
}

/** Reads counts from the run's store, PostgreSQL or SQLite. */
interface StoreReader {
  count(sql: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

async function pgReader(url: string): Promise<StoreReader> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined); // the outage terminates this connection too; the next query reconnects
  return {
    async count(sql, params = []) {
      let index = 0;
      const text = sql.replace(/\?/g, () => `$${++index}`);
      const result = await pool.query<{ n: string }>(text, params);
      return Number(result.rows[0]?.n ?? 0);
    },
    close: () => pool.end(),
  };
}

function sqliteReader(file: string): StoreReader {
  let db: Database.Database | undefined;
  return {
    async count(sql, params = []) {
      db ??= new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      const row = db.prepare(sql).get(...params) as { n: number } | undefined;
      return Number(row?.n ?? 0);
    },
    async close() {
      db?.close();
    },
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const logDir = mkdtempSync(path.join(tmpdir(), `b24kit-chaos-${options.dialect}-`));
  const faults: string[] = [];
  const children: SupervisedChild[] = [];
  let proxy: ChaosProxy | undefined;
  let admin: pg.Client | undefined;
  let databaseName: string | undefined;
  let reader: StoreReader | undefined;

  try {
    // the store
    let databaseUrl: string;
    if (options.dialect === 'postgres') {
      if (!options.adminUrl) throw new Error('chaos: adminUrl is required on PostgreSQL');
      admin = new pg.Client({ connectionString: options.adminUrl });
      await admin.connect();
      databaseName = `b24kit_chaos_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${databaseName}`);
      const url = new URL(options.adminUrl);
      url.pathname = `/${databaseName}`;
      databaseUrl = url.toString();
    } else {
      databaseUrl = path.join(logDir, 'b24kit.sqlite');
    }

    // the emulator, its own process
    const emulatorPort = await freePort();
    const emulator = new SupervisedChild({ name: 'emulator', args: cliArgs('emulator', '--port', String(emulatorPort)), env: {}, logFile: path.join(logDir, 'emulator.log') });
    children.push(emulator);
    emulator.start();
    const emu = { url: `http://127.0.0.1:${emulatorPort}` };
    await waitFor('the emulator', async () => (await fetch(`${emu.url}/_emulator/clock`)).ok, 60_000);

    // the processes' settings, and the balancer in front of the web processes
    const webCount = options.dialect === 'postgres' ? (options.web ?? 2) : 1;
    const webPorts = await Promise.all(Array.from({ length: webCount }, () => freePort()));
    proxy = await startChaosProxy(webPorts);
    const env: Record<string, string> = {
      B24_CLIENT_ID: 'local.b24kit.demo',
      B24_CLIENT_SECRET: 'demo-secret',
      B24_APP_URL: proxy.url,
      B24_OAUTH_URL: emu.url,
      DATABASE_URL: databaseUrl,
      B24KIT_SECRET_KEY: randomBytes(32).toString('hex'),
      HOST: '127.0.0.1',
      // info: the refreshes and restarts are in the logs, to lay beside the faults
      LOG_LEVEL: 'info',
      B24KIT_LOG_FORMAT: 'json',
      CHAOS_DRAIN_PER_SECOND: String(options.drainPerSecond),
      CHAOS_BURST: String(options.burst),
      CHAOS_LEASE_MS: String(options.leaseMs),
    };
    const appModule = path.join(REPO_ROOT, 'bench/chaos/app.ts');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', ...cliArgs('migrate')], { cwd: REPO_ROOT, env: { ...process.env, ...env } });

    const webs: SupervisedChild[] = [];
    const workers: SupervisedChild[] = [];
    const spec = (name: string, args: string[], extra: Record<string, string> = {}): SupervisedChild =>
      new SupervisedChild({ name, args, env: { ...env, ...extra }, logFile: path.join(logDir, `${name}.log`) });
    if (options.dialect === 'postgres') {
      webPorts.forEach((port, i) => webs.push(spec(`web-${i + 1}`, cliArgs('web', '--app', appModule), { PORT: String(port) })));
      for (let i = 0; i < (options.workers ?? 3); i++) workers.push(spec(`worker-${i + 1}`, cliArgs('worker', '--no-scheduler', '--app', appModule)));
      for (let i = 0; i < (options.schedulers ?? 1); i++) children.push(spec(`scheduler-${i + 1}`, [path.join(REPO_ROOT, 'bench/chaos/scheduler.ts')]));
    } else {
      // one process with every role
      webs.push(spec('start', cliArgs('start', '--app', appModule), { PORT: String(webPorts[0]) }));
    }
    children.push(...webs, ...workers);
    for (const child of children) if (child !== emulator) child.start();
    await Promise.all(webPorts.map((port) => waitFor(`the web process on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 60_000)));
    log(`processes up: ${children.map((c) => c.spec.name).join(', ')}; logs in ${logDir}`);

    // the portals: installed through the balancer, their bindings made by the app's workers
    const members: string[] = [];
    for (let i = 0; i < options.portals; i++) {
      const portal = await emulatorControl<{ member_id: string }>(emu, '/portals', { drainPerSecond: options.drainPerSecond, burst: options.burst });
      const installed = await emulatorControl<{ delivery: { status: number } | null }>(emu, `/portals/${portal.member_id}/install`, { appUrl: proxy.url });
      if (installed.delivery?.status !== 200) throw new Error(`chaos: install of ${portal.member_id} answered ${installed.delivery?.status}`);
      members.push(portal.member_id);
    }
    await waitFor(
      'the event bindings',
      async () => {
        for (const member of members) {
          const bindings = await emulatorControl<Array<{ event: string }>>(emu, `/portals/${member}/events/bindings`, undefined, 'GET');
          if (!bindings.some((b) => b.event === EVENT_NAME)) return false;
        }
        return true;
      },
      120_000,
    );
    for (const member of members) {
      await emulatorControl(emu, `/portals/${member}/delivery`, { duplicateRate: options.duplicateRate, duplicateCount: 2, reorder: true, reorderWindowMs: 200 }, 'PUT');
      await emulatorControl(emu, `/portals/${member}/faults`, { errorRate: options.errorRate, errorStatus: 500 }, 'PUT');
      await emulatorControl(emu, `/portals/${member}/stats/reset`);
    }
    log(`${members.length} portals installed and bound`);

    // the faults, on a timeline from the first event
    const started = Date.now();
    let lastFaultAt = started;
    const fault = (text: string): void => {
      lastFaultAt = Date.now();
      faults.push(`${((lastFaultAt - started) / 1000).toFixed(1)} s: ${text}`);
      log(`fault: ${text}`);
    };
    const fireMs = (options.events / options.eventsPerSecond) * 1000;
    const timeline: Array<Promise<void>> = [];
    const at = (ms: number, action: () => Promise<void>): void => {
      timeline.push(sleep(ms).then(action));
    };
    let firing = true;
    let lastExpiryAt = 0;
    const quietAfterExpiry = async (): Promise<void> => {
      const wait = lastExpiryAt + (options.killQuietMs ?? 0) - Date.now();
      if (wait > 0) await sleep(wait);
    };

    let expiriesDone = 0;
    for (const ms of options.expiriesAtMs) {
      at(ms, async () => {
        // "one refresh per expiry" needs a call between two expiries: before moving the clock again,
        // wait (a minute at most) until every portal has refreshed for the previous one
        const previous = expiriesDone;
        if (previous > 0) {
          await waitFor(
            `a refresh per portal for expiry ${previous}`,
            async () => {
              for (const member of members) {
                const stats = await emulatorControl<{ refreshes: number }>(emu, `/portals/${member}/stats`, undefined, 'GET');
                if (stats.refreshes < previous) return false;
              }
              return true;
            },
            60_000,
          ).catch(() => log(`not every portal refreshed for expiry ${previous} within a minute; moving the clock anyway`));
        }
        expiriesDone += 1;
        lastExpiryAt = Date.now();
        fault('the emulator clock moves 3,700 s: every access token expires');
        await emulatorControl(emu, '/clock', { advanceSeconds: 3700 });
      });
    }
    at(options.portalDownAtMs, async () => {
      fault(`portal ${members[0]} down (503 to every REST call) for ${options.portalDownSeconds} s`);
      await emulatorControl(emu, `/portals/${members[0]}/faults`, { downForSeconds: options.portalDownSeconds }, 'PUT');
      await sleep(options.portalDownSeconds * 1000);
      fault(`portal ${members[0]} up again`);
    });
    if (options.dialect === 'postgres' && options.pgOutageAtMs !== undefined) {
      const outageMs = options.pgOutageMs ?? 5000;
      at(options.pgOutageAtMs, async () => {
        if (options.realPgRestart) {
          fault(`PostgreSQL restart: ${options.realPgRestart}`);
          await promisify(execFile)('sh', ['-c', options.realPgRestart]);
          fault('PostgreSQL restarted');
          return;
        }
        await admin!.query(`ALTER DATABASE ${databaseName} WITH ALLOW_CONNECTIONS false`);
        const terminated = await admin!.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [databaseName]);
        fault(`PostgreSQL down for the app: no new connections, ${terminated.rowCount} terminated`);
        await sleep(outageMs);
        await admin!.query(`ALTER DATABASE ${databaseName} WITH ALLOW_CONNECTIONS true`);
        fault('PostgreSQL accepts connections again');
      });
    }
    if (options.dialect === 'postgres' && options.killEveryMs && workers.length > 0) {
      const every = options.killEveryMs;
      timeline.push(
        (async () => {
          for (let turn = 0; ; turn++) {
            await sleep(every);
            if (!firing) return;
            await quietAfterExpiry();
            const victim = workers[turn % workers.length]!;
            await victim.killAndRestart();
            fault(`SIGKILL ${victim.spec.name}, restarted`);
          }
        })(),
      );
    }
    if (options.dialect === 'sqlite' && options.sqliteKills) {
      const moments = Array.from({ length: options.sqliteKills }, () => Math.random() * fireMs).sort((a, b) => a - b);
      timeline.push(
        (async () => {
          for (const moment of moments) {
            await sleep(Math.max(0, started + moment - Date.now()));
            // wait until the previous restart is listening, so each kill lands on a working process
            await waitFor('the process after a restart', async () => (await fetch(`http://127.0.0.1:${webPorts[0]}/health`)).ok, 60_000);
            await quietAfterExpiry();
            await webs[0]!.killAndRestart();
            fault(`SIGKILL the process (${webs[0]!.kills} of ${options.sqliteKills}), restarted`);
          }
        })(),
      );
    }

    // the events: numbered 1..N, portal by portal in turn, at a steady rate
    let inFlight = 0;
    const sends: Array<Promise<void>> = [];
    for (let n = 1; n <= options.events; n++) {
      const due = started + ((n - 1) / options.eventsPerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      while (inFlight >= 16) await sleep(5);
      inFlight += 1;
      const member = members[(n - 1) % members.length]!;
      sends.push(
        emulatorControl(emu, `/portals/${member}/events`, { event: EVENT_NAME, data: { FIELDS: { ID: String(n) } } })
          .then(() => undefined)
          .finally(() => {
            inFlight -= 1;
          }),
      );
      if (n % 2000 === 0) log(`${n} events fired`);
    }
    await Promise.all(sends);
    const firedAt = Date.now();
    firing = false;
    await Promise.all(timeline);
    log('every event fired, every fault done; waiting for the deliveries and the queue');

    // drain: the emulator's outbox, then the queue
    await waitFor('the emulator to deliver every event', async () => (await emulatorControl<{ idle: boolean }>(emu, '/events/flush', { timeoutMs: 30_000 })).idle, 600_000);
    reader = options.dialect === 'postgres' ? await pgReader(databaseUrl) : sqliteReader(databaseUrl);
    // the jobs of a portal in needs_reauth wait (postponed) until it is re-authorized: not drainable
    const pending = (): Promise<number> =>
      reader!.count(
        `SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = ? AND state IN ('queued', 'running') AND member_id NOT IN (SELECT member_id FROM portals WHERE state = 'needs_reauth')`,
        [`event:${EVENT_NAME}`],
      );
    let drainedAt: number | undefined;
    const drainDeadline = Date.now() + options.drainTimeoutMs;
    while (Date.now() < drainDeadline) {
      if ((await pending().catch(() => -1)) === 0) {
        drainedAt = Date.now();
        break;
      }
      await sleep(250);
    }
    const jobsStuck = await reader.count(`SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = ? AND state IN ('queued', 'running')`, [`event:${EVENT_NAME}`]);
    log(drainedAt ? `queue drained ${((drainedAt - lastFaultAt) / 1000).toFixed(1)} s after the last fault` : `${jobsStuck} jobs still pending`);

    // stop the app's processes gracefully, then count
    await Promise.all(children.filter((c) => c !== emulator).map((c) => c.stop()));
    const stored = await reader.count(`SELECT COUNT(*) AS n FROM b24kit_event_inbox WHERE event = ?`, [EVENT_NAME]);
    const handled = await reader.count(`SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = ? AND state = 'succeeded'`, [`event:${EVENT_NAME}`]);
    const jobsDead = await reader.count(`SELECT COUNT(*) AS n FROM b24kit_jobs WHERE state = 'dead'`);
    const portalsNeedingReauth = await reader.count(`SELECT COUNT(*) AS n FROM portals WHERE state = 'needs_reauth'`);
    const waitingForReauth = await reader.count(
      `SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = ? AND state IN ('queued', 'running') AND member_id IN (SELECT member_id FROM portals WHERE state = 'needs_reauth')`,
      [`event:${EVENT_NAME}`],
    );
    const pendingByMember = new Map<string, number>();
    for (const member of members) {
      pendingByMember.set(member, await reader.count(`SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = ? AND state IN ('queued', 'running') AND member_id = ?`, [`event:${EVENT_NAME}`, member]));
    }
    const scheduleRuns = await reader.count(`SELECT COUNT(*) AS n FROM b24kit_jobs WHERE name = 'schedule:chaos-minute'`);
    const duplicateScheduleRuns = await reader.count(
      `SELECT COALESCE(SUM(c - 1), 0) AS n FROM (SELECT COUNT(*) AS c FROM b24kit_jobs WHERE name = 'schedule:chaos-minute' GROUP BY member_id, idempotency_key) AS slots`,
    );

    // the effects at the emulator: every deal of every portal, through a webhook, with faults off
    const originCounts = new Map<string, number>();
    let rateLimitRejections = 0;
    let operatingRejections = 0;
    let refreshesRefused = 0;
    const refreshesPerPortal: number[] = [];
    for (const member of members) {
      const stats = await emulatorControl<{ rateLimitRejections: number; operatingRejections: number; refreshes: number; refreshesRefused: number }>(emu, `/portals/${member}/stats`, undefined, 'GET');
      rateLimitRejections += stats.rateLimitRejections;
      operatingRejections += stats.operatingRejections;
      refreshesRefused += stats.refreshesRefused;
      refreshesPerPortal.push(stats.refreshes);
      await emulatorControl(emu, `/portals/${member}/faults`, { errorRate: 0, downForSeconds: 0 }, 'PUT');
      await emulatorControl(emu, `/portals/${member}/limits`, { drainPerSecond: 100_000, burst: 100_000 }, 'PUT');
      const hook = await emulatorControl<{ url: string }>(emu, `/portals/${member}/webhooks`, { scope: ['crm'] });
      let lastId = 0;
      for (;;) {
        const response = await fetch(`${hook.url}crm.deal.list.json`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ filter: { '>ID': lastId, ORIGINATOR_ID: CHAOS_ORIGINATOR }, order: { ID: 'ASC' }, select: ['ID', 'ORIGIN_ID'], start: -1 }),
        });
        const page = (await response.json()) as { result?: Array<{ ID: string; ORIGIN_ID: string }> };
        if (!response.ok || !page.result) throw new Error(`chaos: crm.deal.list answered ${response.status}`);
        for (const deal of page.result) {
          const key = `${member}:${deal.ORIGIN_ID.replace(/^chaos-/, '')}`;
          originCounts.set(key, (originCounts.get(key) ?? 0) + 1);
          lastId = Number(deal.ID);
        }
        if (page.result.length < 50) break;
      }
    }

    let acknowledged = 0;
    let deliveries = 0;
    const notDoneByMember = new Map<string, number>();
    for (const [key, record] of proxy.deliveries) {
      deliveries += record.copies;
      if (record.acknowledged > 0) {
        acknowledged += 1;
        const member = key.slice(0, key.indexOf(':'));
        if (!originCounts.has(key)) notDoneByMember.set(member, (notDoneByMember.get(member) ?? 0) + 1);
      }
    }
    // acknowledged without a deal: still in the queue (a portal that needs re-authorization), or lost
    let lost = 0;
    let acknowledgedNotDone = 0;
    for (const [member, notDone] of notDoneByMember) {
      acknowledgedNotDone += notDone;
      lost += Math.max(0, notDone - (pendingByMember.get(member) ?? 0));
    }
    let duplicateEffects = 0;
    for (const count of originCounts.values()) duplicateEffects += count - 1;

    let foundByOriginId = 0;
    const refreshLog: string[] = [];
    let errorLogLines = 0;
    const crashes: Record<string, string[]> = {};
    for (const child of children) {
      if (child.unexpectedExits.length > 0) crashes[child.spec.name] = child.unexpectedExits;
      if (child === emulator) continue;
      const text = readFileSync(child.spec.logFile, 'utf8');
      foundByOriginId += text.split(FOUND_BY_ORIGIN_ID).length - 1;
      for (const line of text.split('\n')) {
        if (!line.includes('access token refreshed') && !line.includes('refresh token rejected') && !line.includes('refreshed tokens')) continue;
        try {
          const entry = JSON.parse(line) as { time: number; msg: string; memberId?: string };
          refreshLog.push(`${((entry.time - started) / 1000).toFixed(1).padStart(6)} s ${child.spec.name} ${entry.memberId?.slice(0, 8) ?? ''}: ${entry.msg}`);
        } catch {
          // not a JSON line (a crash's stack trace)
        }
      }
      errorLogLines += (text.match(/"level":(5|6)\d/g) ?? []).length;
    }

    return {
      dialect: options.dialect,
      portals: members.length,
      eventsFired: options.events,
      deliveries,
      acknowledged,
      notAcknowledged: proxy.deliveries.size - acknowledged + (options.events - proxy.deliveries.size),
      deliveryStatuses: Object.fromEntries([...proxy.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([status, n]) => [String(status), n])),
      stored,
      handled,
      effects: originCounts.size,
      lost,
      duplicateEffects,
      foundByOriginId,
      rateLimitRejections,
      operatingRejections,
      expiries: options.expiriesAtMs.length,
      refreshesPerPortal,
      downPortalIndex: 0,
      refreshesRefused,
      jobsDead,
      jobsStuck,
      portalsNeedingReauth,
      waitingForReauth,
      acknowledgedNotDone,
      refreshLog: refreshLog.sort(),
      duplicateScheduleRuns,
      scheduleRuns,
      kills: children.reduce((sum, c) => sum + c.kills, 0),
      crashes,
      fireSeconds: (firedAt - started) / 1000,
      drainSecondsAfterLastFault: drainedAt === undefined ? Number.NaN : Math.max(0, (drainedAt - lastFaultAt) / 1000),
      errorLogLines,
      logDir,
      faults,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop(5000).catch(() => undefined)));
    await proxy?.close();
    await reader?.close().catch(() => undefined);
    if (admin) {
      if (databaseName) {
        await admin.query(`ALTER DATABASE ${databaseName} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
        await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => undefined);
      }
      await admin.end().catch(() => undefined);
    }
    if (!options.keepLogs) rmSync(logDir, { recursive: true, force: true });
  }
}
