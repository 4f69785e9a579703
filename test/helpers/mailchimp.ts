import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MAILCHIMP_API_KEY } from '../../src/emulator/mailchimp/mailchimp-emulator.js';
import type { RunningMailchimpEmulator } from '../../src/emulator/mailchimp/server.js';

export interface McAnswer {
  status: number;
  contentType: string;
  body: Record<string, unknown>;
}

/** A Marketing API call with basic auth (any username, the key as password). */
export async function mcApi(
  mc: RunningMailchimpEmulator,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = DEFAULT_MAILCHIMP_API_KEY,
): Promise<McAnswer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${mc.url}/3.0${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A control API call under `/_emulator/mailchimp`. */
export async function mcControl(mc: RunningMailchimpEmulator, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${mc.url}/_emulator/mailchimp${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export interface ReceivedHook {
  method: string;
  contentType: string;
  userAgent: string;
  form: URLSearchParams;
}

/** A local HTTP server standing in for the app's webhook route: answers GET and POST with 200 and keeps what came. */
export async function startHookReceiver(): Promise<{ url: string; received: ReceivedHook[]; close(): Promise<void> }> {
  const received: ReceivedHook[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        contentType: request.headers['content-type'] ?? '',
        userAgent: request.headers['user-agent'] ?? '',
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/mailchimp?secret=s3cret`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
