import { describe, expect, test } from '@jest/globals';

import { parseBatchFailures } from '../../src/dataplane/kernel/ip-batch-failures.js';
import { parseNetnsState } from '../../src/dataplane/kernel/iproute2-parse.js';
import { isHarmless, toIpBatchLine } from '../../src/dataplane/kernel/kernel-ops.js';
import {
  ipCommand,
  netnsAt,
  parseNetnsSetting,
  SELF_NETNS,
} from '../../src/dataplane/kernel/netns-ref.js';

describe('netns references', () => {
  test('named namespaces use ip -n, other paths go through nsenter, self needs neither', () => {
    expect(ipCommand(netnsAt('/var/run/netns/pod-1'), ['link'])).toEqual([
      'ip',
      ['-n', 'pod-1', 'link'],
    ]);
    expect(ipCommand(netnsAt('/proc/42/ns/net'), ['link'])).toEqual([
      'nsenter',
      ['--net=/proc/42/ns/net', '--', 'ip', 'link'],
    ]);
    expect(ipCommand(SELF_NETNS, ['link'])).toEqual(['ip', ['link']]);
  });

  test('a setting is empty (own netns), a bare name, or a path', () => {
    expect(parseNetnsSetting('')).toEqual(SELF_NETNS);
    expect(parseNetnsSetting('lab-node-1')).toEqual(netnsAt('/var/run/netns/lab-node-1'));
    expect(parseNetnsSetting('/proc/1/ns/net')).toEqual(netnsAt('/proc/1/ns/net'));
    expect(() => netnsAt('relative/path')).toThrow('absolute');
  });
});

describe('ip -batch lines', () => {
  test('each op becomes one line', () => {
    expect(
      toIpBatchLine({
        op: 'veth-add',
        name: 'twv1',
        mac: '02:00:00:00:00:01',
        peer: 'eth0',
        peerMac: '02:00:00:00:00:02',
        peerNetns: netnsAt('/var/run/netns/pod-1'),
        mtu: 1500,
      }),
    ).toBe(
      'link add twv1 address 02:00:00:00:00:01 mtu 1500 type veth peer name eth0 address 02:00:00:00:00:02 mtu 1500 netns pod-1',
    );
    expect(
      toIpBatchLine({
        op: 'route-replace',
        dst: 'default',
        via: '10.0.0.253',
        dev: 'eth1',
        onlink: true,
        table: 1003,
      }),
    ).toBe('route replace default via 10.0.0.253 dev eth1 onlink table 1003');
    expect(toIpBatchLine({ op: 'rule-add', priority: 512, to: '10.0.0.5', table: 'main' })).toBe(
      'rule add priority 512 to 10.0.0.5 table main',
    );
    expect(
      toIpBatchLine({
        op: 'neigh-replace',
        dev: 'eth0',
        ip: '169.254.1.1',
        mac: '02:00:00:00:00:01',
      }),
    ).toBe('neigh replace 169.254.1.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent');
  });

  test('a word that could smuggle another command into the batch is refused', () => {
    expect(() => toIpBatchLine({ op: 'link-del', name: 'eth0 up\nlink del eth1' })).toThrow(
      'refusing',
    );
    expect(() => toIpBatchLine({ op: 'link-del', name: 'eth0#' })).toThrow('refusing');
    expect(() => toIpBatchLine({ op: 'link-del', name: '' })).toThrow('refusing');
  });

  test('already-gone removals and already-there rules are harmless, nothing else is', () => {
    expect(isHarmless({ op: 'link-del', name: 'x' }, 'Cannot find device "x"')).toBe(true);
    expect(
      isHarmless({ op: 'rule-del', priority: 512 }, 'RTNETLINK answers: No such file or directory'),
    ).toBe(true);
    expect(
      isHarmless(
        { op: 'rule-add', priority: 512, table: 'main' },
        'RTNETLINK answers: File exists',
      ),
    ).toBe(true);
    expect(isHarmless({ op: 'link-up', name: 'x' }, 'Cannot find device "x"')).toBe(false);
    expect(
      isHarmless({ op: 'ipvlan-add', name: 'x', parent: 'eth1', mtu: 1500 }, 'File exists'),
    ).toBe(false);
    expect(
      isHarmless(
        { op: 'ipvlan-add', name: 'x', parent: 'eth1', mtu: 1500, existOk: true },
        'File exists',
      ),
    ).toBe(true);
  });

  test('batch failures map to their line and the messages printed before it', () => {
    expect(
      parseBatchFailures(
        'Cannot find device "nonexist"\nCommand failed -:1\nRTNETLINK answers: No such process\nCommand failed -:3\n',
      ),
    ).toEqual([
      { index: 0, message: 'Cannot find device "nonexist"' },
      { index: 2, message: 'RTNETLINK answers: No such process' },
    ]);
  });
});

describe('reading ip -json output', () => {
  // Captured from `ip -json -d -s -batch -` on this machine, trimmed to the fields we read.
  const captured = [
    JSON.stringify([
      {
        ifindex: 1,
        ifname: 'lo',
        flags: ['LOOPBACK', 'UP'],
        mtu: 65536,
        address: '00:00:00:00:00:00',
      },
      {
        ifindex: 2,
        link_index: 7,
        ifname: 'eth0',
        flags: ['BROADCAST', 'UP', 'LOWER_UP'],
        mtu: 1500,
        address: '02:AA:00:00:00:02',
        linkinfo: { info_kind: 'veth' },
        stats64: { rx: { packets: 12 }, tx: { packets: 9 } },
      },
    ]),
    JSON.stringify([
      {
        ifname: 'eth0',
        addr_info: [
          { family: 'inet', local: '10.0.0.5', prefixlen: 32, scope: 'global' },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        ],
      },
    ]),
    JSON.stringify([
      {
        dst: 'default',
        gateway: '169.254.1.1',
        dev: 'eth0',
        table: 'main',
        scope: 'global',
        flags: ['onlink'],
      },
      { dst: '10.0.0.7', dev: 'twv1', table: 'main', scope: 'link', flags: [] },
    ]),
    JSON.stringify([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 2048, src: '10.0.0.5', table: '1003' },
      { priority: 512, dst: '10.0.0.5', table: 'main' },
    ]),
    JSON.stringify([
      { dst: '169.254.1.1', dev: 'eth0', lladdr: '02:00:00:00:00:09', state: ['PERMANENT'] },
      { dst: 'fe80::1', dev: 'eth0', lladdr: '02:00:00:00:00:09', state: ['STALE'] },
    ]),
  ].join('\n');

  test('links, IPv4 addresses, routes as CIDRs, rules and neighbours', () => {
    const state = parseNetnsState(captured);
    expect(state.links[1]).toMatchObject({
      name: 'eth0',
      mac: '02:aa:00:00:00:02',
      up: true,
      kind: 'veth',
      rxPackets: 12,
    });
    expect(state.addrs).toEqual([{ dev: 'eth0', cidr: '10.0.0.5/32', scope: 'global' }]);
    expect(state.routes.map((route) => route.dst)).toEqual(['default', '10.0.0.7/32']);
    expect(state.routes[0]).toMatchObject({ via: '169.254.1.1', onlink: true });
    expect(state.rules).toEqual([
      { priority: 0, from: undefined, to: undefined, table: 'local' },
      { priority: 2048, from: '10.0.0.5', to: undefined, table: '1003' },
      { priority: 512, from: undefined, to: '10.0.0.5', table: 'main' },
    ]);
    expect(state.neighbors).toEqual([
      { dev: 'eth0', ip: '169.254.1.1', mac: '02:00:00:00:00:09', permanent: true },
    ]);
  });
});
