import type { Relaxations } from '../options.js';
import { RestError } from '../rest-error.js';

/**
 * Checks an event or robot handler URL as the core's HandlerHelper::checkCallback does
 * (docs/protocol.md §3.1): an absolute URL whose host contains a dot, else ERROR_WRONG_HANDLER_URL; scheme
 * http or https, else ERROR_UNSUPPORTED_PROTOCOL. The cloud also refuses loopback/LAN hosts and
 * plain http; the emulator accepts them unless `relax` says otherwise (docs/emulator.md).
 */
export function checkHandlerUrl(handler: string, relax: Relaxations): void {
  let url: URL;
  try {
    url = new URL(handler);
  } catch {
    throw wrongHandlerUrl();
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = isLoopbackOrPrivate(host);
  if (loopback) {
    if (!relax.allowLoopbackHandlers) throw wrongHandlerUrl();
  } else if (host.indexOf('.') <= 0) {
    throw wrongHandlerUrl();
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme === 'https') return;
  if (scheme === 'http' && relax.allowHttp) return;
  throw new RestError(400, 'ERROR_UNSUPPORTED_PROTOCOL', 'Unsupported handler protocol');
}

function wrongHandlerUrl(): RestError {
  return new RestError(400, 'ERROR_WRONG_HANDLER_URL', 'Wrong handler URL');
}

/** localhost, 127/8, ::1, and the RFC 1918 ranges: hosts the cloud's queue server cannot reach. */
function isLoopbackOrPrivate(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  const octets = host.split('.').map(Number);
  if (octets.length !== 4 || octets.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return false;
  const [a, b] = octets as [number, number, number, number];
  return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31);
}
