/**
 * The "done when", end to end against the emulator: install → tokens stored encrypted (raw
 * row) → a call works → clock +3700 s → transparent refresh → update with a new application_token
 * → the old application_token no longer validates → uninstall with CLEAN=1 → the portal's data is
 * gone. Runs on the store createTestDatabase picks: SQLite, or PostgreSQL under `npm run test:pg`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PortalInfo } from '../../src/store/portals.js';
import { advanceClock, control, portalStats } from '../helpers/emulator.js';
import { emulatorInstall, postForm, rawPortal, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from './helpers.js';

export function describePortalLifecycle(title: string): void {
  describe(title, () => {
    let app: AppUnderTest;
    const installed: PortalInfo[] = [];
    const updated: PortalInfo[] = [];
    let install: EmulatorInstall;

    before(async () => {
      app = await startAppUnderTest({
        hooks: {
          onInstalled: [(portal) => void installed.push(portal)],
          onUpdated: [
            async (portal) => {
              updated.push(portal);
              // Bitrix24 drops an app's bindings on update (docs/protocol.md §2.4): re-bind, as the events issue will
              const client = app.runtime.client(portal.memberId);
              try {
                await client.call('event.bind', { event: 'ONAPPUNINSTALL', handler: `${app.url}/webhooks/${portal.memberId}/event` });
              } finally {
                await client.close();
              }
            },
          ],
        },
      });
    });
    after(async () => {
      await app?.close();
    });

    it('install: the emulator POSTs ONAPPINSTALL to /install, verified with app.info and stored', async () => {
      install = await emulatorInstall(app.emu, app.url);
      assert.deepEqual(install.delivery && { ok: install.delivery.ok, status: install.delivery.status, body: JSON.parse(install.delivery.body) }, {
        ok: true,
        status: 200,
        body: { status: 'success' },
      });
      const portal = await app.runtime.portals.require(install.memberId);
      assert.equal(portal.state, 'active');
      assert.equal(portal.domain, install.domain);
      assert.equal(portal.clientEndpoint, install.client_endpoint);
      // the offered refresh token was redeemed before storing (proof of a live pair): the stored pair is the new one
      assert.equal((await portalStats(app.emu, install.memberId)).refreshes, 1);
      assert.notEqual(portal.accessToken, install.access_token);
      assert.notEqual(portal.refreshToken, install.refresh_token);
      assert.equal(portal.applicationToken, install.application_token);
      assert.equal(portal.installedByUserId, 1);
      assert.deepEqual(installed.map((p) => p.memberId), [install.memberId]);
    });

    it('tokens and application_token are encrypted at rest (the raw row holds no plaintext)', async () => {
      const row = await rawPortal(app.store, install.memberId);
      assert.ok(row);
      const stored = await app.runtime.portals.require(install.memberId);
      for (const [column, plaintext] of [
        ['access_token', stored.accessToken],
        ['refresh_token', stored.refreshToken],
        ['application_token', stored.applicationToken],
      ] as const) {
        assert.ok(plaintext, column);
        const sealed = String(row[column]);
        assert.match(sealed, /^v1\./, column);
        assert.ok(!sealed.includes(plaintext), `${column} is stored in plaintext`);
      }
      assert.ok(!JSON.stringify(row).includes(stored.accessToken ?? '-'));
    });

    it('a REST call works with the stored tokens', async () => {
      const client = app.runtime.client(install.memberId);
      try {
        const { result } = await client.call<{ ID: string }>('user.current');
        assert.equal(String(result.ID), '1');
      } finally {
        await client.close();
      }
    });

    it('clock +3700 s: the next call refreshes the token transparently, once', async () => {
      const before = await app.runtime.portals.require(install.memberId);
      const refreshesBefore = Number((await portalStats(app.emu, install.memberId)).refreshes);
      await advanceClock(app.emu, 3700);
      const client = app.runtime.client(install.memberId);
      try {
        const { result } = await client.call<{ ID: string }>('user.current');
        assert.equal(String(result.ID), '1');
      } finally {
        await client.close();
      }
      const after = await app.runtime.portals.require(install.memberId);
      assert.notEqual(after.accessToken, before.accessToken);
      assert.notEqual(after.refreshToken, before.refreshToken);
      assert.ok(after.expiresAtMs > app.emu.emulator.clock.nowMs());
      assert.equal((await portalStats(app.emu, install.memberId)).refreshes, refreshesBefore + 1);
    });

    it('update: ONAPPUPDATE replaces application_token and tokens, fires onUpdated; the old application_token no longer validates', async () => {
      const client = app.runtime.client(install.memberId);
      const handler = `${app.url}/webhooks/${install.memberId}/event`;
      try {
        await client.call('event.bind', { event: 'ONAPPUPDATE', handler });
        await client.call('event.bind', { event: 'ONAPPUNINSTALL', handler });
      } finally {
        await client.close();
      }
      const update = await control<{ application_token: string; access_token: string; deliveries: Array<{ status: string; http_status: number }> }>(
        app.emu,
        `/portals/${install.memberId}/update`,
      );
      assert.deepEqual(update.deliveries.map((d) => [d.status, d.http_status]), [['delivered', 200]]);
      const portal = await app.runtime.portals.require(install.memberId);
      assert.equal(portal.applicationToken, update.application_token);
      // the update's refresh token was redeemed: a newer pair than the one ONAPPUPDATE carried
      assert.ok(portal.accessToken);
      assert.notEqual(portal.accessToken, update.access_token);
      assert.deepEqual(updated.map((p) => p.memberId), [install.memberId]);

      assert.equal(await app.runtime.portals.verifyApplicationToken(install.memberId, install.application_token), false);
      assert.equal(await app.runtime.portals.verifyApplicationToken(install.memberId, update.application_token), true);
      // an ONAPPUNINSTALL signed with the old token is refused and changes nothing
      const forged = await postForm(handler, {
        event: 'ONAPPUNINSTALL',
        data: { LANGUAGE_ID: 'en', CLEAN: '1' },
        auth: { domain: install.domain, member_id: install.memberId, application_token: install.application_token },
      });
      assert.equal(forged.status, 403);
      assert.equal(forged.body.error, 'B24_ERR_FORBIDDEN');
      assert.equal((await app.runtime.portals.require(install.memberId)).state, 'active');
    });

    it('uninstall with CLEAN=1: the portal is marked, then its data is gone; calls stop', async () => {
      const bindings = await control<Array<{ event: string }>>(app.emu, `/portals/${install.memberId}/events/bindings`, undefined, 'GET');
      assert.ok(bindings.some((b) => b.event === 'ONAPPUNINSTALL'), 'onUpdated re-bound ONAPPUNINSTALL after the update dropped the bindings');
      const uninstall = await control<{ deliveries: Array<{ status: string; http_status: number }> }>(app.emu, `/portals/${install.memberId}/uninstall`, {
        clean: true,
      });
      assert.deepEqual(uninstall.deliveries.map((d) => [d.status, d.http_status]), [['delivered', 200]]);
      assert.equal(await rawPortal(app.store, install.memberId), undefined);
      assert.equal(await app.runtime.portals.get(install.memberId), undefined);
      const client = app.runtime.client(install.memberId);
      try {
        await assert.rejects(client.call('user.current'), { code: 'B24_ERR_PORTAL_NOT_FOUND' });
      } finally {
        await client.close();
      }
    });
  });
}
