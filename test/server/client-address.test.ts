import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddressGroup } from '../../src/server/client-address.js';

describe('clientAddressGroup: the unit a per-client limit counts', () => {
  it('an IPv4 address is itself, also when a dual-stack socket reports it IPv4-mapped', () => {
    assert.equal(clientAddressGroup('192.0.2.7'), '192.0.2.7');
    assert.equal(clientAddressGroup('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientAddressGroup('::FFFF:198.51.100.1'), '198.51.100.1');
  });

  it('an IPv6 address is its /64, whatever its spelling', () => {
    const group = '2001:db8:0:1::/64';
    for (const address of ['2001:db8:0:1::1', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0db8:0000:0001:0:0:0:2', '2001:DB8:0:1:a::', '2001:db8:0:1::192.0.2.1', '2001:db8:0:1::3%eth0']) {
      assert.equal(clientAddressGroup(address), group, address);
    }
    assert.equal(clientAddressGroup('2001:db8:0:2::1'), '2001:db8:0:2::/64', 'the next /64 is another client');
    assert.equal(clientAddressGroup('::1'), '0:0:0:0::/64');
    assert.equal(clientAddressGroup('2001:db8::'), '2001:db8:0:0::/64');
    assert.equal(clientAddressGroup('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
  });

  it('anything else is kept as given (and a group maps to itself)', () => {
    assert.equal(clientAddressGroup('unknown'), 'unknown');
    assert.equal(clientAddressGroup(''), '');
    assert.equal(clientAddressGroup('2001:db8:0:1::/64'), '2001:db8:0:1::/64');
  });
});
