/**
 * Route auth timing: an app route under `/api/v1/:memberId/…` with `auth.hmac` must refuse an
 * unknown portal, an uninstalled one, a portal without the secret, a bad signature and another
 * portal's secret with the same 401 "in about the same time", so that the answer's latency does not
 * tell an outsider which portals exist here. Measured: sequential requests over loopback, the cases
 * interleaved round-robin (so drift hits all alike), per case the median and p90 latency and the
 * ratio of its median to the bad-signature case's. Goal: every 401 case within 0.8–1.25 of it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { auth, createApp, definePlugin } from '../src/index.js';
import { startEmulator } from '../src/emulator/server.js';
import { createServerLogger } from '../src/server/logging.js';
import { openStore } from '../src/store/index.js';
import type { BenchSection } from './run.js';

const ROUNDS = 400;
const BODY = JSON.stringify({ id: 1001, total: '10.00', currency: 'EUR' });

const shop = definePlugin({
  name: 'shop',
  settings: { schema: z.object({ signingSecret: z.string().min(16) }), secrets: ['signingSecret'] },
  setup(kit) {
    kit.job('shop.order', () => undefined);
    kit.route('POST', '/api/v1/:memberId/orders', async (ctx) => {
      ctx.status(202);
      const answer = await ctx.ingest('shop.order', '1001', ctx.body as never);
      return { jobId: answer.job.id, outcome: answer.outcome };
    }, { auth: auth.hmac({ header: 'x-signature', secret: 'signingSecret', encoding: 'base64' }) });
  },
});

const sign = (secret: string) => createHmac('sha256', secret).update(BODY).digest('base64');

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function run(): Promise<BenchSection> {
  const dir = mkdtempSync(path.join(tmpdir(), 'b24kit-bench-auth-'));
  const emu = await startEmulator({ port: 0, host: '127.0.0.1' });
  const store = await openStore({ url: path.join(dir, 'bench.sqlite') });
  const app = createApp({
    store,
    secretKey: randomBytes(32),
    clientId: emu.emulator.options.clientId,
    clientSecret: emu.emulator.options.clientSecret,
    oauthUrl: emu.url,
    logger: createServerLogger({ level: 'error' }),
    port: 0,
    host: '127.0.0.1',
    portalDomains: ['*.bitrix24.test'],
  }).register(shop);
  try {
    await app.start({ web: true, worker: false, scheduler: false });
    const control = async <T>(route: string, body: unknown = {}): Promise<T> => {
      const response = await fetch(`${emu.url}/_emulator${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`control ${route} → ${response.status}`);
      return (await response.json()) as T;
    };
    const install = async (): Promise<string> => {
      const portal = await control<{ member_id: string }>('/portals');
      await control(`/portals/${portal.member_id}/install`, { appUrl: app.url });
      return portal.member_id;
    };
    const [a, b, gone, unset] = [await install(), await install(), await install(), await install()];
    const secrets = { a: randomBytes(24).toString('base64url'), b: randomBytes(24).toString('base64url'), gone: randomBytes(24).toString('base64url') };
    await app.settings(a, 'shop').set({ signingSecret: secrets.a });
    await app.settings(b, 'shop').set({ signingSecret: secrets.b });
    await app.settings(gone, 'shop').set({ signingSecret: secrets.gone });
    await control(`/portals/${gone}/uninstall`, {});
    const unknown = randomBytes(16).toString('hex');

    const cases: Array<{ name: string; memberId: string; signature: string; expect: number }> = [
      { name: 'valid signature (202, ingest)', memberId: a, signature: sign(secrets.a), expect: 202 },
      { name: 'bad signature', memberId: a, signature: sign('not-the-secret-at-all-0000'), expect: 401 },
      { name: "another portal's secret", memberId: a, signature: sign(secrets.b), expect: 401 },
      { name: 'unknown portal', memberId: unknown, signature: sign(secrets.a), expect: 401 },
      { name: 'uninstalled portal (its own secret)', memberId: gone, signature: sign(secrets.gone), expect: 401 },
      { name: 'portal without the secret', memberId: unset, signature: sign(secrets.a), expect: 401 },
    ];
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const bodies = new Map<string, Set<string>>(cases.map((c) => [c.name, new Set()]));
    const send = async (c: (typeof cases)[number]): Promise<void> => {
      const started = performance.now();
      const response = await fetch(`${app.url}/api/v1/${c.memberId}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': c.signature }, body: BODY });
      const text = await response.text();
      const ms = performance.now() - started;
      if (response.status !== c.expect) throw new Error(`${c.name}: ${response.status} ${text}`);
      times.get(c.name)!.push(ms);
      if (c.expect === 401) bodies.get(c.name)!.add(text);
    };
    for (let i = 0; i < 50; i++) for (const c of cases) await send(c); // warm-up
    for (const c of cases) times.set(c.name, []);
    for (let round = 0; round < ROUNDS; round++) for (const c of cases) await send(c);

    const refusals = new Set(cases.filter((c) => c.expect === 401).flatMap((c) => [...bodies.get(c.name)!]));
    const baseline = quantile([...times.get('bad signature')!].sort((x, y) => x - y), 0.5);
    const rows = cases.map((c) => {
      const sorted = [...times.get(c.name)!].sort((x, y) => x - y);
      const p50 = quantile(sorted, 0.5);
      return `| ${c.name} | ${c.expect} | ${p50.toFixed(2)} | ${quantile(sorted, 0.9).toFixed(2)} | ${(p50 / baseline).toFixed(2)} |`;
    });
    const markdown = [
      `A plugin route \`POST /api/v1/:memberId/orders\` with \`auth.hmac\` (base64 SHA-256 over the raw body, the secret in the portal's`,
      `sealed settings), SQLite store, web role only. ${ROUNDS} sequential requests per case over loopback after 50 warm-up rounds, the`,
      `cases interleaved round-robin. Ratio: the case's median to the bad-signature median. Goal: every 401 within 0.8–1.25.`,
      `Run ${new Date().toISOString()}. Distinct 401 bodies across all refusal cases: ${refusals.size} (1 = byte-identical).`,
      '',
      '| case | status | p50 ms | p90 ms | p50 ratio to bad signature |',
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n');
    return { title: 'Route auth timing (app routes under /api/v1/:memberId)', markdown };
  } finally {
    await app.stop();
    await store.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
