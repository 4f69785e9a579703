/**
 * Who may use an emulator's control API (`/_emulator/…`, no authentication: docs/emulator.md). It
 * answers programs on this machine or a trusted network, not web pages:
 *
 * - **Cross-origin**: a request whose `Origin` is not the emulator's own (including `Origin: null`),
 *   or without `Origin` but with `Sec-Fetch-Site: cross-site`/`same-site`, is a web page's: refused.
 *   A form post needs no preflight, so any open page could otherwise post to 127.0.0.1.
 * - **DNS rebinding**: a page on a name its owner controls, re-pointed at 127.0.0.1, is same-origin
 *   to the browser, so the origin check passes. Its requests carry that name in `Host`, though. The
 *   control API answers only when `Host` is an IP address, a name without a dot (`localhost`, a
 *   compose service), a `*.localhost` name, the emulator's own configured host, or a name listed in
 *   `controlHosts`: public DNS names, which a rebinding attack needs, are refused.
 */
import { isIP } from 'node:net';

export interface ControlRefusal {
  status: 403;
  error: 'CONTROL_CROSS_ORIGIN' | 'CONTROL_HOST';
  message: string;
}

export interface ControlRequest {
  protocol: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Whether a request goes to the control API: decided by the route the router matched (it decodes
 * the path, so `/%5Femulator/…` reaches a control route), and by the decoded path for the routes
 * that serve everything else.
 */
export function isControlRequest(request: { url: string; routeOptions?: { url?: string | undefined } }): boolean {
  if (request.routeOptions?.url?.startsWith('/_emulator')) return true;
  let path = request.url.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // a malformed escape: judged as written
  }
  return /^\/+_emulator(\/|$)/.test(path);
}

/** Why `request` may not use the control API, or undefined when it may. `ownUrl`: the emulator's base URL. */
export function controlRefusal(request: ControlRequest, ownUrl: string, controlHosts: readonly string[] = []): ControlRefusal | undefined {
  const host = headerValue(request.headers.host) ?? '';
  if (!isAllowedHost(hostnameOf(host), ownUrl, controlHosts)) {
    return {
      status: 403,
      error: 'CONTROL_HOST',
      message: `The control API answers at an IP address, localhost or a name in controlHosts, not at "${hostnameOf(host)}" (a DNS-rebinding page would use such a name)`,
    };
  }
  const origin = headerValue(request.headers.origin);
  const site = headerValue(request.headers['sec-fetch-site']);
  const crossSite = origin === undefined ? site === 'cross-site' || site === 'same-site' : !new Set([originOf(ownUrl), `${request.protocol}://${host}`.toLowerCase()]).has(origin.toLowerCase());
  if (crossSite) return { status: 403, error: 'CONTROL_CROSS_ORIGIN', message: 'The control API does not answer requests from web pages' };
  return undefined;
}

function isAllowedHost(hostname: string, ownUrl: string, controlHosts: readonly string[]): boolean {
  if (hostname === '') return false;
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) !== 0) return true;
  if (!hostname.includes('.') || hostname.endsWith('.localhost')) return true;
  if (hostname === hostnameOf(hostOf(ownUrl))) return true;
  return controlHosts.some((allowed) => hostnameOf(allowed).replace(/\.$/, '') === hostname);
}

/** `Host` without its port, lower-case (`[::1]` stays bracketed). */
function hostnameOf(host: string): string {
  return host.replace(/:\d+$/, '').toLowerCase();
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return '';
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
