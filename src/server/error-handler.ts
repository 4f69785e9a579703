/**
 * Every error answer of the web server: `{ error: 'B24_ERR_…', message }` with the right status, no
 * stack, no request data; a store outage is 503 B24_ERR_STORE with Retry-After. The reason is logged (warn for 4xx, error for 5xx) with the member_id,
 * never a token.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { B24Error, ERROR_CODES, ERROR_HTTP_STATUS, type ErrorCode } from '../errors.js';
import { isStoreUnavailable } from '../store/sql.js';

export interface ErrorAnswer {
  status: number;
  body: { error: ErrorCode; message: string };
  /** Seconds, sent as Retry-After (503 on a store outage). */
  retryAfterSeconds?: number;
}

/**
 * How long a caller is asked to wait after a store outage: a PostgreSQL restart or failover takes
 * seconds, SQLite's write lock is held for milliseconds unless something is wrong.
 */
export const STORE_RETRY_AFTER_SECONDS = 5;

const STORE_UNAVAILABLE_MESSAGE = 'The store is unavailable (database down, unreachable or busy): nothing was stored; try again later';

/**
 * Maps anything thrown in a route (or by Fastify) to the answer. A B24Error is answered as itself
 * only when its code has an ERROR_HTTP_STATUS: for those codes `status` is our own answer (the
 * registry's, or the throw site's). A store outage (PostgreSQL down or unreachable, SQLite busy beyond
 * its timeout: isStoreUnavailable) is 503 B24_ERR_STORE with Retry-After: nothing was committed, so
 * the same request can be sent again. Any other code — a REST error carrying the PORTAL's status, a
 * failed statement — is 500 B24_ERR_INTERNAL: the portal's 503 is not ours to repeat.
 */
function errorAnswer(error: unknown): ErrorAnswer {
  if (isStoreUnavailable(error)) {
    return { status: 503, body: { error: 'B24_ERR_STORE', message: STORE_UNAVAILABLE_MESSAGE }, retryAfterSeconds: STORE_RETRY_AFTER_SECONDS };
  }
  if (error instanceof B24Error) {
    const registered = ERROR_HTTP_STATUS[error.code];
    if (registered === undefined) return answerFor('B24_ERR_INTERNAL');
    const status = error.status !== undefined && error.status >= 400 && error.status < 600 ? error.status : registered;
    return { status, body: { error: error.code, message: error.message } };
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answerFor('B24_ERR_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answerFor('B24_ERR_UNSUPPORTED_MEDIA_TYPE', 'Send application/x-www-form-urlencoded (or JSON)');
    default:
      break;
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return answerFor('B24_ERR_BAD_REQUEST');
  return answerFor('B24_ERR_INTERNAL');
}

/** The answer for `code` with its registry status; `code` must have one (ERROR_HTTP_STATUS). */
export function answerFor(code: ErrorCode, message: string = ERROR_CODES[code]): ErrorAnswer {
  return { status: ERROR_HTTP_STATUS[code] ?? 500, body: { error: code, message } };
}

/** Installs the error and not-found handlers. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body, retryAfterSeconds } = errorAnswer(error);
    const memberId = error instanceof B24Error ? error.memberId : undefined;
    const context = { code: body.error, status, ...(memberId ? { memberId } : {}) };
    if (retryAfterSeconds !== undefined) {
      // the answer says only "unavailable"; the log says what failed (the driver's error, the statement)
      request.log.error({ ...context, err: error }, `store unavailable, answered ${status}: ${error instanceof Error ? error.message : String(error)}`);
      void reply.header('retry-after', String(retryAfterSeconds));
    } else if (status >= 500) {
      request.log.error({ ...context, err: error }, body.message);
    } else {
      request.log.warn(context, `request refused: ${body.message}`);
    }
    void reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = answerFor('B24_ERR_ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(status).send(body);
  });
}
