/** A portal installed in a real emulator and registered in a store, plus the emulator's clock. */
import type { RunningEmulator } from '../../../src/emulator/server.js';
import { createSecretBox } from '../../../src/store/crypto.js';
import { PortalRegistry } from '../../../src/store/portals.js';
import type { Store } from '../../../src/store/types.js';
import { createTokenClient, type OAuthTokenClient } from '../../../src/oauth/token-client.js';
import { control, createInstalledPortal, type TestPortal } from '../../helpers/emulator.js';

export const TEST_SECRET_KEY_HEX = 'a3'.repeat(32);

/** The emulator's clock, as seen through its control API (`offsetSeconds`). */
export class EmulatorTime {
  offsetMs = 0;
  constructor(private readonly emu: RunningEmulator) {}

  static async read(emu: RunningEmulator): Promise<EmulatorTime> {
    const time = new EmulatorTime(emu);
    const clock = await control<{ offsetSeconds: number }>(emu, '/clock', {}, 'GET');
    time.offsetMs = clock.offsetSeconds * 1000;
    return time;
  }

  readonly nowMs = (): number => Date.now() + this.offsetMs;

  async advance(seconds: number): Promise<void> {
    const clock = await control<{ offsetSeconds: number }>(this.emu, '/clock', { advanceSeconds: seconds });
    this.offsetMs = clock.offsetSeconds * 1000;
  }
}

/** Counts the calls a token client makes to the token endpoint (successful or not). */
export function countingFetch(): { fetch: typeof fetch; calls: () => number } {
  let calls = 0;
  return {
    fetch: (input, init) => {
      calls += 1;
      return fetch(input, init);
    },
    calls: () => calls,
  };
}

export function registry(store: Store, time: EmulatorTime): PortalRegistry {
  return new PortalRegistry({ store, secrets: createSecretBox(Buffer.from(TEST_SECRET_KEY_HEX, 'hex')), nowMs: time.nowMs });
}

export function emulatorTokenClient(time: EmulatorTime, fetchImpl: typeof fetch = fetch): OAuthTokenClient {
  // no oauthUrl: the OAuth host comes from the portal's server_endpoint, which is the emulator
  return createTokenClient({ clientId: 'local.b24kit.demo', clientSecret: 'demo-secret', nowMs: time.nowMs, fetch: fetchImpl, timeoutMs: 10_000 });
}

/** Creates and installs a portal in the emulator (a generous bucket: storms call REST 200×) and stores it. */
export async function installPortal(emu: RunningEmulator, portals: PortalRegistry): Promise<TestPortal> {
  const portal = await createInstalledPortal(emu, { burst: 10_000, drainPerSecond: 1000 });
  const info = await control<{ server_endpoint: string }>(emu, `/portals/${portal.memberId}`, {}, 'GET');
  const expires = await control<{ now: number }>(emu, '/clock', {}, 'GET');
  await portals.upsertInstall({
    memberId: portal.memberId,
    domain: portal.domain,
    clientEndpoint: portal.clientEndpoint,
    serverEndpoint: info.server_endpoint,
    accessToken: portal.accessToken,
    refreshToken: portal.refreshToken,
    // the emulator issues 3600 s tokens (docs/protocol.md §1.5)
    expiresAtMs: (expires.now + 3600) * 1000,
    scope: ['crm', 'bizproc', 'user_brief', 'placement'],
    status: 'L',
    applicationToken: portal.applicationToken,
    installedByUserId: 1,
  });
  return portal;
}

export async function refreshCount(emu: RunningEmulator, memberId: string): Promise<number> {
  const stats = await control<{ refreshes: number }>(emu, `/portals/${memberId}/stats`, {}, 'GET');
  return stats.refreshes;
}

/**
 * Refresh grants the OAuth server refused for this portal (a spent or revoked refresh token). A
 * broken single-flight still shows one successful refresh; the losers of the race show up here.
 */
export async function refusedRefreshCount(emu: RunningEmulator, memberId: string): Promise<number> {
  const stats = await control<{ refreshesRefused: number }>(emu, `/portals/${memberId}/stats`, {}, 'GET');
  return stats.refreshesRefused;
}

/** A REST call the way an app makes it: `{client_endpoint}user.current.json` with the token. */
export async function userCurrent(clientEndpoint: string, accessToken: string | undefined): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${clientEndpoint}user.current.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: accessToken }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
