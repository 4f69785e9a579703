import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AjaxResult, B24OAuth, EnumAppStatus, Logger, type B24OAuthParams } from '@bitrix24/b24jssdk';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

/**
 * The official SDK, unmodified, against the emulator: a client nobody here wrote. If the emulator
 * drifts from the real portal in anything this SDK relies on (URLs, envelopes, batch sections,
 * paging fields, the 401 that triggers a refresh, the token endpoint), this file fails.
 */

const CLIENT_ID = 'local.b24kit.sdk-test';
const CLIENT_SECRET = 'sdk-test-secret';
const DEALS = 120;

interface Installed {
  access_token: string;
  refresh_token: string;
  application_token: string;
  expires: number;
  expires_in: number;
  client_endpoint: string;
  server_endpoint: string;
  member_id: string;
  domain: string;
  scope: string;
  user_id: number;
}

interface Stats {
  refreshes: number;
  requests: number;
  byStatus: Record<string, number>;
}

/** Builds the SDK client exactly as an app does from the install event's auth block. */
function sdkClient(installed: Installed): B24OAuth {
  const params: B24OAuthParams = {
    applicationToken: installed.application_token,
    userId: installed.user_id,
    memberId: installed.member_id,
    accessToken: installed.access_token,
    refreshToken: installed.refresh_token,
    expires: installed.expires,
    expiresIn: installed.expires_in,
    scope: installed.scope,
    domain: installed.domain,
    clientEndpoint: installed.client_endpoint,
    serverEndpoint: installed.server_endpoint,
    status: EnumAppStatus.Local,
  };
  const b24 = new B24OAuth(params, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  // A logger without handlers: the deprecated v2 helpers (callMethod, callBatch, …) print a
  // deprecation warning to the console whenever the logger is the default NullLogger.
  b24.setLogger(Logger.create('b24jssdk-test'));
  return b24;
}

describe('the official @bitrix24/b24jssdk drives the emulator', () => {
  let emu: RunningEmulator;
  let memberId: string;
  let b24: B24OAuth;
  /** The same install, for seeding without the SDK. */
  let direct: TestPortal;
  let installed: Installed;

  before(async () => {
    emu = await startTestEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    // generous limits: seeding writes more than one burst; the limits themselves are tested elsewhere
    const created = await control<{ member_id: string; domain: string; client_endpoint: string }>(emu, '/portals', {
      drainPerSecond: 1000,
      burst: 10_000,
    });
    memberId = created.member_id;
    installed = await control<Installed>(emu, `/portals/${memberId}/install`, {});
    b24 = sdkClient(installed);
    direct = {
      memberId,
      domain: created.domain,
      clientEndpoint: created.client_endpoint,
      accessToken: installed.access_token,
      refreshToken: installed.refresh_token,
      applicationToken: installed.application_token,
    };
  });
  after(() => emu.close());

  it('callMethod: user.current, profile and app.info', async () => {
    const user = await b24.callMethod('user.current');
    assert.ok(user instanceof AjaxResult);
    assert.equal(user.isSuccess, true);
    assert.equal((user.getData()?.result as { ID: string }).ID, '1');
    assert.ok(user.getData()?.time, 'the time block reaches the SDK');

    const profile = await b24.callMethod('profile');
    assert.equal((profile.getData()?.result as { ADMIN: boolean }).ADMIN, true);

    const app = await b24.callMethod('app.info');
    assert.equal((app.getData()?.result as { CODE: string }).CODE, CLIENT_ID);

    await b24.initIsAdmin();
    assert.equal(b24.auth.isAdmin, true);
  });

  it('callMethod rejects with the portal error code for an unknown method', async () => {
    await assert.rejects(b24.callMethod('no.such.method'), (error: { code?: string; status?: number }) => {
      assert.equal(error.code, 'ERROR_METHOD_NOT_FOUND');
      assert.equal(error.status, 404);
      return true;
    });
  });

  it('callBatch, object form: results keyed by name', async () => {
    const result = await b24.callBatch({
      me: { method: 'user.current' },
      profile: { method: 'profile', params: {} },
      app: { method: 'app.info' },
    });
    assert.equal(result.isSuccess, true);
    const data = result.getData() as Record<string, { ID?: string; ADMIN?: boolean; CODE?: string }>;
    assert.equal(data.me?.ID, '1');
    assert.equal(data.profile?.ADMIN, true);
    assert.equal(data.app?.CODE, CLIENT_ID);
  });

  it('callBatch, array form: results in order', async () => {
    const result = await b24.callBatch([
      ['user.current', {}],
      ['app.info', {}],
    ]);
    assert.equal(result.isSuccess, true);
    const data = result.getData() as [{ ID: string }, { CODE: string }];
    assert.equal(data.length, 2);
    assert.equal(data[0].ID, '1');
    assert.equal(data[1].CODE, CLIENT_ID);
  });

  it('callBatch without halt: a failing command is reported by its key, the others succeed', async () => {
    const result = await b24.callBatch({ ok: { method: 'user.current' }, bad: { method: 'no.such.method' } }, false);
    assert.equal(result.isSuccess, false);
    const data = result.getData() as Record<string, unknown>;
    assert.equal((data.ok as { ID: string }).ID, '1');
    assert.equal(data.bad, undefined);
    assert.deepEqual([...result.getErrors()].length, 1);
  });

  describe('lists over seeded deals', () => {
    before(async () => {
      for (let i = 1; i <= DEALS; i += 1) {
        const { status, body } = await rest(direct, 'crm.deal.add', { fields: { TITLE: `Deal ${i}`, OPPORTUNITY: i * 10 } });
        assert.equal(status, 200, JSON.stringify(body));
      }
    });

    it('callListMethod pages with start/next until every row is read', async () => {
      const progress: number[] = [];
      const result = await b24.callListMethod('crm.deal.list', { select: ['ID', 'TITLE'] }, (percent: number) => progress.push(percent));
      assert.equal(result.isSuccess, true);
      const rows = result.getData() as Array<{ ID: string; TITLE: string }>;
      assert.equal(rows.length, DEALS);
      assert.equal(new Set(rows.map((row) => row.ID)).size, DEALS);
      assert.equal(progress.at(-1), 100);
    });

    it('actions.v2.callList pages by ID with start=-1', async () => {
      const result = await b24.actions.v2.callList.make<{ ID: string }>({ method: 'crm.deal.list', params: { select: ['ID'] }, idKey: 'ID' });
      assert.equal(result.isSuccess, true);
      const ids = (result.getData() ?? []).map((row) => Number(row.ID));
      assert.equal(ids.length, DEALS);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    });

    it('fetchListMethod streams chunks of at most 50', async () => {
      const sizes: number[] = [];
      const seen = new Set<string>();
      for await (const chunk of b24.fetchListMethod('crm.deal.list', { select: ['ID', 'TITLE'] }, 'ID')) {
        sizes.push(chunk.length);
        for (const row of chunk as Array<{ ID: string }>) seen.add(row.ID);
      }
      assert.ok(sizes.every((size) => size <= 50), `chunk sizes ${sizes.join(',')}`);
      assert.equal(seen.size, DEALS);
    });

    it('callBatch with AjaxResults: a list inside a batch keeps its total and next', async () => {
      const result = await b24.callBatch({ page: { method: 'crm.deal.list', params: { select: ['ID'] } } }, true, true);
      const page = (result.getData() as Record<string, AjaxResult>).page;
      assert.ok(page instanceof AjaxResult);
      assert.equal((page.getData()?.result as unknown[]).length, 50);
      assert.equal(page.getTotal(), DEALS);
      assert.equal(page.isMore(), true);
    });

    it('callBatch: $result[…] references reach the next command through the query string', async () => {
      const result = await b24.callBatch({
        created: { method: 'crm.deal.add', params: { fields: { TITLE: 'Made in a batch' } } },
        fetched: { method: 'crm.deal.get', params: { id: '$result[created]' } },
      });
      assert.equal(result.isSuccess, true, result.getErrorMessages().join('; '));
      const data = result.getData() as { created: number | string; fetched: { ID: string; TITLE: string } };
      assert.equal(String(data.fetched.ID), String(data.created));
      assert.equal(data.fetched.TITLE, 'Made in a batch');
    });
  });

  // last: it moves the emulator clock for every portal
  it('refreshes once through /oauth/token/ when the portal answers 401 expired_token', async () => {
    const before = await control<Stats>(emu, `/portals/${memberId}/stats`, undefined, 'GET');
    assert.equal(before.refreshes, 0);

    const rotated: B24OAuthParams[] = [];
    b24.setCallbackRefreshAuth(async ({ b24OAuthParams }) => {
      rotated.push({ ...b24OAuthParams });
    });

    // the SDK still believes its token is fresh (its clock did not move): it learns from the 401
    await control(emu, '/clock', { advanceSeconds: 3700 });
    const user = await b24.callMethod('user.current');
    assert.equal((user.getData()?.result as { ID: string }).ID, '1');

    // the SDK read every field it needs from the emulator's token response
    assert.equal(rotated.length, 1);
    const fresh = rotated[0]!;
    assert.notEqual(fresh.accessToken, installed.access_token);
    assert.notEqual(fresh.refreshToken, installed.refresh_token);
    assert.equal(fresh.clientEndpoint, installed.client_endpoint);
    assert.equal(fresh.serverEndpoint, installed.server_endpoint);
    assert.equal(fresh.expiresIn, 3600);
    assert.ok(fresh.expires >= installed.expires + 3700, 'expires is on the emulator clock');

    const afterRefresh = await control<Stats>(emu, `/portals/${memberId}/stats`, undefined, 'GET');
    assert.equal(afterRefresh.refreshes, 1);
    assert.equal((afterRefresh.byStatus['401'] ?? 0) - (before.byStatus['401'] ?? 0), 1, 'one 401 expired_token, then the retried call');

    // the rotated tokens keep working, and concurrent calls do not refresh again
    await Promise.all([b24.callMethod('profile'), b24.callMethod('app.info'), b24.callMethod('user.current')]);
    const settled = await control<Stats>(emu, `/portals/${memberId}/stats`, undefined, 'GET');
    assert.equal(settled.refreshes, 1);
  });

  it('a client holding the rotated-away tokens fails: the used refresh token answers invalid_grant', async () => {
    // the refresh above invalidated the install's access token and spent its refresh token
    const stale = sdkClient(installed);
    await assert.rejects(stale.callMethod('user.current'), (error: Error) => {
      assert.match(error.message, /invalid_grant|Invalid refresh token/);
      return true;
    });
    const stats = await control<Stats>(emu, `/portals/${memberId}/stats`, undefined, 'GET');
    assert.equal(stats.refreshes, 1, 'a refused refresh is not a refresh');
  });
});
