import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { Emulator } from './emulator.js';
import type { EmulatorOptionsInput } from './options.js';
import type { Portal } from './portal.js';
import { parsePhpQuery } from './params.js';
import { dispatchRest } from './rest/dispatch.js';
import { RestError, restErrors } from './rest-error.js';
import { authorizeEndpoint, oauthServerRest, tokenEndpoint, type OAuthReply } from './oauth/routes.js';
import { registerControlRoutes } from './control/index.js';
import { controlError } from './control/validation.js';
import { controlRefusal, isControlRequest } from './control-guard.js';


interface ParsedBody {
  params: Record<string, unknown>;
  invalid?: string;
}

/** Builds the HTTP face of an emulator: OAuth server, portals' REST, and the control API. */
export function buildEmulatorServer(emulator: Emulator): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: emulator.options.bodyLimitBytes,
    forceCloseConnections: true,
    // malformed URLs and similar router-level failures answer in the envelope, not Fastify's own shape
    frameworkErrors: (error, _request, reply) => {
      const description = (error as { code?: string }).code === 'FST_ERR_BAD_URL' ? 'Malformed URL' : 'Bad request';
      void (reply as FastifyReply).status(400).send({ error: 'INVALID_REQUEST', error_description: description });
    },
    routerOptions: {
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
      querystringParser: (text: string) => parsePhpQuery(text),
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, { params: {} } satisfies ParsedBody);
    try {
      const value: unknown = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        return done(null, { params: {}, invalid: 'The JSON body must be an object' } satisfies ParsedBody);
      }
      done(null, { params: value as Record<string, unknown> } satisfies ParsedBody);
    } catch {
      done(null, { params: {}, invalid: 'Malformed JSON body' } satisfies ParsedBody);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, { params: parsePhpQuery(String(body)) } satisfies ParsedBody);
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    parseMultipart(String(req.headers['content-type'] ?? ''), body as Buffer).then(
      (params) => done(null, { params } satisfies ParsedBody),
      () => done(null, { params: {}, invalid: 'Malformed multipart body' } satisfies ParsedBody),
    );
  });
  // the core parses any other POST body with parse_str, whatever its content type (CORE rest_util.php `getRequestData`)
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    done(null, { params: parsePhpQuery(String(body)) } satisfies ParsedBody);
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const description = status === 413 ? 'Request body is too large' : status === 500 ? 'Internal server error' : 'Bad request';
    void reply.status(status).send({ error: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'INVALID_REQUEST', error_description: description });
  });
  app.setNotFoundHandler((_request, reply) => {
    const error = restErrors.methodNotFound();
    void reply.status(error.status).send(error.toBody());
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!isControlRequest(request)) return;
    const refusal = controlRefusal(request, emulator.baseUrl, emulator.options.controlHosts);
    if (refusal) return controlError(reply, refusal.status, refusal.error, refusal.message);
  });
  registerControlRoutes(app, emulator);

  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
    url: '/*',
    handler: (request, reply) => route(emulator, request, reply),
  });
  return app;
}

async function route(emulator: Emulator, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const url = new URL(request.url.replace(/\/{2,}/g, '/'), 'http://emulator');
  const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
  const body = (request.body as ParsedBody | undefined) ?? { params: {} };
  const query = (request.query ?? {}) as Record<string, unknown>;
  // body parameters override query parameters (CORE rest_util.php `getRequestData`: array_replace)
  const params = { ...query, ...body.params };
  const bearer = bearerToken(request.headers.authorization);

  const host = hostname(request.headers.host);
  const hostPortal = emulator.portalByDomain(host);
  if (hostPortal) return portalRoute(emulator, hostPortal, segments, params, bearer, body, request, reply);
  const renamedHost = emulator.portalByPreviousDomain(host);
  if (renamedHost) {
    // a renamed portal answers 302 to its new address with the same path (docs/protocol.md §4.5)
    const port = /:\d+$/.exec(request.headers.host ?? '')?.[0] ?? '';
    return moved(reply, `${request.protocol}://${renamedHost.domain}${port}${url.pathname}${url.search}`);
  }

  const first = segments[0] ?? '';
  if (first === '_emulator') return controlError(reply, 404, 'CONTROL_ROUTE_NOT_FOUND', `No control route ${request.method} ${url.pathname}`);
  if (first === 'oauth' && segments[1] === 'token') return sendOAuth(reply, tokenEndpoint(emulator, params));
  if (first === 'rest') {
    return sendOAuth(reply, oauthServerRest(emulator, segments.slice(1).join('/'), params, bearer));
  }
  if (first.includes('.')) {
    const portal = emulator.portalByDomain(first);
    if (portal) return portalRoute(emulator, portal, segments.slice(1), params, bearer, body, request, reply);
    const renamed = emulator.portalByPreviousDomain(first);
    if (renamed) {
      const tail = url.pathname.split('/').filter(Boolean).slice(1).join('/');
      return moved(reply, `${emulator.baseUrl}/${renamed.domain}/${tail}${url.search}`);
    }
    return reply.status(404).type('text/html').send('<html><body><h1>404 Not Found</h1><p>No portal at this address</p></body></html>');
  }
  return sendRest(reply, restErrors.methodNotFound().status, restErrors.methodNotFound().toBody());
}

/**
 * The control API answers programs (tests, the CLI, benchmarks), never web pages: it has no
 * authentication, and any page open in the developer's browser can reach 127.0.0.1. A form POST is a
 * "simple" cross-origin request that no CORS preflight stops, and the control API reads form bodies, so
 * without this a page could rename or uninstall a portal whose member_id it knows (the demo's is fixed)
 * or install one with an `appUrl` of its own. Browsers name the page in `Origin` on every POST/PUT/DELETE
 * and on cross-origin fetches; programs send none. The emulator's own origin stays allowed.
 */
function moved(reply: FastifyReply, location: string): FastifyReply {
  return reply.status(302).header('location', location).type('text/html').send('<html><body><h1>302 Found</h1><p>The portal has moved.</p></body></html>');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** multipart/form-data through the platform's own parser; file parts are passed by name only. */
async function parseMultipart(contentType: string, body: Buffer): Promise<Record<string, unknown>> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const flat = new URLSearchParams();
  for (const [name, value] of form.entries()) flat.append(name, typeof value === 'string' ? value : value.name);
  return parsePhpQuery(flat.toString());
}

async function portalRoute(
  emulator: Emulator,
  portal: Portal,
  segments: string[],
  params: Record<string, unknown>,
  bearer: string | undefined,
  body: ParsedBody,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  if (segments[0] === 'oauth' && segments[1] === 'authorize') return sendOAuth(reply, authorizeEndpoint(emulator, portal, params));
  if (segments[0] !== 'rest') {
    return reply.status(404).type('text/html').send('<html><body><h1>404 Not Found</h1></body></html>');
  }

  const fault = await applyFaults(emulator, portal, request, reply);
  if (fault === 'handled') return reply;
  if (body.invalid) {
    portal.stats.requests += 1;
    const error = restErrors.invalidRequest(body.invalid);
    portal.countStatus(error.status);
    return sendRest(reply, error.status, error.toBody());
  }
  if (!emulator.options.relax.allowHttp && request.protocol !== 'https') {
    portal.stats.requests += 1;
    const error = restErrors.invalidRequest('Https required.');
    portal.countStatus(error.status);
    return sendRest(reply, error.status, error.toBody());
  }

  const response = await dispatchRest(emulator, {
    portal,
    path: segments.slice(1).join('/'),
    params,
    ...(bearer ? { bearer } : {}),
  });
  if (portal.cost.simulateLatency && response.delayMs > 0) await sleep(response.delayMs);
  return sendRest(reply, response.status, response.body);
}

/** Per-portal faults (control API `PUT …/faults`): downtime, resets, hangs, latency, errors. */
async function applyFaults(emulator: Emulator, portal: Portal, request: FastifyRequest, reply: FastifyReply): Promise<'handled' | 'pass'> {
  const { faults } = portal;
  if (faults.downUntilMs > emulator.clock.nowMs()) {
    portal.stats.requests += 1;
    portal.countStatus(503);
    await reply.status(503).type('text/html').send('<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>');
    return 'handled';
  }
  if (faults.resetRate > 0 && Math.random() < faults.resetRate) {
    portal.stats.requests += 1;
    reply.hijack();
    request.raw.socket.destroy();
    return 'handled';
  }
  if (faults.hangRate > 0 && Math.random() < faults.hangRate) {
    portal.stats.requests += 1;
    reply.hijack();
    // never answered: the connection stays open until the client or the server closes it
    await new Promise<void>((resolve) => request.raw.socket.once('close', () => resolve()));
    return 'handled';
  }
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);
  const everyNth = faults.errorEvery > 0 && (portal.faultCounter = portal.faultCounter + 1) % faults.errorEvery === 0;
  if (everyNth || (faults.errorRate > 0 && Math.random() < faults.errorRate)) {
    portal.stats.requests += 1;
    portal.countStatus(faults.errorStatus);
    const error = new RestError(faults.errorStatus, faults.errorCode, 'Injected fault');
    await reply.status(error.status).send(error.toBody());
    return 'handled';
  }
  return 'pass';
}

function sendOAuth(reply: FastifyReply, answer: OAuthReply): FastifyReply {
  if (answer.location) return reply.status(answer.status).header('location', answer.location).send();
  if (answer.html) return reply.status(answer.status).type('text/html').send(answer.body);
  return reply.status(answer.status).type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}

function sendRest(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}

function hostname(host: string | undefined): string {
  return (host ?? '').replace(/:\d+$/, '').toLowerCase();
}

export interface StartEmulatorOptions extends EmulatorOptionsInput {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
}

export interface RunningEmulator {
  /** e.g. `http://127.0.0.1:4100` */
  url: string;
  emulator: Emulator;
  server: FastifyInstance;
  close(): Promise<void>;
}

/** Starts an emulator on a real socket. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const { port = 0, host = '127.0.0.1', ...emulatorOptions } = options;
  const emulator = new Emulator(emulatorOptions);
  const server = buildEmulatorServer(emulator);
  await server.listen({ port, host });
  const address = server.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const listenHost = host.includes(':') ? `[${host}]` : host;
  emulator.baseUrl = (emulatorOptions.publicUrl ?? `http://${listenHost}:${actualPort}`).replace(/\/+$/, '');
  return { url: emulator.baseUrl, emulator, server, close: () => server.close() };
}

