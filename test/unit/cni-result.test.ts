import { describe, expect, test } from '@jest/globals';
import { CniError } from '../../src/cni/cni-error.js';
import { buildAddResult } from '../../src/cni/cni-result.js';
import type { CniVersion } from '../../src/cni/cni-version.js';
import { requireVerbAllowed } from '../../src/cni/cni-version.js';
import { versionResult } from '../../src/cni/verbs/version.js';
import type { PodNetwork__Output } from '../../src/rpc/generated/terway/v1/PodNetwork.js';

function network(patch: Partial<PodNetwork__Output> = {}): PodNetwork__Output {
  return {
    pod: { namespace: 'default', name: 'nginx', containerId: 'abc' },
    ip: '10.0.0.6',
    prefixLength: 24,
    gateway: '10.0.0.253',
    eniId: 'eni-1',
    eniMac: '00:16:3e:00:00:01',
    vswitchId: 'vsw-1',
    vswitchCidr: '10.0.0.0/24',
    netns: '/var/run/netns/x',
    ifname: 'eth0',
    allocatedAtMs: 0,
    driver: '',
    hostInterface: null,
    podInterface: null,
    ...patch,
  };
}

describe('ADD result of a wired pod', () => {
  const veth = {
    driver: 'veth',
    ip: '10.0.0.6',
    prefixLength: 32,
    gateway: '169.254.1.1',
    hostInterface: { name: 'twv0123456789ab', mac: '02:00:00:00:00:01', sandbox: '' },
    podInterface: { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/x' },
  };

  test('a veth pod lists the node end and the pod end; its IP names the pod end', () => {
    expect(buildAddResult(network(veth), '1.0.0', 'default/nginx')).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'twv0123456789ab', mac: '02:00:00:00:00:01' },
        { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/x' },
      ],
      ips: [{ address: '10.0.0.6/32', gateway: '169.254.1.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
      dns: {},
    });
  });

  test('an ipvlan pod lists only its own interface: the node side is the ENI’s, not the pod’s', () => {
    const ipvlan = {
      ...veth,
      driver: 'ipvlan',
      prefixLength: 24,
      gateway: '10.0.0.253',
      hostInterface: { name: 'ipvl_3', mac: '00:16:3e:00:00:01', sandbox: '' },
      podInterface: { name: 'eth0', mac: '00:16:3e:00:00:01', sandbox: '/var/run/netns/x' },
    };
    const result = buildAddResult(network(ipvlan), '1.0.0', 'default/nginx');
    expect(result.interfaces).toEqual([
      { name: 'eth0', mac: '00:16:3e:00:00:01', sandbox: '/var/run/netns/x' },
    ]);
    expect(result.ips).toEqual([{ address: '10.0.0.6/24', gateway: '10.0.0.253', interface: 0 }]);
  });

  test('after a prevResult, interface indexes continue its list', () => {
    const prev = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'lo' }],
      ips: [],
      routes: [],
      dns: {},
    };
    const result = buildAddResult(network(veth), '1.0.0', 'default/nginx', prev);
    expect(result.interfaces).toHaveLength(3);
    expect(result.ips).toEqual([{ address: '10.0.0.6/32', gateway: '169.254.1.1', interface: 2 }]);
  });
});

describe('ADD result', () => {
  test.each(['1.0.0', '1.1.0'] as const)('%s has no ip version and no interfaces', (version) => {
    expect(buildAddResult(network(), version, 'default/nginx')).toEqual({
      cniVersion: version,
      ips: [{ address: '10.0.0.6/24', gateway: '10.0.0.253' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.253' }],
      dns: {},
    });
  });

  test.each(['0.3.1', '0.4.0'] as const)('%s carries "version" in each ip', (version) => {
    expect(buildAddResult(network(), version, 'default/nginx')).toEqual({
      cniVersion: version,
      ips: [{ version: '4', address: '10.0.0.6/24', gateway: '10.0.0.253' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.253' }],
      dns: {},
    });
  });

  test('IPv6 gets family 6 and a ::/0 route', () => {
    const result = buildAddResult(
      network({ ip: 'fd00::6', prefixLength: 64, gateway: 'fd00::1' }),
      '0.4.0',
      'default/nginx',
    );
    expect(result.ips).toEqual([{ version: '6', address: 'fd00::6/64', gateway: 'fd00::1' }]);
    expect(result.routes).toEqual([{ dst: '::/0', gw: 'fd00::1' }]);
  });

  test('no gateway means no default route', () => {
    const result = buildAddResult(network({ gateway: '' }), '1.0.0', 'default/nginx');
    expect(result.ips).toEqual([{ address: '10.0.0.6/24' }]);
    expect(result.routes).toEqual([]);
  });

  test('a prevResult is passed on with our additions', () => {
    const prev = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'lo' }],
      ips: [{ address: '192.168.0.2/32' }],
      dns: { nameservers: ['10.96.0.10'] },
    };
    expect(buildAddResult(network(), '1.0.0', 'default/nginx', prev)).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'lo' }],
      ips: [{ address: '192.168.0.2/32' }, { address: '10.0.0.6/24', gateway: '10.0.0.253' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.253' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
  });

  test.each([
    [{ ip: '' }, 'no IP address'],
    [{ prefixLength: 0 }, 'prefix length 0'],
    [{ prefixLength: 33 }, 'prefix length 33'],
  ])('an unusable record %p is code 999', (patch, why) => {
    expect(() => buildAddResult(network(patch), '1.0.0', 'default/nginx')).toThrow(why);
    try {
      buildAddResult(network(patch), '1.0.0', 'default/nginx');
    } catch (error) {
      expect((error as CniError).code).toBe(999);
      expect((error as CniError).message).toContain('default/nginx');
    }
  });
});

describe('VERSION and verb gating', () => {
  test('VERSION echoes a supported version and lists them all', () => {
    expect(versionResult('0.4.0')).toEqual({
      cniVersion: '0.4.0',
      supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    expect(versionResult('9.0.0').cniVersion).toBe('1.1.0');
  });

  test.each([
    ['STATUS', '1.0.0'],
    ['GC', '0.4.0'],
    ['CHECK', '0.3.1'],
  ])('%s under %s is code 1', (verb, version) => {
    try {
      requireVerbAllowed(verb, version as CniVersion);
      throw new Error('expected a CniError');
    } catch (error) {
      expect((error as CniError).code).toBe(1);
      expect((error as CniError).message).toContain(verb);
    }
  });

  test('every verb is allowed under 1.1.0', () => {
    for (const verb of ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC']) requireVerbAllowed(verb, '1.1.0');
  });

  test('the error result omits empty details', () => {
    expect(new CniError(11, 'later', '').toResult('1.0.0')).toEqual({
      cniVersion: '1.0.0',
      code: 11,
      msg: 'later',
    });
    expect(new CniError(7, 'bad', 'why').toResult('0.4.0')).toEqual({
      cniVersion: '0.4.0',
      code: 7,
      msg: 'bad',
      details: 'why',
    });
  });
});
