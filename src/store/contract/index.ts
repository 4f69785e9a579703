/**
 * The store contract battery: the behaviours b24kit relies on from a store, as node:test suites.
 * Our SQLite and PostgreSQL stores run it (test/contract/store.contract.test.ts); a third-party
 * adapter proves itself by running it too. A behaviour that is not in the battery is not promised.
 *
 * ```ts
 * // my-adapter.contract.test.ts — run with `node --test`
 * import { runStoreContract } from 'b24kit/store';
 * runStoreContract('my adapter', async () => {
 *   const name = await createEmptyDatabase();
 *   return { open: (options) => openMyStore(name, options), drop: () => dropDatabase(name) };
 * });
 * ```
 *
 * The adapter's `dialect` names the SQL it speaks ('sqlite' or 'postgres': the migrations and
 * every query are written for those two); a unique violation must reject with a B24Error
 * `B24_ERR_STORE` whose `cause.code` is '23505' or 'SQLITE_CONSTRAINT_UNIQUE'.
 */
import { describe } from 'node:test';
import { describePortalRegistrySuite } from './portal-registry.js';
import { describeStoreSuite } from './store.js';
import type { ContractDatabaseFactory } from './types.js';

export type { ContractDatabase, ContractDatabaseFactory } from './types.js';

/**
 * Declares the battery under `describe(name)`: the Store's own behaviours, then the portal
 * registry's on top of it. Each suite gets fresh databases from `createDatabase` and drops them.
 */
export function runStoreContract(name: string, createDatabase: ContractDatabaseFactory): void {
  describe(name, () => {
    describeStoreSuite(createDatabase);
    describePortalRegistrySuite(createDatabase);
  });
}
