/**
 * The code flow's two anonymous routes, attacked:
 * - `/oauth/start?domain=evil.example.com` answered 302 to that host with a fresh state (an open
 *   redirect), and 300 calls inserted 300 `oauth_states` rows: now only cloud portals, installed
 *   portals and allowed hosts get a redirect, and live states are capped per client and in total;
 * - portal D's state with portal C's code and the `domain` parameter removed stored C's tokens:
 *   now the state records its portal and the callback must name the same domain and member_id.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OAuthStateStore } from '../../src/oauth/oauth-state.js';
import { advanceClock } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';
import { emulatorInstall, getManual as get, startAppUnderTest, type AppUnderTest, type EmulatorInstall } from '../portals/helpers.js';

describe('OAuth flow abuse', () => {
  let app: AppUnderTest;
  let portalD: EmulatorInstall;
  let elsewhere: HandlerServer;

  async function liveStates(): Promise<number> {
    const row = await app.store.one<{ n: number | string }>('SELECT COUNT(*) AS n FROM oauth_states');
    return Number(row?.n ?? 0);
  }

  before(async () => {
    app = await startAppUnderTest();
    portalD = await emulatorInstall(app.emu, app.url);
    elsewhere = await startHandlerServer();
  });
  after(async () => {
    await elsewhere?.close();
    await app?.close();
  });

  it('an arbitrary host gets no redirect and no state row', async () => {
    const before = await liveStates();
    for (const host of ['evil.example.com', 'oauth.bitrix.info.evil.example', 'acme.bitrix24.com.evil.example', 'www.example.org']) {
      const answer = await get(`${app.url}/oauth/start?domain=${host}`);
      assert.deepEqual([answer.status, answer.body?.error, answer.location], [400, 'B24_ERR_DOMAIN_NOT_ALLOWED', null], host);
    }
    assert.equal(await liveStates(), before);
  });

  it('300 starts from one client leave at most 20 live states; the rest get 429; expired states are purged', async () => {
    await app.store.run('DELETE FROM oauth_states');
    const statuses: number[] = [];
    for (let i = 0; i < 300; i += 1) statuses.push((await get(`${app.url}/oauth/start?domain=acme${i}.bitrix24.com`)).status);
    assert.equal(statuses.filter((s) => s === 302).length, 20);
    assert.equal(statuses.filter((s) => s === 429).length, 280);
    assert.equal(await liveStates(), 20);
    const refused = await get(`${app.url}/oauth/start?domain=acme.bitrix24.com`);
    assert.deepEqual([refused.status, refused.body?.error], [429, 'B24_ERR_TOO_MANY_REQUESTS']);
    // ten minutes later the states have expired: the next start deletes them and succeeds
    await advanceClock(app.emu, 601);
    const later = await get(`${app.url}/oauth/start?domain=acme.bitrix24.com`);
    assert.equal(later.status, 302);
    assert.equal(await liveStates(), 1);
  });

  it('the total of live states is capped whatever the number of clients', async () => {
    await app.store.run('DELETE FROM oauth_states');
    const states = new OAuthStateStore({ store: app.store, nowMs: () => app.emu.emulator.clock.nowMs(), maxLivePerClient: 5, maxLive: 12 });
    let created = 0;
    for (let client = 0; client < 10; client += 1) {
      for (let i = 0; i < 5; i += 1) {
        try {
          await states.create({ domain: 'acme.bitrix24.com', client: `198.51.100.${client}` });
          created += 1;
        } catch (error) {
          assert.equal((error as { code?: string }).code, 'B24_ERR_TOO_MANY_REQUESTS');
        }
      }
    }
    assert.equal(created, 12);
    assert.equal(await liveStates(), 12);
    // addresses are stored only as hashes
    const rows = await app.store.all<{ client_hash: string }>('SELECT client_hash FROM oauth_states');
    assert.ok(rows.every((row) => /^[0-9a-f]{64}$/.test(row.client_hash)));
    await app.store.run('DELETE FROM oauth_states');
  });

  it("portal D's state with portal C's code: without domain → 400; with C's or D's domain → refused; nothing of C stored", async () => {
    const portalC = await emulatorInstall(app.emu, elsewhere.url); // installed, but its install POST went elsewhere
    const codeForC = async (): Promise<{ state: string; redirect: URL }> => {
      const start = await get(`${app.url}/oauth/start?domain=${portalD.domain}`);
      assert.equal(start.status, 302);
      const state = new URL(start.location!).searchParams.get('state')!;
      // the attacker opens C's authorize page with D's state
      const authorize = await get(`${app.emu.url}/${portalC.domain}/oauth/authorize/?client_id=${app.emu.emulator.options.clientId}&state=${state}`);
      return { state, redirect: new URL(authorize.location!) };
    };

    const first = await codeForC();
    first.redirect.searchParams.delete('domain');
    const noDomain = await get(`${app.url}/oauth/callback${first.redirect.search}`);
    assert.deepEqual([noDomain.status, noDomain.body?.error], [400, 'B24_ERR_BAD_REQUEST']);

    const second = await codeForC();
    second.redirect.searchParams.delete('member_id');
    const noMember = await get(`${app.url}/oauth/callback${second.redirect.search}`);
    assert.deepEqual([noMember.status, noMember.body?.error], [400, 'B24_ERR_BAD_REQUEST']);

    const third = await codeForC(); // C's own domain and member_id: the state was issued for D
    const asC = await get(`${app.url}/oauth/callback${third.redirect.search}`);
    assert.deepEqual([asC.status, asC.body?.error], [400, 'B24_ERR_STATE_INVALID']);

    const fourth = await codeForC(); // D's domain, C's member_id: the state recorded D's member_id
    fourth.redirect.searchParams.set('domain', portalD.domain);
    const mixed = await get(`${app.url}/oauth/callback${fourth.redirect.search}`);
    assert.deepEqual([mixed.status, mixed.body?.error], [400, 'B24_ERR_STATE_INVALID']);

    const fifth = await codeForC(); // D's domain and member_id around C's code: the exchanged tokens name C
    fifth.redirect.searchParams.set('domain', portalD.domain);
    fifth.redirect.searchParams.set('member_id', portalD.memberId);
    const forged = await get(`${app.url}/oauth/callback${fifth.redirect.search}`);
    assert.deepEqual([forged.status, forged.body?.error], [403, 'B24_ERR_FORBIDDEN']);

    assert.equal(await app.runtime.portals.info(portalC.memberId), undefined);
  });
});
