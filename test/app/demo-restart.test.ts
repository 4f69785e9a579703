/**
 * Demo mode restarted on the same database (what `npm start` twice does: the SQLite file stays,
 * the demo's emulator starts empty and numbers its contacts from 1 again). The sample app's
 * follow-up job must still run for the new run's contacts: keyed by the contact ID, contact 1 of
 * the second run was taken for contact 1 of the first, and its follow-up never ran.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createApp, type B24App } from '../../src/index.js';
import { registerDemoApp } from '../../src/app/builtins/demo-app.js';
import { loadConfig } from '../../src/config/index.js';
import { createServerLogger } from '../../src/server/logging.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from './helpers.js';

type Entry = Record<string, unknown> & { msg?: string };

describe('demo mode restarted on the same database', () => {
  let store: Store | undefined;
  let running: B24App | undefined;
  after(async () => {
    await running?.stop();
    await store?.close();
  });

  it('runs the follow-up of the second run’s contacts, whose IDs the first run used too', async () => {
    store = await openStore({ url: ':memory:' });
    const secretKey = randomBytes(32);
    const run = async (): Promise<Entry[]> => {
      const entries: Entry[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) entries.push(JSON.parse(line) as Entry);
          done();
        },
      });
      running = createApp({
        env: loadConfig({}), // demo mode whatever this machine's environment says
        store,
        secretKey,
        port: 0,
        demoEmulatorPort: 0,
        demoTrickleMs: 500,
        logger: createServerLogger({ level: 'info', destination: sink }),
        worker: { pollIntervalMs: 20, shutdownTimeoutMs: 5000 },
        scheduler: { intervalMs: 50 },
      });
      registerDemoApp(running);
      await running.start();
      return entries;
    };
    const followUps = (entries: Entry[]): Entry[] => entries.filter((entry) => entry.msg?.startsWith('demo job done: demo.follow-up'));
    const handled = (entries: Entry[], contactId: string): Entry | undefined => entries.find((entry) => entry.msg?.startsWith('demo event handled: ONCRMCONTACTADD') && entry.contactId === contactId);

    const first = await run();
    await waitFor(() => followUps(first).length >= 3 || undefined, 30_000, 'three follow-ups in the first run');
    await running!.stop();
    running = undefined;

    const second = await run();
    const contactOne = await waitFor(() => handled(second, '1'), 30_000, 'contact 1 of the second run handled');
    await waitFor(() => followUps(second).find((entry) => entry.dealId === contactOne.dealId), 30_000, 'the follow-up of contact 1 of the second run');
    assert.ok(handled(first, '1'), 'the first run had a contact 1 too');
  });
});
