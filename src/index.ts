/**
 * The public surface of b24kit. Everything not listed here is internal.
 * test/exports.test.ts pins this list.
 */
export {
  Emulator,
  startEmulator,
  buildEmulatorServer,
  REALISTIC_COST,
  ZERO_COST,
  DEFAULT_LIMITS,
  ENTERPRISE_LIMITS,
  type RunningEmulator,
  type StartEmulatorOptions,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type CostModel,
  type PortalLimits,
  type BatchBilling,
} from './emulator/index.js';
export { loadConfig, type B24kitConfig, type DatabaseConfig } from './config/index.js';
export { openStore, isUniqueViolation, type OpenStoreOptions, type Store, type Transaction, type Queryable, type MigrationReport } from './store/index.js';
export { createSecretBox, parseSecretKey, resolveSecretKey, safeEqual, type SecretBox } from './store/crypto.js';
export {
  PortalRegistry,
  type PortalRegistryOptions,
  type PortalInfo,
  type PortalRecord,
  type PortalInstall,
  type PortalState,
  type PortalCleanup,
  type TokenPair,
} from './store/portals.js';
export { createTokenClient, type OAuthTokenClient, type OAuthTokenClientOptions, type OAuthTokens } from './oauth/token-client.js';
export { PortalTokenService, createPortalTokenProvider, type PortalTokenServiceOptions } from './oauth/portal-token-provider.js';
export { refreshIdlePortals, type KeepAliveOptions, type KeepAliveReport } from './oauth/keep-alive.js';
export { B24Error, ERROR_CODES, type ErrorCode, type B24ErrorDetails } from './errors.js';
export {
  B24Client,
  type B24ClientOptions,
  type CallOptions,
  type BatchOptions,
  type ListCallOptions,
  type CallResult,
  type BatchResult,
} from './rest/client.js';
export { StaticTokenProvider, WebhookProvider, type StaticTokenInput } from './rest/providers.js';
export {
  RateLimiter,
  InMemoryBucketStore,
  STANDARD_BUCKET,
  ENTERPRISE_BUCKET,
  bucketLimitsForLicense,
  type RateLimiterOptions,
  type BucketLimits,
  type BucketState,
  type BucketStateStore,
  type Reservation,
} from './rest/limiter.js';
export { StoreBucketStateStore, createStoreRateLimiter, type StoreBucketStateStoreOptions, type StoreRateLimiterOptions } from './rest/store-bucket.js';
export { OperatingTracker, type OperatingLimits, type RestTime } from './rest/operating.js';
export type { B24ClientEvent, B24ClientEventListener, B24Logger, Clock } from './rest/hooks.js';
export type { BatchCommand, BatchCommands } from './rest/batch.js';
export type { ListOptions, IdCursorShape } from './rest/list.js';
export type { BackoffPolicy } from './rest/retry.js';
export type { AccessGrant, TokenProvider } from './rest/token-provider.js';
export { createApp, B24App } from './app/create-app.js';
export { NonRetryableError } from './queue/errors.js';
export type { AppConfig } from './app/settings.js';
export type { Roles } from './app/processes.js';
export type { ReceiveOptions, ReceiveResult } from './app/receive.js';
export type {
  HandlerContext,
  EventContext,
  JobHandlerContext,
  ScheduleContext,
  RobotContext,
  PortalView,
  EventHandler,
  EventOptions,
  UserJobHandler,
  ScheduleHandler,
  RobotHandler,
  RobotDefinition,
  RobotProperty,
  JobOptions,
  EnqueueOptions,
  ScheduleDefinitionOptions,
} from './app/types.js';
export type { EventDelivery } from './events/event-payload.js';
export type { RobotCall } from './app/types.js';
export type { Job, JobState, AttemptRecord } from './queue/types.js';
