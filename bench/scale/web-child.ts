/**
 * One web process of the scale benchmark's ingest run (bench/scale/ingest.ts): an app with only the web
 * role over the shared PostgreSQL schema. Prints `{"url": …}` once listening; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../../src/app/create-app.js';
import { createServerLogger } from '../../src/server/logging.js';
import { openStore } from '../../src/store/index.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, schema: { type: 'string' }, key: { type: 'string' } } });
const store = await openStore({ url: values.url!, ...(values.schema ? { schema: values.schema } : {}), maxConnections: 10 });
const app = createApp({
  store,
  secretKey: Buffer.from(values.key!, 'hex'),
  clientId: 'app.bench',
  clientSecret: 'bench-secret',
  oauthUrl: 'http://127.0.0.1:9',
  logger: createServerLogger({ level: 'warn' }),
  port: 0,
  host: '127.0.0.1',
});
app.on('ONCRMDEALUPDATE', () => undefined);
await app.start({ web: true, worker: false, scheduler: false });
console.log(JSON.stringify({ url: app.url }));
process.on('SIGTERM', () => {
  void app
    .stop()
    .then(() => store.close())
    .finally(() => process.exit(0));
});
