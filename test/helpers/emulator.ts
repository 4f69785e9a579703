import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from '../../src/emulator/server.js';
import { emulatorControl } from '../../src/testing/control.js';

export interface TestPortal {
  memberId: string;
  domain: string;
  clientEndpoint: string;
  accessToken: string;
  refreshToken: string;
  applicationToken: string;
}

/** Starts an emulator on a free loopback port. Call `close()` in `after`. */
export async function startTestEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ port: 0, host: '127.0.0.1', ...options });
}

/** POSTs JSON to the control API and returns the decoded answer (throws on non-2xx): the public `emulatorControl`. */
export const control = emulatorControl;

/** Creates a portal and installs the app into it (without an install POST unless appUrl is given). */
export async function createInstalledPortal(
  emu: RunningEmulator,
  portal: Record<string, unknown> = {},
  install: Record<string, unknown> = {},
): Promise<TestPortal> {
  const created = await control<{ member_id: string; domain: string; client_endpoint: string }>(emu, '/portals', portal);
  const installed = await control<{ access_token: string; refresh_token: string; application_token: string }>(
    emu,
    `/portals/${created.member_id}/install`,
    install,
  );
  return {
    memberId: created.member_id,
    domain: created.domain,
    clientEndpoint: created.client_endpoint,
    accessToken: installed.access_token,
    refreshToken: installed.refresh_token,
    applicationToken: installed.application_token,
  };
}

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Calls a REST method with a JSON body, `auth` in the body. No client library on purpose. */
export async function rest(portal: TestPortal, method: string, params: Record<string, unknown> = {}, token = portal.accessToken): Promise<RestAnswer> {
  const response = await fetch(`${portal.clientEndpoint}${method}.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...params, auth: token }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Moves the emulator clock forward (tokens expire, buckets drain, operating minutes leave the window). */
export async function advanceClock(emu: RunningEmulator, seconds: number): Promise<void> {
  await control(emu, '/clock', { advanceSeconds: seconds });
}

/** Reads a portal's stats from the control API. */
export async function portalStats(emu: RunningEmulator, memberId: string): Promise<Record<string, unknown> & { bucketLevel: number }> {
  return control(emu, `/portals/${memberId}/stats`, undefined, 'GET');
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A request through node:http, for what fetch will not send: a chosen `Host` header, a raw path
 * with invalid percent-encoding, an arbitrary body.
 */
export async function rawRequest(
  emu: RunningEmulator,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawAnswer> {
  const { request } = await import('node:http');
  const base = new URL(emu.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: base.hostname, port: base.port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Seeds CRM rows through the control API (`POST /_emulator/portals/:memberId/crm/seed`). */
export async function seedCrm(
  emu: RunningEmulator,
  portal: TestPortal,
  entity: 'deal' | 'contact' | 'company' | 'lead',
  count: number,
  fields: Record<string, unknown> = {},
): Promise<{ created: number; firstId: number | null; lastId: number | null }> {
  return control(emu, `/portals/${portal.memberId}/crm/seed`, { entity, count, fields });
}

/** A portal whose leaky bucket never gets in the way of a test that makes many calls. */
export const UNLIMITED_PORTAL = { drainPerSecond: 100_000, burst: 100_000 } as const;
