import type { Store } from '../types.js';

/** One empty database the battery may open stores on, as several processes would. */
export interface ContractDatabase {
  /**
   * Opens a new store on this database — its own connection or pool, like another process —
   * applying pending migrations unless `migrate` is false (then the battery calls `migrate()`).
   */
  open(options?: { migrate?: boolean }): Promise<Store>;
  /** Deletes the database; called after the suite closed every store it opened. */
  drop(): Promise<void>;
}

/** Makes a fresh, empty database per call (a new schema, a temp file, …). */
export type ContractDatabaseFactory = () => ContractDatabase | Promise<ContractDatabase>;
