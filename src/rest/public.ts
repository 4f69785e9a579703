/**
 * `b24kit/rest`: the parts under `B24Client` and under an app's portals, for people assembling
 * their own runtime — the leaky-bucket limiter and where its state lives, the operating-budget
 * tracker, token providers, the OAuth token client, the store-backed token service with its
 * single-flight refresh, and the keep-alive (docs/rest.md, docs/portals.md). An app built with
 * `createApp` needs none of it. test/exports.test.ts pins this list.
 */
export {
  /** Per-portal leaky buckets; share ONE between all clients of an app so they draw from one budget. */
  RateLimiter,
  /** Bucket state in this process's memory (the limiter's default). */
  InMemoryBucketStore,
  /** A non-Enterprise portal's bucket: drains 2 requests/s, burst 50. */
  STANDARD_BUCKET,
  /** An Enterprise portal's bucket: drains 5 requests/s, burst 250. */
  ENTERPRISE_BUCKET,
  /** The bucket of a plan, from `app.info`'s LICENSE_FAMILY. */
  bucketLimitsForLicense,
  type RateLimiterOptions,
  type BucketLimits,
  type BucketState,
  type BucketStateStore,
  type Reservation,
} from './limiter.js';
export {
  /** Bucket state in the store, shared by every process on it. */
  StoreBucketStateStore,
  /** A RateLimiter over the store's bucket state: what an app's clients share across processes. */
  createStoreRateLimiter,
  type StoreBucketStateStoreOptions,
  type StoreRateLimiterOptions,
} from './store-bucket.js';
export {
  /** The per-method operating budget (480 s per 10 minutes), learned from each answer's `time`. */
  OperatingTracker,
  type OperatingGrant,
  type OperatingLimits,
  type OperatingTrackerOptions,
  type RestTime,
} from './operating.js';
export type { OperatingReservation, OperatingStateStore, SharedOperatingState } from './operating-share.js';
export {
  /** Operating budgets in the store, shared by every process on it (an OperatingTracker's `store`). */
  StoreOperatingStateStore,
  /** An OperatingTracker over the store's budgets: every process on it paces each method together. */
  createStoreOperatingTracker,
  type StoreOperatingTrackerOptions,
} from './store-operating.js';
export {
  /** A fixed access token, optionally with a refresh callback (`B24Client.fromToken` uses it). */
  StaticTokenProvider,
  /** An incoming webhook URL as the credential (`B24Client.fromWebhook` uses it). */
  WebhookProvider,
  type StaticTokenInput,
} from './providers.js';
export type { AccessGrant, TokenProvider } from './token-provider.js';
export {
  /** The OAuth token endpoint: exchanges an authorization code, refreshes a token pair. */
  createTokenClient,
  type OAuthTokenClient,
  type OAuthTokenClientOptions,
  type OAuthTokens,
} from '../oauth/token-client.js';
export {
  /** Stored portals' tokens, refreshed ahead of expiry, once across processes (lease + compare-and-swap). */
  PortalTokenService,
  /** The TokenProvider of one stored portal, over a PortalTokenService. */
  createPortalTokenProvider,
  type PortalTokenServiceOptions,
} from '../oauth/portal-token-provider.js';
export {
  /** Refreshes portals idle for 7 days, so that their refresh tokens do not expire. */
  refreshIdlePortals,
  type KeepAliveOptions,
  type KeepAliveReport,
} from '../oauth/keep-alive.js';
