import type { Portal } from '../portal.js';

/** Event bindings, online delivery and the offline queue of one portal (protocol §3). */
export class PortalEvents {
  constructor(readonly portal: Portal) {}

  /** Fires `eventName` with `data` (e.g. `{FIELDS: {ID: 5}}`) to every binding. */
  emit(_eventName: string, _data: Record<string, unknown>, _opts: { userId?: number } = {}): void {}
}
