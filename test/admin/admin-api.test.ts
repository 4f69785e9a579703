/**
 * The admin JSON API (/admin/api, src/app/builtins/admin/): only with an admin token configured,
 * only with `Authorization: Bearer <token>` (401 B24_ERR_ADMIN_UNAUTHORIZED otherwise, the same
 * for a wrong token as for none), and it reads and acts on what the emulator-backed app holds:
 * portals, the queue with its dead letters (replay, discard), events, limits, declarations.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { definePlugin } from '../../src/app/plugin.js';
import { fireAndFlush, startTestApp, waitFor, type TestApp } from '../app/helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers read field by field in the asserts
type Answer = any;

/** Secrets an app may put in a job payload, spelled as integrations and Bitrix24 spell them. */
const SECRET_SPELLINGS = {
  apiKey: 'sv-api-key',
  api_key: 'sv-api-key-snake',
  AUTH_ID: 'sv-auth-id',
  REFRESH_ID: 'sv-refresh-id',
  auth: { domain: 'sv-auth-object' },
  authorization: 'Bearer sv-bearer',
  client_secret: 'sv-client-secret',
  pwd: 'sv-pwd',
  credentials: { user: 'sv-credentials' },
  webhookSignature: 'sv-signature',
};
const TOKEN = 'admin-token-for-tests-0123456789';

describe('admin JSON API', () => {
  let t: TestApp;
  let memberId: string;
  let deadId: number;

  const api = async (path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ status: number; body: Answer }> => {
    const headers: Record<string, string> = { ...(init.body ? { 'content-type': 'application/json' } : {}) };
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
    const response = await fetch(`${t.url}/admin/api${path}`, { method: init.method ?? 'GET', headers, ...(init.body ? { body: init.body } : {}) });
    return { status: response.status, body: await response.json().catch(() => undefined) };
  };

  before(async () => {
    t = await startTestApp(
      (app) => {
        app.on('ONCRMDEALADD', async () => {});
        // the same event handled by a plugin too: a job of its own, shown under its owner
        app.register(definePlugin({ name: 'mirror', setup: (kit) => void kit.on('ONCRMDEALADD', async () => {}) }));
        app.job('boom', async () => {
          throw new Error('boom <script>alert(1)</script>');
        }, { maxAttempts: 1 });
      },
      { config: { adminToken: TOKEN } },
    );
    ({ memberId } = await t.install());
    await fireAndFlush(t.emu, memberId, 'ONCRMDEALADD', { FIELDS: { ID: '7' } });
    const job = await t.app.enqueue(memberId, 'boom', { apiToken: 'do-not-show', n: 1, ...SECRET_SPELLINGS, author: 'Ann', page: 2 });
    deadId = job.id;
    await waitFor(async () => (await api(`/jobs/${job.id}`)).body?.job?.state === 'dead', 15_000, 'the job to die');
  });
  after(() => t?.close());

  it('refuses a request without the bearer token, or with a wrong one, with 401 B24_ERR_ADMIN_UNAUTHORIZED', async () => {
    for (const token of [null, 'wrong-token-wrong-token-wrong', `${TOKEN}x`]) {
      const answer = await api('/portals', { token });
      assert.equal(answer.status, 401, String(token));
      assert.equal(answer.body.error, 'B24_ERR_ADMIN_UNAUTHORIZED');
    }
    const post = await api(`/jobs/${deadId}/replay`, { method: 'POST', token: null });
    assert.equal(post.status, 401);
  });

  it('lists the installed portal with its token times', async () => {
    const { status, body } = await api('/portals');
    assert.equal(status, 200);
    const portal = body.portals.find((p: { memberId: string }) => p.memberId === memberId);
    assert.equal(portal.state, 'active');
    const times = body.tokens.find((p: { memberId: string }) => p.memberId === memberId);
    assert.ok(times.accessTokenExpiresAtMs > 0 && times.installedAtMs > 0);
    assert.doesNotMatch(JSON.stringify(body), /access_token|refresh_token|accessToken"|refreshToken"/);
  });

  it('shows the dead letter with its attempt history and masks secret-like payload keys', async () => {
    const { body } = await api('/queue');
    assert.equal(body.counts.dead, 1);
    assert.deepEqual(body.deadLetters.map((d: { name: string; count: number }) => [d.name, d.count]), [['job:boom', 1]]);
    const dead = body.dead[0];
    assert.equal(dead.id, deadId);
    assert.equal(dead.history.length, 1);
    assert.match(dead.history[0].error, /boom/);
    assert.equal(dead.payload.apiToken, '[redacted]');
    for (const key of Object.keys(SECRET_SPELLINGS)) assert.equal(dead.payload[key], '[redacted]', key);
    assert.equal(JSON.stringify(body).includes('sv-'), false, 'no secret value anywhere in the answer');
    assert.equal(dead.payload.n, 1);
    assert.equal(dead.payload.author, 'Ann');
    assert.equal(dead.payload.page, 2);
  });

  it('counts the event delivered through the emulator', async () => {
    const { body } = await api('/events');
    assert.deepEqual(body.byEvent, [{ event: 'ONCRMDEALADD', queued: 1, ignored: 0 }]);
    assert.equal(body.perMinute.reduce((n: number, m: { queued: number }) => n + m.queued, 0), 1);
    assert.equal(body.thisProcess.accepted.queued, 1);
  });

  it('reports the limits and the declarations', async () => {
    const limits = await api('/limits');
    assert.equal(limits.status, 200);
    assert.equal(limits.body.thisProcess.status503, 0);
    assert.ok(limits.body.buckets.some((b: { memberId: string }) => b.memberId === memberId), 'the bucket of the portal the event handler called');
    const plugins = await api('/plugins');
    assert.ok(plugins.body.declarations.some((d: { owner: string; kind: string; name: string }) => d.owner === 'app' && d.kind === 'job' && d.name === 'boom'));
    assert.ok(plugins.body.declarations.some((d: { owner: string; name: string }) => d.owner === 'b24kit.admin' && d.name === 'GET /admin/portals'));
    // the last run and last error of each name that runs as jobs; routes run none
    const boom = plugins.body.runs.find((run: { jobName: string }) => run.jobName === 'job:boom');
    assert.equal(boom.owner, 'app');
    assert.equal(boom.dead, 1);
    assert.equal(boom.lastRun.ok, false);
    assert.equal(boom.lastError.jobId, deadId);
    assert.equal(boom.lastError.jobState, 'dead');
    assert.match(boom.lastError.message, /boom/);
    assert.equal(plugins.body.runs.find((run: { jobName: string }) => run.jobName === 'event:ONCRMDEALADD').lastRun.ok, true);
    // fan-out: each owner's handler of ONCRMDEALADD is a declaration and a run of its own
    const eventDeclarations = plugins.body.declarations.filter((d: { kind: string; name: string }) => d.kind === 'event' && d.name === 'ONCRMDEALADD');
    assert.deepEqual(eventDeclarations.map((d: { owner: string }) => d.owner).sort(), ['app', 'mirror']);
    const mirrored = await waitFor(async () => {
      const run = (await api('/plugins')).body.runs.find((entry: { jobName: string }) => entry.jobName === 'event:ONCRMDEALADD@mirror');
      return run?.lastRun ? run : undefined;
    }, 10_000, 'the plugin handler\'s run');
    assert.deepEqual([mirrored.owner, mirrored.kind, mirrored.declared, mirrored.lastRun.ok], ['mirror', 'event', 'ONCRMDEALADD', true]);
    assert.ok(!plugins.body.runs.some((run: { kind: string }) => run.kind === 'route'));
    assert.equal(plugins.body.recentJobs, 20);
  });

  it('replays a dead job (it dies again here, attempts reset), answers 404 for an unknown job, and discards the dead ones of a job name', async () => {
    const replayed = await api(`/jobs/${deadId}/replay`, { method: 'POST' });
    assert.equal(replayed.status, 200);
    assert.equal(replayed.body.job.state, 'queued');
    const again = await waitFor(async () => ((await api(`/jobs/${deadId}`)).body.job.state === 'dead' ? (await api(`/jobs/${deadId}`)).body.job : undefined), 15_000, 'the replayed job to die again');
    assert.equal(again.attempts, 1, 'attempts reset by the replay');
    const missing = await api('/jobs/999999/discard', { method: 'POST' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'B24_ERR_JOB_NOT_FOUND');
    const discarded = await api('/dead/discard', { method: 'POST', body: JSON.stringify({ name: 'job:boom' }) });
    assert.equal(discarded.body.discarded, 1);
    assert.equal((await api(`/jobs/${deadId}`)).status, 404);
  });
});

describe('admin API without an admin token', () => {
  it('does not exist: /admin and /admin/api answer 404 like any unknown path', async () => {
    const t = await startTestApp(() => {});
    try {
      for (const path of ['/admin', '/admin/login', '/admin/api/portals']) {
        const response = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(response.status, 404, path);
      }
      const unknown = await fetch(`${t.url}/no-such-path`);
      assert.equal(unknown.status, 404);
    } finally {
      await t.close();
    }
  });
});

describe('admin login over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(() => {}, { config: { adminToken: TOKEN, server: { trustProxy: true } } });
  });
  after(() => t?.close());

  const login = (token: string, headers: Record<string, string>) =>
    fetch(`${t.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.url, ...headers },
      body: `token=${encodeURIComponent(token)}`,
    });

  it('sets an HttpOnly, SameSite=Strict cookie on /admin; Secure when a trusted proxy says HTTPS', async () => {
    const plain = await login(TOKEN, {});
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/portals');
    const cookie = plain.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^b24kit_admin=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const proxied = await login(TOKEN, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'admin.example.com', origin: 'https://admin.example.com' });
    assert.match(proxied.headers.get('set-cookie') ?? '', /; Secure$/);
  });

  it('a wrong token gets no cookie; a login posted from another origin is refused with 403 B24_ERR_ADMIN_CSRF', async () => {
    const wrong = await login('wrong-token-wrong-token-wrong', {});
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.get('location'), '/admin/login?failed');
    assert.equal(wrong.headers.get('set-cookie'), null);
    const foreign = await login(TOKEN, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { error: string }).error, 'B24_ERR_ADMIN_CSRF');
    assert.equal(foreign.headers.get('set-cookie'), null);
  });

  it("the queue page shows a status message only from this session's own action: a link with ?done= from anyone else shows none", async () => {
    const cookie = ((await login(TOKEN, {})).headers.get('set-cookie') ?? '').split(';')[0]!;
    const get = (path: string) => fetch(`${t.url}${path}`, { headers: { cookie } });
    const queue = await (await get('/admin/queue')).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(queue)?.[1];
    assert.ok(csrf, 'the page has a form with the CSRF token');
    const acted = await fetch(`${t.url}/admin/queue/replay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: t.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(csrf)}&id=999999`,
    });
    assert.equal(acted.status, 303);
    const location = acted.headers.get('location') ?? '';
    assert.match(location, /^\/admin\/queue\?done=.+&sig=/);
    assert.match(await (await get(location)).text(), /<p class="flash" role="status">B24_ERR_JOB_NOT_FOUND/);
    const phishing = encodeURIComponent('Your session expired: log in again at https://evil.example');
    for (const path of [`/admin/queue?done=${phishing}`, `/admin/queue?done=${phishing}&sig=${new URL(location, t.url).searchParams.get('sig')}`]) {
      const page = await (await get(path)).text();
      assert.doesNotMatch(page, /class="flash"/, path);
      assert.doesNotMatch(page, /evil\.example/, path);
    }
  });

  it('serves pages with a CSP that allows no inline script, and the login script as a file', async () => {
    const page = await fetch(`${t.url}/admin/login`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const body = await page.text();
    assert.match(body, /<script src="\/admin\/static\/login.js"><\/script>/);
    assert.doesNotMatch(body, /<script>/, 'no inline script');
    const script = await fetch(`${t.url}/admin/static/login.js`);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  });
});
