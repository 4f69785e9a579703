/**
 * What this process observed (signals and state changes) that the store does not keep: delivery
 * outcomes and rejections, portals' 503/429 answers, the reason of the last state change seen.
 * Counted since the process started; the pages say so.
 */
import { ERROR_CODES } from '../../../errors.js';
import type { PortalStateChange } from '../../../store/portals.js';
import type { AppSignal } from '../../kit.js';

export interface ProcessStats {
  accepted: Map<string, number>;
  rejected: Map<string, number>;
  restStatus: Map<number, number>;
  /** The last state change this process made, per portal. */
  stateChanges: Map<string, PortalStateChange>;
}

export function createProcessStats(): ProcessStats & { observe(signal: AppSignal): void } {
  const stats: ProcessStats = { accepted: new Map(), rejected: new Map(), restStatus: new Map(), stateChanges: new Map() };
  const bump = <K>(map: Map<K, number>, key: K): void => void map.set(key, (map.get(key) ?? 0) + 1);
  return {
    ...stats,
    observe(signal) {
      if (signal.type === 'delivery.accepted') bump(stats.accepted, signal.outcome);
      // a registry code, never free text: the map stays as small as the registry
      else if (signal.type === 'delivery.rejected') bump(stats.rejected, Object.hasOwn(ERROR_CODES, signal.code) ? signal.code : 'B24_ERR_INTERNAL');
      else if (signal.type === 'rest.request' && (signal.status === 503 || signal.status === 429)) bump(stats.restStatus, signal.status);
    },
  };
}
