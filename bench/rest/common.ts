/**
 * Shared parts of bench/rest.ts and its child processes: the emulator models and the control API.
 * The two clients under test are built in kit-client.ts and sdk-client.ts (separate, so that a child
 * process loads only its own).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { InstallOutcome } from '../../src/emulator/lifecycle.js';
import type { PortalStats as EmulatorPortalStats } from '../../src/emulator/portal.js';

export const BENCH_CLIENT_ID = 'local.b24kit.bench';
export const BENCH_CLIENT_SECRET = 'bench-secret';

/** Calls each warm shared-budget process makes before it reports ready (bench/rest/hammer-worker.ts). */
export const WARM_UP_CALLS = 3;

/** One emulator setting, as sent to `POST /_emulator/portals`. */
export interface Model {
  drainPerSecond: number;
  burst: number;
  operatingLimitSeconds: number;
  operatingWindowSeconds: number;
  cost: { readMs: number; writeMs: number; perRowMs: number; countMsPerMillionRows: number; simulateLatency: boolean };
}

/** The model in one line, for the report. */
export function describeModel(model: Model): string {
  const { cost } = model;
  return (
    `bucket ${model.drainPerSecond}/s, burst ${model.burst}; operating ${model.operatingLimitSeconds} s per ${model.operatingWindowSeconds} s window; ` +
    `cost ${cost.writeMs} ms/write, ${cost.readMs} ms/read + ${cost.perRowMs} ms/row, COUNT ${cost.countMsPerMillionRows} ms per million rows` +
    `${cost.simulateLatency ? ', latency simulated' : ''}`
  );
}

/** The control API's install answer (src/emulator/lifecycle.ts), as JSON. */
export type Installed = Omit<InstallOutcome, 'delivery'>;

/** `GET /_emulator/portals/:id/stats` (src/emulator/portal.ts). */
export type PortalStats = EmulatorPortalStats;

export async function control<T>(base: string, path: string, body?: unknown, method = 'POST'): Promise<T> {
  const response = await fetch(`${base}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: JSON.stringify(body ?? {}) }),
  });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`control ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** A fresh portal with `model`, the app installed: a fresh bucket and operating budget per run. */
export async function freshPortal(base: string, model: Model): Promise<Installed> {
  const created = await control<{ member_id: string }>(base, '/portals', { ...model, plan: 'professional' });
  return control<Installed>(base, `/portals/${created.member_id}/install`, {});
}

export async function portalStats(base: string, memberId: string): Promise<PortalStats> {
  return control<PortalStats>(base, `/portals/${memberId}/stats`, undefined, 'GET');
}

/** 503s and 429s the portal sent. */
export function refusals(stats: PortalStats): { s503: number; s429: number } {
  return { s503: stats.byStatus['503'] ?? 0, s429: stats.byStatus['429'] ?? 0 };
}

/** Starts the emulator in a child process; resolves with its URL and a stop function. */
export async function startEmulatorProcess(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./emulator-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the emulator process exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
