/**
 * `b24kit/store`: the store under an app — opening it, its migrations, the secret box that seals
 * tokens at rest, the portal registry — and the contract battery a store adapter must pass
 * (docs/store.md). test/exports.test.ts pins this list.
 */
export {
  /** Opens (and by default migrates) the store a URL names: `postgres://…`, or a SQLite file path / `:memory:`. */
  openStore,
  /** True when a store error is a unique or primary-key violation (both dialects). */
  isUniqueViolation,
  /** Applies pending migrations to a store, once under concurrency: what an adapter's `migrate()` calls. */
  runMigrations,
  type OpenStoreOptions,
  type Store,
  type Transaction,
  type Queryable,
  type Dialect,
  type SqlValue,
  type Row,
  type RunResult,
  type MigrationReport,
} from './index.js';
export {
  /** Seals secrets at rest (AES-256-GCM under a 32-byte key), each bound to a context such as its row and column. */
  createSecretBox,
  /** Reads a 32-byte key written as 64 hex characters or base64 (B24KIT_SECRET_KEY). */
  parseSecretKey,
  /** The key to use: the one given, else (demo mode only) one generated into the data folder. */
  resolveSecretKey,
  /** Constant-time comparison of two strings. */
  safeEqual,
  type SecretBox,
  type ResolveSecretKeyOptions,
} from './crypto.js';
export {
  /** Portals and their sealed tokens: installs, compare-and-swap refreshes, the refresh lease, states, purges. */
  PortalRegistry,
  type PortalRegistryOptions,
  type PortalInfo,
  type PortalRecord,
  type PortalInstall,
  type PortalState,
  type PortalCleanup,
  type TokenPair,
} from './portals.js';
export {
  /** Declares the store contract battery (node:test) against a database factory: run it on your own adapter. */
  runStoreContract,
  type ContractDatabase,
  type ContractDatabaseFactory,
} from './contract/index.js';
