/**
 * `startTestApp` (b24kit/testing): an app and the emulator in one process, as docs/testing.md
 * shows it — the portal installs the app over HTTP, `fireEvent` resolves once the handler ran, a
 * failed run comes back queued for its retry, and the app reads the emulator's clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { B24App } from '../../src/index.js';
import { emulatorControl, startTestApp, type TestApp } from '../../src/testing/index.js';

/** The app under test, declared as docs/testing.md advises: a function over the app. */
function handlers(app: B24App): void {
  app.on('ONCRMCONTACTADD', async (ctx) => {
    const id = (ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID;
    if (id === 'broken') throw new Error('cannot welcome this one');
    await ctx.once('welcome-deal', async () => (await ctx.b24.call<number>('crm.deal.add', { fields: { TITLE: `Welcome ${id}` } })).result);
  });
}

async function dealTitles(t: TestApp, memberId: string): Promise<string[]> {
  const { result } = await t.app.client(memberId).call<Array<{ TITLE: string }>>('crm.deal.list', { select: ['TITLE'] });
  return result.map((deal) => deal.TITLE);
}

describe('startTestApp', () => {
  let t: TestApp;
  before(async () => {
    // retries a minute out: a failed run is observed queued after exactly one attempt, however slow the machine
    t = await startTestApp(handlers, { config: { queue: { defaults: { baseDelayMs: 60_000, capDelayMs: 60_000 } } } });
  });
  after(() => t.close());

  it('installs the app into a new portal through its /install, on a loopback URL', async () => {
    assert.match(t.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const portal = await emulatorControl<{ installed: boolean; domain: string }>(t.emulator, `/portals/${t.portal.memberId}`, undefined, 'GET');
    assert.deepEqual(portal, { ...portal, installed: true, domain: t.portal.domain });
    assert.match(t.portal.domain, /\.bitrix24\.test$/);
  });

  it('fireEvent resolves once the handler ran, with the job it ran in', async () => {
    const jobs = await t.fireEvent('ONCRMCONTACTADD', { FIELDS: { ID: '7' } });
    assert.deepEqual(jobs.map((job) => [job.memberId, job.state]), [[t.portal.memberId, 'succeeded']]);
    assert.deepEqual(await dealTitles(t, t.portal.memberId), ['Welcome 7']);
  });

  it('a failing handler: fireEvent returns its job queued for the retry, with the error', async () => {
    const [job] = await t.fireEvent('ONCRMCONTACTADD', { FIELDS: { ID: 'broken' } });
    assert.equal(job?.state, 'queued');
    assert.match(job?.lastError ?? '', /cannot welcome this one/);
    assert.equal(job?.history.length, 1);
  });

  it('an event the app does not handle reaches no handler: no job', async () => {
    assert.deepEqual(await t.fireEvent('ONCRMLEADADD', { FIELDS: { ID: '1' } }), []);
  });

  it('the app reads the emulator clock: tokens expired by moving it are refreshed before the call', async () => {
    const refreshes = async (): Promise<number> =>
      (await emulatorControl<{ refreshes: number }>(t.emulator, `/portals/${t.portal.memberId}/stats`, undefined, 'GET')).refreshes;
    const before = await refreshes();
    await emulatorControl(t.emulator, '/clock', { advanceSeconds: 3700 });
    const jobs = await t.fireEvent('ONCRMCONTACTADD', { FIELDS: { ID: '8' } });
    assert.deepEqual(jobs.map((job) => job.state), ['succeeded']);
    assert.equal(await refreshes(), before + 1);
  });

  it('installPortal adds a portal; fireEvent({ memberId }) works there and nowhere else', async () => {
    const other = await t.installPortal({ plan: 'enterprise' });
    assert.notEqual(other.memberId, t.portal.memberId);
    await t.fireEvent('ONCRMCONTACTADD', { FIELDS: { ID: '9' } }, { memberId: other.memberId });
    assert.deepEqual(await dealTitles(t, other.memberId), ['Welcome 9']);
    assert.deepEqual(await dealTitles(t, t.portal.memberId), ['Welcome 7', 'Welcome 8']);
  });
});

describe('startTestApp({ portal: false })', () => {
  it('starts with no portal; fireEvent needs a memberId', async () => {
    const t = await startTestApp(handlers, { portal: false });
    try {
      assert.equal(t.portal, undefined);
      await assert.rejects(t.fireEvent('ONCRMCONTACTADD'), /no portal was installed at start/);
      const portal = await t.installPortal();
      assert.deepEqual((await t.fireEvent('ONCRMCONTACTADD', { FIELDS: { ID: '1' } }, { memberId: portal.memberId })).map((job) => job.state), ['succeeded']);
    } finally {
      await t.close();
    }
  });
});
