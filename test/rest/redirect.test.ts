import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redirectTarget } from '../../src/rest/redirect.js';

describe('redirectTarget: where a renamed portal may send the re-POSTed request', () => {
  it('follows https → https, http → http and http → https, resolving a relative Location', () => {
    const cases: Array<[string, string, string]> = [
      ['https://old.bitrix24.com/rest/user.current.json', 'https://new.bitrix24.com/rest/user.current.json', 'https://new.bitrix24.com/rest/user.current.json'],
      ['http://crm.intranet.example/rest/profile.json', 'http://crm2.intranet.example/rest/profile.json', 'http://crm2.intranet.example/rest/profile.json'],
      ['http://crm.intranet.example/rest/profile.json', 'https://crm.intranet.example/rest/profile.json', 'https://crm.intranet.example/rest/profile.json'],
      ['https://old.bitrix24.com/rest/profile.json', '/moved/rest/profile.json', 'https://old.bitrix24.com/moved/rest/profile.json'],
    ];
    for (const [from, location, expected] of cases) {
      const next = redirectTarget(from, location);
      assert.ok('target' in next, `${from} → ${location}`);
      assert.equal(next.target.href, expected);
    }
  });

  it('refuses https → http (the token would travel in the clear), other schemes, and what is not a URL', () => {
    const refusals: Array<[string, string, RegExp]> = [
      ['https://old.bitrix24.com/rest/profile.json', 'http://new.bitrix24.com/rest/profile.json', /from https to plain http/],
      ['https://old.bitrix24.com/rest/profile.json', 'file:///etc/passwd', /file: address/],
      ['http://crm.intranet.example/rest/profile.json', 'gopher://127.0.0.1:6379/_', /gopher: address/],
      ['https://old.bitrix24.com/rest/profile.json', 'http://[::1', /not a URL/],
    ];
    for (const [from, location, why] of refusals) {
      const next = redirectTarget(from, location);
      assert.ok('refused' in next, `${from} → ${location}`);
      assert.match(next.refused, why);
    }
  });
});
