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
