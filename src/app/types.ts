/**
 * The public vocabulary of an app: handlers and the context they run with. Every handler runs in
 * a job (at least once, see docs/app.md); `ctx.once` makes a side effect happen once per job.
 */
import type { Logger as PinoLogger } from 'pino';
import type { EventDelivery } from '../events/event-payload.js';
import type { EventDataOf } from '../events/event-types.js';
import type { BatchJobOutcome } from '../queue/batch-run.js';
import type { Json, JobTypeOptions } from '../queue/types.js';
import type { B24Client } from '../rest/client.js';
import type { ScheduledJobPayload } from '../scheduler/fire.js';
import type { CatchUpPolicy } from '../scheduler/slots.js';
import type { PortalState } from '../store/portals.js';
import type { RobotCallRecord } from '../robots/robot-request.js';
import type { Store } from '../store/types.js';

/** The portal a handler works for. No tokens: calls go through `ctx.b24`. */
export interface PortalView {
  memberId: string;
  domain: string;
  /** e.g. `https://acme.bitrix24.com/rest/` */
  clientEndpoint: string;
  scope: string[];
  /** App status letter (docs/protocol.md §2.8). */
  status: string;
  state: PortalState;
}

/** A portal's settings of one plugin (or of the app), validated by its schema. */
export interface PortalSettings<S extends Record<string, unknown> = Record<string, unknown>> {
  /** The values, checked against the schema (its defaults applied). Throws B24_ERR_SETTINGS when a required one is missing. */
  get(): Promise<S>;
  /** What is stored, unchecked: missing keys are absent. */
  peek(): Promise<Partial<S>>;
  /** Stores some values (checked against the schema's fields; secrets sealed). */
  set(values: Partial<S>): Promise<void>;
}

export interface HandlerContext<S extends Record<string, unknown> = Record<string, unknown>> {
  portal: PortalView;
  /** The declaring plugin's (or the app's) settings for this portal. */
  settings: PortalSettings<S>;
  /** The portal's REST client: tokens refreshed single-flight, inside the portal's rate limits. */
  b24: B24Client;
  /** A child logger carrying member_id, the job id and name (and the event for event handlers). */
  log: PinoLogger;
  /**
   * Runs `fn` once per job and key: its result is stored durably, so a retried or replayed job
   * gets the stored result back instead of running `fn` again. The result must be JSON (or
   * undefined). A throwing `fn` stores nothing.
   */
  once<T extends Json | void>(key: string, fn: () => Promise<T> | T): Promise<T>;
  job: { id: number; name: string; attempt: number; key: string | null };
  /** Aborted when this run no longer counts (lease lost, shutdown). Pass it to long calls. */
  signal: AbortSignal;
  /**
   * The app's store, for a plugin's own small tables (as `ServiceContext.store`): SQL that runs on
   * SQLite and PostgreSQL (docs/store.md), rows keyed by `portal.memberId`, deleted on an uninstall
   * with CLEAN through `purgeOnUninstall`. Not for the framework's own tables.
   */
  store: Store;
}

/** `event.data` is typed for the documented events (events/event-types.ts), `Json` for others. */
export interface EventContext<E extends string = string, S extends Record<string, unknown> = Record<string, unknown>> extends HandlerContext<S> {
  event: EventDelivery<EventDataOf<E>>;
}

export interface JobHandlerContext<P = Json, S extends Record<string, unknown> = Record<string, unknown>> extends HandlerContext<S> {
  payload: P;
}

export interface ScheduleContext<S extends Record<string, unknown> = Record<string, unknown>> extends HandlerContext<S> {
  schedule: ScheduledJobPayload;
}

/**
 * What a robot handler sees as `ctx.robot`: the call as the robots module parses it
 * (`parseRobotRequest`), with `auth` stripped of every token — `auth` keeps memberId, domain,
 * endpoints, scope, status and the robot's userId. `eventToken` stays (bizproc.event.send needs it).
 */
export type RobotCall = RobotCallRecord;

export interface RobotContext<S extends Record<string, unknown> = Record<string, unknown>> extends HandlerContext<S> {
  robot: RobotCall;
}

export type EventHandler<E extends string = string, S extends Record<string, unknown> = Record<string, unknown>> = (ctx: EventContext<E, S>) => unknown;
export type UserJobHandler<P = Json, S extends Record<string, unknown> = Record<string, unknown>> = (ctx: JobHandlerContext<P, S>) => unknown;
export type ScheduleHandler<S extends Record<string, unknown> = Record<string, unknown>> = (ctx: ScheduleContext<S>) => unknown;
/** Returns the robot's return values (sent with bizproc.event.send), or nothing. */
export type RobotHandler<S extends Record<string, unknown> = Record<string, unknown>> = (
  ctx: RobotContext<S>,
) => Promise<Record<string, Json> | void> | Record<string, Json> | void;

export interface EventOptions {
  /**
   * Bind the event offline (`event_type=offline`, docs/protocol.md §3.6): the portal queues it (the latest
   * state per object) instead of POSTing it, and the app drains the queue — on the ONOFFLINEEVENT
   * ping and on a schedule (`createApp({ offlineEvents })`). For events that must not be lost: an
   * online delivery that fails is never repeated. The handler runs as for online events; `ctx.event`
   * then carries `offline: {id, messageId, timestamp}` (see docs/app.md). The portal binds an event
   * one way: when the app and plugins handle the same event, they must all pass the same value.
   * @defaultValue false
   */
  offline?: boolean;
}

/**
 * A job type's retry policy (maxAttempts, baseDelayMs, capDelayMs, retryPermanentErrors:
 * queue/types.ts), and whether its jobs run in batches.
 */
export interface JobOptions extends JobTypeOptions {
  /**
   * Run the jobs in batches: the handler (a {@link UserBatchJobHandler}) gets up to `max` due jobs of
   * this name and ONE portal at a time, and reports an outcome per job (docs/app.md, "Batch jobs").
   * @defaultValue none: one job per handler call
   */
  batch?: JobBatchOptions;
}

export interface JobBatchOptions {
  /** Jobs per handler call at most (1–1000): a worker that claims one job of the type takes up to max − 1 more of the same portal. */
  max: number;
}

/** One job of a batch, as its handler sees it. */
export interface BatchItem<P = Json> {
  job: { id: number; name: string; attempt: number; key: string | null };
  payload: P;
}

/** What a batch job handler gets: one portal's context and its jobs (no `ctx.once`: it is per job). */
export interface BatchJobHandlerContext<P = Json, S extends Record<string, unknown> = Record<string, unknown>> extends Omit<HandlerContext<S>, 'once' | 'job'> {
  /** The batch, oldest first, all of `portal`. */
  items: ReadonlyArray<BatchItem<P>>;
}

/**
 * A batch job's handler: returns one outcome per item, in `ctx.items` order (`{ status: 'done', result }`,
 * `{ status: 'retry', error }` — as if that job alone had thrown it — or `{ status: 'dead', error }`).
 * A throw is every item's `retry` with that error.
 */
export type UserBatchJobHandler<P = Json, S extends Record<string, unknown> = Record<string, unknown>> = (
  ctx: BatchJobHandlerContext<P, S>,
) => Promise<ReadonlyArray<BatchJobOutcome | undefined>> | ReadonlyArray<BatchJobOutcome | undefined>;

export interface EnqueueOptions {
  /** Idempotency key: a second enqueue with the same (portal, job, key) returns the first job. */
  key?: string;
  /** Not before this instant, epoch ms. @defaultValue now */
  runAtMs?: number;
}

export interface ScheduleDefinitionOptions {
  /** IANA time zone. @defaultValue the portal's when known, else the app's default (UTC) */
  tz?: string;
  /** Slots missed while no scheduler ran: `skip` them, or run `once` for all. @defaultValue 'skip' */
  catchUp?: CatchUpPolicy;
  /** maxAttempts of each slot's job. @defaultValue the app's job default */
  maxAttempts?: number;
}

/** A robot (docs/protocol.md §7.1): the robots module's definition (src/robots/definition.ts); registered at install/update. */
export type { RobotDefinition, RobotPropertyInput as RobotProperty } from '../robots/definition.js';
