/**
 * The store contract battery (src/store/contract/, exported from `b24kit/store`) on this run's
 * dialect: SQLite under `npm test`, PostgreSQL under `npm run test:pg`.
 */
import { runStoreContract } from '../../src/store/contract/index.js';
import { createTestDatabase, onPostgres } from './helpers/store.js';

runStoreContract(`store contract (${onPostgres ? 'postgres' : 'sqlite'})`, createTestDatabase);
