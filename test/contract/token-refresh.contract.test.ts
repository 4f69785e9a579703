/**
 * The token provider against the real emulator, on both dialects: refresh ahead of expiry,
 * single-flight in a process and across stores, invalid_grant → needs_reauth once, keep-alive.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createTokenClient } from '../../src/oauth/token-client.js';
import { createPortalTokenProvider, PortalTokenService } from '../../src/oauth/portal-token-provider.js';
import { refreshIdlePortals } from '../../src/oauth/keep-alive.js';
import type { Store } from '../../src/store/types.js';
import type { PortalRegistry } from '../../src/store/portals.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { createTestDatabase, type TestDatabase } from './helpers/store.js';
import { countingFetch, EmulatorTime, emulatorTokenClient, installPortal, refreshCount, refusedRefreshCount, registry, userCurrent } from './helpers/portal-fixture.js';

const isCode = (code: string) => (error: unknown) => error instanceof B24Error && error.code === code;

describe('portal token provider (emulator)', () => {
  let emu: RunningEmulator;
  let db: TestDatabase;
  let store: Store;
  let time: EmulatorTime;
  let portals: PortalRegistry;

  before(async () => {
    emu = await startTestEmulator();
    db = createTestDatabase();
    store = await db.open();
    time = await EmulatorTime.read(emu);
    portals = registry(store, time);
  });
  after(async () => {
    await store.close();
    await db.drop();
    await emu.close();
  });

  function service(fetchImpl?: typeof fetch, p: PortalRegistry = portals): PortalTokenService {
    return new PortalTokenService({ portals: p, tokenClient: emulatorTokenClient(time, fetchImpl), nowMs: time.nowMs, pollIntervalMs: 10 });
  }

  it('serves the stored token while it is fresh, without refreshing', async () => {
    const portal = await installPortal(emu, portals);
    const provider = createPortalTokenProvider(service(), portal.memberId);
    const grant = await provider.getGrant();
    assert.deepEqual(grant, { accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId });
    assert.equal((await userCurrent(grant.clientEndpoint, grant.accessToken)).status, 200);
    assert.equal(await refreshCount(emu, portal.memberId), 0);
    assert.ok((await portals.info(portal.memberId))?.lastUsedAtMs);
  });

  it('refreshes once for 50 concurrent callers after the clock jumps +3700 s, and persists before use', async () => {
    const portal = await installPortal(emu, portals);
    const before = await portals.get(portal.memberId);
    await time.advance(3700);
    assert.equal((await userCurrent(portal.clientEndpoint, portal.accessToken)).body.error, 'expired_token');
    const counter = countingFetch();
    const provider = createPortalTokenProvider(service(counter.fetch), portal.memberId);
    const grants = await Promise.all(Array.from({ length: 50 }, () => provider.getGrant()));
    assert.equal(counter.calls(), 1);
    assert.equal(await refreshCount(emu, portal.memberId), 1);
    assert.equal(await refusedRefreshCount(emu, portal.memberId), 0);
    assert.equal(new Set(grants.map((g) => g.accessToken)).size, 1);
    const stored = await portals.get(portal.memberId);
    assert.equal(stored?.accessToken, grants[0]!.accessToken);
    assert.equal(stored?.version, before!.version + 1);
    assert.ok(stored!.expiresAtMs > time.nowMs() + 3500_000);
    assert.equal(stored?.lastRefreshedAtMs !== null && stored!.lastRefreshedAtMs >= time.nowMs() - 5000, true);
    assert.equal((await userCurrent(portal.clientEndpoint, grants[0]!.accessToken)).status, 200);
  });

  it('refreshes 5 minutes ahead of expiry, not earlier', async () => {
    const portal = await installPortal(emu, portals);
    const svc = service();
    await time.advance(3600 - 360); // 6 minutes left
    await svc.getGrant(portal.memberId);
    assert.equal(await refreshCount(emu, portal.memberId), 0);
    await time.advance(120); // 4 minutes left
    const grant = await svc.getGrant(portal.memberId);
    assert.equal(await refreshCount(emu, portal.memberId), 1);
    assert.notEqual(grant.accessToken, portal.accessToken);
  });

  it('refreshAfterRejection refreshes only while the stored token is the rejected one', async () => {
    const portal = await installPortal(emu, portals);
    const counter = countingFetch();
    const provider = createPortalTokenProvider(service(counter.fetch), portal.memberId);
    const results = await Promise.all(Array.from({ length: 20 }, () => provider.refreshAfterRejection(portal.accessToken)));
    assert.equal(counter.calls(), 1);
    assert.equal(new Set(results.map((g) => g.accessToken)).size, 1);
    const fresh = results[0]!.accessToken;
    assert.notEqual(fresh, portal.accessToken);
    // a late rejection of the old token: someone already refreshed, so no second refresh
    assert.equal((await provider.refreshAfterRejection(portal.accessToken)).accessToken, fresh);
    assert.equal((await provider.refreshAfterRejection(undefined)).accessToken, fresh);
    assert.equal(counter.calls(), 1);
    assert.equal(await refreshCount(emu, portal.memberId), 1);
    assert.equal(await refusedRefreshCount(emu, portal.memberId), 0);
  });

  it('two stores (as two processes would) × 25 callers at expiry → one refresh', async () => {
    const portal = await installPortal(emu, portals);
    await time.advance(3700);
    const otherStore = await db.open({ migrate: false });
    try {
      const counter = countingFetch();
      const a = service(counter.fetch);
      const b = service(counter.fetch, registry(otherStore, time));
      const grants = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).getGrant(portal.memberId)));
      assert.equal(counter.calls(), 1);
      assert.equal(await refreshCount(emu, portal.memberId), 1);
      assert.equal(await refusedRefreshCount(emu, portal.memberId), 0);
      assert.equal(new Set(grants.map((g) => g.accessToken)).size, 1);
    } finally {
      await otherStore.close();
    }
  });

  it('invalid_grant → needs_reauth exactly once, the token endpoint called once, no retry loop', async () => {
    const portal = await installPortal(emu, portals);
    // someone else spends the refresh token (a second installation of the app, a leaked copy…)
    const outsider = createTokenClient({ clientId: 'local.b24kit.demo', clientSecret: 'demo-secret', oauthUrl: emu.url });
    await outsider.refresh({ refreshToken: portal.refreshToken });
    await time.advance(3700);
    const counter = countingFetch();
    const transitions: string[] = [];
    const svc = new PortalTokenService({
      portals,
      tokenClient: emulatorTokenClient(time, counter.fetch),
      nowMs: time.nowMs,
      onNeedsReauth: (memberId) => transitions.push(memberId),
    });
    const settled = await Promise.allSettled(Array.from({ length: 30 }, () => svc.getGrant(portal.memberId)));
    for (const result of settled) {
      assert.equal(result.status, 'rejected');
      assert.ok(isCode('B24_ERR_TOKEN_REVOKED')((result as PromiseRejectedResult).reason));
    }
    await assert.rejects(svc.getGrant(portal.memberId), isCode('B24_ERR_TOKEN_REVOKED'));
    await assert.rejects(svc.refreshAfterRejection(portal.memberId, portal.accessToken), isCode('B24_ERR_TOKEN_REVOKED'));
    assert.equal(counter.calls(), 1);
    assert.deepEqual(transitions, [portal.memberId]);
    const stored = await portals.info(portal.memberId);
    assert.equal(stored?.state, 'needs_reauth');
    assert.ok(stored?.needsReauthSinceMs);
    assert.ok((await portals.list({ state: 'needs_reauth' })).some((p) => p.memberId === portal.memberId));
  });

  it('a failed early refresh keeps serving the still-valid token; after expiry it fails with B24_ERR_REFRESH_FAILED', async () => {
    const portal = await installPortal(emu, portals);
    const unreachable = createTokenClient({ clientId: 'local.b24kit.demo', clientSecret: 'demo-secret', oauthUrl: 'http://127.0.0.1:9', nowMs: time.nowMs, timeoutMs: 2000 });
    const svc = new PortalTokenService({ portals, tokenClient: unreachable, nowMs: time.nowMs });
    await time.advance(3600 - 120);
    const grants = await Promise.all(Array.from({ length: 10 }, () => svc.getGrant(portal.memberId)));
    for (const grant of grants) assert.equal(grant.accessToken, portal.accessToken);
    await time.advance(300);
    await assert.rejects(svc.getGrant(portal.memberId), isCode('B24_ERR_REFRESH_FAILED'));
    const stored = await portals.info(portal.memberId);
    assert.equal(stored?.state, 'active');
    assert.equal(stored?.refreshFailures, 2);
    // the OAuth server is back: the next call refreshes
    assert.notEqual((await service().getGrant(portal.memberId)).accessToken, portal.accessToken);
  });

  it('refuses unknown and uninstalled portals without calling the token endpoint', async () => {
    const portal = await installPortal(emu, portals);
    await portals.markUninstalled(portal.memberId);
    const counter = countingFetch();
    const svc = service(counter.fetch);
    await assert.rejects(svc.getGrant(portal.memberId), isCode('B24_ERR_PORTAL_UNINSTALLED'));
    await assert.rejects(svc.getGrant('no-such-member'), isCode('B24_ERR_PORTAL_NOT_FOUND'));
    assert.equal(counter.calls(), 0);
  });

  it('remembers a new client endpoint through the TokenProvider', async () => {
    const portal = await installPortal(emu, portals);
    const provider = createPortalTokenProvider(service(), portal.memberId);
    await provider.updateClientEndpoint!('https://moved.bitrix24.test/rest/');
    assert.equal((await provider.getGrant()).clientEndpoint, 'https://moved.bitrix24.test/rest/');
  });

  it('keep-alive refreshes portals idle for 7 days, once, and reports what it did', async () => {
    // run on a store of its own, so earlier tests' portals don't count
    const own = createTestDatabase();
    const ownStore = await own.open();
    try {
      const ownPortals = registry(ownStore, time);
      const idle = await installPortal(emu, ownPortals);
      const revoked = await installPortal(emu, ownPortals);
      const outsider = createTokenClient({ clientId: 'local.b24kit.demo', clientSecret: 'demo-secret', oauthUrl: emu.url });
      await outsider.refresh({ refreshToken: revoked.refreshToken });
      await time.advance(8 * 86_400);
      const fresh = await installPortal(emu, ownPortals);
      const tokens = service(undefined, ownPortals);

      const report = await refreshIdlePortals({ portals: ownPortals, tokens });
      assert.equal(report.idle, 2);
      assert.deepEqual(report.refreshed, [idle.memberId]);
      assert.deepEqual(report.needsReauth, [revoked.memberId]);
      assert.deepEqual(report.failed, []);
      assert.equal(await refreshCount(emu, idle.memberId), 1);
      assert.equal(await refreshCount(emu, fresh.memberId), 0);

      const second = await refreshIdlePortals({ portals: ownPortals, tokens });
      assert.deepEqual(second, { idle: 0, refreshed: [], alreadyFresh: [], needsReauth: [], failed: [] });
      assert.equal(await refreshCount(emu, idle.memberId), 1);
      const grant = await tokens.getGrant(idle.memberId);
      assert.equal((await userCurrent(grant.clientEndpoint, grant.accessToken)).status, 200);
    } finally {
      await ownStore.close();
      await own.drop();
    }
  });
});
