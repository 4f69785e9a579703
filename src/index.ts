/**
 * `b24kit`: what an app is written with — the app and its plugins, the REST client, the errors —
 * and the types they speak. Nothing here loads the emulator or the store's test battery; the
 * lower layers live behind subpaths:
 *
 * - `b24kit/emulator`: the Bitrix24 emulator (src/emulator/index.ts);
 * - `b24kit/store`: the store, secrets, the portal registry and the store contract battery (src/store/public.ts);
 * - `b24kit/rest`: rate limiter, bucket stores, operating tracker, token providers (src/rest/public.ts);
 * - `b24kit/testing`: an app and an emulator in one process, for tests (src/testing/index.ts).
 *
 * test/exports.test.ts pins every list, and caps this one at 25 runtime values.
 */

// -- the app
export {
  /** Creates an app; every setting not given comes from the environment. */
  createApp,
  /** The app `createApp` returns: `on`, `job`, `schedule`, `robot`, `enqueue`, `start`, `stop`, `receive`. */
  B24App,
} from './app/create-app.js';
export {
  /** Declares a plugin (name, settings, `setup(kit, options)`), checking its name and keeping its types. */
  definePlugin,
  type B24Plugin,
} from './app/plugin.js';
export {
  /** How an app route authenticates a portal's caller: `auth.hmac({...})`, `auth.apiKey({...})`. */
  auth,
  type HmacAuthOptions,
  type ApiKeyAuthOptions,
  type RouteAuth,
} from './app/route-auth.js';
export {
  /** Reads and validates the environment (B24_CLIENT_ID, DATABASE_URL, …): what `createApp` does when `env` is not given. */
  loadConfig,
  type B24kitConfig,
  type DatabaseConfig,
} from './config/index.js';
export type { AppConfig, OfflineEventsConfig, RetentionConfig } from './app/settings.js';
export type { AppRestOptions } from './app/clients.js';
export type { Roles } from './app/processes.js';
export type { ReceiveOptions, ReceiveResult } from './app/receive.js';
export type {
  HandlerContext,
  EventContext,
  JobHandlerContext,
  ScheduleContext,
  RobotContext,
  RobotCall,
  PortalView,
  PortalSettings,
  EventHandler,
  EventOptions,
  UserJobHandler,
  UserBatchJobHandler,
  BatchJobHandlerContext,
  BatchItem,
  JobBatchOptions,
  ScheduleHandler,
  RobotHandler,
  RobotDefinition,
  RobotProperty,
  JobOptions,
  EnqueueOptions,
  ScheduleDefinitionOptions,
} from './app/types.js';
export type {
  AppKit,
  AppSignal,
  JobMap,
  SettingsDeclaration,
  IngestOptions,
  IngestResult,
  RouteMethod,
  RouteOptions,
  RouteContext,
  RouteHandler,
  PortalHook,
  PortalHookContext,
  UninstallHook,
  UninstallHookContext,
  PortalPurge,
  ProcessRole,
  ServiceContext,
  ServiceStart,
  ServiceStop,
  PortalDirectory,
  JobDirectory,
  PortalStateHandler,
  PortalTokenTimes,
  DeadLetterCount,
  EventDirectory,
  EventMinute,
  LimitDirectory,
  BucketView,
  OperatingView,
  Declaration,
} from './app/kit.js';
export type { MetricsConfig } from './app/builtins/metrics.js';
export type { PortalState, PortalStateChange, PortalStateReason } from './store/portals.js';
export type { RefreshFailureReason } from './oauth/refresh-failure.js';
export type { EventDelivery } from './events/event-payload.js';
export type { EventPayloads, EventDataOf } from './events/event-types.js';
export type { Job, JobState, AttemptRecord, Json } from './queue/types.js';
export type { BatchJobOutcome } from './queue/batch-run.js';
export type { ScheduledJobPayload } from './scheduler/fire.js';

// -- the REST client
export {
  /** A REST client for one portal: `call`, `batch`, `list`, inside the portal's limits. `B24Client.fromWebhook(url)` / `fromToken({...})` build one. */
  B24Client,
  type B24ClientOptions,
  type CallOptions,
  type BatchOptions,
  type ListCallOptions,
  type CallResult,
  type BatchResult,
} from './rest/client.js';
export type { StaticTokenInput } from './rest/providers.js';
export type { AccessGrant, TokenProvider } from './rest/token-provider.js';
export type { B24ClientEvent, B24ClientEventListener, B24Logger, Clock } from './rest/hooks.js';
export type { BatchCommand, BatchCommands } from './rest/batch.js';
export type { ListOptions, IdCursorShape } from './rest/list.js';
export type { BackoffPolicy } from './rest/retry.js';
export type { BucketLimits } from './rest/limiter.js';
export type { OperatingLimits, RestTime } from './rest/operating.js';

// -- errors
export {
  /** The error every part of b24kit throws; `code` is stable (one of ERROR_CODES). */
  B24Error,
  /** Every error code with its default message: `B24_ERR_RATE_LIMITED`, `B24_ERR_TOKEN_REVOKED`, … */
  ERROR_CODES,
  type ErrorCode,
  type B24ErrorDetails,
} from './errors.js';
export {
  /** Thrown by a handler: retrying cannot help, the job goes dead at once (B24_ERR_JOB_NON_RETRYABLE). */
  NonRetryableError,
} from './queue/errors.js';
