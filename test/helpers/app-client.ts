import { B24Client } from '../../src/rest/client.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, type TestPortal } from './emulator.js';

export const quietLogger = { warn: () => {}, debug: () => {} };

/**
 * The app's REST client for a test portal: a real B24Client over the access token of the install
 * answer and the portal's client_endpoint (no refresh: tests stay within the token's hour).
 */
export function appClient(portal: TestPortal): B24Client {
  return B24Client.fromToken({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }, { logger: quietLogger });
}

export interface EmulatorBinding {
  id: number;
  event: string;
  handler: string;
  auth_type: number | string;
  offline: boolean | number;
  connector_id: string;
  options: Record<string, unknown>;
}

/** The portal's bindings as the emulator holds them (control API). */
export async function bindingsOf(emu: RunningEmulator, portal: TestPortal): Promise<EmulatorBinding[]> {
  return control<EmulatorBinding[]>(emu, `/portals/${portal.memberId}/events/bindings`, undefined, 'GET');
}

export interface PortalStats {
  requests: number;
  commands: number;
  byMethod: Record<string, number>;
}

export async function resetStats(emu: RunningEmulator, portal: TestPortal): Promise<void> {
  await control(emu, `/portals/${portal.memberId}/stats/reset`);
}

export async function statsOf(emu: RunningEmulator, portal: TestPortal): Promise<PortalStats> {
  return control<PortalStats>(emu, `/portals/${portal.memberId}/stats`, undefined, 'GET');
}
