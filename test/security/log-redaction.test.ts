/**
 * Secrets are redacted by how their key is spelled, not by an exact list: `access-token`, `token`,
 * `apikey`, `Access_Token`, `access_token%00`, `ACCESS_TOKEN`, `Api-Key`, `x-signature` and nested
 * `data[auth][token]` never reach a log line — in log objects at any depth, in headers, in request
 * URLs (also through a real Fastify server), in message text — while error codes (`B24_ERR_…`) and
 * error messages stay readable.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { B24Error } from '../../src/errors.js';
import { buildWebServer } from '../../src/server/app.js';
import { createServerLogger, isSecretKey, redactUrl, SECRET_KEYS } from '../../src/server/logging.js';
import { startTestApp } from '../app/helpers.js';

function capture(level = 'debug') {
  const lines: string[] = [];
  const logger = createServerLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { lines, logger, text: () => lines.join('') };
}

/** Odd spellings of secret keys, each with its own value. */
const SPELLINGS: Record<string, string> = {
  'access-token': 'sv-access-dash',
  token: 'sv-token',
  apikey: 'sv-apikey',
  Access_Token: 'sv-access-mixed',
  'access_token%00': 'sv-access-nul',
  'access_token\u0000': 'sv-access-rawnul',
  ACCESS_TOKEN: 'sv-access-upper',
  'Api-Key': 'sv-api-key',
  'x-signature': 'sv-signature',
  'X-Api-Key': 'sv-x-api-key',
  client_secret: 'sv-client-secret',
  REFRESH_ID: 'sv-refresh-id',
  AUTH_ID: 'sv-auth-id',
  password: 'sv-password',
  'acc%65ss_t%6Fken': 'sv-percent-encoded',
};

describe('log redaction by spelling', () => {
  it('classifies keys by their normalized name', () => {
    for (const key of [...Object.keys(SPELLINGS), ...SECRET_KEYS, 'auth[access_token]', 'data[x][apikey]', 'Authorization', 'Cookie', 'PHPSESSID', 'APP_SID', 'code', 'ＴＯＫＥＮ']) {
      assert.ok(isSecretKey(key), `${JSON.stringify(key)} is a secret key`);
    }
    for (const key of ['memberId', 'member_id', 'domain', 'event', 'status', 'reqId', 'jobId', 'state', 'url', 'method']) {
      assert.ok(!isSecretKey(key), `${key} is not a secret key`);
    }
  });

  it('log objects: every spelling redacted at any depth, headers too; codes and messages stay', () => {
    const { logger, text } = capture();
    logger.info({ ...SPELLINGS }, 'top level');
    logger.info({ body: { data: { auth: { token: 'sv-nested-auth' } }, list: [{ nested: { Api_Key: 'sv-in-array' } }] } }, 'nested');
    logger.info({ a: { b: { c: { d: { token: 'sv-deep' } } } } }, 'deep');
    logger.info({ headers: { Authorization: 'Bearer sv-bearer', cookie: 'sid=sv-cookie', 'x-api-key': 'sv-header-key', 'x-signature': 'sv-header-sig', host: 'app.example.com' } }, 'headers');
    logger.info({ url: '/install?access-token=sv-url-in-field&DOMAIN=a.b' }, 'a URL in a field');
    logger.info({}, 'a URL in the message: /x?Api-Key=sv-url-in-msg&ok=1');
    logger.child({ token: 'sv-binding' }).info({}, 'child');
    logger.info({ code: 'c0de7f3a9b', authCode: 'B24_ERR_LOOKS_LIKE_A_CODE' }, 'an OAuth code is not an error code');
    let deep: Record<string, unknown> = { token: 'sv-beyond-depth' };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    logger.info({ deep }, 'too deep');
    logger.error({ err: new B24Error('B24_ERR_FORBIDDEN', 'The application_token does not match'), code: 'B24_ERR_FORBIDDEN', bitrixCode: 'expired_token', memberId: 'm-42' }, 'request refused');
    logger.warn({ err: new Error('fetch /oauth/token/?refresh_token=sv-in-error-message failed') }, 'refresh failed');

    const output = text();
    const secrets = [
      ...Object.values(SPELLINGS),
      'sv-nested-auth',
      'sv-in-array',
      'sv-deep',
      'sv-bearer',
      'sv-cookie',
      'sv-header-key',
      'sv-header-sig',
      'sv-url-in-field',
      'sv-url-in-msg',
      'sv-binding',
      'c0de7f3a9b',
      'B24_ERR_LOOKS_LIKE_A_CODE',
      'sv-beyond-depth',
      'sv-in-error-message',
    ];
    for (const secret of secrets) assert.ok(!output.includes(secret), `${secret} appears in the log`);
    assert.ok(output.includes('"[redacted]"'));
    assert.ok(output.includes('%5Bredacted%5D'));
    assert.ok(output.includes('app.example.com'), 'a non-secret header stays');
    assert.ok(output.includes('DOMAIN=a.b') && output.includes('ok=1'), 'non-secret parameters stay');

    const refused = output
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === 'request refused');
    assert.ok(refused);
    assert.equal(refused.code, 'B24_ERR_FORBIDDEN');
    assert.equal(refused.bitrixCode, 'expired_token');
    assert.equal(refused.memberId, 'm-42');
    assert.deepEqual(refused.err, { type: 'B24Error', message: 'The application_token does not match', code: 'B24_ERR_FORBIDDEN', status: 403 });
  });

  it('portal counts by state stay readable (needs_reauth is a state, not a secret); a secret beside them does not', () => {
    for (const key of ['needs_reauth', 'needsReauth', 'needsReauthSinceMs', 'NEEDS_REAUTH']) assert.ok(!isSecretKey(key), `${key} is not a secret key`);
    for (const key of ['needs_reauth_token', 'reauth', 'needs_reauth_auth', 'tokeneeds_reauth', 'needs_reauth_key']) assert.ok(isSecretKey(key), `${key} is a secret key`);
    const { lines, logger } = capture();
    logger.info({ portals: { active: 3, needs_reauth: 2, uninstalled: 1 }, needs_reauth_token: 'sv-beside-state', auth: 'sv-plain-auth' }, 'b24kit listening on http://127.0.0.1:3000');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(line.portals, { active: 3, needs_reauth: 2, uninstalled: 1 });
    assert.equal(line.needs_reauth_token, '[redacted]');
    assert.equal(line.auth, '[redacted]');
  });

  it("the app's startup line shows the portals' counts by state", async () => {
    const t = await startTestApp(() => undefined);
    try {
      const startup = t.logs.map((text) => JSON.parse(text) as { msg?: string; portals?: unknown }).find((line) => line.msg?.startsWith('b24kit listening on'));
      assert.ok(startup, 'the startup line is logged');
      assert.deepEqual(startup.portals, { active: 0, needs_reauth: 0, uninstalled: 0 });
    } finally {
      await t.close();
    }
  });

  it('URLs: every spelling, bracket keys and the OAuth code and state', () => {
    const query = Object.entries(SPELLINGS)
      .map(([key, value]) => `${encodeURIComponent(key).replace('%2500', '%00')}=${value}`)
      .join('&');
    const redacted = redactUrl(`/install?${query}&auth[access_token]=sv-bracket&data[x][apikey]=sv-data-apikey&data[auth][token]=sv-data-auth&code=sv-code&state=sv-state&DOMAIN=a.b`);
    for (const secret of [...Object.values(SPELLINGS), 'sv-bracket', 'sv-data-apikey', 'sv-data-auth', 'sv-code', 'sv-state']) {
      assert.ok(!redacted.includes(secret), `${secret} in ${redacted}`);
    }
    assert.ok(redacted.endsWith('&DOMAIN=a.b'));
    assert.equal(redactUrl('/x?token=a=b=c&n=1'), '/x?token=%5Bredacted%5D&n=1', 'a value with = is redacted whole');
    assert.equal(redactUrl('/x?statement=1'), '/x?statement=1');
  });

  it('through a real Fastify server: the logged req.url carries no secret, on a 404 and on /health', async () => {
    const { lines, logger } = capture('debug');
    const server = buildWebServer({ loggerInstance: logger });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = server.server.address();
      assert.ok(address && typeof address === 'object');
      const base = `http://127.0.0.1:${address.port}`;
      const query = 'access-token=sv-q1&Access_Token=sv-q2&access_token%00=sv-q3&apikey=sv-q4&Api-Key=sv-q5&x-signature=sv-q6&data[auth][token]=sv-q7&TOKEN=sv-q8&domain=a.b';
      assert.equal((await fetch(`${base}/no-such-path?${query}`)).status, 404);
      assert.equal((await fetch(`${base}/health?${query}`)).status, 200);

      const entries = lines.map((line) => JSON.parse(line) as { req?: { url?: string }; msg?: string });
      const urls = entries.flatMap((entry) => (entry.req?.url ? [entry.req.url] : []));
      assert.ok(urls.some((url) => url.startsWith('/no-such-path?')), 'the 404 request is logged');
      assert.ok(urls.some((url) => url.startsWith('/health?')), 'the /health request is logged');
      for (const url of urls) assert.ok(url.includes('domain=a.b') && url.includes('%5Bredacted%5D'), url);
      const output = lines.join('');
      for (let i = 1; i <= 8; i++) assert.ok(!output.includes(`sv-q${i}`), `sv-q${i} appears in the log`);
    } finally {
      await server.close();
    }
  });
});
