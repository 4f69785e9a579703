/**
 * A renamed portal (302, docs/protocol.md §4.5) updates the stored endpoints through the store-backed
 * provider; the scheduled keep-alive refreshes idle portals and moves dead ones to needs_reauth.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log/logger.js';
import { scheduleKeepAlive } from '../../src/app/builtins/keep-alive.js';
import { advanceClock, control } from '../helpers/emulator.js';
import { emulatorInstall, startAppUnderTest, type AppUnderTest } from './helpers.js';

describe('rename and keep-alive', () => {
  let app: AppUnderTest;
  before(async () => {
    app = await startAppUnderTest();
  });
  after(async () => {
    await app?.close();
  });

  it('a rename: the call follows the 302, the registry keeps the new domain and endpoint, member_id stays', async () => {
    const install = await emulatorInstall(app.emu, app.url);
    await control(app.emu, `/portals/${install.memberId}/rename`, { domain: 'renamed.bitrix24.test' });
    const client = app.runtime.client(install.memberId);
    try {
      const { result } = await client.call<{ ID: string }>('user.current');
      assert.equal(String(result.ID), '1');
    } finally {
      await client.close();
    }
    const portal = await app.runtime.portals.require(install.memberId);
    assert.equal(portal.clientEndpoint, `${app.emu.url}/renamed.bitrix24.test/rest/`);
    assert.equal(portal.domain, 'renamed.bitrix24.test');
    // /oauth/start finds the portal under its new name
    const start = await fetch(`${app.url}/oauth/start?domain=renamed.bitrix24.test`, { redirect: 'manual' });
    assert.ok(start.headers.get('location')!.startsWith(`${app.emu.url}/renamed.bitrix24.test/oauth/authorize/`));
    await app.runtime.portals.purge(install.memberId);
  });

  it('keep-alive: a portal idle for 8 days is refreshed; after 29 days its refresh token is dead → needs_reauth, listed', async () => {
    const install = await emulatorInstall(app.emu, app.url);
    const keepAlive = scheduleKeepAlive({ portals: app.runtime.portals, tokens: app.runtime.tokens, logger: silentLogger });
    try {
      assert.ok(keepAlive.nextRunAt() instanceof Date);
      assert.deepEqual((await keepAlive.runNow())?.refreshed, []);
      await advanceClock(app.emu, 8 * 24 * 3600);
      const first = await keepAlive.runNow();
      assert.deepEqual(first?.refreshed, [install.memberId]);
      assert.notEqual((await app.runtime.portals.require(install.memberId)).refreshToken, install.refresh_token);

      await advanceClock(app.emu, 29 * 24 * 3600);
      const second = await keepAlive.runNow();
      assert.deepEqual(second?.needsReauth, [install.memberId]);
      assert.deepEqual((await app.runtime.portals.list({ state: 'needs_reauth' })).map((p) => p.memberId), [install.memberId]);
      assert.equal((await app.runtime.portals.countByState()).needs_reauth, 1);
    } finally {
      keepAlive.stop();
    }
  });
});
