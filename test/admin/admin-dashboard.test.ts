/**
 * The admin dashboard in a real browser (Debian's /usr/bin/chromium driven by playwright-core):
 * login (a wrong token refused, the right one lands on the portals page, the #token= fragment of
 * the demo banner logs in too), each page shows the state created through the emulator (a portal
 * that needs re-authorization, a dead job whose error carries markup, an event, the limits, the
 * plugins with an integration's last run and last error), replay and discard of dead jobs, and form posts refused without the session, without
 * the CSRF token or from another origin (plain fetch). B24KIT_SCREENSHOTS=1 writes docs/img/admin-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { appInternals } from '../../src/app/internals.js';
import { definePlugin } from '../../src/app/plugin.js';
import { advanceClock, control } from '../helpers/emulator.js';
import { fireAndFlush, startTestApp, waitFor, type TestApp } from '../app/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'admin-token-for-browser-tests-42';
const SCREENSHOTS = process.env.B24KIT_SCREENSHOTS === '1';
const XSS = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>';

describe('admin dashboard in Chromium', { skip: existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (Debian: apt-get install -y chromium)` }, () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let active: string;
  let reauth: string;
  const deadIds: number[] = [];
  let flakyFails = true;
  /** Errors the pages logged in the browser (a CSP violation is one). */
  const consoleErrors: string[] = [];
  let releaseSlow: () => void = () => {};
  const slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));

  const queue = async () => (await appInternals(t.app).services()).queue;
  const shot = async (name: string): Promise<void> => {
    if (SCREENSHOTS) await page.screenshot({ path: join('docs', 'img', `admin-${name}.png`), fullPage: true });
  };

  before(async () => {
    t = await startTestApp(
      (app) => {
        app.on('ONCRMDEALADD', async (ctx) => {
          await ctx.b24.call('crm.deal.get', { id: (ctx.event.data as { FIELDS: { ID: string } }).FIELDS.ID }).catch(() => undefined);
        });
        app.job('sync-contacts', async () => {
          throw new Error(XSS);
        }, { maxAttempts: 2 });
        // runs until the test lets it finish: the queue page shows it with its lease
        app.job('slow-export', async () => {
          await slowGate;
        });
        // fails until the test fixes "the cause", then succeeds when replayed
        app.job('flaky', async () => {
          if (flakyFails) throw new Error('the remote side was down');
        }, { maxAttempts: 1 });
        // an integration: a plugin with a job that dies and one that succeeds (the plugins page)
        app.register(
          definePlugin({
            name: 'crm-export',
            setup(kit) {
              kit.job('crm-export.push', async () => {
                throw new Error('the export endpoint answered 500');
              }, { maxAttempts: 1 });
              kit.job('crm-export.pull', async () => ({ pulled: 3 }));
            },
          }),
        );
      },
      { config: { adminToken: TOKEN } },
    );
    // a portal that needs re-authorization: its refresh token dies after 28 days unused
    ({ memberId: reauth } = await t.install());
    await advanceClock(t.emu, 29 * 24 * 3600);
    await control(t.emu, `/portals/${reauth}/events`, { event: 'ONCRMDEALADD', data: { FIELDS: { ID: '1' } }, userId: 1 });
    await control(t.emu, `/portals/${reauth}/events/flush`, {});
    await waitFor(async () => (await (await appInternals(t.app).services()).portals.info(reauth))?.state === 'needs_reauth', 15_000, 'needs_reauth');
    // a healthy portal with an event and dead jobs
    ({ memberId: active } = await t.install());
    await fireAndFlush(t.emu, active, 'ONCRMDEALADD', { FIELDS: { ID: '2' } });
    for (const [name, payload] of [['sync-contacts', { page: 1, secretKey: 'hidden-value' }], ['sync-contacts', { page: 2 }], ['flaky', { fail: true }]] as const) {
      const job = await t.app.enqueue(active, name, payload);
      deadIds.push(job.id);
    }
    await waitFor(async () => (await (await queue()).counts({ memberId: active })).dead === 3, 15_000, 'three dead jobs');

    // playwright-core gives each launch a fresh temporary profile (user-data-dir) and deletes it on close
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
    page.on('pageerror', (error) => void consoleErrors.push(error.message));
  });
  after(async () => {
    releaseSlow();
    await browser?.close();
    await t?.close();
  });

  it('sends an anonymous visitor to the login page, refuses a wrong token, and lands on the portals page with the right one', async () => {
    await page.goto(`${t.url}/admin/queue`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    await shot('login');
    await page.fill('#token', 'not-the-admin-token-at-all');
    await page.click('button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.match(await page.textContent('.error') ?? '', /Wrong token/);
    assert.equal((await context.cookies()).length, 0, 'no session for a wrong token');
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/admin/portals');
    const [cookie] = await context.cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/admin');
  });

  it('logs in from the #token= fragment the demo banner prints, and clears it from the address bar', async () => {
    const other = await browser.newContext();
    try {
      const tab = await other.newPage();
      await tab.goto(`${t.url}/admin#token=${TOKEN}`);
      await tab.waitForURL(/\/admin\/portals$/);
      assert.equal(new URL(tab.url()).hash, '');
      assert.equal((await other.cookies()).length, 1);
    } finally {
      await other.close();
    }
  });

  it('portals: both portals, the one that needs re-authorization highlighted with the reason', async () => {
    await page.goto(`${t.url}/admin/portals`);
    const row = page.locator(`tr[data-member-id="${reauth}"]`);
    assert.match((await row.getAttribute('class')) ?? '', /reauth/);
    assert.match((await row.textContent()) ?? '', /needs re-authorization since .*refresh_token_rejected/s);
    assert.match((await page.locator(`tr[data-member-id="${active}"]`).textContent()) ?? '', /active/);
    assert.match((await page.textContent('main')) ?? '', /1 active · 1 need re-authorization/);
    await shot('portals');
  });

  it('queue: counts, dead letters by job and code, the attempt history, the error shown as text (inert markup), secrets masked', async () => {
    await page.goto(`${t.url}/admin/queue`);
    assert.equal(await page.title(), 'Queue · b24kit admin', 'the script in the error did not run');
    const errorCell = page.locator(`tr[data-job-id="${deadIds[0]}"] .error-text`);
    assert.equal(await errorCell.textContent(), `Error: ${XSS}`, 'shown as text');
    assert.equal(await page.locator('main script, main img').count(), 0, 'no element made from the error');
    assert.match((await page.textContent('#dead-letters')) ?? '', /job:sync-contacts\s*other\s*2/);
    const history = page.locator(`tr[data-job-id="${deadIds[0]}"] details`).first();
    await history.locator('summary').click();
    assert.equal(await history.locator('li').count(), 2, 'two attempts');
    const payload = (await page.locator(`tr[data-job-id="${deadIds[0]}"] pre`).textContent()) ?? '';
    assert.match(payload, /\[redacted\]/);
    assert.doesNotMatch(payload, /hidden-value/);
    await shot('queue');
  });

  it('replays a dead job from the page: it runs again and succeeds, checked through the queue', async () => {
    flakyFails = false;
    await page.goto(`${t.url}/admin/queue`);
    await page.locator(`tr[data-job-id="${deadIds[2]}"] button`, { hasText: 'Replay' }).click();
    assert.match((await page.textContent('.flash')) ?? '', new RegExp(`Job ${deadIds[2]} replayed`));
    const job = await waitFor(async () => {
      const found = await (await queue()).get(deadIds[2]!);
      return found?.state === 'succeeded' ? found : undefined;
    }, 15_000, 'the replayed job to succeed');
    assert.equal(job.attempts, 1, 'attempts reset by the replay');
  });

  it('discards every dead job of a name from the page', async () => {
    await page.goto(`${t.url}/admin/queue`);
    await page.locator('form[action="/admin/queue/discard-dead"]').filter({ has: page.locator('input[value="job:sync-contacts"]') }).locator('button').click();
    assert.match((await page.textContent('.flash')) ?? '', /2 dead job:sync-contacts jobs discarded/);
    assert.equal((await (await queue()).counts()).dead, 0);
  });

  it('queue: a running job with its lease (owner and expiry)', async () => {
    const job = await t.app.enqueue(active, 'slow-export', { month: '2026-11' });
    await waitFor(async () => (await (await queue()).get(job.id))?.state === 'running', 15_000, 'the job to run');
    const leased = (await (await queue()).get(job.id))!;
    await page.goto(`${t.url}/admin/queue`);
    const row = (await page.textContent('#running')) ?? '';
    assert.match(row, new RegExp(`${job.id}\\s*job:slow-export`));
    assert.ok(leased.leaseOwner && row.includes(leased.leaseOwner), 'the lease owner');
    assert.match(row, /until \d{4}-\d\d-\d\d/);
    releaseSlow();
    await waitFor(async () => (await (await queue()).get(job.id))?.state === 'succeeded', 15_000, 'the job to finish');
  });

  it('refuses form posts without the session, without the CSRF token, or from another origin', async () => {
    const job = await t.app.enqueue(active, 'sync-contacts', { page: 3 });
    await waitFor(async () => (await (await queue()).get(job.id))?.state === 'dead', 15_000, 'the job to die');
    const [cookie] = await context.cookies();
    const sessionCookie = `${cookie!.name}=${cookie!.value}`;
    const csrf = await (async () => {
      await page.goto(`${t.url}/admin/queue`);
      return page.locator('input[name=csrf]').first().getAttribute('value');
    })();
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${t.url}/admin/queue/discard`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
    const origin = { origin: t.url };
    const noSession = await post(origin, `id=${job.id}&csrf=${csrf}`);
    assert.equal(noSession.status, 303);
    assert.equal(noSession.headers.get('location'), '/admin/login');
    const noCsrf = await post({ ...origin, cookie: sessionCookie }, `id=${job.id}`);
    assert.equal(noCsrf.status, 403);
    assert.equal(((await noCsrf.json()) as { error: string }).error, 'B24_ERR_ADMIN_CSRF');
    const wrongCsrf = await post({ ...origin, cookie: sessionCookie }, `id=${job.id}&csrf=${csrf}x`);
    assert.equal(wrongCsrf.status, 403);
    const foreign = await post({ origin: 'https://evil.example', cookie: sessionCookie }, `id=${job.id}&csrf=${csrf}`);
    assert.equal(foreign.status, 403);
    const noOrigin = await post({ cookie: sessionCookie }, `id=${job.id}&csrf=${csrf}`);
    assert.equal(noOrigin.status, 403);
    assert.equal((await (await queue()).get(job.id))?.state, 'dead', 'nothing was discarded');
    const ok = await post({ ...origin, cookie: sessionCookie }, `id=${job.id}&csrf=${csrf}`);
    assert.equal(ok.status, 303);
    assert.equal(await (await queue()).get(job.id), undefined, 'the right post discards');
  });

  it('events: the delivery per minute (an SVG chart), by event, and a forged delivery among the rejections', async () => {
    const forged = await fetch(`${t.url}/webhooks/${active}/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ event: 'ONCRMDEALADD', 'data[FIELDS][ID]': '3', 'auth[member_id]': active, 'auth[application_token]': 'not-the-token' }).toString(),
    });
    assert.equal(forged.status, 403);
    await page.goto(`${t.url}/admin/events`);
    assert.match((await page.textContent('#rejections')) ?? '', /B24_ERR_FORBIDDEN\s*1/);
    assert.equal(await page.locator('svg.chart rect.bar').count(), 60);
    assert.match((await page.textContent('#by-event')) ?? '', /ONCRMDEALADD\s*2\s*0/);
    await shot('events');
  });

  it('limits: a bucket per portal and the 503/429 counters at 0', async () => {
    await page.goto(`${t.url}/admin/limits`);
    assert.match((await page.textContent('#rest-refusals')) ?? '', /503 QUERY_LIMIT_EXCEEDED: 0 · 429 OPERATION_TIME_LIMIT: 0/);
    assert.ok((await page.locator('#buckets tbody tr').count()) >= 1);
    await shot('limits');
  });

  it("plugins: an integration's last run and last error, the app's, and what each declared", async () => {
    const pushed = await t.app.enqueue(active, 'crm-export.push', {});
    const pulled = await t.app.enqueue(active, 'crm-export.pull', {});
    await waitFor(async () => (await (await queue()).get(pushed.id))?.state === 'dead' && (await (await queue()).get(pulled.id))?.state === 'succeeded', 15_000, "the integration's jobs to end");
    await page.goto(`${t.url}/admin/plugins`);
    const row = (jobName: string) => page.locator(`#runs tr[data-job-name="${jobName}"]`);
    const push = (await row('job:crm-export.push').textContent()) ?? '';
    assert.match(push, /crm-export/);
    assert.match(push, /failed/);
    assert.match(push, /the export endpoint answered 500/);
    assert.match(push, new RegExp(`job ${pushed.id}, now dead`));
    assert.equal((await row('job:crm-export.push').locator('td').last().textContent())?.trim(), '1', 'one dead job');
    const pull = (await row('job:crm-export.pull').textContent()) ?? '';
    assert.match(pull, new RegExp(`ok .*job ${pulled.id}`));
    assert.doesNotMatch(pull, /failed/);
    // the app's replayed job: its last run succeeded, its last error is the earlier attempt's
    const flaky = (await row('job:flaky').textContent()) ?? '';
    assert.match(flaky, /ok /);
    assert.match(flaky, /the remote side was down/);
    assert.match((await row('event:ONCRMDEALADD').textContent()) ?? '', /ok /);
    const text = (await page.textContent('#plugins')) ?? '';
    assert.match(text, /job: sync-contacts/);
    assert.match(text, /b24kit\.metrics/);
    assert.match(text, /route: GET \/admin\/portals/);
    await shot('plugins');
  });

  it('the pages broke no Content-Security-Policy rule and threw nothing in the browser', () => {
    assert.deepEqual(consoleErrors.filter((text) => /Content Security Policy|Refused to|Uncaught/i.test(text)), []);
  });

  it('logs out: the session is gone and the pages send to the login page again', async () => {
    await page.goto(`${t.url}/admin/portals`);
    await page.click('form.logout button');
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    await page.goto(`${t.url}/admin/portals`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
  });
});
