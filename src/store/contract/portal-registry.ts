/**
 * What the portal registry promises on a store: secrets sealed at rest (and bound to their row),
 * compare-and-swap token updates, one refresh lease per version, portal states, purges in one
 * transaction, the keep-alive's idle list.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { B24Error } from '../../errors.js';
import { createSecretBox } from '../crypto.js';
import { PortalRegistry, type PortalInstall } from '../portals.js';
import type { Store } from '../types.js';
import type { ContractDatabase, ContractDatabaseFactory } from './types.js';

function install(memberId: string, overrides: Partial<PortalInstall> = {}): PortalInstall {
  return {
    memberId,
    domain: `${memberId}.bitrix24.test`,
    clientEndpoint: `https://${memberId}.bitrix24.test/rest/`,
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
    accessToken: `access-${memberId}-${randomBytes(8).toString('hex')}`,
    refreshToken: `refresh-${memberId}-${randomBytes(8).toString('hex')}`,
    expiresAtMs: 1_767_229_200_000,
    scope: ['crm', 'bizproc'],
    status: 'L',
    applicationToken: `app-${memberId}-${randomBytes(8).toString('hex')}`,
    installedByUserId: 1,
    ...overrides,
  };
}

export function describePortalRegistrySuite(createDatabase: ContractDatabaseFactory): void {
  describe('portal registry', () => {
    let db: ContractDatabase;
    let store: Store;
    let portals: PortalRegistry;
    let now = 1_767_225_600_000;
    const key = randomBytes(32);

    before(async () => {
      db = await createDatabase();
      store = await db.open();
      portals = new PortalRegistry({ store, secrets: createSecretBox(key), nowMs: () => now });
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    it('stores an install and reads it back with secrets opened', async () => {
      const input = install('m-roundtrip');
      const saved = await portals.upsertInstall(input);
      assert.equal(saved.version, 1);
      assert.equal(saved.state, 'active');
      const got = await portals.get('m-roundtrip');
      assert.ok(got);
      assert.equal(got.accessToken, input.accessToken);
      assert.equal(got.refreshToken, input.refreshToken);
      assert.equal(got.applicationToken, input.applicationToken);
      assert.deepEqual(got.scope, ['crm', 'bizproc']);
      assert.equal(got.expiresAtMs, input.expiresAtMs);
      assert.equal(got.installedByUserId, 1);
      assert.equal(got.lastRefreshedAtMs, now);
      assert.equal(got.createdAtMs, now);
      assert.equal(await portals.get('m-unknown'), undefined);
      await assert.rejects(portals.require('m-unknown'), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_PORTAL_NOT_FOUND');
    });

    it('never stores tokens or the application_token in plaintext (raw row)', async () => {
      const input = install('m-raw');
      await portals.upsertInstall(input);
      const raw = await store.one<Record<string, unknown>>('SELECT * FROM portals WHERE member_id = ?', ['m-raw']);
      assert.ok(raw);
      const text = JSON.stringify(raw);
      for (const secret of [input.accessToken, input.refreshToken, input.applicationToken!]) {
        assert.ok(!text.includes(secret), 'a secret is visible in the raw row');
      }
      for (const column of ['access_token', 'refresh_token', 'application_token']) assert.match(String(raw[column]), /^v1\./);
      // a random IV per value: the same plaintext seals differently each time
      await portals.upsertInstall({ ...input });
      const again = await store.one<Record<string, unknown>>('SELECT access_token FROM portals WHERE member_id = ?', ['m-raw']);
      assert.notEqual(again?.access_token, raw.access_token);
    });

    it('fails with B24_ERR_DECRYPT under a wrong key, naming no secret', async () => {
      const input = install('m-wrongkey');
      await portals.upsertInstall(input);
      const otherKey = randomBytes(32);
      const wrong = new PortalRegistry({ store, secrets: createSecretBox(otherKey), nowMs: () => now });
      await assert.rejects(wrong.get('m-wrongkey'), (error: unknown) => {
        assert.ok(error instanceof B24Error);
        assert.equal(error.code, 'B24_ERR_DECRYPT');
        assert.equal(error.memberId, 'm-wrongkey');
        for (const secret of [input.accessToken, input.refreshToken, key.toString('hex'), key.toString('base64'), otherKey.toString('base64')]) {
          assert.ok(!error.message.includes(secret) && !JSON.stringify(error).includes(secret));
        }
        return true;
      });
      // a sealed value moved to another portal's row does not open either (bound to member and column)
      const stolen = await store.one<{ access_token: string }>('SELECT access_token FROM portals WHERE member_id = ?', ['m-wrongkey']);
      await portals.upsertInstall(install('m-victim'));
      await store.run('UPDATE portals SET access_token = ? WHERE member_id = ?', [stolen!.access_token, 'm-victim']);
      await assert.rejects(portals.get('m-victim'), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_DECRYPT');
      await portals.purge('m-victim');
    });

    it('a reinstall/update replaces tokens and application_token, bumps the version and revives the portal', async () => {
      const first = await portals.upsertInstall(install('m-update'));
      await portals.setState('m-update', 'needs_reauth');
      now += 1000;
      const next = install('m-update', { domain: 'renamed.bitrix24.test' });
      const second = await portals.upsertInstall(next);
      assert.equal(second.version, first.version + 1);
      assert.equal(second.state, 'active');
      assert.equal(second.needsReauthSinceMs, null);
      assert.equal(second.createdAtMs, first.createdAtMs);
      assert.equal(second.updatedAtMs, now);
      assert.equal(second.domain, 'renamed.bitrix24.test');
      assert.equal(await portals.verifyApplicationToken('m-update', next.applicationToken!), true);
      assert.equal(await portals.verifyApplicationToken('m-update', first.applicationToken!), false);
      // a code exchange carries no application_token: the stored one stays
      const { applicationToken: _drop, installedByUserId: _user, ...withoutAppToken } = install('m-update');
      const third = await portals.upsertInstall(withoutAppToken);
      assert.equal(third.applicationToken, next.applicationToken);
      assert.equal(third.installedByUserId, 1);
    });

    it('verifies the application_token exactly (constant-time compare)', async () => {
      const input = install('m-apptoken');
      await portals.upsertInstall(input);
      assert.equal(await portals.verifyApplicationToken('m-apptoken', input.applicationToken!), true);
      assert.equal(await portals.verifyApplicationToken('m-apptoken', input.applicationToken!.slice(0, -1)), false);
      assert.equal(await portals.verifyApplicationToken('m-apptoken', `${input.applicationToken}x`), false);
      assert.equal(await portals.verifyApplicationToken('m-apptoken', ''), false);
      assert.equal(await portals.verifyApplicationToken('m-nobody', input.applicationToken!), false);
    });

    it('checkApplicationToken: the portal for the exact token, one refusal for a wrong token and an unknown portal', async () => {
      const input = install('m-check');
      await portals.upsertInstall(input);
      const token = input.applicationToken!;
      const ok = await portals.checkApplicationToken('m-check', token);
      assert.ok(ok.ok);
      assert.deepEqual(ok.portal, await portals.info('m-check'));
      assert.ok(!('applicationToken' in ok.portal), 'the answer carries no secret');
      for (const candidate of [token.slice(0, -1), `${token}x`, token.toUpperCase(), '']) {
        assert.deepEqual(await portals.checkApplicationToken('m-check', candidate), { ok: false });
      }
      assert.deepEqual(await portals.checkApplicationToken('m-nobody', token), { ok: false });
      // another portal's token does not open this one
      const other = install('m-check-other');
      await portals.upsertInstall(other);
      assert.deepEqual(await portals.checkApplicationToken('m-check', other.applicationToken!), { ok: false });
    });

    it('checkApplicationToken: an uninstalled portal still authenticates (the caller judges the state); a portal without a token never does', async () => {
      const input = install('m-check-gone');
      await portals.upsertInstall(input);
      await portals.markUninstalled('m-check-gone');
      const gone = await portals.checkApplicationToken('m-check-gone', input.applicationToken!);
      assert.ok(gone.ok);
      assert.equal(gone.portal.state, 'uninstalled');
      const { applicationToken: _none, ...tokenless } = install('m-check-none');
      await portals.upsertInstall(tokenless);
      assert.deepEqual(await portals.checkApplicationToken('m-check-none', ''), { ok: false });
      assert.deepEqual(await portals.checkApplicationToken('m-check-none', input.applicationToken!), { ok: false });
    });

    it('checkApplicationToken: a wrong key fails loudly (B24_ERR_DECRYPT) for a known portal, and refuses an unknown one', async () => {
      const input = install('m-check-key');
      await portals.upsertInstall(input);
      const wrong = new PortalRegistry({ store, secrets: createSecretBox(randomBytes(32)), nowMs: () => now });
      await assert.rejects(wrong.checkApplicationToken('m-check-key', input.applicationToken!), (e: unknown) => e instanceof B24Error && e.code === 'B24_ERR_DECRYPT');
      // the dummy is sealed with the registry's own key, so unknown portals answer under any key
      assert.deepEqual(await wrong.checkApplicationToken('m-nobody', input.applicationToken!), { ok: false });
    });

    it('updates tokens only at the expected version (compare-and-swap)', async () => {
      const saved = await portals.upsertInstall(install('m-cas'));
      const pair = { accessToken: 'a2', refreshToken: 'r2', expiresAtMs: now + 3_600_000 };
      const [a, b] = await Promise.all([
        portals.updateTokens('m-cas', saved.version, pair),
        portals.updateTokens('m-cas', saved.version, { ...pair, accessToken: 'a3' }),
      ]);
      assert.equal([a, b].filter(Boolean).length, 1, 'exactly one writer wins');
      const got = await portals.get('m-cas');
      assert.equal(got?.version, saved.version + 1);
      assert.equal(await portals.updateTokens('m-cas', saved.version, pair), undefined);
    });

    it('grants the refresh lease to one caller per version until it lapses', async () => {
      const saved = await portals.upsertInstall(install('m-lease'));
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => portals.acquireRefreshLease('m-lease', saved.version, `owner-${i}`, 30_000)));
      assert.equal(wins.filter(Boolean).length, 1);
      assert.equal(await portals.acquireRefreshLease('m-lease', saved.version, 'late', 30_000), false);
      now += 30_001;
      assert.equal(await portals.acquireRefreshLease('m-lease', saved.version, 'after-lapse', 30_000), true);
      assert.equal((await portals.get('m-lease'))?.refreshLeaseOwner, 'after-lapse');
      await portals.releaseRefreshLease('m-lease', 'after-lapse', true);
      const released = await portals.get('m-lease');
      assert.equal(released?.refreshLeaseOwner, null);
      assert.equal(released?.refreshFailures, 1);
      assert.equal(await portals.markNeedsReauth('m-lease', saved.version, 'not-the-owner'), false);
    });

    it('lists portals by state, counts them, and sets states', async () => {
      await portals.upsertInstall(install('m-state-a'));
      await portals.upsertInstall(install('m-state-b'));
      assert.equal(await portals.setState('m-state-b', 'needs_reauth'), true);
      assert.equal(await portals.setState('m-nobody', 'active'), false);
      const reauth = await portals.list({ state: 'needs_reauth' });
      assert.ok(reauth.some((p) => p.memberId === 'm-state-b'));
      assert.ok(!reauth.some((p) => p.memberId === 'm-state-a'));
      assert.equal(reauth.find((p) => p.memberId === 'm-state-b')?.needsReauthSinceMs, now);
      const all = await portals.list();
      assert.ok(all.length >= 2);
      assert.ok(!('accessToken' in all[0]!), 'lists carry no secrets');
      const counts = await portals.countByState();
      assert.ok(counts.needs_reauth >= 1 && counts.active >= 1);
    });

    it('marks an uninstall: tokens wiped, application_token kept for a repeated ONAPPUNINSTALL', async () => {
      const input = install('m-uninstall');
      await portals.upsertInstall(input);
      assert.equal(await portals.markUninstalled('m-uninstall'), true);
      const got = await portals.get('m-uninstall');
      assert.equal(got?.state, 'uninstalled');
      assert.equal(got?.accessToken, null);
      assert.equal(got?.refreshToken, null);
      assert.equal(await portals.verifyApplicationToken('m-uninstall', input.applicationToken!), true);
      assert.equal(await portals.updateTokens('m-uninstall', got!.version, { accessToken: 'x', refreshToken: 'y', expiresAtMs: 0 }), undefined);
    });

    it('updates endpoints on a rename, keeping member_id', async () => {
      await portals.upsertInstall(install('m-rename'));
      assert.equal(await portals.updateEndpoints('m-rename', { clientEndpoint: 'https://new-name.bitrix24.test/rest/' }), true);
      const got = await portals.info('m-rename');
      assert.equal(got?.clientEndpoint, 'https://new-name.bitrix24.test/rest/');
      assert.equal(got?.domain, 'new-name.bitrix24.test');
      assert.equal(got?.serverEndpoint, 'https://oauth.bitrix.info/rest/');
    });

    it('purges a portal and every registered per-portal table in one transaction', async () => {
      await store.exec('CREATE TABLE contract_jobs (id INTEGER PRIMARY KEY, member_id TEXT NOT NULL)');
      const local = new PortalRegistry({ store, secrets: createSecretBox(key), nowMs: () => now });
      local.registerCleanup('jobs', async (tx, memberId) => {
        await tx.run('DELETE FROM contract_jobs WHERE member_id = ?', [memberId]);
      });
      await local.upsertInstall(install('m-purge'));
      await local.upsertInstall(install('m-keep'));
      for (const [id, member] of [[1, 'm-purge'], [2, 'm-purge'], [3, 'm-keep']] as const) {
        await store.run('INSERT INTO contract_jobs (id, member_id) VALUES (?, ?)', [id, member]);
      }
      // a failing cleanup aborts the whole purge
      local.registerCleanup('broken', async () => {
        throw new Error('cleanup failed');
      });
      await assert.rejects(local.purge('m-purge'), /cleanup failed/);
      assert.ok(await local.get('m-purge'));
      assert.equal((await store.all('SELECT id FROM contract_jobs WHERE member_id = ?', ['m-purge'])).length, 2);

      local.registerCleanup('broken', async () => undefined);
      assert.equal(await local.purge('m-purge'), true);
      assert.equal(await local.get('m-purge'), undefined);
      assert.deepEqual(await store.all('SELECT id FROM contract_jobs ORDER BY id'), [{ id: 3 }]);
      assert.ok(await local.get('m-keep'));
      assert.equal(await local.purge('m-purge'), false);
    });

    it('lists idle active portals, oldest first, for the keep-alive', async () => {
      const base = now;
      now = base - 10 * 86_400_000;
      await portals.upsertInstall(install('m-idle-old'));
      now = base - 8 * 86_400_000;
      await portals.upsertInstall(install('m-idle-newer'));
      await portals.upsertInstall(install('m-idle-reauth'));
      await portals.setState('m-idle-reauth', 'needs_reauth');
      now = base;
      await portals.upsertInstall(install('m-fresh'));
      const idle = await portals.listIdle(base - 7 * 86_400_000);
      const ids = idle.map((p) => p.memberId);
      assert.deepEqual(ids.filter((id) => id.startsWith('m-idle') || id === 'm-fresh'), ['m-idle-old', 'm-idle-newer']);
      assert.equal((await portals.listIdle(base - 7 * 86_400_000, 1)).length, 1);
    });
  });
}
