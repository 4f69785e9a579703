import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import qs from 'qs';

/** One POST the handler server received, with the form body decoded in PHP bracket syntax. */
export interface ReceivedPost {
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: Record<string, unknown>;
}

export interface HandlerServer {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  received: ReceivedPost[];
  /** POSTs to `path` only. */
  at(path: string): ReceivedPost[];
  /** Answer POSTs to `path` with this status (default 200). */
  respond(path: string, status: number): void;
  /** Run `fn` for each POST to `path` before answering (e.g. call back into the portal). */
  onPost(path: string, fn: (post: ReceivedPost) => Promise<void> | void): void;
  close(): Promise<void>;
}

/** A small app-side server that records what the portal POSTs to it. */
export async function startHandlerServer(): Promise<HandlerServer> {
  const received: ReceivedPost[] = [];
  const statuses = new Map<string, number>();
  const hooks = new Map<string, (post: ReceivedPost) => Promise<void> | void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        const post: ReceivedPost = { path, headers: req.headers, raw, body: qs.parse(raw, { depth: 10 }) as Record<string, unknown> };
        received.push(post);
        const hook = hooks.get(path);
        if (hook) await hook(post);
        res.writeHead(statuses.get(path) ?? 200, { 'content-type': 'application/json' });
        res.end('{"status":"success"}');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    at: (path) => received.filter((post) => post.path === path),
    respond: (path, status) => void statuses.set(path, status),
    onPost: (path, fn) => void hooks.set(path, fn),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
