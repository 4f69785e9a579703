/**
 * The load balancer in front of the chaos run's web processes: the portals' event handler URL
 * (B24_APP_URL) points here, and each request goes to the next web process in turn (to the next
 * one again if a process refuses the connection, as a load balancer's passive health check does).
 * It is also the run's witness of what the app acknowledged: per delivered ONCRMDEALUPDATE (by
 * member_id and `data[FIELDS][ID]`) how many copies arrived and how many were answered 2xx.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DeliveryRecord {
  copies: number;
  acknowledged: number;
}

export interface ChaosProxy {
  url: string;
  /** `${memberId}:${eventNumber}` → what happened to its copies. */
  deliveries: Map<string, DeliveryRecord>;
  /** Answers to event deliveries by HTTP status (502 = no web process answered). */
  statuses: Map<number, number>;
  close(): Promise<void>;
}

export async function startChaosProxy(upstreamPorts: readonly number[]): Promise<ChaosProxy> {
  const deliveries = new Map<string, DeliveryRecord>();
  const statuses = new Map<number, number>();
  let turn = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const forward = (port: number, request: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstream = http.request(
        { host: '127.0.0.1', port, method: request.method, path: request.url, headers: { ...request.headers, host: `127.0.0.1:${port}` }, agent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = new URLSearchParams(request.headers['content-type']?.includes('x-www-form-urlencoded') ? body.toString('utf8') : '');
      const eventNumber = form.get('event') === 'ONCRMDEALUPDATE' ? form.get('data[FIELDS][ID]') : null;
      const key = eventNumber ? `${form.get('auth[member_id]') ?? ''}:${eventNumber}` : null;
      void (async () => {
        let answer: { status: number; headers: http.IncomingHttpHeaders; body: Buffer } | undefined;
        // a refused connection (the process is down) goes to the next process; anything else is its answer
        for (let tried = 0; tried < upstreamPorts.length && !answer; tried++) {
          const port = upstreamPorts[turn++ % upstreamPorts.length]!;
          answer = await forward(port, request, body).catch(() => undefined);
        }
        const status = answer?.status ?? 502;
        if (key) {
          const record = deliveries.get(key) ?? { copies: 0, acknowledged: 0 };
          record.copies += 1;
          if (status >= 200 && status < 300) record.acknowledged += 1;
          deliveries.set(key, record);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
        response.writeHead(status, answer?.headers['content-type'] ? { 'content-type': answer.headers['content-type'] } : {});
        response.end(answer?.body ?? 'no web process answered');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    statuses,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
