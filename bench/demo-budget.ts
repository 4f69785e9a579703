/**
 * The demo's request budget: `npm start`'s demo app (the sample app, orders, schedules, contacts)
 * in process at the default pace (one contact every 3 s), against the demo portal's real limits
 * (2 requests/s, burst 50), for DEMO_BUDGET_SECONDS (default 240). Every 10 s it samples, at the
 * Bitrix24 emulator, the requests, the 503s (rate-limit rejections) and the bucket, and in the
 * app's queue the jobs waiting (due now, or later: the contacts gathered for one read) and
 * running. The numbers go to docs/integrations/contacts.md, "Demo".
 *
 *     node --import tsx bench/demo-budget.ts            # DEMO_BUDGET_SECONDS=600 for longer
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createApp } from '../src/index.js';
import { registerDemoApp } from '../src/app/builtins/demo-app.js';
import { appInternals } from '../src/app/internals.js';
import { loadConfig } from '../src/config/index.js';
import { createServerLogger } from '../src/server/logging.js';
import { openStore } from '../src/store/index.js';

type Entry = Record<string, unknown> & { msg?: string; level?: number };
type Stats = { requests: number; rateLimitRejections: number; byStatus: Record<string, number>; byMethod: Record<string, number>; bucketLevel: number };

const seconds = Number(process.env.DEMO_BUDGET_SECONDS ?? 240);
const entries: Entry[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) entries.push(JSON.parse(line) as Entry);
    done();
  },
});
const store = await openStore({ url: ':memory:' });
const app = createApp({
  env: loadConfig({}),
  store,
  secretKey: randomBytes(32),
  port: 0,
  demoEmulatorPort: 0,
  logger: createServerLogger({ level: 'info', destination: sink }),
});
registerDemoApp(app);
const load = os.loadavg()[0]!.toFixed(1);
await app.start();
const deadline = Date.now() + 30_000;
let bannerEntry: Entry | undefined;
while (!(bannerEntry = entries.find((entry) => entry.msg?.startsWith('DEMO MODE')))) {
  if (Date.now() > deadline) throw new Error('no demo banner in 30 s');
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const { memberId, emulatorUrl } = bannerEntry.banner as { memberId: string; emulatorUrl: string };
const mcUrl = /Mailchimp emulator at (\S+)/.exec(String(bannerEntry.msg))?.[1];
const startedMs = Date.now();
const stats = async (): Promise<Stats> => (await (await fetch(`${emulatorUrl}/_emulator/portals/${memberId}/stats`)).json()) as Stats;
const { queue } = await appInternals(app).services();
const first = await stats();
const rows: string[] = ['| t (s) | requests/s (last 10 s) | 503s | bucket | jobs queued (due / later) | running |', '|---|---|---|---|---|---|'];
let previous = first;
const depths: number[] = [];
for (let t = 10; t <= seconds; t += 10) {
  await new Promise((resolve) => setTimeout(resolve, startedMs + t * 1000 - Date.now()));
  const now = await stats();
  const queued = await queue.list({ memberId, state: 'queued', limit: 10_000 });
  const nowMs = Date.now();
  const due = queued.filter((job) => job.runAtMs <= nowMs).length;
  const running = (await queue.counts({ memberId })).running;
  depths.push(due);
  rows.push(`| ${t} | ${((now.requests - previous.requests) / 10).toFixed(2)} | ${now.rateLimitRejections} | ${now.bucketLevel.toFixed(1)} | ${due} / ${queued.length - due} | ${running} |`);
  previous = now;
}
const last = await stats();
const elapsed = (Date.now() - startedMs) / 1000;
const members = mcUrl ? ((await (await fetch(`${mcUrl}/_emulator/mailchimp/lists/demo0list/members`)).json()) as { members: Array<{ email_address: string; status: string }> }).members : [];
const counts = await queue.counts({ memberId });
const warnings = entries.filter((entry) => (entry.level ?? 0) >= 40);
const byMethod = Object.entries(last.byMethod)
  .map(([method, n]) => [method, n - (first.byMethod[method] ?? 0)] as const)
  .filter(([, n]) => n > 0)
  .sort((a, b) => b[1] - a[1]);
console.log(`demo budget: ${elapsed.toFixed(0)} s at the default pace, ${os.cpus().length} cores, load average ${load} at the start, ${new Date().toISOString()}`);
console.log(`requests at the portal: ${last.requests - first.requests} in ${elapsed.toFixed(0)} s = ${((last.requests - first.requests) / elapsed).toFixed(2)}/s (limit 2/s); 503s: ${last.rateLimitRejections}; status counts ${JSON.stringify(last.byStatus)}`);
console.log(`by method: ${byMethod.map(([method, n]) => `${method} ${n}`).join(', ')}`);
console.log(`due jobs waiting, every 10 s: ${depths.join(' ')}; at the end: ${JSON.stringify(counts)}`);
console.log(`Mailchimp members: ${members.length} (${members.filter((m) => m.status === 'unsubscribed').length} unsubscribed); contacts synced: ${entries.filter((e) => e.msg === 'contacts: CRM change').length}, service changes applied: ${entries.filter((e) => e.msg === 'contacts: service change').length}; orders' deals created: ${entries.filter((e) => e.msg === 'orders: deal created').length}; rule runs: ${entries.filter((e) => e.msg === 'schedules: rule ran').length}`);
console.log(`warnings/errors logged: ${warnings.length}${warnings.length ? ` (${[...new Set(warnings.map((w) => w.msg))].slice(0, 5).join(' | ')})` : ''}`);
console.log(rows.join('\n'));
await app.stop();
await store.close();
