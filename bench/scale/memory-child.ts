/**
 * The memory benchmark's app process (spawned with --expose-gc by bench/scale/memory.ts): an app with
 * the web, worker and scheduler roles over a store holding `--portals` installed portals (registered
 * through the PortalRegistry, as an install stores them, each with a time zone), a schedule the
 * scheduler evaluates for every portal, and one job per portal run by the worker; then, after GC, one
 * JSON line: { portals, jobs, rssMb, heapUsedMb, externalMb, seconds }.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createApp } from '../../src/app/create-app.js';
import { savePortalTimeZone } from '../../src/app/portal-time-zone.js';
import { createServerLogger } from '../../src/server/logging.js';
import { createSecretBox } from '../../src/store/crypto.js';
import { openStore } from '../../src/store/index.js';
import { PortalRegistry } from '../../src/store/portals.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, schema: { type: 'string' }, portals: { type: 'string', default: '0' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const count = Number(values.portals);
const store = await openStore({ url: values.url!, ...(values.schema ? { schema: values.schema } : {}) });
const secretKey = randomBytes(32);
const registry = new PortalRegistry({ store, secrets: createSecretBox(secretKey) });
const zones = ['Europe/Berlin', 'Europe/Moscow', 'Asia/Almaty', 'America/New_York', 'UTC'];
for (let i = 0; i < count; i++) {
  const memberId = `m${String(i).padStart(6, '0')}${'0'.repeat(25)}`;
  await registry.upsertInstall({
    memberId,
    domain: `p${i}.bitrix24.test`,
    clientEndpoint: `https://p${i}.bitrix24.test/rest/`,
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
    accessToken: randomBytes(16).toString('hex'),
    refreshToken: randomBytes(16).toString('hex'),
    expiresAtMs: Date.now() + 3_600_000,
    scope: ['crm'],
    status: 'L',
    applicationToken: randomBytes(16).toString('hex'),
    installedByUserId: 1,
  });
  await savePortalTimeZone(store, memberId, zones[i % zones.length], Date.now());
}
const started = performance.now();
const app = createApp({
  store,
  secretKey,
  clientId: 'app.bench',
  clientSecret: 'bench-secret',
  oauthUrl: 'http://127.0.0.1:9',
  logger: createServerLogger({ level: 'warn' }),
  port: 0,
  host: '127.0.0.1',
});
let ran = 0;
// one job per portal, so that each portal's job context (its REST client, logger, token provider) is made once
app.job('scale-touch', () => {
  ran += 1;
});
// a schedule the scheduler evaluates for every portal on every tick (its zone, its last slot) but that fires on 1 January only
app.schedule('scale-yearly', '0 0 1 1 *', () => undefined);
await app.start({ web: true, worker: true, scheduler: true });
for (let i = 0; i < count; i++) await app.enqueue(`m${String(i).padStart(6, '0')}${'0'.repeat(25)}`, 'scale-touch', {});
const deadline = Date.now() + 120_000;
while (ran < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
await new Promise((resolve) => setTimeout(resolve, 500));
for (let i = 0; i < 3; i++) {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const usage = process.memoryUsage();
const mb = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10;
console.log(JSON.stringify({ portals: count, jobs: ran, rssMb: mb(usage.rss), heapUsedMb: mb(usage.heapUsed), externalMb: mb(usage.external + usage.arrayBuffers), seconds: Math.round((performance.now() - started) / 100) / 10 }));
await app.stop();
await store.close();
