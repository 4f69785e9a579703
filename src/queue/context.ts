/** What every queue operation needs, resolved once by {@link JobQueue}. Internal. */
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/types.js';
import type { ResolvedJobType } from './backoff.js';
import type { LocalWakeups } from './notify.js';

export interface QueueContext {
  store: Store;
  nowMs: () => number;
  random: () => number;
  /** Default visibility timeout, in ms. */
  leaseMs: number;
  /** Running jobs per portal, across all workers; Infinity for no cap. */
  maxRunningPerPortal: number;
  jobType: (name: string) => ResolvedJobType;
  wakeups: LocalWakeups;
  logger: Logger;
}
