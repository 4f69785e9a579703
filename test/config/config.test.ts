import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { B24Error } from '../../src/errors.js';
import { loadConfig } from '../../src/config/index.js';

function configError(env: Record<string, string>): B24Error {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof B24Error);
    assert.equal(error.code, 'B24_ERR_CONFIG');
    return error;
  }
  assert.fail('expected B24_ERR_CONFIG');
}

describe('loadConfig', () => {
  it('runs with nothing set: demo mode on the embedded store', () => {
    const config = loadConfig({});
    assert.equal(config.demo, true);
    assert.deepEqual(config.database, { kind: 'sqlite', path: './data/b24kit.sqlite' });
    assert.equal(config.oauthUrl, 'https://oauth.bitrix.info');
    assert.equal(config.oauthUrlOverride, false);
    assert.equal(config.port, 3000);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.secretKey, undefined);
    assert.equal(config.host, undefined, "no HOST: the mode's default (127.0.0.1 in demo mode, 0.0.0.0 with credentials)");
  });

  it('reads HOST: an IP address (v4 or v6) or a hostname', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '10.1.2.3', '::', '::1', 'fd00::5', 'localhost', 'app', 'app-1.internal.example.com']) {
      assert.equal(loadConfig({ HOST: host }).host, host);
    }
    assert.equal(loadConfig({ HOST: '  127.0.0.1 ' }).host, '127.0.0.1');
    assert.equal(loadConfig({ HOST: '' }).host, undefined);
  });

  it('reads B24KIT_PORTAL_DOMAINS (exact hosts and *.suffix) and refuses anything else, naming it', () => {
    assert.deepEqual(loadConfig({}).portalDomains, []);
    assert.deepEqual(loadConfig({ B24KIT_PORTAL_DOMAINS: 'CRM.example.com, *.bitrix24.test,portal.example.org:8443' }).portalDomains, [
      'crm.example.com',
      '*.bitrix24.test',
      'portal.example.org:8443',
    ]);
    for (const bad of ['https://crm.example.com', 'crm.example.com/path', '*', '*.', 'a b.com', 'crm.example.com,,x.com']) {
      assert.match(configError({ B24KIT_PORTAL_DOMAINS: bad }).message, /B24KIT_PORTAL_DOMAINS/, bad);
    }
  });

  it('refuses a HOST that is neither an IP address nor a hostname, naming HOST', () => {
    for (const host of ['http://127.0.0.1', '127.0.0.1:8080', '[::1]', '1.2.3.999', 'bad_host', '-leading.example.com', 'a b', 'host/path', `${'a'.repeat(64)}.com`]) {
      const error = configError({ HOST: host });
      assert.match(error.message, /HOST must be an IP address or a hostname/, host);
    }
  });

  it('refuses credentials without B24KIT_SECRET_KEY: a generated key is for demo mode only', () => {
    assert.throws(
      () => loadConfig({ B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'secret', B24_APP_URL: 'https://app.example.com' }),
      (error: unknown) => error instanceof B24Error && error.code === 'B24_ERR_CONFIG' && /B24KIT_SECRET_KEY is required/.test(error.message),
    );
  });

  it('reads a full production environment', () => {
    const key = randomBytes(32);
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:pw@db:5432/b24',
      B24KIT_SECRET_KEY: key.toString('base64'),
      B24_CLIENT_ID: 'app.123.456',
      B24_CLIENT_SECRET: 'secret',
      B24_APP_URL: 'https://app.example.com/',
      B24_OAUTH_URL: 'https://oauth.bitrix24.tech/',
      PORT: '8080',
      HOST: '10.0.0.7',
      LOG_LEVEL: 'warn',
      B24KIT_ADMIN_TOKEN: 'a-long-admin-token-value',
    });
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://app:pw@db:5432/b24' });
    assert.deepEqual(config.secretKey, key);
    assert.equal(config.demo, false);
    assert.equal(config.appUrl, 'https://app.example.com');
    assert.equal(config.oauthUrl, 'https://oauth.bitrix24.tech');
    assert.equal(config.oauthUrlOverride, true);
    assert.equal(config.port, 8080);
    assert.equal(config.host, '10.0.0.7');
    assert.equal(config.logLevel, 'warn');
  });

  it('names every invalid variable and never echoes a secret', () => {
    const badKey = 'not-a-key-but-secret-looking-value';
    const error = configError({ PORT: 'eighty', LOG_LEVEL: 'loud', B24KIT_SECRET_KEY: badKey, B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'sssecret-value' });
    assert.match(error.message, /PORT/);
    assert.match(error.message, /LOG_LEVEL/);
    const second = configError({ B24KIT_SECRET_KEY: badKey, B24_CLIENT_ID: 'app.1' });
    assert.match(second.message, /B24KIT_SECRET_KEY/);
    assert.match(second.message, /B24_CLIENT_SECRET is required/);
    assert.match(second.message, /B24_APP_URL is required/);
    for (const e of [error, second]) {
      assert.ok(!e.message.includes(badKey));
      assert.ok(!e.message.includes('sssecret-value'));
    }
    assert.match(configError({ B24KIT_ADMIN_TOKEN: 'short' }).message, /B24KIT_ADMIN_TOKEN is invalid/);
    assert.match(configError({ DATABASE_URL: 'mysql://x/y' }).message, /DATABASE_URL/);
    assert.match(configError({ B24_APP_URL: 'ftp://x' }).message, /B24_APP_URL/);
  });
});
