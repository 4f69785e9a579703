/**
 * Shared pieces of the security suite: a seeded PRNG (fuzz runs are reproducible from the seed in
 * the test name), raw HTTP over undici with a per-request timeout, and the forms a portal POSTs
 * for robots and lifecycle events.
 */
import qs from 'qs';
import { request } from 'undici';
import type { Store } from '../../src/store/types.js';
import { countRows } from '../app/helpers.js';
import type { EmulatorInstall } from '../portals/helpers.js';

/** mulberry32: a tiny, fast, seeded 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Sent {
  method?: string;
  /** Path and query, sent as given (undici refuses only control characters and spaces). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  ms: number;
}

/** One request over a real socket; throws if it takes longer than `timeoutMs` (a hang). */
export async function send(baseUrl: string, sent: Sent, timeoutMs = 5000): Promise<Answer> {
  const started = performance.now();
  const response = await request(`${baseUrl}${sent.path}`, {
    method: (sent.method ?? 'GET') as 'GET',
    headers: sent.headers ?? {},
    ...(sent.body !== undefined ? { body: sent.body } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.body.text();
  const contentType = response.headers['content-type'];
  return { status: response.statusCode, contentType: Array.isArray(contentType) ? contentType.join(',') : (contentType ?? ''), text, ms: performance.now() - started };
}

/** A form body in PHP bracket syntax, as Bitrix24 sends it. */
export function formBody(form: Record<string, unknown>): string {
  return qs.stringify(form, { arrayFormat: 'indices' });
}

/** POSTs a form; answers status and the decoded JSON body. */
export async function postFormTo(baseUrl: string, path: string, form: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await send(baseUrl, { method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: formBody(form) });
  return { status: answer.status, body: JSON.parse(answer.text) as Record<string, unknown> };
}

/** The `auth[…]` block a portal sends with lifecycle events and robot calls (full tokens). */
export function authBlock(install: EmulatorInstall, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const auth: Record<string, string | undefined> = {
    access_token: install.access_token,
    refresh_token: install.refresh_token,
    expires: String(Math.floor(Date.now() / 1000) + 3600),
    expires_in: '3600',
    scope: 'crm,bizproc',
    domain: install.domain,
    server_endpoint: install.server_endpoint,
    client_endpoint: install.client_endpoint,
    member_id: install.memberId,
    application_token: install.application_token,
    user_id: '1',
    status: 'L',
    ...overrides,
  };
  for (const key of Object.keys(auth)) if (auth[key] === undefined) delete auth[key];
  return auth as Record<string, string>;
}

/** ONAPPUPDATE / ONAPPUNINSTALL as the portal POSTs it to `/webhooks/:memberId/event` (docs/protocol.md §2.4, §2.5). */
export function lifecycleForm(
  install: EmulatorInstall,
  event: 'ONAPPUPDATE' | 'ONAPPUNINSTALL',
  overrides: { auth?: Record<string, string | undefined>; data?: Record<string, string> } = {},
): Record<string, unknown> {
  const auth =
    event === 'ONAPPUNINSTALL'
      ? // an uninstall carries no tokens: API access is already revoked
        authBlock(install, { access_token: undefined, refresh_token: undefined, expires: undefined, expires_in: undefined, ...overrides.auth })
      : authBlock(install, overrides.auth);
  const data = overrides.data ?? (event === 'ONAPPUPDATE' ? { VERSION: '2', LANGUAGE_ID: 'en' } : { CLEAN: '0', LANGUAGE_ID: 'en' });
  return { event, event_handler_id: '0', data, ts: String(Math.floor(Date.now() / 1000)), auth };
}

let workflowSeq = 0;

/** A robot call as the portal POSTs it to `/robots/:memberId/:code` (docs/protocol.md §7.2); a fresh workflow each time. */
export function robotForm(install: EmulatorInstall, code: string, overrides: { auth?: Record<string, string | undefined>; workflowId?: string } = {}): Record<string, unknown> {
  workflowSeq += 1;
  const workflowId = overrides.workflowId ?? `wf${Date.now().toString(36)}${workflowSeq}`;
  return {
    workflow_id: workflowId,
    code,
    document_id: ['crm', 'CCrmDocumentDeal', 'DEAL_1'],
    document_type: ['crm', 'CCrmDocumentDeal', 'DEAL'],
    event_token: `${workflowId}|A${workflowSeq}|${'e'.repeat(32)}`,
    properties: { weight: '3' },
    use_subscription: 'Y',
    timeout_duration: '0',
    ts: String(Math.floor(Date.now() / 1000)),
    auth: authBlock(install, overrides.auth),
  };
}

export interface StoreSnapshot {
  inbox: number;
  jobs: number;
  portals: Array<Record<string, unknown>>;
}

/** Row counts of the inbox and the queue, and every portal row raw (sealed columns as stored). */
export async function snapshot(store: Store): Promise<StoreSnapshot> {
  return {
    inbox: await countRows(store, 'b24kit_event_inbox'),
    jobs: await countRows(store, 'b24kit_jobs'),
    portals: await store.all<Record<string, unknown>>('SELECT * FROM portals ORDER BY member_id'),
  };
}
