/**
 * Built-in plugin `b24kit.admin`: the operator's dashboard at `/admin` (HTML) and its JSON API at
 * `/admin/api`, registered only when an admin token is configured (B24KIT_ADMIN_TOKEN): without
 * one, neither exists and both answer 404 like any unknown path. Written on the public seam only
 * (`kit.route`, `kit.service`, `kit.observe`, `kit.onPortalStateChange`). Security properties, and
 * what each page shows: docs/operations.md "Dashboard", docs/security.md.
 */
import { B24Error, ERROR_CODES } from '../../../errors.js';
import { maskSecrets } from '../../../mask-secrets.js';
import type { Job, JobState } from '../../../queue/types.js';
import type { RouteContext, ServiceContext } from '../../kit.js';
import { defineBuiltinPlugin } from '../../plugin.js';
import { eventsPage, limitsPage, loginPage, pluginsPage, portalsPage, queuePage } from './pages.js';
import { createProcessStats } from './process-stats.js';
import { RECENT_JOBS, runSummaries } from './runs.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
import { cameOverHttps, sameOrigin } from './request-checks.js';
import { bearerToken, cookieValue, createAdminAuth, SESSION_COOKIE, SESSION_TTL_MS, type AdminSession } from './session.js';
import { ADMIN_CSS, LOGIN_JS } from './static.js';

export interface AdminOptions {
  /** The admin token (settings.adminToken). */
  token: string;
  /** Behind a proxy: X-Forwarded-Proto/Host are believed (the server's `trustProxy` is set). @defaultValue false */
  trustProxy?: boolean;
  /** Failed logins and bearer tokens allowed per client address (login-throttle.ts). @defaultValue 10 per 15 minutes */
  loginThrottle?: LoginThrottleOptions;
}

/** Portals whose job counts the queue page lists one by one (one query each). */
const MAX_PORTAL_ROWS = 200;
/** Dead (and running) jobs the queue page lists, newest first. */
const MAX_JOB_ROWS = 100;
/** Minutes the events page charts. */
const EVENT_WINDOW_MINUTES = 60;
/** No scripts but our own file, no inline code, no framing, forms only to ourselves. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'dead'];

export const adminPlugin = defineBuiltinPlugin({
  name: 'b24kit.admin',
  setup(kit, options: AdminOptions) {
    if (typeof options.token !== 'string' || options.token.length < 16) {
      throw new B24Error('B24_ERR_CONFIG', 'adminToken (B24KIT_ADMIN_TOKEN) must be at least 16 characters');
    }
    const auth = createAdminAuth(options.token);
    const trustProxy = options.trustProxy ?? false;
    const stats = createProcessStats();
    let running: ServiceContext | undefined;
    kit.observe((signal) => stats.observe(signal));
    kit.onPortalStateChange((change) => void stats.stateChanges.set(change.memberId, change));
    kit.service('web', (ctx) => {
      running = ctx;
      return () => void (running = undefined);
    });
    const service = (): ServiceContext => {
      if (!running) throw new B24Error('B24_ERR_APP_NOT_STARTED');
      return running;
    };

    const secureHeaders = (ctx: RouteContext): void => {
      ctx.header('content-security-policy', CSP);
      ctx.header('x-content-type-options', 'nosniff');
      ctx.header('referrer-policy', 'same-origin');
      ctx.header('cache-control', 'no-store');
    };
    const page = (ctx: RouteContext, body: string) => {
      secureHeaders(ctx);
      ctx.header('content-type', 'text/html; charset=utf-8');
      return ctx.raw(body);
    };
    const redirect = (ctx: RouteContext, location: string) => {
      secureHeaders(ctx);
      ctx.status(303);
      ctx.header('location', location);
      return ctx.raw('');
    };
    // sessions run on the wall clock, not the app's (tests move that one by weeks)
    const session = (ctx: RouteContext): AdminSession | undefined => auth.read(cookieValue(ctx.headers.cookie, SESSION_COOKIE), Date.now());
    const cookie = (ctx: RouteContext, value: string, maxAgeS: number): void => {
      const secure = cameOverHttps(ctx.headers, trustProxy) ? '; Secure' : '';
      ctx.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`);
    };
    // failed logins and bearer tokens, per client address (login-throttle.ts)
    const throttle = new LoginThrottle(options.loginThrottle);
    /** Seconds this client must wait (the answer is 429 with Retry-After, logged); undefined when it may try. */
    const throttled = (ctx: RouteContext): number | undefined => {
      const { waitMs, firstRefusal } = throttle.check(ctx.ip);
      if (waitMs <= 0) return undefined;
      const waitS = Math.ceil(waitMs / 1000);
      ctx.status(429);
      ctx.header('retry-after', String(waitS));
      // once per refusal period: an attacker hammering on does not fill the log
      if (firstRefusal) ctx.log.warn({ err: new B24Error('B24_ERR_ADMIN_THROTTLED'), ip: ctx.ip, retryAfterS: waitS }, 'admin authentication refused: too many failures from this address');
      return waitS;
    };
    const refused = (ctx: RouteContext, message: string): void => {
      throttle.failed(ctx.ip);
      ctx.log.warn({ err: new B24Error('B24_ERR_ADMIN_UNAUTHORIZED', message), ip: ctx.ip }, message);
    };
    const field = (ctx: RouteContext, name: string): unknown => (ctx.body && typeof ctx.body === 'object' ? (ctx.body as Record<string, unknown>)[name] : undefined);
    /** A state-changing form post: a session, its CSRF token, and our own origin; else 403 (or to the login page). */
    const formAction = (ctx: RouteContext): AdminSession | 'login' => {
      const current = session(ctx);
      if (!current) return 'login';
      if (!sameOrigin(ctx.headers, trustProxy) || !auth.csrfMatches(current, field(ctx, 'csrf'))) throw new B24Error('B24_ERR_ADMIN_CSRF');
      return current;
    };
    /** An HTML page: the session's CSRF token for its forms, or a redirect to the login page. */
    const htmlRoute = (path: string, render: (ctx: RouteContext, csrf: string, svc: ServiceContext, current: AdminSession) => Promise<string>): void => {
      kit.route('GET', path, async (ctx) => {
        const current = session(ctx);
        if (!current) return redirect(ctx, '/admin/login');
        return page(ctx, await render(ctx, auth.csrfToken(current), service(), current));
      });
    };
    /** The status message an action of this session redirected with; a link from anyone else shows none. */
    const flashOf = (ctx: RouteContext, current: AdminSession): string | undefined => {
      const message = ctx.query.done;
      return typeof message === 'string' && auth.flashMatches(current, message, ctx.query.sig) ? message : undefined;
    };

    // static files
    kit.route('GET', '/admin/static/admin.css', (ctx) => {
      ctx.header('content-type', 'text/css; charset=utf-8');
      ctx.header('x-content-type-options', 'nosniff');
      return ctx.raw(ADMIN_CSS);
    });
    kit.route('GET', '/admin/static/login.js', (ctx) => {
      ctx.header('content-type', 'text/javascript; charset=utf-8');
      ctx.header('x-content-type-options', 'nosniff');
      return ctx.raw(LOGIN_JS);
    });

    // login and logout
    kit.route('GET', '/admin/login', (ctx) => (session(ctx) ? redirect(ctx, '/admin/portals') : page(ctx, loginPage({ failed: ctx.query.failed !== undefined }))));
    kit.route('POST', '/admin/login', (ctx) => {
      // no session yet, so no CSRF token: the origin check keeps other sites from logging a browser in
      if (!sameOrigin(ctx.headers, trustProxy)) throw new B24Error('B24_ERR_ADMIN_CSRF');
      const waitS = throttled(ctx);
      if (waitS !== undefined) return page(ctx, loginPage({ waitMinutes: Math.ceil(waitS / 60) }));
      if (!auth.tokenMatches(field(ctx, 'token'))) {
        refused(ctx, 'admin login refused: wrong token');
        return redirect(ctx, '/admin/login?failed');
      }
      throttle.succeeded(ctx.ip);
      cookie(ctx, auth.issue(Date.now()), SESSION_TTL_MS / 1000);
      return redirect(ctx, '/admin/portals');
    });
    kit.route('POST', '/admin/logout', (ctx) => {
      if (formAction(ctx) !== 'login') cookie(ctx, '', 0);
      return redirect(ctx, '/admin/login');
    });

    // pages
    kit.route('GET', '/admin', (ctx) => redirect(ctx, session(ctx) ? '/admin/portals' : '/admin/login'));
    htmlRoute('/admin/portals', async (_ctx, csrf, svc) => portalsPage(await portalsData(svc), csrf));
    htmlRoute('/admin/queue', async (ctx, csrf, svc, current) => queuePage({ ...(await queueData(svc)), flash: flashOf(ctx, current) }, csrf));
    htmlRoute('/admin/events', async (_ctx, csrf, svc) => eventsPage(await eventsData(svc), csrf));
    htmlRoute('/admin/limits', async (_ctx, csrf, svc) => limitsPage(await limitsData(svc), csrf));
    htmlRoute('/admin/plugins', async (_ctx, csrf, svc) => pluginsPage(await pluginsData(svc), csrf));

    // queue actions (forms)
    const queueAction = (path: string, act: (svc: ServiceContext, ctx: RouteContext) => Promise<string>): void => {
      kit.route('POST', path, async (ctx) => {
        const current = formAction(ctx);
        if (current === 'login') return redirect(ctx, '/admin/login');
        let message: string;
        try {
          message = await act(service(), ctx);
        } catch (error) {
          if (!(error instanceof B24Error) || (error.code !== 'B24_ERR_JOB_STATE' && error.code !== 'B24_ERR_JOB_NOT_FOUND' && error.code !== 'B24_ERR_BAD_REQUEST')) throw error;
          message = `${error.code}: ${error.message}`;
        }
        return redirect(ctx, `/admin/queue?done=${encodeURIComponent(message)}&sig=${auth.flashSignature(current, message)}`);
      });
    };
    const jobId = (ctx: RouteContext): number => {
      const id = Number(field(ctx, 'id'));
      if (!Number.isSafeInteger(id) || id <= 0) throw new B24Error('B24_ERR_BAD_REQUEST', 'id must be a job id');
      return id;
    };
    const jobName = (ctx: RouteContext): string => {
      const name = field(ctx, 'name');
      if (typeof name !== 'string' || name === '') throw new B24Error('B24_ERR_BAD_REQUEST', 'name must be a job name');
      return name;
    };
    queueAction('/admin/queue/replay', async (svc, ctx) => `Job ${(await svc.jobs.replay(jobId(ctx))).id} replayed`);
    queueAction('/admin/queue/discard', async (svc, ctx) => `Job ${(await svc.jobs.discard(jobId(ctx))).id} discarded`);
    queueAction('/admin/queue/replay-dead', async (svc, ctx) => {
      const name = jobName(ctx);
      return `${await svc.jobs.replayDead({ name })} dead ${name} jobs replayed`;
    });
    queueAction('/admin/queue/discard-dead', async (svc, ctx) => {
      const name = jobName(ctx);
      return `${await svc.jobs.discardDead({ name })} dead ${name} jobs discarded`;
    });

    // the JSON API: a bearer token, no cookie and so no CSRF
    const api = (method: 'GET' | 'POST', path: string, handler: (ctx: RouteContext, svc: ServiceContext) => Promise<unknown>): void => {
      kit.route(method, `/admin/api${path}`, async (ctx) => {
        ctx.header('cache-control', 'no-store');
        if (throttled(ctx) !== undefined) return { error: 'B24_ERR_ADMIN_THROTTLED', message: ERROR_CODES.B24_ERR_ADMIN_THROTTLED };
        if (!auth.tokenMatches(bearerToken(ctx.headers.authorization))) {
          refused(ctx, 'admin API refused: wrong or missing bearer token');
          throw new B24Error('B24_ERR_ADMIN_UNAUTHORIZED');
        }
        throttle.succeeded(ctx.ip);
        try {
          return await handler(ctx, service());
        } catch (error) {
          if (error instanceof B24Error && (error.code === 'B24_ERR_JOB_NOT_FOUND' || error.code === 'B24_ERR_JOB_STATE')) {
            ctx.status(error.code === 'B24_ERR_JOB_NOT_FOUND' ? 404 : 409);
            return { error: error.code, message: error.message };
          }
          throw error;
        }
      });
    };
    const apiJobId = (ctx: RouteContext): number => {
      const id = Number(ctx.params.id);
      if (!Number.isSafeInteger(id) || id <= 0) throw new B24Error('B24_ERR_BAD_REQUEST', 'the path needs a job id');
      return id;
    };
    const filter = (ctx: RouteContext): { name?: string; memberId?: string } => {
      const source = { ...ctx.query, ...(ctx.body && typeof ctx.body === 'object' ? (ctx.body as Record<string, unknown>) : {}) };
      return {
        ...(typeof source.name === 'string' && source.name ? { name: source.name } : {}),
        ...(typeof source.memberId === 'string' && source.memberId ? { memberId: source.memberId } : {}),
      };
    };
    api('GET', '/portals', async (_ctx, svc) => {
      const { nowMs, portals, tokens, buckets } = await portalsData(svc);
      return { nowMs, portals, tokens, buckets, thisProcess: { stateChanges: [...stats.stateChanges.values()] } };
    });
    api('GET', '/queue', async (_ctx, svc) => {
      const data = await queueData(svc);
      return { ...data, running: data.running.map(publicJob), dead: data.dead.map(publicJob) };
    });
    api('GET', '/jobs', async (ctx, svc) => {
      const q = ctx.query;
      const state = typeof q.state === 'string' && (JOB_STATES as readonly string[]).includes(q.state) ? (q.state as JobState) : undefined;
      const number = (value: unknown): number | undefined => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined);
      const beforeId = number(q.beforeId);
      const limit = number(q.limit);
      const jobs = await svc.jobs.list({ ...filter(ctx), ...(state ? { state } : {}), ...(beforeId ? { beforeId } : {}), ...(limit ? { limit } : {}) });
      return { jobs: jobs.map(publicJob) };
    });
    api('GET', '/jobs/:id', async (ctx, svc) => {
      const job = await svc.jobs.get(apiJobId(ctx));
      if (!job) throw new B24Error('B24_ERR_JOB_NOT_FOUND');
      return { job: publicJob(job) };
    });
    api('POST', '/jobs/:id/replay', async (ctx, svc) => ({ job: publicJob(await svc.jobs.replay(apiJobId(ctx))) }));
    api('POST', '/jobs/:id/discard', async (ctx, svc) => ({ job: publicJob(await svc.jobs.discard(apiJobId(ctx))) }));
    api('POST', '/dead/replay', async (ctx, svc) => ({ replayed: await svc.jobs.replayDead(filter(ctx)) }));
    api('POST', '/dead/discard', async (ctx, svc) => ({ discarded: await svc.jobs.discardDead(filter(ctx)) }));
    api('GET', '/events', async (_ctx, svc) => {
      const data = await eventsData(svc);
      return { windowMinutes: data.windowMinutes, perMinute: data.minutes, byEvent: data.byEvent, thisProcess: { accepted: Object.fromEntries(stats.accepted), rejected: Object.fromEntries(stats.rejected) } };
    });
    api('GET', '/limits', async (_ctx, svc) => {
      const data = await limitsData(svc);
      return { buckets: data.buckets, thisProcess: { operating: data.operating, status503: stats.restStatus.get(503) ?? 0, status429: stats.restStatus.get(429) ?? 0 } };
    });
    api('GET', '/plugins', async (_ctx, svc) => {
      const { declarations, runs, recent } = await pluginsData(svc);
      return { declarations, runs, recentJobs: recent };
    });

    async function portalsData(svc: ServiceContext) {
      const [portals, tokens, buckets] = await Promise.all([svc.portals.list(), svc.portals.tokenTimes(), svc.limits.buckets()]);
      const operatingLimitSeconds = svc.limits.operating()[0]?.limitSeconds ?? 480;
      return { nowMs: svc.nowMs(), portals, tokens, buckets, operatingLimitSeconds, stats };
    }
    async function queueData(svc: ServiceContext) {
      const [counts, portals, runningJobs, dead, deadLetters] = await Promise.all([
        svc.jobs.counts(),
        svc.portals.list(),
        svc.jobs.list({ state: 'running', limit: MAX_JOB_ROWS }),
        svc.jobs.list({ state: 'dead', limit: MAX_JOB_ROWS }),
        svc.jobs.deadLetters(),
      ]);
      const installed = portals.filter((portal) => portal.state !== 'uninstalled');
      const byPortal = await Promise.all(
        installed.slice(0, MAX_PORTAL_ROWS).map(async (portal) => ({ memberId: portal.memberId, domain: portal.domain, counts: await svc.jobs.counts({ memberId: portal.memberId }) })),
      );
      return { nowMs: svc.nowMs(), counts, byPortal, portalsOmitted: installed.length - byPortal.length, running: runningJobs, dead, deadLetters, maxRows: MAX_JOB_ROWS };
    }
    async function eventsData(svc: ServiceContext) {
      const nowMs = svc.nowMs();
      const sinceMs = Math.floor(nowMs / 60_000) * 60_000 - (EVENT_WINDOW_MINUTES - 1) * 60_000;
      const [minutes, byEvent] = await Promise.all([svc.events.perMinute({ sinceMs }), svc.events.byEvent({ sinceMs })]);
      return { nowMs, minutes, byEvent, windowMinutes: EVENT_WINDOW_MINUTES, stats };
    }
    async function pluginsData(svc: ServiceContext) {
      const declarations = svc.declarations();
      const runs = await runSummaries(svc, declarations, await svc.jobs.deadLetters());
      return { nowMs: svc.nowMs(), declarations, runs, recent: RECENT_JOBS };
    }
    async function limitsData(svc: ServiceContext) {
      const [buckets, portals] = await Promise.all([svc.limits.buckets(), svc.portals.list()]);
      return { nowMs: svc.nowMs(), buckets, operating: svc.limits.operating(), domains: new Map(portals.map((portal) => [portal.memberId, portal.domain])), stats };
    }
  },
});

function publicJob(job: Job): Job {
  return { ...job, payload: maskSecrets(job.payload), result: maskSecrets(job.result) };
}
