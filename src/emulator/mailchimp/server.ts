import Fastify, { type FastifyInstance } from 'fastify';
import { registerMailchimpApiRoutes } from './api-routes.js';
import { registerMailchimpControlRoutes } from './control-routes.js';
import { MailchimpEmulator, type MailchimpEmulatorOptions } from './mailchimp-emulator.js';
import { controlRefusal, isControlRequest } from '../control-guard.js';

/** The Mailchimp emulator's HTTP face (Marketing API under `/3.0`, control API under `/_emulator/mailchimp`), not listening. */
export function buildMailchimpServer(mc: MailchimpEmulator): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, routerOptions: { ignoreTrailingSlash: true } });
  // the control API answers programs, not web pages (control-guard.ts)
  app.addHook('onRequest', async (request, reply) => {
    if (!isControlRequest(request)) return;
    const refusal = controlRefusal(request, mc.baseUrl, mc.controlHosts);
    if (refusal) return reply.status(refusal.status).send({ error: refusal.error, message: refusal.message });
  });
  registerMailchimpControlRoutes(app, mc);
  registerMailchimpApiRoutes(app, mc);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'CONTROL_ROUTE_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` });
  });
  return app;
}

export interface StartMailchimpEmulatorOptions extends MailchimpEmulatorOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
}

export interface RunningMailchimpEmulator {
  /** e.g. `http://127.0.0.1:4200`; the Marketing API is at `${url}/3.0`. */
  url: string;
  mailchimp: MailchimpEmulator;
  server: FastifyInstance;
  close(): Promise<void>;
}

/** Starts a Mailchimp emulator on a real socket. */
export async function startMailchimpEmulator(options: StartMailchimpEmulatorOptions = {}): Promise<RunningMailchimpEmulator> {
  const { port = 0, host = '127.0.0.1', ...mcOptions } = options;
  const mailchimp = new MailchimpEmulator(mcOptions);
  const server = buildMailchimpServer(mailchimp);
  await server.listen({ port, host });
  const address = server.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  mailchimp.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  return {
    url: mailchimp.baseUrl,
    mailchimp,
    server,
    close: async () => {
      await server.close();
      await mailchimp.outbox.idle();
    },
  };
}
