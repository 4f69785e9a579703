/**
 * Every error answer of the web server: `{ error: 'B24_ERR_…', message }` with the right status, no
 * stack, no request data. The reason is logged (warn for 4xx, error for 5xx) with the member_id,
 * never a token.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { B24Error, ERROR_CODES, type ErrorCode } from '../errors.js';

/** The HTTP status of each code the web server answers with. */
export const HTTP_STATUS_OF: Partial<Record<ErrorCode, number>> = {
  B24_ERR_BAD_REQUEST: 400,
  B24_ERR_SETTINGS: 400,
  B24_ERR_STATE_INVALID: 400,
  B24_ERR_CODE_EXCHANGE: 400,
  B24_ERR_UNAUTHORIZED: 401,
  B24_ERR_FORBIDDEN: 403,
  B24_ERR_MEMBER_MISMATCH: 403,
  B24_ERR_NOT_ADMIN: 403,
  B24_ERR_CREDENTIALS_UNPROVEN: 403,
  B24_ERR_DOMAIN_NOT_ALLOWED: 400,
  B24_ERR_TOO_MANY_REQUESTS: 429,
  B24_ERR_PORTAL_NOT_FOUND: 404,
  B24_ERR_ROUTE_NOT_FOUND: 404,
  B24_ERR_PORTAL_UNINSTALLED: 410,
  B24_ERR_PAYLOAD_TOO_LARGE: 413,
  B24_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  B24_ERR_INTERNAL: 500,
  B24_ERR_EVENT_NOT_HANDLED: 501,
  B24_ERR_OAUTH_UNAVAILABLE: 502,
};

/** Codes whose B24Error `status` is our own answer (not a portal's status carried along). */
const INBOUND = new Set<ErrorCode>(Object.keys(HTTP_STATUS_OF) as ErrorCode[]);

export interface ErrorAnswer {
  status: number;
  body: { error: ErrorCode; message: string };
}

/** Maps anything thrown in a route (or by Fastify) to the answer. */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof B24Error) {
    const known = INBOUND.has(error.code);
    const status = known ? (error.status !== undefined && error.status >= 400 && error.status < 600 ? error.status : (HTTP_STATUS_OF[error.code] ?? 500)) : 500;
    if (!known) return internal();
    return { status, body: { error: error.code, message: error.message } };
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer('B24_ERR_PAYLOAD_TOO_LARGE', 413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer('B24_ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Send application/x-www-form-urlencoded (or JSON)');
    default:
      break;
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return answer('B24_ERR_BAD_REQUEST', 400);
  return internal();
}

function answer(code: ErrorCode, status: number, message: string = ERROR_CODES[code]): ErrorAnswer {
  return { status, body: { error: code, message } };
}

function internal(): ErrorAnswer {
  return answer('B24_ERR_INTERNAL', 500);
}

/** Installs the error and not-found handlers. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = errorAnswer(error);
    const memberId = error instanceof B24Error ? error.memberId : undefined;
    const context = { code: body.error, status, ...(memberId ? { memberId } : {}) };
    if (status >= 500) {
      request.log.error({ ...context, err: error }, body.message);
    } else {
      request.log.warn(context, `request refused: ${body.message}`);
    }
    void reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = answer('B24_ERR_ROUTE_NOT_FOUND', 404, `No route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(status).send(body);
  });
}
