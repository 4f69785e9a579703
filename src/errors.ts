/**
 * Every error b24kit throws, by stable code. Codes are never reused or renamed: logs, docs and
 * users' code match on them. Add new codes at the end of their group.
 *
 * Each code has its default message and, when the web server answers with it, the HTTP status of
 * that answer. A code without a status is never an answer: the web server turns it into
 * 500 B24_ERR_INTERNAL (a REST error's status is the portal's, not ours to repeat).
 *
 * Errors never carry tokens, secrets or application tokens — only the portal's member_id.
 */
const REGISTRY = {
  // configuration and store
  B24_ERR_CONFIG: { message: 'Invalid configuration' },
  B24_ERR_STORE: { message: 'Store failure' },
  B24_ERR_SECRET_KEY: { message: 'Encryption key missing or invalid' },
  B24_ERR_DECRYPT: { message: 'A stored secret could not be decrypted (wrong B24KIT_SECRET_KEY?)' },
  B24_ERR_APP_DEFINITION: { message: 'Invalid app definition (handler name, duplicate registration, bad options)' },
  B24_ERR_APP_NOT_STARTED: { message: 'The app is not initialized yet: call app.start() or app.init() first' },
  // portals and tokens
  B24_ERR_PORTAL_NOT_FOUND: { message: 'Unknown portal', status: 404 },
  B24_ERR_PORTAL_UNINSTALLED: { message: 'The app is uninstalled from this portal', status: 410 },
  B24_ERR_TOKEN_REVOKED: { message: 'The refresh token was rejected; the portal needs to be re-authorized' },
  B24_ERR_REFRESH_FAILED: { message: 'Token refresh failed' },
  B24_ERR_CODE_EXCHANGE: { message: 'The OAuth server did not exchange the authorization code for tokens', status: 400 },
  // REST
  B24_ERR_REST: { message: 'Bitrix24 answered with an error' },
  B24_ERR_RATE_LIMITED: { message: 'The portal refused the request: QUERY_LIMIT_EXCEEDED' },
  B24_ERR_OPERATION_TIME_LIMIT: { message: 'The method is blocked by the operating limit: OPERATION_TIME_LIMIT' },
  B24_ERR_AUTH: { message: 'The portal rejected the access token' },
  B24_ERR_ACCESS_DENIED: { message: 'The portal denied access' },
  B24_ERR_METHOD_NOT_FOUND: { message: 'Unknown method or scope not granted' },
  B24_ERR_NOT_FOUND: { message: 'The object was not found' },
  B24_ERR_SERVER: { message: 'The portal answered with a server error' },
  B24_ERR_NETWORK: { message: 'Network failure talking to the portal' },
  B24_ERR_TIMEOUT: { message: 'The portal did not answer in time' },
  B24_ERR_OUTCOME_UNKNOWN: { message: 'A write may or may not have been applied (timeout or network failure after sending)' },
  B24_ERR_BAD_RESPONSE: { message: 'The portal answered with something that is not a Bitrix24 JSON envelope' },
  B24_ERR_PORTAL_DELETED: { message: 'The portal was deleted' },
  B24_ERR_BATCH: { message: 'A batch command failed' },
  B24_ERR_INVALID_ARGUMENT: { message: 'The call was refused before sending: invalid arguments' },
  // inbound HTTP (install, OAuth, events)
  B24_ERR_BAD_REQUEST: { message: 'Malformed or incomplete request', status: 400 },
  B24_ERR_FORBIDDEN: { message: 'Authentication of the request failed', status: 403 },
  B24_ERR_STATE_INVALID: { message: 'OAuth state is unknown, used or expired', status: 400 },
  // queue and scheduler
  B24_ERR_JOB_NON_RETRYABLE: { message: 'The job failed in a way that retrying cannot fix' },
  B24_ERR_JOB_NOT_FOUND: { message: 'Unknown job' },
  B24_ERR_JOB_STATE: { message: 'The job is not in a state that allows this' },
  B24_ERR_LEASE_LOST: { message: 'The job is no longer leased to this worker; its outcome was discarded' },
  B24_ERR_SCHEDULE: { message: 'Invalid schedule (cron pattern or time zone)' },
  // inbound HTTP, continued
  B24_ERR_MEMBER_MISMATCH: { message: 'The member_id in the URL does not match the payload', status: 403 },
  B24_ERR_OAUTH_UNAVAILABLE: { message: 'The OAuth server could not be reached to verify the request', status: 502 },
  B24_ERR_EVENT_NOT_HANDLED: { message: 'This server has no event inbox (a portal server without an app)', status: 501 },
  B24_ERR_ROUTE_NOT_FOUND: { message: 'No such route', status: 404 },
  B24_ERR_PAYLOAD_TOO_LARGE: { message: 'Request body too large', status: 413 },
  B24_ERR_UNSUPPORTED_MEDIA_TYPE: { message: 'Unsupported request content type', status: 415 },
  B24_ERR_INTERNAL: { message: 'Internal server error', status: 500 },
  B24_ERR_NOT_ADMIN: { message: 'Only a portal administrator can install, re-install, update or authorize the app', status: 403 },
  B24_ERR_CREDENTIALS_UNPROVEN: { message: 'The offered refresh token could not be redeemed at the OAuth server: not a live token pair of this app', status: 403 },
  B24_ERR_DOMAIN_NOT_ALLOWED: { message: 'The domain is not a Bitrix24 cloud portal, an installed portal or an allowed host', status: 400 },
  B24_ERR_TOO_MANY_REQUESTS: { message: 'Too many requests of this kind; try again later', status: 429 },
  // event bindings, robots, offline events
  B24_ERR_BINDINGS_INCOMPLETE: { message: 'Some event bindings or robots could not be reconciled with the portal' },
  B24_ERR_OFFLINE_DRAIN_INTERRUPTED: { message: 'An offline-events drain stopped with records still reserved on the portal' },
  // the app's own routes, per-portal settings, intake
  B24_ERR_UNAUTHORIZED: { message: 'The request is not signed or authorized for this portal', status: 401 },
  B24_ERR_SETTINGS: { message: 'Invalid portal settings', status: 400 },
  // the admin dashboard (/admin)
  B24_ERR_ADMIN_UNAUTHORIZED: { message: 'Admin authentication required: a session (POST /admin/login) or Authorization: Bearer <admin token>', status: 401 },
  B24_ERR_ADMIN_CSRF: { message: 'The form is not from this dashboard: CSRF token or origin missing or wrong', status: 403 },
  B24_ERR_ADMIN_THROTTLED: { message: 'Too many failed admin logins from this address: try again after Retry-After seconds', status: 429 },
  // integrations: the email service (Mailchimp) of the contacts sync
  B24_ERR_EMAIL_SERVICE: { message: 'The email service answered with an error' },
} as const satisfies Record<string, { message: string; status?: number }>;

export type ErrorCode = keyof typeof REGISTRY;

type DefaultMessages = { readonly [C in ErrorCode]: (typeof REGISTRY)[C]['message'] };

/** The default message of each code. */
export const ERROR_CODES: DefaultMessages = Object.freeze(
  Object.fromEntries(Object.entries(REGISTRY).map(([code, entry]) => [code, entry.message])) as DefaultMessages,
);

/** The HTTP status of the web server's answer, for each code it answers with. */
export const ERROR_HTTP_STATUS: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze(
  Object.fromEntries(Object.entries(REGISTRY).flatMap(([code, entry]) => ('status' in entry ? [[code, entry.status]] : []))),
);

export interface B24ErrorDetails {
  /** The Bitrix24 error code (`error` of the envelope), which may be the empty string. */
  bitrixCode?: string;
  /** Bitrix24's `error_description`. */
  bitrixDescription?: string;
  /**
   * The HTTP status of the portal's or OAuth server's answer the error came from; or, for an
   * error of b24kit's own, the status to answer with when it differs from the code's
   * ERROR_HTTP_STATUS (a missing application_token is 401 B24_ERR_FORBIDDEN, a wrong one 403).
   */
  status?: number;
  method?: string;
  memberId?: string;
  cause?: unknown;
}

/** The base of every b24kit error. `code` is stable (see ERROR_CODES). */
export class B24Error extends Error {
  readonly code: ErrorCode;
  readonly bitrixCode: string | undefined;
  readonly bitrixDescription: string | undefined;
  /**
   * The HTTP status of the portal's or OAuth server's answer the error came from (a REST error's
   * 503), else the code's ERROR_HTTP_STATUS or the one the throw site named. The web server
   * answers with it only for codes in ERROR_HTTP_STATUS (errorAnswer, src/server/error-handler.ts).
   */
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly memberId: string | undefined;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], details: B24ErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'B24Error';
    this.code = code;
    this.bitrixCode = details.bitrixCode;
    this.bitrixDescription = details.bitrixDescription;
    this.status = details.status ?? ERROR_HTTP_STATUS[code];
    this.method = details.method;
    this.memberId = details.memberId;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      bitrixCode: this.bitrixCode,
      status: this.status,
      method: this.method,
      memberId: this.memberId,
    };
  }
}
