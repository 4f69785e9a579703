import qs from 'qs';

export interface DeliveryResult {
  ok: boolean;
  status: number;
  /** Response body (truncated), for diagnostics. */
  body: string;
  error?: string;
}

/**
 * POSTs a form-encoded body with PHP bracket syntax (`auth[access_token]=…`), as the portal's
 * queue server sends events, robot calls and lifecycle events (protocol §3.3).
 */
export async function postForm(url: string, payload: Record<string, unknown>, timeoutMs: number): Promise<DeliveryResult> {
  const body = qs.stringify(payload, { encodeValuesOnly: false, arrayFormat: 'indices' });
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await response.text()).slice(0, 2000);
    return { ok: response.status >= 200 && response.status < 300, status: response.status, body: text };
  } catch (error) {
    return { ok: false, status: 0, body: '', error: error instanceof Error ? error.message : String(error) };
  }
}
