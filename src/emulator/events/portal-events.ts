import type { Portal } from '../portal.js';

export interface EmitOptions {
  /** The user whose action fired the event; no tokens are sent without one (protocol §3.3). */
  userId?: number;
  /** The caller's `auth_connector`: offline records for that connector are not queued (protocol §3.6). */
  authConnector?: string;
}

/** Event bindings, online delivery and the offline queue of one portal (protocol §3). */
export class PortalEvents {
  constructor(readonly portal: Portal) {}

  /** Fires `eventName` (upper case, e.g. ONCRMDEALADD) with `data` (e.g. `{FIELDS: {ID: '5'}}`) to every binding. */
  emit(_eventName: string, _data: Record<string, unknown>, _opts: EmitOptions = {}): void {}
}
