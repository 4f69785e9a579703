import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from '../../src/emulator/server.js';

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

/** POSTs JSON to the control API and returns the decoded answer (throws on non-2xx). */
export async function control<T = Record<string, unknown>>(emu: RunningEmulator, path: string, body: unknown = {}, method = 'POST'): Promise<T> {
  const response = await fetch(`${emu.url}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`control ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

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
