import type { RunningEmulator } from '../../src/emulator/server.js';
import type { B24ClientEvent, Clock } from '../../src/rest/hooks.js';
import { B24Client, type B24ClientOptions } from '../../src/rest/client.js';
import { control, type TestPortal } from '../helpers/emulator.js';

/**
 * A clock that runs on the emulator's time: `sleep(ms)` does not wait but moves the emulator's clock
 * (`POST /_emulator/clock`) forward by `ms`, so waits of a minute take no real time and limits,
 * operating windows and tokens move as if the time had passed. `before` runs ahead of each sleep.
 */
export function emulatorClock(emu: RunningEmulator, before?: (ms: number) => Promise<void> | void): Clock & { slept: number[] } {
  let offsetMs = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => Date.now() + offsetMs,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      slept.push(ms);
      await before?.(ms);
      if (ms <= 0) return;
      offsetMs += ms;
      await control(emu, '/clock', { advanceSeconds: ms / 1000 });
    },
  };
}

/** Moves the test's virtual clock and the emulator's together. */
export async function advanceBoth(emu: RunningEmulator, clock: Clock, seconds: number): Promise<void> {
  await clock.sleep(seconds * 1000);
}

export const silentLogger = { warn: () => {}, debug: () => {} };

/** A client over the portal's access token that refreshes it at the emulator's /oauth/token/. */
export function oauthClient(emu: RunningEmulator, portal: TestPortal, options: Omit<B24ClientOptions, 'provider'> = {}): B24Client & { events: B24ClientEvent[] } {
  let refreshToken = portal.refreshToken;
  const events: B24ClientEvent[] = [];
  const client = B24Client.fromToken(
    {
      accessToken: portal.accessToken,
      clientEndpoint: portal.clientEndpoint,
      memberId: portal.memberId,
      refresh: async () => {
        const response = await fetch(`${emu.url}/oauth/token/`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'local.b24kit.demo', client_secret: 'demo-secret', refresh_token: refreshToken }),
        });
        const tokens = (await response.json()) as { access_token: string; refresh_token: string; client_endpoint: string };
        if (!tokens.access_token) throw new Error(`refresh failed: ${JSON.stringify(tokens)}`);
        refreshToken = tokens.refresh_token;
        return { accessToken: tokens.access_token, clientEndpoint: tokens.client_endpoint };
      },
    },
    {
      logger: silentLogger,
      ...options,
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(event);
      },
    },
  );
  return Object.assign(client, { events });
}

export async function setFaults(emu: RunningEmulator, portal: TestPortal, faults: Record<string, unknown>): Promise<void> {
  await control(emu, `/portals/${portal.memberId}/faults`, faults, 'PUT');
}

/** Stats as the portal counted them. */
export async function stats(emu: RunningEmulator, portal: TestPortal): Promise<{
  requests: number;
  commands: number;
  rateLimitRejections: number;
  operatingRejections: number;
  refreshes: number;
  refreshesRefused: number;
  byStatus: Record<string, number>;
}> {
  return control(emu, `/portals/${portal.memberId}/stats`, undefined, 'GET');
}

export async function resetStats(emu: RunningEmulator, portal: TestPortal): Promise<void> {
  await control(emu, `/portals/${portal.memberId}/stats/reset`, {});
}
