/**
 * Every error b24kit throws, by stable code. Codes are never reused or renamed: logs, docs and
 * users' code match on them. Add new codes at the end of their group.
 *
 * Errors never carry tokens, secrets or application tokens — only the portal's member_id.
 */
export const ERROR_CODES = {
  // configuration and store
  B24_ERR_CONFIG: 'Invalid configuration',
  B24_ERR_STORE: 'Store failure',
  B24_ERR_SECRET_KEY: 'Encryption key missing or invalid',
  B24_ERR_DECRYPT: 'A stored secret could not be decrypted (wrong B24KIT_SECRET_KEY?)',
  B24_ERR_APP_DEFINITION: 'Invalid app definition (handler name, duplicate registration, bad options)',
  B24_ERR_APP_NOT_STARTED: 'The app is not initialized yet: call app.start() or app.init() first',
  // portals and tokens
  B24_ERR_PORTAL_NOT_FOUND: 'Unknown portal',
  B24_ERR_PORTAL_UNINSTALLED: 'The app is uninstalled from this portal',
  B24_ERR_TOKEN_REVOKED: 'The refresh token was rejected; the portal needs to be re-authorized',
  B24_ERR_REFRESH_FAILED: 'Token refresh failed',
  B24_ERR_CODE_EXCHANGE: 'The OAuth server did not exchange the authorization code for tokens',
  // REST
  B24_ERR_REST: 'Bitrix24 answered with an error',
  B24_ERR_RATE_LIMITED: 'The portal refused the request: QUERY_LIMIT_EXCEEDED',
  B24_ERR_OPERATION_TIME_LIMIT: 'The method is blocked by the operating limit: OPERATION_TIME_LIMIT',
  B24_ERR_AUTH: 'The portal rejected the access token',
  B24_ERR_ACCESS_DENIED: 'The portal denied access',
  B24_ERR_METHOD_NOT_FOUND: 'Unknown method or scope not granted',
  B24_ERR_NOT_FOUND: 'The object was not found',
  B24_ERR_SERVER: 'The portal answered with a server error',
  B24_ERR_NETWORK: 'Network failure talking to the portal',
  B24_ERR_TIMEOUT: 'The portal did not answer in time',
  B24_ERR_OUTCOME_UNKNOWN: 'A write may or may not have been applied (timeout or network failure after sending)',
  B24_ERR_BAD_RESPONSE: 'The portal answered with something that is not a Bitrix24 JSON envelope',
  B24_ERR_PORTAL_DELETED: 'The portal was deleted',
  B24_ERR_BATCH: 'A batch command failed',
  B24_ERR_INVALID_ARGUMENT: 'The call was refused before sending: invalid arguments',
  // inbound HTTP (install, OAuth, events)
  B24_ERR_BAD_REQUEST: 'Malformed or incomplete request',
  B24_ERR_FORBIDDEN: 'Authentication of the request failed',
  B24_ERR_STATE_INVALID: 'OAuth state is unknown, used or expired',
  // queue and scheduler
  B24_ERR_JOB_NON_RETRYABLE: 'The job failed in a way that retrying cannot fix',
  B24_ERR_JOB_NOT_FOUND: 'Unknown job',
  B24_ERR_JOB_STATE: 'The job is not in a state that allows this',
  B24_ERR_LEASE_LOST: 'The job is no longer leased to this worker; its outcome was discarded',
  B24_ERR_SCHEDULE: 'Invalid schedule (cron pattern or time zone)',
  B24_ERR_MEMBER_MISMATCH: 'The member_id in the URL does not match the payload',
  B24_ERR_OAUTH_UNAVAILABLE: 'The OAuth server could not be reached to verify the request',
  B24_ERR_EVENT_NOT_HANDLED: 'No receiver for this event yet',
  B24_ERR_ROUTE_NOT_FOUND: 'No such route',
  B24_ERR_PAYLOAD_TOO_LARGE: 'Request body too large',
  B24_ERR_UNSUPPORTED_MEDIA_TYPE: 'Unsupported request content type',
  B24_ERR_INTERNAL: 'Internal server error',
  B24_ERR_NOT_ADMIN: 'Only a portal administrator can install, re-install, update or authorize the app',
  B24_ERR_CREDENTIALS_UNPROVEN: 'The offered refresh token could not be redeemed at the OAuth server: not a live token pair of this app',
  B24_ERR_DOMAIN_NOT_ALLOWED: 'The domain is not a Bitrix24 cloud portal, an installed portal or an allowed host',
  B24_ERR_TOO_MANY_REQUESTS: 'Too many requests of this kind; try again later',
  // event bindings, robots, offline events
  B24_ERR_BINDINGS_INCOMPLETE: 'Some event bindings or robots could not be reconciled with the portal',
  B24_ERR_OFFLINE_DRAIN_INTERRUPTED: 'An offline-events drain stopped with records still reserved on the portal',
  // the app's own routes, per-portal settings, intake
  B24_ERR_UNAUTHORIZED: 'The request is not signed or authorized for this portal',
  B24_ERR_SETTINGS: 'Invalid portal settings',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface B24ErrorDetails {
  /** The Bitrix24 error code (`error` of the envelope), which may be the empty string. */
  bitrixCode?: string;
  /** Bitrix24's `error_description`. */
  bitrixDescription?: string;
  /** HTTP status of the portal's answer, or of b24kit's own answer for inbound errors. */
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
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly memberId: string | undefined;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], details: B24ErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'B24Error';
    this.code = code;
    this.bitrixCode = details.bitrixCode;
    this.bitrixDescription = details.bitrixDescription;
    this.status = details.status;
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
