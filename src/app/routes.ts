/**
 * The app's and plugins' own HTTP routes (`kit.route`). Each is registered in a Fastify scope that
 * keeps the body as sent (`rawBody`, what a signature covers) and parses it only after the request
 * is authenticated, so a forged request is refused before its body is even read as JSON.
 *
 * For a path with `:memberId`, before the handler runs:
 * 1. the portal is looked up; it must be installed (active, or needs_reauth: jobs wait for it);
 * 2. the route's auth reads its secret from the owner's settings of that portal and verifies the
 *    request (route-auth.ts);
 * 3. any failure — malformed member_id, unknown or uninstalled portal, no secret stored, a bad or
 *    missing signature or key, another portal's secret, a stale timestamp — answers the SAME
 *    401 `B24_ERR_UNAUTHORIZED`, after the same work (lookup, settings read, one HMAC against a
 *    dummy secret when there is none): an outsider learns nothing about which portals exist.
 * Nothing is stored or enqueued for a refused request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { B24Error } from '../errors.js';
import { isMemberId } from '../validators.js';
import type { Job, Json } from '../queue/types.js';
import type { B24Client } from '../rest/client.js';
import { parseForm } from '../server/body-parsers.js';
import type { PortalInfo, PortalRegistry } from '../store/portals.js';
import type { RouteEntry } from './definitions.js';
import type { AppSignal, IngestOptions, IngestResult, RouteContext } from './kit.js';
import type { PortalValues } from './portal-values.js';
import { dummySecret } from './route-auth.js';
import { portalView } from './portal-view.js';
import type { EnqueueOptions } from './types.js';

export interface AppRouteParts {
  portals: PortalRegistry;
  values: PortalValues;
  client(memberId: string): B24Client;
  ingest(memberId: string, job: string, externalId: string, payload: Json, options?: IngestOptions): Promise<IngestResult>;
  enqueue(memberId: string, job: string, payload: Json, options?: EnqueueOptions): Promise<Job>;
  nowMs(): number;
  logger: PinoLogger;
  signal(signal: AppSignal): void;
}

const UNAUTHORIZED = 'The request is not signed or authorized for this portal';

export function registerAppRoutes(server: FastifyInstance, routes: readonly RouteEntry[], parts: AppRouteParts): void {
  if (routes.length === 0) return;
  void server.register(async (scope) => {
    // the body as sent: signatures are over bytes, and parsing waits for authentication
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const route of routes) {
      scope.route({
        method: route.method,
        url: route.path,
        ...(route.options.bodyLimitBytes !== undefined ? { bodyLimit: route.options.bodyLimitBytes } : {}),
        handler: (request, reply) => handle(route, request, reply, parts),
      });
    }
  });
}

async function handle(route: RouteEntry, request: FastifyRequest, reply: FastifyReply, parts: AppRouteParts): Promise<unknown> {
  const params = (request.params ?? {}) as Record<string, string>;
  const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const memberId = params.memberId;
  const hasPortal = memberId !== undefined;
  let portal: PortalInfo | undefined;
  if (hasPortal) {
    portal = await authenticate(route, memberId, request, rawBody, parts);
    if (!portal) {
      parts.signal({ type: 'route', path: route.path, outcome: 'unauthorized' });
      throw new B24Error('B24_ERR_UNAUTHORIZED', UNAUTHORIZED);
    }
  }
  const body = parseBody(request.headers['content-type'], rawBody);
  const log = parts.logger.child({ route: `${route.method} ${route.path}`, ...(hasPortal ? { memberId } : {}), ...(route.owner !== 'app' ? { plugin: route.owner } : {}) });
  let status: number | undefined;
  const headers: Record<string, string> = {};
  const needPortal = (what: string): PortalInfo => {
    if (!portal) throw new B24Error('B24_ERR_APP_DEFINITION', `ctx.${what} is only available on routes with :memberId`);
    return portal;
  };
  const ctx: RouteContext = {
    params,
    query: (request.query ?? {}) as Record<string, unknown>,
    headers: request.headers,
    ip: request.ip,
    rawBody,
    body,
    log,
    status(code) {
      if (!Number.isInteger(code) || code < 200 || code > 599) throw new B24Error('B24_ERR_INVALID_ARGUMENT', `ctx.status(${code}): not an HTTP status`);
      status = code;
    },
    header(name, value) {
      headers[name.toLowerCase()] = value;
    },
    raw: (raw) => new RawAnswer(raw),
    get portal() {
      return portalView(needPortal('portal'));
    },
    get b24() {
      return parts.client(needPortal('b24').memberId);
    },
    get settings() {
      return parts.values.for(needPortal('settings').memberId, route.owner);
    },
    ingest: (job, externalId, payload, options) => parts.ingest(needPortal('ingest').memberId, job, externalId, payload as Json, options),
    enqueue: (job, payload, options) => parts.enqueue(needPortal('enqueue').memberId, job, payload as Json, options),
  } as RouteContext;
  try {
    const result = await route.handler(ctx as never);
    parts.signal({ type: 'route', path: route.path, outcome: 'ok' });
    void reply.headers(headers);
    if (result === undefined) return reply.status(status ?? 204).send();
    if (result instanceof RawAnswer) return reply.status(status ?? 200).send(result.raw);
    return reply.status(status ?? 200).type('application/json; charset=utf-8').send(JSON.stringify(result));
  } catch (error) {
    parts.signal({ type: 'route', path: route.path, outcome: 'error' });
    throw error;
  }
}

class RawAnswer {
  constructor(readonly raw: string | Buffer) {}
}

/** The portal when the request is authentic for it; undefined otherwise (see the file comment). */
async function authenticate(route: RouteEntry, memberId: string, request: FastifyRequest, rawBody: Buffer, parts: AppRouteParts): Promise<PortalInfo | undefined> {
  const wellFormed = isMemberId(memberId);
  const found = wellFormed ? await parts.portals.info(memberId) : undefined;
  const portal = found && (found.state === 'active' || found.state === 'needs_reauth') ? found : undefined;
  const auth = route.options.auth;
  if (auth === undefined || auth === 'none') return portal;
  let secret: string | undefined;
  try {
    // read for unknown portals too (it finds nothing): the same queries either way
    const stored = wellFormed ? (await parts.values.for(memberId, route.owner).peek())[auth.secretKey] : undefined;
    secret = typeof stored === 'string' && stored !== '' ? stored : undefined;
  } catch (error) {
    parts.logger.error({ err: error, memberId, route: route.path }, 'route auth: the portal secret could not be read');
  }
  const ok = auth.verify({ headers: request.headers, rawBody, nowMs: parts.nowMs(), query: (request.query ?? {}) as Record<string, unknown> }, secret ?? dummySecret());
  if (ok && secret !== undefined && portal) return portal;
  request.log.warn({ memberId: wellFormed ? memberId : undefined, route: route.path, known: portal !== undefined, secretSet: secret !== undefined }, 'route request refused: not authentic for the portal');
  return undefined;
}

function parseBody(contentType: string | undefined, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      throw new B24Error('B24_ERR_BAD_REQUEST', 'Malformed JSON body');
    }
  }
  if (type === 'application/x-www-form-urlencoded') return parseForm(raw.toString('utf8'));
  return undefined;
}
