/**
 * The verbs an app and its plugins share (`AppKit`), and the contexts of what they declare beyond
 * handlers: HTTP routes, lifecycle hooks, per-portal settings, purges and role-bound services.
 * Handler contexts (events, jobs, schedules, robots) are in types.ts.
 */
import type { Logger as PinoLogger } from 'pino';
import type { z } from 'zod';
import type { Job, JobState, Json } from '../queue/types.js';
import type { DeadLetterCount } from '../queue/dead-letter-counts.js';
import type { EventDelivery } from '../events/event-payload.js';
import type { KeepAliveReport } from '../oauth/keep-alive.js';
import type { RefreshFailureReason } from '../oauth/refresh-failure.js';
import type { PortalStateChange } from '../store/portals.js';
import type { B24Client } from '../rest/client.js';
import type { Transaction } from '../store/types.js';
import type { RouteAuth } from './route-auth.js';
import type {
  EnqueueOptions,
  EventHandler,
  EventOptions,
  JobOptions,
  PortalSettings,
  PortalView,
  RobotDefinition,
  RobotHandler,
  ScheduleDefinitionOptions,
  ScheduleHandler,
  UserBatchJobHandler,
  UserJobHandler,
  JobBatchOptions,
} from './types.js';

/** Job payload types by job name. The default accepts any name with a JSON payload. */
export type JobMap = Record<string, Json>;
/**
 * Declared job payload types (`createApp<{ jobs: … }>()`, `AppKit<S, J>`): interfaces are welcome;
 * payloads must still be JSON (plain objects, arrays, strings, numbers, booleans, null) at run time.
 */
export type JobTypes = Record<string, unknown>;

/** Per-portal settings: a zod object schema, and which of its keys are secrets (sealed at rest, never printed). */
export interface SettingsDeclaration<S extends Record<string, unknown> = Record<string, unknown>> {
  schema: z.ZodType<S>;
  /** Keys sealed with the token encryption and shown as `••••` by `b24kit settings get`. @defaultValue [] */
  secrets?: ReadonlyArray<keyof S & string>;
}

/** `ingest`'s options. */
export interface IngestOptions {
  /**
   * The item's version: its modification time at the source (ms), or any whole number that grows
   * with each change. A payload whose version is below the newest one seen for its key is answered
   * `stale` and changes nothing, so a webhook delivered out of order (or replayed) cannot undo a
   * later change. Without it, every changed payload counts as the newest.
   */
  version?: number;
}

/** What `ingest` answers: the job that stands for the item, and whether this call created it. */
export interface IngestResult<P = Json> {
  job: Job<P>;
  /**
   * - `created`: first time this key was seen;
   * - `duplicate`: same key, same payload, its job queued, running or succeeded: nothing new;
   * - `superseded`: same key, a changed payload, the pending job now carries it (same job id);
   * - `revised`: same key, a changed payload after its job started or finished: a new job;
   * - `retried`: same key after its job went dead: a new job (with the payload just given);
   * - `stale`: a `version` below the newest one seen for the key: nothing changed (the job is the key's current one).
   */
  outcome: 'created' | 'duplicate' | 'superseded' | 'revised' | 'retried' | 'stale';
  /** 1 for the first payload of a key, +1 for every changed one (and every retry after a dead job). */
  revision: number;
}

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteOptions {
  /**
   * How a request proves it speaks for the portal in `:memberId`: `auth.hmac(…)`, `auth.apiKey(…)`,
   * or `'none'` for a route that checks nothing (then the portal is still resolved, unknown and
   * uninstalled ones answer 401). Required for every path with `:memberId`.
   */
  auth?: RouteAuth | 'none';
  /** Largest body accepted, in bytes. @defaultValue the server's (1 MiB) */
  bodyLimitBytes?: number;
}

export interface RouteContext<S extends Record<string, unknown> = Record<string, unknown>, J extends JobTypes = JobMap> {
  /** The path's parameters (`:memberId` included). */
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The client's address: the connection's peer, or behind a proxy with the server's `trustProxy`
   * on, the client X-Forwarded-For names (Fastify's `request.ip`). For per-client limits and logs.
   */
  ip: string;
  /** The body as sent (empty for GET): what a signature is computed over. */
  rawBody: Buffer;
  /** The body parsed by content type (JSON, or a PHP-style form); `undefined` for other types. */
  body: unknown;
  /** A child logger carrying the route and member_id. */
  log: PinoLogger;
  /** Sets the answer's HTTP status (default 200; 204 when the handler returns undefined). */
  status(code: number): void;
  /** Sets a header of the answer. */
  header(name: string, value: string): void;
  /** Wraps a body to send as is (not as JSON): return it from the handler; set the content-type with `header`. */
  raw(body: string | Buffer): RawBody;
  /** The portal of `:memberId`, resolved and checked before the handler runs. Throws on routes without `:memberId`. */
  readonly portal: PortalView;
  /** The portal's REST client. Throws on routes without `:memberId`. */
  readonly b24: B24Client;
  /** This plugin's (or the app's) settings for the portal. Throws on routes without `:memberId`. */
  readonly settings: PortalSettings<S>;
  /** `app.ingest` for this portal. */
  ingest<N extends keyof J & string>(job: N, externalId: string, payload: J[N], options?: IngestOptions): Promise<IngestResult<J[N]>>;
  /** `app.enqueue` for this portal. */
  enqueue<N extends keyof J & string>(job: N, payload: J[N], options?: EnqueueOptions): Promise<Job<J[N]>>;
}

/** A body sent as is (`ctx.raw`). */
export interface RawBody {
  readonly raw: string | Buffer;
}

/** Answers with what it returns (JSON; undefined → 204), or throws (a B24Error keeps its code and status). */
export type RouteHandler<S extends Record<string, unknown> = Record<string, unknown>, J extends JobTypes = JobMap> = (ctx: RouteContext<S, J>) => unknown;

export interface PortalHookContext<S extends Record<string, unknown> = Record<string, unknown>> {
  portal: PortalView;
  b24: B24Client;
  settings: PortalSettings<S>;
  log: PinoLogger;
}

/** After install (or a first code exchange) and after every app update. A throw is logged; the install stands. */
export type PortalHook<S extends Record<string, unknown> = Record<string, unknown>> = (ctx: PortalHookContext<S>) => unknown;

export interface UninstallHookContext {
  portal: PortalView;
  /** True when the portal asked to delete the app's data (`CLEAN=1`): the purges run after the hooks. */
  clean: boolean;
  log: PinoLogger;
}

export type UninstallHook = (ctx: UninstallHookContext) => unknown;

/** Deletes one portal's rows from a table of the plugin's, in the purge transaction (throw to abort it). */
export type PortalPurge = (tx: Transaction, memberId: string) => Promise<void>;

/** The process roles (`b24kit start` runs all three; `b24kit web|worker` one). */
export type ProcessRole = 'web' | 'worker' | 'scheduler';

/** What a plugin's service sees of the running app. */
export interface ServiceContext {
  log: PinoLogger;
  /** Epoch ms (the app's clock). */
  nowMs(): number;
  /** The listening URL when the web role runs in this process. */
  url: string | undefined;
  portals: PortalDirectory;
  jobs: JobDirectory;
  /** The REST client of a portal. */
  client(memberId: string): B24Client;
  /** The event inbox's counts (all processes). */
  events: EventDirectory;
  /** The REST limits: the shared buckets, and this process's view of the operating budget. */
  limits: LimitDirectory;
  /** What the app and each plugin declared (events, jobs, schedules, robots, routes, services), by owner. */
  declarations(): Declaration[];
  /** The app's store (for the plugin's own tables). */
  store: import('../store/types.js').Store;
  /** Aborted when the role stops. */
  signal: AbortSignal;
}

export type { DeadLetterCount };

/** The durable queue as a service sees it: counts, jobs, and the dead letters' replay and discard. */
export interface JobDirectory {
  /** Jobs in each state (all processes), of one portal when `memberId` is given. */
  counts(filter?: { memberId?: string }): Promise<Record<JobState, number>>;
  /** Jobs, newest first (at most 1,000; page with `beforeId`). */
  list(filter?: { state?: JobState; memberId?: string; name?: string; beforeId?: number; limit?: number }): Promise<Job[]>;
  get(id: number): Promise<Job | undefined>;
  /** Runs a dead (or waiting) job again now, attempts reset (B24_ERR_JOB_STATE for a running or succeeded one). */
  replay(id: number): Promise<Job>;
  /** Replays every dead job (of one portal and/or one job name). Returns how many. */
  replayDead(filter?: { memberId?: string; name?: string }): Promise<number>;
  /** Deletes a dead job and its `ctx.once` memos for good (B24_ERR_JOB_STATE for any other state). */
  discard(id: number): Promise<Job>;
  /** Discards every dead job (of one portal and/or one job name). Returns how many. */
  discardDead(filter?: { memberId?: string; name?: string }): Promise<number>;
  /** Dead jobs (all processes) counted by job name and the error code of their last error. */
  deadLetters(): Promise<DeadLetterCount[]>;
}

/** A portal's token times, for monitoring (the tokens themselves never leave the registry). */
export interface PortalTokenTimes {
  memberId: string;
  domain: string;
  state: PortalView['state'];
  /** When the stored access token expires (epoch ms); in the past for an idle portal: it is refreshed on use. */
  accessTokenExpiresAtMs: number;
  /** When the stored refresh token was obtained (install, code exchange or refresh), epoch ms. */
  refreshTokenObtainedAtMs: number;
  /** Failed refreshes since the last good one. */
  refreshFailures: number;
  /** The user who installed the app (ONAPPINSTALL's auth), when known. */
  installedByUserId: number | null;
  /** When the portal was first stored (its install), epoch ms. */
  installedAtMs: number;
  /** Since when it needs re-authorization (epoch ms), null unless `needs_reauth`. */
  needsReauthSinceMs: number | null;
}

/** The portals as a service sees them. */
export interface PortalDirectory {
  list(filter?: { state?: PortalView['state'] }): Promise<PortalView[]>;
  get(memberId: string): Promise<PortalView | undefined>;
  countByState(): Promise<Record<PortalView['state'], number>>;
  /**
   * Refreshes the tokens of portals idle for `idleMs` (7 days), at most `limit` (100), so their refresh
   * tokens never lapse unused; at most `refreshesPerSecond` (1) refreshes start per second.
   */
  refreshIdle(options?: { idleMs?: number; limit?: number; refreshesPerSecond?: number }): Promise<KeepAliveReport>;
  /** The token times of installed portals (active and needs_reauth), by member_id. */
  tokenTimes(): Promise<PortalTokenTimes[]>;
}

/** Deliveries stored in the event inbox in one minute (retention purges old rows: older minutes read 0). */
export interface EventMinute {
  /** Epoch ms of the minute's start. */
  minuteStartMs: number;
  /** Stored with a job. */
  queued: number;
  /** Stored without a job (no handler declared). */
  ignored: number;
}

/** The event inbox as a service sees it (all processes; duplicates and rejections are never stored: see the `delivery.*` signals). */
export interface EventDirectory {
  /** Deliveries per minute since `sinceMs` (only minutes that had some), oldest first. */
  perMinute(options: { sinceMs: number }): Promise<EventMinute[]>;
  /** Deliveries since `sinceMs` by event name and outcome. */
  byEvent(options: { sinceMs: number }): Promise<Array<{ event: string; queued: number; ignored: number }>>;
}

/** One portal's leaky bucket in the shared store (docs/protocol.md §5.1). */
export interface BucketView {
  /** The bucket's key: the portal's member_id. */
  memberId: string;
  /** Requests in the bucket now (drained since the last request). */
  level: number;
  /** The limits this process applies to the portal (configuration, else its plan). */
  drainPerSecond: number;
  burst: number;
  /** `app.info` LICENSE_FAMILY as last read, if ever. */
  licenseFamily: string | null;
  /** No request before this epoch ms (after a 503); 0 when not paused. */
  pausedUntilMs: number;
}

/** Operating seconds of one method on one portal, as last reported to this process (docs/protocol.md §5.2). */
export interface OperatingView {
  memberId: string;
  method: string;
  operatingSeconds: number;
  /** The budget per method and 10-minute window, in seconds. */
  limitSeconds: number;
  /** When the oldest minute leaves the window, epoch ms (0 when unknown). */
  resetAtMs: number;
}

/** The REST limits as a service sees them. */
export interface LimitDirectory {
  /** Every portal's bucket (shared by all processes), level computed at the app's clock. */
  buckets(): Promise<BucketView[]>;
  /** Operating seconds per portal and method reported to THIS process's clients (each process keeps its own). */
  operating(): OperatingView[];
}

/** One thing an owner ('app' or a plugin) declared. */
export interface Declaration {
  owner: string;
  kind: 'event' | 'job' | 'schedule' | 'robot' | 'route' | 'service';
  /** The event, job, schedule or robot code, `METHOD /path` of a route, or the role of a service. */
  name: string;
}

/** A service's stop function (awaited at shutdown, in reverse start order). */
export type ServiceStop = () => Promise<void> | void;
export type ServiceStart = (ctx: ServiceContext) => Promise<ServiceStop | void> | ServiceStop | void;

/** What the framework reports as it runs: metrics and audits are built on this (`kit.observe`). */
export type AppSignal =
  | { type: 'delivery.accepted'; label: string; outcome: 'queued' | 'duplicate' | 'ignored' }
  | { type: 'delivery.rejected'; code: string }
  | { type: 'credentials'; route: 'install' | 'update' | 'oauth-callback'; outcome: string; memberId: string | null }
  | { type: 'rest.request'; status: number; errorCode: string | undefined }
  | { type: 'rest.retry'; reason: string }
  | { type: 'handler'; kind: string; outcome: 'ok' | 'error'; seconds: number }
  | { type: 'route'; path: string; outcome: 'ok' | 'unauthorized' | 'error' }
  /** A token refresh this process attempted: a new pair, or why not (`reason`, a short fixed list). */
  | { type: 'token.refresh'; memberId: string; outcome: 'refreshed' | 'failed'; reason: RefreshFailureReason | undefined };

/**
 * Told when a portal's state changes (see {@link AppKit.onPortalStateChange}). May be async; a
 * throw or rejection is logged and changes nothing.
 */
export type PortalStateHandler = (change: PortalStateChange) => unknown;

/** The verbs of an app and of every plugin. `S`: the settings type; `J`: job payloads by name. */
export interface AppKit<S extends Record<string, unknown> = Record<string, unknown>, J extends JobTypes = JobMap> {
  /** 'app', or the plugin's name. */
  readonly name: string;
  /**
   * Handles an event: once per owner (the app, each plugin). Several owners may handle one event:
   * each delivery runs a job per owner's handler, retried on its own (docs/app.md, "Several handlers of one event").
   */
  on<E extends string>(event: E, handler: EventHandler<E, S>, options?: EventOptions): this;
  job<N extends keyof J & string>(name: N, handler: UserJobHandler<J[N], S>, options?: JobOptions & { batch?: undefined }): this;
  /** A batch job type: the handler gets up to `options.batch.max` jobs of one portal and reports an outcome per job. */
  job<N extends keyof J & string>(name: N, handler: UserBatchJobHandler<J[N], S>, options: JobOptions & { batch: JobBatchOptions }): this;
  schedule(name: string, cron: string, handler: ScheduleHandler<S>, options?: ScheduleDefinitionOptions): this;
  robot(definition: RobotDefinition, handler: RobotHandler<S>): this;
  route(method: RouteMethod, path: string, handler: RouteHandler<S, J>, options?: RouteOptions): this;
  onInstall(hook: PortalHook<S>): this;
  onUpdate(hook: PortalHook<S>): this;
  onUninstall(hook: UninstallHook): this;
  /** Deletes the plugin's rows of a portal when it uninstalls with CLEAN (with the framework's own). */
  purgeOnUninstall(table: string, purge: PortalPurge): this;
  /** A long-running part that runs in processes playing `role` (started after the role, stopped before it). */
  service(role: ProcessRole, start: ServiceStart): this;
  /** Listens to the framework's signals (deliveries, credentials, REST exchanges, handler runs, token refreshes). */
  observe(listener: (signal: AppSignal) => void): this;
  /**
   * Called when a portal's state changes: installed or re-authorized (`active`), `needs_reauth`
   * (with the reason, e.g. the refresh token was refused) or `uninstalled`. Only in the process
   * that made the change, at most once per change, after it was stored; not re-delivered if this
   * process dies first. Errors are logged and never undo or block the change.
   */
  onPortalStateChange(handler: PortalStateHandler): this;
  enqueue<N extends keyof J & string>(memberId: string, name: N, payload: J[N], options?: EnqueueOptions): Promise<Job<J[N]>>;
  ingest<N extends keyof J & string>(memberId: string, job: N, externalId: string, payload: J[N], options?: IngestOptions): Promise<IngestResult<J[N]>>;
  /**
   * Records an event for a portal as if the portal had delivered it — for plugins that bring events
   * from another channel (the offline-events drain does): one transaction stores the inbox row,
   * deduplicated on `dedupeKey`, and a job per handler of the event (the app's and each plugin's;
   * `jobIds` lists them when there are several). `ignored` when no handler is declared.
   */
  deliverEvent(memberId: string, delivery: EventDelivery, options: { dedupeKey: string }): Promise<{ status: 'queued' | 'duplicate' | 'ignored'; jobId?: number; jobIds?: number[] }>;
}
