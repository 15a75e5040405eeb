// Reading IP addresses in every spelling, and the registries' blocks as a filter of addresses receives them.
import { describe, expect, it } from 'vitest';
import { inCidr, notGlobal, notGlobalCidrs, parseAddress, parseCidr, parseIPv4, parseIPv6, specialName } from './hosts.ts';

describe('addresses', () => {
  it('read IPv4 as dotted decimal only', () => {
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001n);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffffn);
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '0x7f.0.0.1', ' 1.2.3.4', '']) expect(parseIPv4(bad), bad).toBeNull();
  });

  it('read IPv6 in every spelling, the same address the same number', () => {
    const loop = 1n;
    for (const text of ['::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::0:1', '::0.0.0.1']) expect(parseIPv6(text), text).toBe(loop);
    const mapped = 0xffff7f000001n;
    for (const text of ['::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:127.0.0.1', '::FFFF:7F00:0001']) expect(parseIPv6(text), text).toBe(mapped);
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('2606:4700::1111')).toBe((0x2606n << 112n) | (0x4700n << 96n) | 0x1111n);
    expect(parseIPv6('1:2:3:4:5:6:7::')).toBe(parseIPv6('1:2:3:4:5:6:7:0'));
    for (const bad of ['1::2::3', ':1::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', '::1%eth0', '1.2.3.4::', '::1.2.3.4:5', 'g::1', '']) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });

  it('take URL brackets and CIDRs', () => {
    expect(parseAddress('[::1]')).toEqual({ v: 6, n: 1n });
    expect(parseAddress('example.com')).toBeNull();
    expect(parseCidr('10.0.0.0/8')).toEqual({ v: 4, n: 0x0a000000n, bits: 8 });
    expect(parseCidr('::1')).toEqual({ v: 6, n: 1n, bits: 128 });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/-1', 'a.b/8', '1.2.3.4/8/8']) expect(parseCidr(bad), bad).toBeNull();
    expect(inCidr(parseAddress('10.200.3.4')!, parseCidr('10.0.0.0/8')!)).toBe(true);
    expect(inCidr(parseAddress('11.0.0.1')!, parseCidr('10.0.0.0/8')!)).toBe(false);
    expect(inCidr(parseAddress('::ffff:10.0.0.1')!, parseCidr('10.0.0.0/8')!)).toBe(false);
  });
});

describe('the registries', () => {
  it('judge NAT64 and 6to4 by the IPv4 address inside', () => {
    expect(notGlobal(parseAddress('64:ff9b::a00:1')!)).toMatch(/NAT64 of 10\.0\.0\.1/);
    expect(notGlobal(parseAddress('64:ff9b::101:101')!)).toBeNull();
    expect(notGlobal(parseAddress('2002:a9fe:a9fe::')!)).toMatch(/6to4 of 169\.254\.169\.254/);
    expect(notGlobal(parseAddress('2002:101:101::')!)).toBeNull();
  });

  it('name a filter of addresses every block they refuse, embedded IPv4 spelled out', () => {
    const blocks = notGlobalCidrs().map((c) => parseCidr(c)!);
    expect(blocks.every(Boolean)).toBe(true);
    // Every address refused by name is inside a block the filter gets, NAT64 and 6to4 included.
    for (const text of ['127.0.0.1', '10.1.2.3', '255.255.255.255', '::1', '::', '::ffff:7f00:1', 'fec0::1', 'ff02::1', '64:ff9b::7f00:1', '2002:a00:1::', '64:ff9b:1::1', '4000::1']) {
      const a = parseAddress(text)!;
      expect(notGlobal(a), text).not.toBeNull();
      expect(blocks.some((b) => inCidr(a, b)), text).toBe(true);
    }
    for (const text of ['1.1.1.1', '2606:4700::1111', '64:ff9b::808:808', '2002:808:808::1']) {
      const a = parseAddress(text)!;
      expect(notGlobal(a), text).toBeNull();
      // NAT64's /96 is inside ::/3: the filter allows it beside the list, narrower, so it wins.
      if (!text.startsWith('64:ff9b')) expect(blocks.some((b) => inCidr(a, b)), text).toBe(false);
    }
  });
});

describe('names', () => {
  it('refuse special-use and single-label names, and names that spell a private address', () => {
    for (const name of ['localhost', 'a.localhost', 'x.local', 'db.internal', 'nas.home.arpa', 'metadata.goog', 'intranet', 'localhost.localdomain', '10.0.0.1.nip.io', 'x-192-168-0-1.sslip.io']) {
      expect(specialName(name), name).not.toBeNull();
    }
    for (const name of ['example.com', 'localhost.example.com', 'local.example.com', 'api.v1.example.com', '8.8.8.8.nip.io', '1234.5.6.7.8.example.com']) {
      expect(specialName(name), name).toBeNull();
    }
  });
});
