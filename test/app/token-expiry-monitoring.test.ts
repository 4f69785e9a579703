/**
 * Token-expiry monitoring (docs/operations.md), against the emulator with its clock moved:
 * - /metrics shows the age of the oldest refresh token, and (with `metrics.perPortal`) each
 *   portal's access-token expiry and refresh-token age, labelled by member_id;
 * - a refresh token that died (28 days unused) moves the portal to needs_reauth: the
 *   `onPortalStateChange` handlers (the app's and a plugin's) are told, with the reason and
 *   Bitrix24's code; the refusal is counted in b24kit_token_refresh_failures_total{reason};
 * - a handler that throws or rejects is logged with its Error and changes nothing;
 * - re-authorization and uninstall are state changes too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appInternals } from '../../src/app/internals.js';
import { definePlugin } from '../../src/app/plugin.js';
import type { PortalStateChange } from '../../src/store/portals.js';
import { advanceClock, control } from '../helpers/emulator.js';
import { getManual as get } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

const DAY_S = 24 * 3600;

/** The value of the one sample of `metric` whose labels include all of `labels` (undefined: none). */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z0-9_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== metric) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('token-expiry monitoring: gauges, refresh failures and onPortalStateChange', () => {
  let t: TestApp;
  let memberId: string;
  let domain: string;
  const changes: PortalStateChange[] = [];
  const pluginChanges: PortalStateChange[] = [];

  before(async () => {
    const watcher = definePlugin({
      name: 'reauth-watcher',
      setup(kit) {
        kit.onPortalStateChange((change) => void pluginChanges.push(change));
      },
    });
    t = await startTestApp(
      (app) => {
        app.job('touch', async (ctx) => void (await ctx.b24.call('user.current')));
        app.onPortalStateChange((change) => void changes.push(change));
        // a broken notifier: neither its throw nor its rejection may undo or block the change
        app.onPortalStateChange(() => {
          throw new Error('the pager is down');
        });
        app.onPortalStateChange(async () => {
          throw Object.assign(new Error('the chat webhook refused'), { code: 'CHAT_REFUSED' });
        });
        app.register(watcher);
      },
      { config: { metrics: { perPortal: true } } },
    );
    ({ memberId, domain } = await t.install());
  });
  after(() => t?.close());

  const metrics = async (): Promise<string> => (await fetch(`${t.url}/metrics`)).text();
  const portalState = async () => (await (await appInternals(t.app).services()).portals.info(memberId))?.state;

  it('install: the handlers hear "installed"; /metrics has the portal active and its token times', async () => {
    assert.equal(changes.length, 1, JSON.stringify(changes));
    assert.deepEqual({ ...changes[0], atMs: 0 }, { memberId, domain, from: undefined, to: 'active', reason: 'installed', atMs: 0 });
    assert.deepEqual(pluginChanges, changes, "the plugin's handler hears the same");

    const text = await metrics();
    assert.equal(sample(text, 'b24kit_portals', { state: 'active' }), 1);
    assert.equal(sample(text, 'b24kit_portal_refresh_token_max_age_seconds'), 0);
    assert.equal(sample(text, 'b24kit_portal_refresh_token_age_seconds', { member_id: memberId, state: 'active' }), 0);
    const expiresIn = sample(text, 'b24kit_portal_access_token_expires_in_seconds', { member_id: memberId, state: 'active' });
    assert.ok(expiresIn !== undefined && expiresIn > 3000 && expiresIn <= 3600, `access token expires in ${expiresIn} s (the emulator issues 3600 s tokens)`);
    assert.equal(sample(text, 'b24kit_portal_series_omitted'), 0);
    assert.equal(sample(text, 'b24kit_token_refresh_failures_total', { reason: 'invalid_grant' }), 0, 'every reason starts at 0');
  });

  it('22 idle days: the refresh-token age crosses 21 days, the access token is long expired', async () => {
    await advanceClock(t.emu, 22 * DAY_S);
    const text = await metrics();
    const maxAge = sample(text, 'b24kit_portal_refresh_token_max_age_seconds')!;
    assert.ok(maxAge >= 22 * DAY_S && maxAge < 22 * DAY_S + 3600, `max age ${maxAge}`);
    assert.equal(sample(text, 'b24kit_portal_refresh_token_age_seconds', { member_id: memberId }), maxAge);
    assert.ok(sample(text, 'b24kit_portal_access_token_expires_in_seconds', { member_id: memberId })! < -21 * DAY_S);
  });

  it('29 idle days: the refresh is refused → needs_reauth, the handlers hear why, the failure is counted', async () => {
    await advanceClock(t.emu, 7 * DAY_S);
    const sinceMs = t.emu.emulator.clock.nowMs();
    await t.app.enqueue(memberId, 'touch', {});
    await waitFor(async () => (await portalState()) === 'needs_reauth', 15_000, 'the portal to need re-authorization');
    await waitFor(() => changes.length === 2, 5_000, 'the second state change');
    assert.deepEqual(
      { ...changes[1], atMs: 0 },
      { memberId, domain, from: 'active', to: 'needs_reauth', reason: 'refresh_token_rejected', bitrixCode: 'invalid_grant', atMs: 0 },
    );
    assert.ok(changes[1]!.atMs >= sinceMs && changes[1]!.atMs <= t.emu.emulator.clock.nowMs(), "the change's time is on the app's clock");
    await waitFor(() => pluginChanges.length === 2, 5_000, "the plugin's handler");

    const text = await metrics();
    assert.equal(sample(text, 'b24kit_token_refresh_failures_total', { reason: 'invalid_grant' }), 1);
    assert.equal(sample(text, 'b24kit_portals', { state: 'needs_reauth' }), 1);
    assert.equal(sample(text, 'b24kit_portals', { state: 'active' }), 0);
    assert.equal(sample(text, 'b24kit_portal_refresh_token_max_age_seconds'), 0, 'no active portal left');
    assert.ok(sample(text, 'b24kit_portal_refresh_token_age_seconds', { member_id: memberId, state: 'needs_reauth' })! >= 29 * DAY_S);
  });

  it("the broken handlers' errors are logged as Errors, and the state change stands", async () => {
    const failures = await waitFor(() => {
      const lines = t.logs.map((line) => JSON.parse(line) as { msg: string; to?: string; err?: Record<string, unknown> });
      const found = lines.filter((line) => line.msg === 'an onPortalStateChange handler failed' && line.to === 'needs_reauth');
      return found.length === 2 ? found : undefined;
    }, 5_000, 'two failure lines');
    assert.deepEqual(failures.map((line) => line.err).sort((a, b) => String(a?.message).localeCompare(String(b?.message))), [
      { type: 'Error', message: 'the chat webhook refused', code: 'CHAT_REFUSED' },
      { type: 'Error', message: 'the pager is down' },
    ]);
    assert.equal(await portalState(), 'needs_reauth');
  });

  it('re-authorization (GET /oauth/start → callback) and uninstall are heard too', async () => {
    const start = await get(`${t.url}/oauth/start?domain=${domain}`);
    const authorized = await get(start.location!);
    const callback = await get(authorized.location!);
    assert.equal(callback.status, 200, JSON.stringify(callback.body));
    await waitFor(() => changes.length === 3, 5_000, 'the re-authorization');
    assert.deepEqual([changes[2]!.from, changes[2]!.to, changes[2]!.reason], ['needs_reauth', 'active', 'reauthorized']);

    await control(t.emu, `/portals/${memberId}/uninstall`, {});
    await waitFor(() => changes.length === 4, 10_000, 'the uninstall');
    assert.deepEqual([changes[3]!.from, changes[3]!.to, changes[3]!.reason], ['active', 'uninstalled', 'uninstalled']);
    assert.equal(pluginChanges.length, 4);

    const text = await metrics();
    assert.equal(sample(text, 'b24kit_portal_refresh_token_age_seconds', { member_id: memberId }), undefined, 'an uninstalled portal has no token series');
  });
});
