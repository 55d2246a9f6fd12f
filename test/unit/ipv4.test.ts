import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { TerwayError } from '../../src/errors/terway-error.js';
import {
  cidrContains,
  formatCidr,
  gatewayOf,
  intToIp,
  ipToInt,
  isIPv4,
  netmaskOf,
  parseCidr,
} from '../../src/util/ipv4.js';

describe('ipToInt / intToIp', () => {
  test('converts known addresses, including ones above 2^31', () => {
    expect(ipToInt('0.0.0.0')).toBe(0);
    expect(ipToInt('10.99.0.1')).toBe(0x0a630001);
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(ipToInt('192.168.1.253')).toBe(0xc0a801fd);
    expect(intToIp(0xc0a801fd)).toBe('192.168.1.253');
    expect(intToIp(0)).toBe('0.0.0.0');
    expect(intToIp(0xffffffff)).toBe('255.255.255.255');
  });

  test('round-trips every 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        expect(ipToInt(intToIp(value))).toBe(value);
      }),
    );
  });

  test('round-trips every canonical dotted quad', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(intToIp(ipToInt(ip))).toBe(ip);
      }),
    );
  });

  test.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', ' 1.2.3.4'])(
    'rejects %j',
    (text) => {
      expect(isIPv4(text)).toBe(false);
      expect(() => ipToInt(text)).toThrow(TerwayError);
    },
  );

  test('isIPv4 accepts exactly the canonical dotted quads, on any string of digits and dots', () => {
    // The definition spelled out: four parts, each 0 or 1-9 followed by up to two digits, <= 255.
    const canonical = (text: string) => {
      const parts = text.split('.');
      return (
        parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)
      );
    };
    const digitsAndDots = fc
      .array(fc.constantFrom('0', '1', '2', '5', '9', '.'), { maxLength: 17 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.oneof(digitsAndDots, fc.ipV4(), fc.string()), (text) => {
        expect(isIPv4(text)).toBe(canonical(text));
      }),
      { numRuns: 2000 },
    );
  });

  test.each([-1, 2 ** 32, 1.5, Number.NaN])('intToIp rejects %p', (value) => {
    expect(() => intToIp(value)).toThrow(TerwayError);
  });
});

describe('parseCidr', () => {
  test('parses a /16', () => {
    expect(parseCidr('10.99.0.0/16')).toEqual({
      network: ipToInt('10.99.0.0'),
      prefixLength: 16,
      size: 65536,
      broadcast: ipToInt('10.99.255.255'),
    });
  });

  test('parses the extremes /0 and /32', () => {
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ size: 2 ** 32, broadcast: 0xffffffff });
    expect(parseCidr('10.0.0.7/32')).toMatchObject({ size: 1, broadcast: ipToInt('10.0.0.7') });
  });

  test('refuses host bits and suggests the block', () => {
    expect(() => parseCidr('192.168.1.10/24')).toThrow(/did you mean 192\.168\.1\.0\/24/);
  });

  test.each(['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/08', '10.0.0/8', '/8'])(
    'rejects %j',
    (text) => {
      expect(() => parseCidr(text)).toThrow(TerwayError);
    },
  );

  test('formatCidr is the inverse of parseCidr', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 32 }),
        (v, p) => {
          const size = 2 ** (32 - p);
          const text = `${intToIp(v - (v % size))}/${p}`;
          expect(formatCidr(parseCidr(text))).toBe(text);
        },
      ),
    );
  });
});

describe('gatewayOf', () => {
  test('is .253 for a /24, as on Alibaba Cloud', () => {
    expect(gatewayOf('192.168.1.0/24')).toBe('192.168.1.253');
  });

  test('is broadcast − 2 for larger and smaller blocks', () => {
    expect(gatewayOf('172.16.0.0/20')).toBe('172.16.15.253');
    expect(gatewayOf('10.99.0.0/16')).toBe('10.99.255.253');
    expect(gatewayOf('10.0.0.16/28')).toBe('10.0.0.29');
    expect(gatewayOf(parseCidr('10.0.0.8/29'))).toBe('10.0.0.13');
  });

  test('lies inside the block for every prefix up to /30', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 30 }),
        (v, p) => {
          const size = 2 ** (32 - p);
          const cidr = `${intToIp(v - (v % size))}/${p}`;
          const gateway = gatewayOf(cidr);
          expect(cidrContains(cidr, gateway)).toBe(true);
          expect(ipToInt(gateway)).toBe(parseCidr(cidr).broadcast - 2);
        },
      ),
    );
  });

  test('refuses blocks too small to have one', () => {
    expect(() => gatewayOf('10.0.0.0/31')).toThrow(/too small/);
  });
});

describe('cidrContains', () => {
  test('includes both ends and nothing outside', () => {
    expect(cidrContains('192.168.1.0/24', '192.168.1.0')).toBe(true);
    expect(cidrContains('192.168.1.0/24', '192.168.1.255')).toBe(true);
    expect(cidrContains('192.168.1.0/24', '192.168.2.0')).toBe(false);
    expect(cidrContains('192.168.1.0/24', '192.168.0.255')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '255.255.255.255')).toBe(true);
  });

  test('rejects a malformed address', () => {
    expect(() => cidrContains('10.0.0.0/8', '10.0.0')).toThrow(TerwayError);
  });
});

describe('netmaskOf', () => {
  test.each([
    [0, '0.0.0.0'],
    [16, '255.255.0.0'],
    [20, '255.255.240.0'],
    [24, '255.255.255.0'],
    [32, '255.255.255.255'],
  ])('/%i is %s', (prefix, mask) => {
    expect(netmaskOf(prefix)).toBe(mask);
  });
});
