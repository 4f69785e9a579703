/**
 * The app keeps at most `maxCachedClients` REST clients (least recently used dropped): a process that
 * serves many portals does not hold one client per portal forever, and a portal whose client was
 * dropped is served by a new one, against the emulator.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { PortalClients } from '../../src/app/clients.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { PortalTokenService } from '../../src/oauth/portal-token-provider.js';
import { RateLimiter } from '../../src/rest/limiter.js';
import type { Store } from '../../src/store/types.js';
import { EmulatorTime, emulatorTokenClient, installPortal, registry } from '../contract/helpers/portal-fixture.js';
import { createTestDatabase, type TestDatabase } from '../contract/helpers/store.js';
import { startTestEmulator } from '../helpers/emulator.js';

describe('portal clients are bounded', () => {
  let emu: RunningEmulator;
  let db: TestDatabase;
  let store: Store;

  before(async () => {
    emu = await startTestEmulator();
    db = createTestDatabase();
    store = await db.open();
  });
  after(async () => {
    await store.close();
    await db.drop();
    await emu.close();
  });

  it('keeps the 2 most recently used of 3 portals, and serves a dropped portal again with a new client', async () => {
    const time = await EmulatorTime.read(emu);
    const portals = registry(store, time);
    const [a, b, c] = [await installPortal(emu, portals), await installPortal(emu, portals), await installPortal(emu, portals)];
    const tokens = new PortalTokenService({ portals, tokenClient: emulatorTokenClient(time), nowMs: time.nowMs });
    const clients = new PortalClients({ tokens, limiter: new RateLimiter(), logger: pino({ enabled: false }), maxCachedClients: 2 });
    try {
      const first = clients.get(a!.memberId);
      assert.equal((await first.call<{ ID: string }>('user.current')).result.ID, '1');
      clients.get(b!.memberId);
      assert.equal(clients.get(a!.memberId), first, 'a hit keeps the client (and makes it the most recent)');
      clients.get(c!.memberId); // drops b, the least recently used
      assert.equal(clients.cachedClients, 2);
      assert.equal(clients.get(a!.memberId), first, 'a was used more recently than b');
      const again = clients.get(b!.memberId);
      assert.equal(clients.cachedClients, 2);
      assert.equal((await again.call<{ ID: string }>('user.current')).result.ID, '1', 'a dropped portal is served by a new client');
    } finally {
      await clients.close();
    }
  });
});
