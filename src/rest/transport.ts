/**
 * One HTTP exchange with a portal over undici: a JSON POST, redirects NOT followed (a 302 from a
 * renamed portal must be re-POSTed with the same body, docs/protocol.md §4.5), a timeout that covers the
 * whole exchange including the body, and failures sorted by whether the request may have reached
 * the portal — which decides whether a write may be sent again.
 */
import { Agent, request, type Dispatcher } from 'undici';

export interface HttpAnswer {
  status: number;
  /** `location` header of a redirect. */
  location: string | undefined;
  contentType: string;
  text: string;
}

/**
 * - `timeout`: no full answer within the time; the request may have been processed.
 * - `not-sent`: the connection was never established (refused, DNS): safe to send again.
 * - `maybe-sent`: the connection broke after the request could have left (reset, socket closed).
 * - `aborted`: the caller's AbortSignal fired.
 */
export type TransportFailureKind = 'timeout' | 'not-sent' | 'maybe-sent' | 'aborted';

export class TransportFailure extends Error {
  constructor(
    readonly kind: TransportFailureKind,
    message: string,
    readonly networkCode?: string,
  ) {
    super(message);
    this.name = 'TransportFailure';
  }
}

/** Errors raised before any byte of the request can have left this machine. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export interface PostOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  dispatcher: Dispatcher;
  userAgent: string;
}

/** A keep-alive connection pool for one client; pass your own to share it. */
export function defaultDispatcher(): Dispatcher {
  return new Agent({ keepAliveTimeout: 10_000, connections: 16 });
}

/** POSTs `body` as JSON to `url` and reads the whole answer as text. */
export async function postJson(url: string, body: string, options: PostOptions): Promise<HttpAnswer> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), Math.max(1, options.timeoutMs));
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  try {
    const response = await request(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        accept: 'application/json',
        'user-agent': options.userAgent,
      },
      signal,
      dispatcher: options.dispatcher,
    });
    const text = await response.body.text();
    const location = response.headers.location;
    const contentType = response.headers['content-type'];
    return {
      status: response.statusCode,
      location: Array.isArray(location) ? location[0] : location,
      contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? '',
      text,
    };
  } catch (error) {
    if (timeout.signal.aborted) throw new TransportFailure('timeout', `no answer within ${options.timeoutMs} ms`);
    if (options.signal?.aborted) throw new TransportFailure('aborted', 'aborted by the caller');
    const code = networkCode(error);
    const kind: TransportFailureKind = code && NOT_SENT_CODES.has(code) ? 'not-sent' : 'maybe-sent';
    throw new TransportFailure(kind, `network failure${code ? ` (${code})` : ''}`, code);
  } finally {
    clearTimeout(timer);
  }
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    current = (current as { cause?: unknown }).cause;
  }
  const top = (error as { code?: unknown } | null)?.code;
  return typeof top === 'string' ? top : undefined;
}
