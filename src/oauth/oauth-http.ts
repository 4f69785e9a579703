/**
 * The one way b24kit talks to the OAuth server: a form-encoded POST (secrets and tokens stay out
 * of URLs and access logs) with a timeout, answered by a JSON object. Callers map the outcome to
 * their own error codes.
 */

export interface OAuthFormOptions {
  /** Abort the request (including reading the body) after this many ms. */
  timeoutMs: number;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** `manual` when the form carries a token that must never be sent on to a redirect target. @defaultValue fetch's default (follow) */
  redirect?: RequestInit['redirect'];
}

export interface OAuthAnswer {
  status: number;
  ok: boolean;
  /** The body when it is a JSON object; undefined for anything else (HTML error pages, arrays, garbage). */
  body: Record<string, unknown> | undefined;
}

/** The OAuth server could not be asked: network failure, or the timeout (`timedOut`). */
export class OAuthUnreachableError extends Error {
  readonly timedOut: boolean;

  constructor(cause: unknown) {
    const timedOut = (cause as { name?: unknown } | null | undefined)?.name === 'TimeoutError';
    super(timedOut ? 'timed out' : 'network failure', { cause });
    this.name = 'OAuthUnreachableError';
    this.timedOut = timedOut;
  }
}

/** POSTs `form` to `url`. Throws {@link OAuthUnreachableError} when no answer could be read. */
export async function postOAuthForm(url: string, form: Record<string, string>, options: OAuthFormOptions): Promise<OAuthAnswer> {
  const doFetch = options.fetch ?? globalThis.fetch;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      ...(options.redirect !== undefined ? { redirect: options.redirect } : {}),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    throw new OAuthUnreachableError(error);
  }
  return { status: response.status, ok: response.ok, body: jsonObject(text) };
}

/**
 * POSTs `auth=<accessToken>` to a REST method of the OAuth server or a portal. A redirect is not
 * followed: the form carries a token, and wherever a redirect points must not receive it.
 */
export function postTokenForm(url: string, accessToken: string, options: { timeoutMs?: number; fetch?: typeof fetch }): Promise<OAuthAnswer> {
  return postOAuthForm(url, { auth: accessToken }, {
    timeoutMs: options.timeoutMs ?? 10_000,
    redirect: 'manual',
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The underlying failure (what fetch threw), for a B24Error's `cause`. */
export function unreachableCause(error: unknown): unknown {
  return error instanceof OAuthUnreachableError ? error.cause : error;
}
