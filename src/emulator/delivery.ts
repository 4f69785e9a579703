import qs from 'qs';

export interface DeliveryResult {
  ok: boolean;
  status: number;
  /** Response body (truncated), for diagnostics. */
  body: string;
  error?: string;
  /** True when no answer came within the timeout (the POST was aborted). */
  timedOut: boolean;
  /** Real time from sending to the answer or the abort, in ms. */
  durationMs: number;
}

/**
 * POSTs a form-encoded body with PHP bracket syntax (`auth[access_token]=…`), as the portal's
 * queue server sends events, robot calls and lifecycle events (docs/protocol.md §3.3).
 */
export async function postForm(url: string, payload: Record<string, unknown>, timeoutMs: number): Promise<DeliveryResult> {
  const body = qs.stringify(payload, { encodeValuesOnly: false, arrayFormat: 'indices' });
  const startedMs = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await response.text()).slice(0, 2000);
    const ok = response.status >= 200 && response.status < 300;
    return { ok, status: response.status, body: text, timedOut: false, durationMs: Date.now() - startedMs };
  } catch (error) {
    // AbortSignal.timeout rejects with a DOMException named TimeoutError (also while reading the body)
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    const message = timedOut ? `No answer within ${timeoutMs} ms` : error instanceof Error ? error.message : String(error);
    return { ok: false, status: 0, body: '', error: message, timedOut, durationMs: Date.now() - startedMs };
  }
}
