/**
 * `createApp()`: declare handlers, routes and plugins, then start the roles this process plays.
 *
 * ```ts
 * const app = createApp();
 * app.on('ONCRMDEALADD', async (ctx) => { const { result } = await ctx.b24.call('crm.deal.get', { id: ctx.event.data.FIELDS.ID }); … });
 * app.job('sync-contact', async (ctx) => …, { maxAttempts: 5 });
 * app.schedule('nightly', '0 3 * * *', async (ctx) => …, { catchUp: 'once' });
 * app.robot({ code: 'score', name: 'Score', returnProperties: { score: { Name: 'Score' } } }, async (ctx) => ({ score: 7 }));
 * app.register(myPlugin, { … });
 * await app.start(); // web + worker + scheduler; app.stop() on SIGTERM
 * ```
 *
 * B24App is a thin front: declarations live in AppDefinitions (the app's and every plugin's), the
 * parts in AppServices (opened once, lazily), the roles in processes.ts, the framework's own parts
 * in builtins/ as plugins.
 */
import { B24Error } from '../errors.js';
import type { EventDelivery } from '../events/event-payload.js';
import type { Job, Json } from '../queue/types.js';
import type { B24Client } from '../rest/client.js';
import type { RunningEmulator } from '../emulator/server.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './builtins/demo.js';
import { registerBuiltins } from './builtins/index.js';
import { AppDefinitions, APP_OWNER } from './definitions.js';
import { ingest } from './intake.js';
import { internals } from './internals.js';
import { jobNames } from './job-names.js';
import type { AppKit, AppSignal, IngestOptions, IngestResult, JobMap, JobTypes, PortalHook, PortalPurge, PortalStateHandler, ProcessRole, RouteHandler, RouteMethod, RouteOptions, ServiceStart, SettingsDeclaration, UninstallHook } from './kit.js';
import { mayRegister, type B24Plugin } from './plugin.js';
import { requireInstalledPortal } from './portal-gate.js';
import { createAppWorker, startRoles, type Roles, type RunningRoles } from './processes.js';
import { receiveInProcess, type ReceiveOptions, type ReceiveResult } from './receive.js';
import { openServices, type AppIntake, type AppServices } from './services.js';
import { resolveSettings, type AppConfig, type ResolvedSettings } from './settings.js';
import type {
  EnqueueOptions,
  EventHandler,
  EventOptions,
  JobOptions,
  PortalSettings,
  RobotDefinition,
  RobotHandler,
  ScheduleDefinitionOptions,
  ScheduleHandler,
  UserJobHandler,
  UserBatchJobHandler,
  JobBatchOptions,
} from './types.js';

/** Types an app may declare: job payloads by name, and its settings (`createApp<{ jobs: …; settings: … }>()`). */
export interface AppTypes {
  jobs?: JobTypes;
  settings?: Record<string, unknown>;
}
type JobsOf<T extends AppTypes> = T['jobs'] extends JobTypes ? T['jobs'] : JobMap;
type SettingsOf<T extends AppTypes> = T['settings'] extends Record<string, unknown> ? T['settings'] : Record<string, unknown>;

export class B24App<T extends AppTypes = AppTypes> implements AppKit<SettingsOf<T>, JobsOf<T>> {
  readonly name = APP_OWNER;
  readonly #settings: ResolvedSettings;
  readonly #definitions = new AppDefinitions();
  #services: Promise<AppServices> | undefined;
  #opened: AppServices | undefined;
  #roles: RunningRoles | undefined;
  #builtins = false;
  /** True once the app began opening: job types, routes and purges are wired then, for good. */
  readonly #isOpened = (): boolean => this.#services !== undefined;
  /** The app's own declarations go through the same kit as a plugin's, under the app's name. */
  readonly #kit = new PluginKit(APP_OWNER, this.#definitions, this as unknown as B24App, this.#isOpened);
  /** `start({ keepAlivePattern })`, which wins over the app's. */
  #keepAlivePattern: string | undefined;
  #demoEmulator: RunningEmulator | undefined;

  constructor(config: AppConfig<SettingsOf<T>> = {}) {
    this.#settings = resolveSettings(config as unknown as AppConfig<never>);
    if (config.settings) this.#definitions.declareSettings(APP_OWNER, config.settings as unknown as SettingsDeclaration);
    internals.set(this, { definitions: this.#definitions, settings: this.#settings, services: () => this.#open() });
  }

  /** True when no client_id is configured: `start()` runs against an in-process emulator. */
  get demo(): boolean {
    return this.#settings.demo;
  }

  /** The listening URL once `start({ web: true })` resolved. */
  get url(): string | undefined {
    return this.#roles?.url;
  }

  /**
   * Handles an event (e.g. `ONCRMDEALADD`, case-insensitive; `ctx.event.data` is typed for the
   * documented events). One handler per event for the app; its plugins may handle the same event,
   * each delivery then runs one job per handler (docs/app.md, "Several handlers of one event"). With `{ offline: true }`
   * the event is bound offline and drained from the portal's queue.
   */
  on<E extends string>(event: E, handler: EventHandler<E, SettingsOf<T>>, options: EventOptions = {}): this {
    this.#kit.on(event, handler as unknown as EventHandler<string, never>, options);
    return this;
  }

  /** Declares a job type; `enqueue` and `ingest` run it per portal. */
  job<N extends keyof JobsOf<T> & string>(name: N, handler: UserJobHandler<JobsOf<T>[N], SettingsOf<T>>, options?: JobOptions & { batch?: undefined }): this;
  /** Declares a batch job type: the handler gets up to `options.batch.max` jobs of one portal and reports an outcome per job. */
  job<N extends keyof JobsOf<T> & string>(name: N, handler: UserBatchJobHandler<JobsOf<T>[N], SettingsOf<T>>, options: JobOptions & { batch: JobBatchOptions }): this;
  job(name: string, handler: UserJobHandler<never, never> | UserBatchJobHandler<never, never>, options: JobOptions = {}): this {
    this.#kit.declareJob(name, handler, options);
    return this;
  }

  /** Runs `handler` per active portal at each fire time of `cron` (croner syntax, 5 or 6 fields). */
  schedule(name: string, cron: string, handler: ScheduleHandler<SettingsOf<T>>, options: ScheduleDefinitionOptions = {}): this {
    this.#kit.schedule(name, cron, handler as unknown as ScheduleHandler<never>, options);
    return this;
  }

  /** Declares a robot (registered with each portal at install/update) and its handler. */
  robot(definition: RobotDefinition, handler: RobotHandler<SettingsOf<T>>): this {
    this.#kit.robot(definition, handler as unknown as RobotHandler<never>);
    return this;
  }

  /** An HTTP route on the app's server. A path with `:memberId` needs `{ auth }` (docs/plugins.md). */
  route(method: RouteMethod, path: string, handler: RouteHandler<SettingsOf<T>, JobsOf<T>>, options: RouteOptions = {}): this {
    this.#kit.route(method, path, handler as unknown as RouteHandler<never, never>, options);
    return this;
  }

  /** Runs after a portal installs the app (and after a first code exchange). */
  onInstall(hook: PortalHook<SettingsOf<T>>): this {
    this.#kit.onInstall(hook as unknown as PortalHook<never>);
    return this;
  }

  /** Runs after every app update (ONAPPUPDATE). */
  onUpdate(hook: PortalHook<SettingsOf<T>>): this {
    this.#kit.onUpdate(hook as unknown as PortalHook<never>);
    return this;
  }

  /** Runs after a portal uninstalled the app (before the CLEAN purge). */
  onUninstall(hook: UninstallHook): this {
    this.#kit.onUninstall(hook);
    return this;
  }

  purgeOnUninstall(table: string, purge: PortalPurge): this {
    this.#kit.purgeOnUninstall(table, purge);
    return this;
  }

  service(role: ProcessRole, start: ServiceStart): this {
    this.#kit.service(role, start);
    return this;
  }

  observe(listener: (signal: AppSignal) => void): this {
    this.#kit.observe(listener);
    return this;
  }

  /** Called when a portal's state changes, in the process that changed it (docs/operations.md). */
  onPortalStateChange(handler: PortalStateHandler): this {
    this.#kit.onPortalStateChange(handler);
    return this;
  }

  /** Adds a plugin: its handlers, routes, hooks, settings and services join the app's. Before `init()`/`start()`. */
  register<O, S extends Record<string, unknown>, J extends JobTypes>(plugin: B24Plugin<O, S, J>, ...options: O extends void ? [options?: O] : [options: O]): this {
    this.#assertNotOpened('register');
    if (typeof plugin?.name !== 'string' || typeof plugin.setup !== 'function') throw new B24Error('B24_ERR_APP_DEFINITION', 'app.register: not a plugin (use definePlugin)');
    if (!mayRegister(plugin)) throw new B24Error('B24_ERR_APP_DEFINITION', `plugin ${plugin.name}: names starting with b24kit. are the framework's`);
    this.#definitions.plugin(plugin.name);
    if (plugin.settings) this.#definitions.declareSettings(plugin.name, plugin.settings as SettingsDeclaration);
    plugin.setup(new PluginKit(plugin.name, this.#definitions, this as B24App, this.#isOpened) as unknown as AppKit<S, J>, options[0] as O);
    return this;
  }

  /** Enqueues a declared job for an installed portal. With `key`, a second enqueue returns the first job. */
  async enqueue<N extends keyof JobsOf<T> & string>(memberId: string, name: N, payload: JobsOf<T>[N], options: EnqueueOptions = {}): Promise<Job<JobsOf<T>[N]>> {
    this.#assertJob(name);
    const services = await this.#open();
    await requireInstalledPortal(services.portals, memberId);
    const { job } = await services.queue.enqueue(services.store, {
      memberId,
      name: jobNames.job(name),
      payload,
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.runAtMs !== undefined ? { runAtMs: options.runAtMs } : {}),
    });
    return job;
  }

  /**
   * Hands an item from an outside source (an order, a contact) to job `job`, idempotently per
   * (portal, job, externalId): a resend answers with the same job, a changed payload supersedes a
   * pending one, a dead one runs again (the rule: docs/plugins.md, intake.ts).
   */
  async ingest<N extends keyof JobsOf<T> & string>(memberId: string, job: N, externalId: string, payload: JobsOf<T>[N], options: IngestOptions = {}): Promise<IngestResult<JobsOf<T>[N]>> {
    this.#assertJob(job);
    const services = await this.#open();
    await requireInstalledPortal(services.portals, memberId);
    return ingest({ store: services.store, queue: services.queue, nowMs: this.#settings.nowMs }, { memberId, jobName: jobNames.job(job), externalId, payload, version: options.version });
  }

  async deliverEvent(memberId: string, delivery: EventDelivery, options: { dedupeKey: string }): Promise<{ status: 'queued' | 'duplicate' | 'ignored'; jobId?: number; jobIds?: number[] }> {
    const services = await this.#open();
    await requireInstalledPortal(services.portals, memberId);
    // one job per owner's handler, as for a delivery the receiver takes (fan-out)
    const jobs = this.#definitions.jobNamesForEvent(delivery.event).map((name) => ({ name, payload: delivery as unknown as Json }));
    return services.inbox.record({ memberId, dedupeKey: options.dedupeKey, event: delivery.event.toUpperCase(), ...(jobs.length > 0 ? { jobs } : {}) });
  }

  /** A portal's settings (the app's, or a plugin's with `namespace`). `set` needs an installed portal. */
  settings<S extends Record<string, unknown> = SettingsOf<T>>(memberId: string, namespace: string = APP_OWNER): PortalSettings<S> {
    const accessor = async () => (await this.#open()).values.for<S>(memberId, namespace);
    return {
      get: async () => (await accessor()).get(),
      peek: async () => (await accessor()).peek(),
      set: async (values) => {
        // no settings for a portal that is not installed here: nothing would ever purge them
        await requireInstalledPortal((await this.#open()).portals, memberId);
        await (await accessor()).set(values);
      },
    };
  }

  /** The REST client of a stored portal (shared with handlers). Needs `init()` or `start()` first. */
  client(memberId: string): B24Client {
    if (!this.#opened) throw new B24Error('B24_ERR_APP_NOT_STARTED');
    return this.#opened.clients.get(memberId);
  }

  /** Opens the store and the parts without starting any role (scripts, tests, `receive`). */
  async init(): Promise<void> {
    await this.#open();
  }

  /** Starts the roles of this process. @defaultValue all three */
  async start(roles: Roles = {}): Promise<this> {
    if (this.#roles) throw new B24Error('B24_ERR_APP_DEFINITION', 'the app is already started');
    if (roles.keepAlivePattern !== undefined) this.#keepAlivePattern = roles.keepAlivePattern;
    const services = await this.#open();
    this.#roles = await startRoles(this.#settings, this.#definitions, services, roles);
    return this;
  }

  /** Graceful stop: no new work, running jobs finish or are released, then the store closes. */
  async stop(): Promise<void> {
    const roles = this.#roles;
    this.#roles = undefined;
    await roles?.stop();
    const services = this.#opened;
    this.#opened = undefined;
    this.#services = undefined;
    await services?.close();
  }

  /** An event through the whole pipeline in-process (see receive.ts). */
  async receive(payload: Record<string, unknown> | string, options: ReceiveOptions = {}): Promise<ReceiveResult> {
    const services = await this.#open();
    return receiveInProcess(
      { receiver: services.receiver, queue: services.queue, worker: this.#roles?.worker, makeWorker: () => createAppWorker(this.#settings, this.#definitions, services, { pollIntervalMs: 20 }) },
      payload,
      options,
    );
  }

  #open(): Promise<AppServices> {
    this.#services ??= this.#openParts().then(
      (services) => (this.#opened = services),
      (error: unknown) => {
        this.#services = undefined;
        throw error;
      },
    );
    return this.#services;
  }

  async #openParts(): Promise<AppServices> {
    const settings = this.#settings;
    if (!this.#builtins) {
      // the framework's parts join last: they see everything the app and its plugins declared
      this.#builtins = true;
      registerBuiltins(this as B24App, settings, {
        offlineEvents: this.#definitions.offlineEvents.size > 0,
        keepAlivePattern: () => this.#keepAlivePattern ?? settings.config.keepAlivePattern,
        demoEmulator: () => this.#demoEmulator,
      });
    }
    // what route handlers call as ctx.ingest / ctx.enqueue: the app's own, untyped at this seam
    const app = this as unknown as B24App;
    const intake: AppIntake = {
      ingest: (memberId, job, externalId, payload, options) => app.ingest(memberId, job, externalId, payload, options),
      enqueue: (memberId, job, payload, options) => app.enqueue(memberId, job, payload, options),
    };
    if (!settings.demo) {
      const credentials = { clientId: settings.clientId!, clientSecret: settings.clientSecret!, oauthUrl: settings.oauthUrl, oauthUrlOverride: settings.oauthUrlOverride };
      return openServices(settings, this.#definitions, credentials, intake);
    }
    // demo mode: the emulator is the OAuth server and the portal (loaded only now, never by a production app)
    const { startDemoEmulator } = await import('./builtins/demo-emulator.js');
    const emulator = await startDemoEmulator({ port: settings.demoEmulatorPort, logger: settings.logger });
    this.#demoEmulator = emulator;
    // the banner (builtins/demo.ts) says it once, with every URL, when the demo portal is installed
    settings.logger.debug({ emulatorUrl: emulator.url }, `demo emulator listening at ${emulator.url}`);
    try {
      const credentials = { clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, oauthUrl: emulator.url, oauthUrlOverride: true };
      const services = await openServices(settings, this.#definitions, credentials, intake);
      const close = services.close;
      return { ...services, close: async () => void (await close(), await emulator.close()) };
    } catch (error) {
      await emulator.close();
      throw error;
    }
  }

  #assertJob(name: string): void {
    if (!this.#definitions.jobs.has(name)) throw new B24Error('B24_ERR_APP_DEFINITION', `job ${name} is not declared (app.job)`);
  }

  #assertNotOpened(what: string): void {
    if (this.#isOpened()) throw new B24Error('B24_ERR_APP_DEFINITION', `app.${what}() must be called before init()/start()`);
  }
}

/** What a plugin's `setup` gets: the app's verbs, recorded under the plugin's name. */
class PluginKit {
  constructor(
    readonly name: string,
    readonly definitions: AppDefinitions,
    readonly app: B24App,
    /** Whether the app began opening: job types, routes and purges are wired then, so later ones are refused, not silently ignored. */
    readonly isOpened: () => boolean,
  ) {}

  #assertNotOpened(what: string): void {
    if (!this.isOpened()) return;
    const who = this.name === APP_OWNER ? 'app' : `plugin ${this.name}: kit`;
    throw new B24Error('B24_ERR_APP_DEFINITION', `${who}.${what}() must be called before init()/start()`);
  }

  on(event: string, handler: EventHandler<string, never>, options: EventOptions = {}): this {
    this.definitions.on(event, handler, options, this.name);
    return this;
  }

  job(name: string, handler: UserJobHandler<never, never>, options?: JobOptions & { batch?: undefined }): this;
  job(name: string, handler: UserBatchJobHandler<never, never>, options: JobOptions & { batch: JobBatchOptions }): this;
  job(name: string, handler: UserJobHandler<never, never> | UserBatchJobHandler<never, never>, options: JobOptions = {}): this {
    return this.declareJob(name, handler, options);
  }

  /** `job` without the overloads (the app's own `job` forwards here). */
  declareJob(name: string, handler: UserJobHandler<never, never> | UserBatchJobHandler<never, never>, options: JobOptions = {}): this {
    this.#assertNotOpened('job');
    this.definitions.job(name, handler, options, this.name);
    return this;
  }

  schedule(name: string, cron: string, handler: ScheduleHandler<never>, options: ScheduleDefinitionOptions = {}): this {
    this.definitions.schedule(name, cron, handler, options, this.name);
    return this;
  }

  robot(definition: RobotDefinition, handler: RobotHandler<never>): this {
    this.definitions.robot(definition, handler, this.name);
    return this;
  }

  route(method: RouteMethod, path: string, handler: RouteHandler<never, never>, options: RouteOptions = {}): this {
    this.#assertNotOpened('route');
    this.definitions.route(method, path, handler, options, this.name);
    return this;
  }

  onInstall(hook: PortalHook<never>): this {
    this.definitions.hooks.install.push({ hook, owner: this.name });
    return this;
  }

  onUpdate(hook: PortalHook<never>): this {
    this.definitions.hooks.update.push({ hook, owner: this.name });
    return this;
  }

  onUninstall(hook: UninstallHook): this {
    this.definitions.hooks.uninstall.push({ hook, owner: this.name });
    return this;
  }

  purgeOnUninstall(table: string, purge: PortalPurge): this {
    this.#assertNotOpened('purgeOnUninstall');
    this.definitions.purge(table, purge, this.name);
    return this;
  }

  service(role: ProcessRole, start: ServiceStart): this {
    this.definitions.service(role, start, this.name);
    return this;
  }

  observe(listener: (signal: AppSignal) => void): this {
    this.definitions.observers.push(listener);
    return this;
  }

  onPortalStateChange(handler: PortalStateHandler): this {
    this.definitions.stateHandlers.push({ handler, owner: this.name });
    return this;
  }

  enqueue(memberId: string, name: string, payload: Json, options?: EnqueueOptions): Promise<Job<Json>> {
    return this.app.enqueue(memberId, name, payload, options);
  }

  ingest(memberId: string, job: string, externalId: string, payload: Json, options?: IngestOptions): Promise<IngestResult<Json>> {
    return this.app.ingest(memberId, job, externalId, payload, options);
  }

  deliverEvent(memberId: string, delivery: EventDelivery, options: { dedupeKey: string }): Promise<{ status: 'queued' | 'duplicate' | 'ignored'; jobId?: number }> {
    return this.app.deliverEvent(memberId, delivery, options);
  }
}

/** Creates an app. Without arguments every setting comes from the environment (config/index.ts). */
export function createApp<T extends AppTypes = AppTypes>(config: AppConfig<SettingsOf<T>> = {}): B24App<T> {
  return new B24App<T>(config);
}
