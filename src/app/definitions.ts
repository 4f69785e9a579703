/**
 * What an app and its plugins declare: event handlers, jobs, schedules, robots, routes, lifecycle
 * hooks, settings, purges, services and observers. Plain data, filled before the app opens; the
 * worker, the scheduler, the receivers, the web server and the bindings read it. Every entry
 * carries its owner ('app' or a plugin's name): handlers get the owner's settings.
 *
 * Events fan out: the app and each plugin may handle an event once, and a delivery runs one job per
 * owner's handler (job-names.ts), so a failing handler of one owner is retried without re-running
 * another owner's effects. An event is bound once per portal, online or (`{offline: true}`)
 * offline, never both: every owner that handles it must agree.
 */
import { B24Error } from '../errors.js';
import { OFFLINE_NOTIFY_EVENT } from '../events/bindings.js';
import { validateRobotDefinition } from '../robots/definition.js';
import { BUILTIN_PREFIX } from './plugin.js';
import { APP_OWNER, EVENT_NAME, JOB_NAME, RESERVED_PREFIX, ROBOT_CODE, jobNames } from './job-names.js';
import type { PortalHook, PortalPurge, PortalStateHandler, ProcessRole, RouteHandler, RouteMethod, RouteOptions, ServiceStart, SettingsDeclaration, AppSignal, UninstallHook } from './kit.js';
import type { EventHandler, EventOptions, JobOptions, RobotDefinition, RobotHandler, ScheduleDefinitionOptions, ScheduleHandler, UserBatchJobHandler, UserJobHandler } from './types.js';

export { APP_OWNER };

/** One owner's handler of an event, run as the job `jobName`. */
export interface EventHandlerEntry {
  handler: EventHandler<string, never>;
  owner: string;
  /** `event:NAME` for the app's, `event:NAME@plugin` for a plugin's (jobNames.event). */
  jobName: string;
}

export interface ScheduleEntry {
  name: string;
  cron: string;
  handler: ScheduleHandler<never>;
  options: ScheduleDefinitionOptions;
  owner: string;
}

export interface RouteEntry {
  method: RouteMethod;
  path: string;
  handler: RouteHandler<never, never>;
  options: RouteOptions;
  owner: string;
}

export interface ServiceEntry {
  role: ProcessRole;
  start: ServiceStart;
  owner: string;
}

/** App events the framework consumes itself, and the hook that runs after each. */
const APP_LIFECYCLE_HOOKS: Record<string, string | undefined> = { ONAPPINSTALL: 'onInstall(hook)', ONAPPUPDATE: 'onUpdate(hook)', ONAPPUNINSTALL: 'onUninstall(hook)' };

const ROUTE_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Paths the framework serves itself. */
const FRAMEWORK_PATHS = [/^\/(install|health|ready)$/, /^\/oauth\//, /^\/webhooks\//, /^\/robots\//];

export class AppDefinitions {
  /** The handlers of each event, one per owner, in registration order. */
  readonly events = new Map<string, EventHandlerEntry[]>();
  /** The events of `events` bound offline (drained from the portal's offline queue). */
  readonly offlineEvents = new Set<string>();
  /** A job's handler is a UserBatchJobHandler when its options have `batch`. */
  readonly jobs = new Map<string, { handler: UserJobHandler<never, never> | UserBatchJobHandler<never, never>; options: JobOptions; owner: string }>();
  readonly schedules = new Map<string, ScheduleEntry>();
  readonly robots = new Map<string, { definition: RobotDefinition; handler: RobotHandler<never>; owner: string }>();
  readonly routes: RouteEntry[] = [];
  readonly hooks = {
    install: [] as Array<{ hook: PortalHook<never>; owner: string }>,
    update: [] as Array<{ hook: PortalHook<never>; owner: string }>,
    uninstall: [] as Array<{ hook: UninstallHook; owner: string }>,
  };
  /** Settings schemas by namespace (owner). */
  readonly settings = new Map<string, SettingsDeclaration>();
  /** Purges of owners' tables, by table name. */
  readonly purges = new Map<string, { purge: PortalPurge; owner: string }>();
  readonly services: ServiceEntry[] = [];
  readonly observers: Array<(signal: AppSignal) => void> = [];
  /** `onPortalStateChange` handlers, by owner. */
  readonly stateHandlers: Array<{ handler: PortalStateHandler; owner: string }> = [];
  /** Registered plugin names. */
  readonly plugins = new Set<string>();

  on(event: string, handler: EventHandler<string, never>, options: EventOptions = {}, owner = APP_OWNER): void {
    check(typeof event === 'string' && EVENT_NAME.test(event), `event name "${String(event)}" is malformed`);
    const name = event.toUpperCase();
    check(typeof handler === 'function', `the handler of ${name} is not a function`);
    // the install and lifecycle routes consume these: a handler would never run
    const hook = APP_LIFECYCLE_HOOKS[name];
    check(hook === undefined, `${name} is handled by the framework: use ${hook} instead of on('${name}')`);
    const offline = options.offline === true;
    // ONOFFLINEEVENT is the offline queue's ping: it cannot be offline itself (docs/protocol.md §3.6), and
    // once offline events are declared the built-in offline-events plugin answers it with a drain
    check(!(name === OFFLINE_NOTIFY_EVENT && offline), `${OFFLINE_NOTIFY_EVENT} cannot be bound offline (docs/protocol.md §3.6)`);
    check(!(name === OFFLINE_NOTIFY_EVENT && !isBuiltin(owner) && this.offlineEvents.size > 0), `${OFFLINE_NOTIFY_EVENT} is handled by the framework when offline events are declared`);
    check(!(offline && this.events.has(OFFLINE_NOTIFY_EVENT)), `offline events need ${OFFLINE_NOTIFY_EVENT} for the framework: remove its handler`);
    const handlers = this.events.get(name) ?? [];
    // one job per owner (its name names the owner): a second handler of the same owner would share it
    check(!handlers.some((entry) => entry.owner === owner), `a handler for ${name} is already registered by ${ownerLabel(owner)}: one handler per event and owner`);
    if (handlers.length > 0) {
      // the portal binds an event once, online or offline (docs/protocol.md §3.6): the owners must agree
      const boundOffline = this.offlineEvents.has(name);
      check(
        boundOffline === offline,
        `${name} is bound ${boundOffline ? 'offline' : 'online'} by ${ownerLabel(handlers[0]!.owner)} but ${offline ? 'offline' : 'online'} by ${ownerLabel(owner)}: an event is bound one way for the whole app, so pass the same { offline } everywhere`,
      );
    }
    handlers.push({ handler, owner, jobName: jobNames.event(name, owner) });
    this.events.set(name, handlers);
    if (offline) this.offlineEvents.add(name);
  }

  /** Events bound online (every declared event but the offline ones). */
  onlineEvents(): string[] {
    return [...this.events.keys()].filter((name) => !this.offlineEvents.has(name));
  }

  job(name: string, handler: UserJobHandler<never, never> | UserBatchJobHandler<never, never>, options: JobOptions = {}, owner = APP_OWNER): void {
    check(typeof name === 'string' && JOB_NAME.test(name), `job name "${String(name)}" is malformed ([A-Za-z0-9._:-], at most 100)`);
    checkReserved(name, owner, 'job');
    const existing = this.jobs.get(name);
    check(!existing, `job ${name} is already registered${existing ? ` (by ${existing.owner})` : ''}`);
    check(typeof handler === 'function', `the handler of job ${name} is not a function`);
    const max = options.batch?.max;
    check(options.batch === undefined || (Number.isInteger(max) && max! >= 1 && max! <= 1000), `job ${name}: batch.max must be an integer from 1 to 1000`);
    this.jobs.set(name, { handler, options, owner });
  }

  schedule(name: string, cron: string, handler: ScheduleHandler<never>, options: ScheduleDefinitionOptions = {}, owner = APP_OWNER): void {
    check(typeof name === 'string' && JOB_NAME.test(name), `schedule name "${String(name)}" is malformed ([A-Za-z0-9._:-], at most 100)`);
    checkReserved(name, owner, 'schedule');
    check(!this.schedules.has(name), `schedule ${name} is already registered`);
    check(typeof handler === 'function', `the handler of schedule ${name} is not a function`);
    this.schedules.set(name, { name, cron, handler, options, owner });
  }

  robot(definition: RobotDefinition, handler: RobotHandler<never>, owner = APP_OWNER): void {
    check(typeof definition?.code === 'string' && ROBOT_CODE.test(definition.code), `robot code "${String(definition?.code)}" is malformed ([a-zA-Z0-9._-])`);
    check(!this.robots.has(definition.code), `robot ${definition.code} is already registered`);
    check(definition.name !== undefined && definition.name !== '', `robot ${definition.code} needs a name`);
    check(typeof handler === 'function', `the handler of robot ${definition.code} is not a function`);
    validateRobotDefinition(definition); // the robots module's rules (B24_ERR_INVALID_ARGUMENT)
    this.robots.set(definition.code, { definition, handler, owner });
  }

  route(method: string, path: string, handler: RouteHandler<never, never>, options: RouteOptions = {}, owner = APP_OWNER): void {
    const verb = typeof method === 'string' ? method.toUpperCase() : '';
    check(ROUTE_METHODS.has(verb), `route method "${String(method)}" is not one of ${[...ROUTE_METHODS].join(', ')}`);
    check(typeof path === 'string' && /^\/[A-Za-z0-9._~\-/:]*$/.test(path), `route path "${String(path)}" must start with / and use [A-Za-z0-9._~-/:]`);
    check(!FRAMEWORK_PATHS.some((pattern) => pattern.test(path)), `route path ${path} is the framework's`);
    check(typeof handler === 'function', `the handler of ${verb} ${path} is not a function`);
    const hasPortal = /(^|\/):memberId(\/|$)/.test(path);
    // a route that names a portal must say how a request proves it speaks for it (docs/plugins.md)
    check(!hasPortal || options.auth !== undefined, `route ${verb} ${path} has :memberId but no auth: pass { auth: auth.hmac(…) | auth.apiKey(…) | 'none' }`);
    check(options.auth === undefined || hasPortal, `route ${verb} ${path} has an auth but no :memberId: the auth checks a portal's secret`);
    if (options.auth !== undefined && options.auth !== 'none') {
      const settings = this.settings.get(owner);
      const key = options.auth.secretKey;
      check(settings !== undefined && hasKey(settings, key), `route ${verb} ${path}: its auth reads the setting ${key}, which ${owner}'s settings schema does not declare`);
    }
    check(!this.routes.some((route) => route.method === verb && route.path === path), `route ${verb} ${path} is already registered`);
    this.routes.push({ method: verb as RouteMethod, path, handler, options, owner });
  }

  declareSettings(owner: string, declaration: SettingsDeclaration): void {
    check(!this.settings.has(owner), `settings of ${owner} are already declared`);
    check(declaration !== null && typeof declaration === 'object' && typeof (declaration.schema as { safeParse?: unknown })?.safeParse === 'function', `settings of ${owner}: schema must be a zod schema`);
    const shape = (declaration.schema as { shape?: Record<string, unknown> }).shape;
    check(shape !== undefined, `settings of ${owner}: schema must be a z.object(…)`);
    for (const key of declaration.secrets ?? []) check(Object.hasOwn(shape, key), `settings of ${owner}: secret ${key} is not a key of the schema`);
    this.settings.set(owner, declaration);
  }

  purge(table: string, purge: PortalPurge, owner: string): void {
    check(typeof table === 'string' && /^[A-Za-z_][A-Za-z0-9_.]{0,99}$/.test(table), `purge table "${String(table)}" is malformed`);
    check(typeof purge === 'function', `the purge of ${table} is not a function`);
    check(!this.purges.has(table), `a purge of ${table} is already registered`);
    this.purges.set(table, { purge, owner });
  }

  service(role: ProcessRole, start: ServiceStart, owner: string): void {
    check(role === 'web' || role === 'worker' || role === 'scheduler', `service role "${String(role)}" is not web, worker or scheduler`);
    check(typeof start === 'function', `a service of ${owner} is not a function`);
    this.services.push({ role, start, owner });
  }

  plugin(name: string): void {
    check(name !== APP_OWNER && !this.plugins.has(name), `plugin ${name} is already registered`);
    this.plugins.add(name);
  }

  /** The jobs a delivery of `event` enqueues: one per owner's handler, none when nobody handles it. */
  jobNamesForEvent(event: string): string[] {
    return (this.events.get(event.toUpperCase()) ?? []).map((entry) => entry.jobName);
  }

  /** The job name of a robot call, or undefined for an unknown code. */
  jobNameForRobot(code: string): string | undefined {
    return this.robots.has(code) ? jobNames.robot(code) : undefined;
  }
}

/** `the app` or `plugin contacts`, for messages. */
function ownerLabel(owner: string): string {
  return owner === APP_OWNER ? 'the app' : `plugin ${owner}`;
}

function isBuiltin(owner: string): boolean {
  return owner.startsWith(BUILTIN_PREFIX);
}

function checkReserved(name: string, owner: string, what: string): void {
  check(isBuiltin(owner) || (!name.startsWith(RESERVED_PREFIX) && !name.startsWith(BUILTIN_PREFIX)), `${what} names starting with ${RESERVED_PREFIX} or ${BUILTIN_PREFIX} are the framework's`);
}

function hasKey(declaration: SettingsDeclaration, key: string): boolean {
  const shape = (declaration.schema as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && Object.hasOwn(shape, key);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new B24Error('B24_ERR_APP_DEFINITION', message);
}
