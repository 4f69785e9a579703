/**
 * Per-request checks of the dashboard that do not involve secrets: whether the request came over
 * HTTPS (the cookie's Secure flag) and whether a state-changing request comes from the dashboard's
 * own origin (the Origin/Referer check, in addition to the CSRF token).
 */
type Headers = Record<string, string | string[] | undefined>;

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();

/** HTTPS as the browser saw it: only a trusted proxy's X-Forwarded-Proto says so (the app itself serves plain HTTP). */
export function cameOverHttps(headers: Headers, trustProxy: boolean): boolean {
  return trustProxy && first(headers['x-forwarded-proto'])?.toLowerCase() === 'https';
}

/** The host the browser addressed. */
function requestHost(headers: Headers, trustProxy: boolean): string | undefined {
  return (trustProxy ? first(headers['x-forwarded-host']) : undefined) ?? first(headers.host);
}

/**
 * True when Origin (or, without it, Referer) names the host the request was sent to. A request
 * carrying neither is refused: every browser sends Origin on a form POST.
 */
export function sameOrigin(headers: Headers, trustProxy: boolean): boolean {
  const host = requestHost(headers, trustProxy)?.toLowerCase();
  const source = first(headers.origin) ?? first(headers.referer);
  if (!host || !source || source === 'null') return false;
  try {
    return new URL(source).host.toLowerCase() === host;
  } catch {
    return false;
  }
}
