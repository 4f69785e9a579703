/**
 * An error answered in the Bitrix24 envelope `{error, error_description}` (docs/protocol.md §4.4).
 * `code` may be the empty string, as legacy CRM methods answer "Not found".
 */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${code}: ${description}`);
    this.name = 'RestError';
  }

  toBody(): Record<string, unknown> {
    return { error: this.code, error_description: this.description, ...this.extra };
  }
}

/** The errors every part of the emulator answers with, as documented (docs/protocol.md §4.4). */
export const restErrors = {
  noAuth: () => new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data'),
  expiredToken: () => new RestError(401, 'expired_token', 'The access token provided has expired.'),
  invalidToken: () => new RestError(401, 'invalid_token', 'The access token provided is invalid.'),
  methodNotFound: () => new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!'),
  /**
   * 403 per the current system-errors table (apidocs.bitrix24.com error-codes); a webhook is told about its
   * "webhook token", as that table and the core's APAuth check word it.
   */
  insufficientScope: (kind: 'oauth' | 'webhook' = 'oauth') =>
    new RestError(403, 'insufficient_scope', `The request requires higher privileges than provided by the ${kind === 'webhook' ? 'webhook' : 'access'} token`),
  accessDenied: (description = 'Access denied!') => new RestError(403, 'ACCESS_DENIED', description),
  applicationContextRequired: () => new RestError(400, 'ACCESS_DENIED', 'Application context required'),
  wrongAuthType: () => new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method'),
  queryLimitExceeded: () => new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'),
  operationTimeLimit: (method: string) =>
    new RestError(429, 'OPERATION_TIME_LIMIT', `Method is blocked due to operation time limit: ${method}`),
  notFound: () => new RestError(400, '', 'Not found'),
  argument: (description: string, argument?: string) =>
    new RestError(400, 'ERROR_ARGUMENT', description, argument ? { argument } : {}),
  core: (description: string) => new RestError(400, 'ERROR_CORE', description),
  internal: () => new RestError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'),
  portalDeleted: () => new RestError(500, 'PORTAL_DELETED', 'Portal was deleted'),
  invalidRequest: (description: string) => new RestError(400, 'INVALID_REQUEST', description),
} as const;
