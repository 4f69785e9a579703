/**
 * From what a portal answered to a B24Error with a stable code (src/errors.ts). The Bitrix24 code,
 * HTTP status, method and member_id travel along; the token never does (docs/protocol.md §4.4).
 */
import { B24Error, type ErrorCode } from '../errors.js';

/** Where an error happened: enough to find it in logs, never a credential. */
export interface ErrorContext {
  method: string;
  memberId: string | undefined;
}

/** Bitrix24 codes for which the access token itself was refused: refresh once, retry once. */
const TOKEN_REJECTED = new Set(['expired_token', 'invalid_token']);
const AUTH_CODES = new Set([
  'expired_token',
  'invalid_token',
  'no_auth_found',
  'error_oauth',
  'application_not_found',
  'authorization_error',
  'payment_required',
  'method_confirm_waiting',
]);
const ACCESS_CODES = new Set([
  'access_denied',
  'insufficient_scope',
  'user_access_error',
  'invalid_credentials',
  'wrong_auth_type',
  'allowed_only_intranet_user',
  'method_confirm_denied',
]);

export function isTokenRejection(bitrixCode: string | undefined): boolean {
  return bitrixCode !== undefined && TOKEN_REJECTED.has(bitrixCode.toLowerCase());
}

/** The stable code for a Bitrix24 error code (which may be empty) and HTTP status. */
function errorCodeFor(bitrixCode: string, status: number, description = ''): ErrorCode {
  const code = bitrixCode.toLowerCase();
  if (code === 'query_limit_exceeded' || code === 'overload_limit') return 'B24_ERR_RATE_LIMITED';
  if (code === 'operation_time_limit') return 'B24_ERR_OPERATION_TIME_LIMIT';
  if (AUTH_CODES.has(code)) return 'B24_ERR_AUTH';
  if (ACCESS_CODES.has(code)) return 'B24_ERR_ACCESS_DENIED';
  if (code === 'error_method_not_found') return 'B24_ERR_METHOD_NOT_FOUND';
  if (code === 'portal_deleted') return 'B24_ERR_PORTAL_DELETED';
  // legacy CRM answers {"error":"","error_description":"Not found"} (docs/protocol.md §4.4)
  if (code === 'error_not_found' || code === 'not_found' || (code === '' && /not found/i.test(description))) return 'B24_ERR_NOT_FOUND';
  if (code === 'internal_server_error' || code === 'error_unexpected_answer' || status >= 500) return 'B24_ERR_SERVER';
  if (status === 401) return 'B24_ERR_AUTH';
  if (status === 403) return 'B24_ERR_ACCESS_DENIED';
  return 'B24_ERR_REST';
}

/** A B24Error from a Bitrix24 error envelope. */
export function errorFromEnvelope(
  envelope: { error?: unknown; error_description?: unknown },
  status: number,
  context: ErrorContext,
  secrets: readonly (string | undefined)[] = [],
): B24Error {
  const bitrixCode = typeof envelope.error === 'string' ? envelope.error : String(envelope.error ?? '');
  const bitrixDescription = redact(typeof envelope.error_description === 'string' ? envelope.error_description : '', secrets);
  const code = errorCodeFor(bitrixCode, status, bitrixDescription);
  const label = bitrixCode === '' ? '' : `${redact(bitrixCode, secrets)}: `;
  return new B24Error(code, `${context.method}: ${label}${bitrixDescription || 'error'}`, {
    bitrixCode,
    bitrixDescription,
    status,
    method: context.method,
    memberId: context.memberId,
  });
}

/** A B24Error of b24kit's own making for this call (timeouts, bad bodies, refusals). */
export function clientError(code: ErrorCode, detail: string, context: ErrorContext, extra: { status?: number; cause?: unknown } = {}): B24Error {
  return new B24Error(code, `${context.method}: ${detail}`, {
    method: context.method,
    memberId: context.memberId,
    ...(extra.status !== undefined ? { status: extra.status } : {}),
    ...(extra.cause !== undefined ? { cause: sanitizeCause(extra.cause) } : {}),
  });
}

/** Replaces every secret in `text` with `***`: portals and proxies sometimes echo the request. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 8) out = out.split(secret).join('***');
  return out;
}

/**
 * undici errors can hold the request options (and so the body with `auth`); keep only a plain
 * name, code and message.
 */
function sanitizeCause(cause: unknown): unknown {
  if (cause instanceof B24Error) return cause;
  if (cause instanceof Error) {
    const plain = new Error(cause.message);
    plain.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') (plain as Error & { code?: string }).code = code;
    return plain;
  }
  return undefined;
}
