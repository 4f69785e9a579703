/**
 * `createApp()`: declare handlers, then start the roles this process plays.
 *
 * ```ts
 * const app = createApp();
 * app.on('ONCRMDEALADD', async (ctx) => { const { result } = await ctx.b24.call('crm.deal.get', { id: ctx.event.data.FIELDS.ID }); … });
 * app.job('sync-contact', async (ctx) => …, { maxAttempts: 5 });
 * app.schedule('nightly', '0 3 * * *', async (ctx) => …, { catchUp: 'once' });
 * app.robot({ code: 'score', name: 'Score', returnProperties: { score: { Name: 'Score' } } }, async (ctx) => ({ score: 7 }));
 * await app.start(); // web + worker + scheduler; app.stop() on SIGTERM
 * ```
 *
 * B24App is a thin front: declarations live in AppDefinitions, the parts in AppServices (opened
 * once, lazily), the roles in processes.ts, the in-process pipeline in receive.ts.
 */
import { B24Error } from '../errors.js';
import type { Job } from '../queue/index.js';
import type { Json } from '../queue/types.js';
import type { B24Client } from '../rest/client.js';
import { AppDefinitions } from './definitions.js';
import { jobNames } from './job-names.js';
import { AppMetrics } from './metrics.js';
import { createAppWorker, startRoles, type Roles, type RunningRoles } from './processes.js';
import { receiveInProcess, type ReceiveOptions, type ReceiveResult } from './receive.js';
import { openServices, type AppServices } from './services.js';
import { resolveSettings, type AppConfig, type ResolvedSettings } from './settings.js';
import type {
  EnqueueOptions,
  EventHandler,
  EventOptions,
  JobOptions,
  RobotDefinition,
  RobotHandler,
  ScheduleDefinitionOptions,
  ScheduleHandler,
  UserJobHandler,
} from './types.js';

export class B24App {
  readonly #settings: ResolvedSettings;
  readonly #definitions = new AppDefinitions();
  readonly metrics: AppMetrics;
  #services: Promise<AppServices> | undefined;
  #opened: AppServices | undefined;
  #roles: RunningRoles | undefined;

  constructor(config: AppConfig = {}) {
    this.#settings = resolveSettings(config);
    this.metrics = new AppMetrics({ queue: () => this.#opened?.queue, portals: () => this.#opened?.runtime.portals });
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
   * Handles an event (e.g. `ONCRMDEALADD`, case-insensitive). One handler per event. With
   * `{ offline: true }` the event is bound offline and drained from the portal's queue.
   */
  on(event: string, handler: EventHandler, options: EventOptions = {}): this {
    this.#definitions.on(event, handler, options);
    return this;
  }

  /** Declares a job type; `enqueue` runs it per portal. */
  job<P = Json>(name: string, handler: UserJobHandler<P>, options: JobOptions = {}): this {
    this.#assertNotOpened('job');
    this.#definitions.job(name, handler as UserJobHandler<never>, options);
    return this;
  }

  /** Runs `handler` per active portal at each fire time of `cron` (croner syntax, 5 or 6 fields). */
  schedule(name: string, cron: string, handler: ScheduleHandler, options: ScheduleDefinitionOptions = {}): this {
    this.#definitions.schedule(name, cron, handler, options);
    return this;
  }

  /** Declares a robot (registered with each portal at install/update) and its handler. */
  robot(definition: RobotDefinition, handler: RobotHandler): this {
    this.#definitions.robot(definition, handler);
    return this;
  }

  /** Enqueues a declared job for a portal. With `key`, a second enqueue returns the first job. */
  async enqueue<P extends Json>(memberId: string, name: string, payload: P, options: EnqueueOptions = {}): Promise<Job<P>> {
    if (!this.#definitions.jobs.has(name)) throw new B24Error('B24_ERR_APP_DEFINITION', `job ${name} is not declared (app.job)`);
    const services = await this.init();
    const { job } = await services.queue.enqueue(services.store, {
      memberId,
      name: jobNames.job(name),
      payload,
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.runAtMs !== undefined ? { runAtMs: options.runAtMs } : {}),
    });
    return job;
  }

  /** The REST client of a stored portal (shared with handlers). Needs `init()` or `start()` first. */
  client(memberId: string): B24Client {
    if (!this.#opened) throw new B24Error('B24_ERR_APP_NOT_STARTED');
    return this.#opened.clients.get(memberId);
  }

  /** Opens the store and the parts without starting any role (scripts, tests, `receive`). */
  init(): Promise<AppServices> {
    this.#services ??= openServices(this.#settings, this.#definitions, this.metrics).then(
      (services) => (this.#opened = services),
      (error: unknown) => {
        this.#services = undefined;
        throw error;
      },
    );
    return this.#services;
  }

  /** Starts the roles of this process. @defaultValue all three */
  async start(roles: Roles = {}): Promise<this> {
    if (this.#roles) throw new B24Error('B24_ERR_APP_DEFINITION', 'the app is already started');
    const services = await this.init();
    this.#roles = await startRoles(this.#settings, this.#definitions, services, this.metrics, roles);
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
    const services = await this.init();
    return receiveInProcess({ receiver: services.receiver, queue: services.queue, worker: this.#roles?.worker, makeWorker: () => createAppWorker(this.#settings, this.#definitions, services, this.metrics, { pollIntervalMs: 20 }) }, payload, options);
  }

  #assertNotOpened(what: string): void {
    // job types' retry policies are given to the queue when it is built
    if (this.#opened) throw new B24Error('B24_ERR_APP_DEFINITION', `app.${what}() must be called before init()/start()`);
  }
}

/** Creates an app. Without arguments every setting comes from the environment (config/index.ts). */
export function createApp(config: AppConfig = {}): B24App {
  return new B24App(config);
}
