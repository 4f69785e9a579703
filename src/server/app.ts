import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type FastifyReply, type FastifyRequest } from 'fastify';
import type { PortalInstaller } from '../oauth/installer.js';
import type { OAuthStateStore } from '../oauth/oauth-state.js';
import type { Store } from '../store/types.js';
import { parseForm, registerBodyParsers, type FormLimits } from './body-parsers.js';
import { answerFor, registerErrorHandlers } from './error-handler.js';
import { registerInstallRoute } from './routes/install.js';
import { registerOAuthRoutes } from './routes/oauth.js';
import { registerWebhookRoutes, type EventSink } from './routes/webhooks.js';

/** What the install, OAuth and lifecycle routes need. Without it only /health and /ready exist. */

/** Which proxies in front are trusted (see ServerOptions.trustProxy): none, all, how many, or which addresses. */
export type TrustProxy = boolean | number | string | string[];

/** Fastify's form: a hop count becomes "trust the first n hops from here" (its types take no number). */
function fastifyTrustProxy(trustProxy: TrustProxy | undefined): boolean | string | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy !== 'number') return trustProxy ?? false;
  const hops = Math.max(0, Math.floor(trustProxy));
  return (_address, hop) => hop < hops;
}

/** Whether any proxy is trusted, i.e. X-Forwarded-Proto/Host may be believed. */
export function trustsAProxy(trustProxy: TrustProxy | undefined): boolean {
  if (Array.isArray(trustProxy)) return trustProxy.length > 0;
  return trustProxy !== undefined && trustProxy !== false && trustProxy !== 0 && trustProxy !== '';
}
export interface PortalRoutesOptions {
  installer: PortalInstaller;
  states: OAuthStateStore;
  store: Store;
  /** Our client_id (the authorize URL names it). */
  clientId: string;
  /** Clock in epoch ms. @defaultValue Date.now */
  nowMs?: () => number;
  /** The app's event inbox; without it, events other than ONAPPUPDATE/ONAPPUNINSTALL answer 501. */
  events?: EventSink;
  /** Hosts besides Bitrix24 cloud portals and installed ones that `/oauth/start` may redirect to (exact, or `*.suffix`). @defaultValue [] */
  allowedDomains?: readonly string[];
}

export interface WebServerOptions {
  /** pino options or `false`, when no `loggerInstance` is given. @defaultValue false */
  logger?: boolean | Record<string, unknown>;
  /** A ready pino logger (server/logging.ts createServerLogger: secrets redacted). Wins over `logger`. */
  loggerInstance?: FastifyBaseLogger;
  /** Readiness probe: resolves when the app can take traffic (store open, migrations done). */
  ready?: () => Promise<boolean>;
  portals?: PortalRoutesOptions;
  /** Largest request body in bytes. @defaultValue 1048576 (1 MiB) */
  bodyLimitBytes?: number;
  /** Limits of form bodies (PHP bracket syntax). */
  form?: FormLimits;
  /**
   * Trust X-Forwarded-* from the proxies in front (Fastify's `trustProxy`): their number (`1` for one
   * load balancer) or their addresses/CIDRs, so `request.ip` is the address the first of them saw.
   * `true` trusts every hop: the client's own X-Forwarded-For entry becomes its address, which it
   * can then choose (per-address limits such as the admin login throttle can be evaded). @defaultValue false
   */
  trustProxy?: TrustProxy;
  /** More routes (the app's robots and /metrics), registered after the built-in ones. */
  routes?: (app: FastifyInstance) => void;
  /**
   * Time a client has to send the request line and headers, in ms; then 408 and the connection is
   * closed (a slow-header client holds a socket for nothing). 0 = none. Must not exceed
   * `requestTimeoutMs`. @defaultValue 5000
   */
  headersTimeoutMs?: number;
  /**
   * Time a client has to send the whole request, body included, in ms; then 408 and the connection
   * is closed (a trickled body). Bitrix24 gives an event handler about 3 s for the whole exchange.
   * 0 = none. @defaultValue 10000
   */
  requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open between requests, in ms. Behind a proxy or
   * load balancer that reuses connections, set it above the proxy's idle timeout. @defaultValue 5000
   */
  keepAliveTimeoutMs?: number;
  /**
   * A connection with no traffic either way for this long is closed, in ms: a client that stops
   * reading its answer, a handler that hangs. 0 = none. @defaultValue 30000
   */
  connectionTimeoutMs?: number;
  /** Open connections at most; further ones are closed as soon as they are accepted. 0 = no cap. @defaultValue 1024 */
  maxConnections?: number;
}

/** The app's HTTP server: health, readiness, install, the OAuth code flow and the event receiver. */
export function buildWebServer(options: WebServerOptions = {}): FastifyInstance {
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: options.logger ?? false }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    trustProxy: fastifyTrustProxy(options.trustProxy),
    forceCloseConnections: true,
    return503OnClosing: true,
    ...serverTimeouts(options),
    routerOptions: {
      // PHP bracket syntax in query strings too; over a limit the query is dropped and the route's own checks answer 400
      querystringParser: (text: string) => {
        try {
          return parseForm(text, options.form);
        } catch {
          return {};
        }
      },
    },
    logController: new DeliveryLogController(),
    childLoggerFactory: lazyChildLogger,
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const bad = (error as { code?: string }).code === 'FST_ERR_BAD_URL' ? 'Malformed URL' : 'Bad request';
      const { status, body } = answerFor('B24_ERR_BAD_REQUEST', bad);
      void reply.status(status).send(body);
    },
    clientErrorHandler: answerClientError,
  });
  app.server.maxConnections = options.maxConnections ?? 1024;
  registerBodyParsers(app, options.form);
  registerErrorHandlers(app);

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    const ready = options.ready ? await options.ready().catch(() => false) : true;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });

  const portals = options.portals;
  if (portals) {
    const nowMs = portals.nowMs ?? Date.now;
    registerInstallRoute(app, { installer: portals.installer, nowMs });
    registerOAuthRoutes(app, {
      installer: portals.installer,
      states: portals.states,
      store: portals.store,
      clientId: portals.clientId,
      ...(portals.allowedDomains ? { allowedDomains: portals.allowedDomains } : {}),
    });
    registerWebhookRoutes(app, { installer: portals.installer, nowMs, ...(portals.events ? { events: portals.events } : {}) });
  }
  options.routes?.(app);
  return app;
}

/**
 * Slow clients (slow headers, a trickled body, idle keep-alive sockets) are cut off instead of
 * holding a connection. Node checks the header and request timeouts only every
 * `connectionsCheckingInterval` (30 s by default), so the check runs at a quarter of the shorter one.
 */
function serverTimeouts(options: WebServerOptions) {
  const headersTimeout = options.headersTimeoutMs ?? 5000;
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0));
  return {
    connectionTimeout: options.connectionTimeoutMs ?? 30_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
    requestTimeout,
    http: {
      headersTimeout,
      requestTimeout,
      ...(Number.isFinite(shortest) ? { connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(shortest / 4))) } : {}),
    },
  };
}

/**
 * Requests Node's HTTP parser refuses before any route sees them (a malformed request line or
 * header, headers over 16 KiB, a header or request timeout) answer in the same shape as every other
 * error — `{ error: 'B24_ERR_…', message }` — and the connection is closed.
 */
function answerClientError(error: Error & { code?: string }, socket: import('node:net').Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'Request header fields too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request was not received in time']
        : [400, 'Bad Request', 'Malformed HTTP request'];
  const body = JSON.stringify({ error: 'B24_ERR_BAD_REQUEST', message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * A portal's event or robot delivery, or a POST to a plugin's route (a store's order webhook): the
 * hot paths, thousands a second under load.
 */
function isDelivery(request: FastifyRequest): boolean {
  return request.method === 'POST' && (request.url.startsWith('/webhooks/') || request.url.startsWith('/robots/') || request.url.startsWith('/api/v1/'));
}

/**
 * Fastify's per-request lines ("incoming request", "request completed") at `debug` instead of
 * `info` for deliveries, so that the default level does not write two lines per event or order
 * (counted in /metrics instead; a plugin's handler logs what it did with it). A delivery that ends
 * in an error keeps Fastify's own line and level.
 */
class DeliveryLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (!isDelivery(request)) return super.incomingRequest(request, reply, metadata);
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error || !isDelivery(request)) return super.requestCompleted(error, request, reply, metadata);
    if (!this.isLogDisabled(request)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * `request.log` that becomes pino's child (bindings: the request id) only when the request writes
 * a line at an enabled level. pino's child() serialises its bindings through the redaction paths
 * (server/logging.ts), which cost more than the rest of an event delivery's logging; most requests
 * never log at all.
 */
const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) => {
  if (typeof (logger as Partial<LevelAware>).isLevelEnabled !== 'function' || options.level !== undefined) return logger.child(bindings, options);
  return new LazyChildLogger(logger as FastifyBaseLogger & LevelAware, bindings, options) as unknown as FastifyBaseLogger;
};

interface LevelAware {
  isLevelEnabled(level: string): boolean;
}

type LogArgs = Parameters<FastifyBaseLogger['info']>;

class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger & LevelAware,
    private readonly bindings: Record<string, unknown>,
    private readonly options: Parameters<FastifyBaseLogger['child']>[1],
  ) {}

  get level(): string {
    return this.#child ? this.#child.level : this.parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  child(...args: Parameters<FastifyBaseLogger['child']>): FastifyBaseLogger {
    return this.#real().child(...args);
  }

  silent(): void {}

  fatal(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('fatal')) this.#real().fatal(...args);
  }

  error(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('error')) this.#real().error(...args);
  }

  warn(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('warn')) this.#real().warn(...args);
  }

  info(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('info')) this.#real().info(...args);
  }

  debug(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('debug')) this.#real().debug(...args);
  }

  trace(...args: LogArgs): void {
    if (this.#child || this.parent.isLevelEnabled('trace')) this.#real().trace(...args);
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }
}
