import { describe, expect, test } from '@jest/globals';
import {
  formatAge,
  formatDuration,
  formatSince,
  podLabel,
  renderTable,
  shortContainerId,
} from '../../src/cli/format.js';
import { NO_MAPPINGS_MESSAGE, renderMappings } from '../../src/cli/mapping.js';
import { compareIp } from '../../src/util/ipv4.js';
import { NO_ENIS_MESSAGE, PRIMARY_MARKER, renderShowFactory } from '../../src/cli/show-factory.js';
import type { ENIEntry__Output } from '../../src/rpc/generated/terway/v1/ENIEntry.js';
import type { IPEntry__Output } from '../../src/rpc/generated/terway/v1/IPEntry.js';
import type { ListMappingsReply__Output } from '../../src/rpc/generated/terway/v1/ListMappingsReply.js';
import type { Mapping__Output } from '../../src/rpc/generated/terway/v1/Mapping.js';
import type { PoolFigures__Output } from '../../src/rpc/generated/terway/v1/PoolFigures.js';
import type { ShowFactoryReply__Output } from '../../src/rpc/generated/terway/v1/ShowFactoryReply.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const SEC = 1000;
const CID_A = '3f2a9b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8';
const CID_B = 'aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44';
const ESC = String.fromCharCode(0x1b);
const hasAnsi = (text: string): boolean => text.includes(`${ESC}[`);

function ip(partial: Partial<IPEntry__Output> & { address: string }): IPEntry__Output {
  return { state: 'idle', owner: null, isEniPrimary: false, sinceMs: 0, ...partial };
}

function eni(partial: Partial<ENIEntry__Output> & { id: string }): ENIEntry__Output {
  return {
    mac: '',
    status: 'in_use',
    primaryIp: '',
    vswitchId: 'vsw-bp1aaaa',
    vswitchCidr: '10.0.1.0/24',
    gateway: '10.0.1.253',
    ips: [],
    pendingIps: 0,
    link: '',
    ...partial,
  };
}

function pool(partial: Partial<PoolFigures__Output> = {}): PoolFigures__Output {
  return {
    idle: 2,
    inUse: 2,
    creating: 1,
    releasing: 0,
    invalid: 1,
    waiting: 3,
    minPoolSize: 2,
    maxPoolSize: 5,
    maxEnis: 2,
    ipsPerEni: 6,
    capacity: 12,
    instanceType: 'ecs.g6.large',
    lastError: '',
    ...partial,
  };
}

const FACTORY: ShowFactoryReply__Output = {
  cloud: null,
  pool: pool({ lastError: 'InvalidVSwitchId.IpNotEnough: vsw-bp1bbbb has no free IPs' }),
  enis: [
    eni({
      id: 'eni-bp1first',
      mac: '00:16:3e:01:02:03',
      link: 'eth1',
      primaryIp: '10.0.1.10',
      ips: [
        // Deliberately out of order: the view sorts primary first, then by address.
        ip({
          address: '10.0.1.12',
          state: 'in_use',
          owner: { namespace: 'default', name: 'nginx-7c9f8', containerId: CID_A },
          sinceMs: NOW - (3 * 60 + 12) * SEC,
        }),
        ip({ address: '10.0.1.9', state: 'idle', sinceMs: NOW - 45 * SEC }),
        ip({
          address: '10.0.1.10',
          state: 'in_use',
          isEniPrimary: true,
          sinceMs: NOW - 2 * 3600 * SEC,
        }),
        ip({
          address: '10.0.1.11',
          state: 'invalid',
          owner: { namespace: 'kube-system', name: 'coredns-x7k2p', containerId: CID_B },
          sinceMs: NOW - (2 * 60 + 5) * SEC,
        }),
      ],
    }),
    eni({
      id: 'eni-bp1second',
      mac: '00:16:3e:0a:0b:0c',
      status: 'creating',
      vswitchId: 'vsw-bp1bbbb',
      vswitchCidr: '10.0.2.0/24',
      gateway: '10.0.2.253',
      pendingIps: 2,
    }),
  ],
};

/** The line of the rendered output that mentions `needle`, for column assertions. */
function lineWith(text: string, needle: string): string {
  const line = text.split('\n').find((l) => l.includes(needle));
  if (line === undefined) throw new Error(`no line contains ${needle}:\n${text}`);
  return line;
}

/** The IP table row for `address` (indented, address first). */
function ipRowOf(text: string, address: string): string {
  return lineWith(text, `  ${address} `);
}

describe('format', () => {
  test('durations keep their two most significant units', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(999)).toBe('0s');
    expect(formatDuration(45 * SEC)).toBe('45s');
    expect(formatDuration((3 * 60 + 12) * SEC)).toBe('3m12s');
    expect(formatDuration(60 * SEC)).toBe('1m0s');
    expect(formatDuration((2 * 3600 + 5 * 60 + 59) * SEC)).toBe('2h5m');
    expect(formatDuration((4 * 86400 + 3 * 3600) * SEC)).toBe('4d3h');
  });

  test('relative times: "ago", no stamp, and clock skew', () => {
    expect(formatSince(NOW - (2 * 60 + 5) * SEC, NOW)).toBe('2m5s ago');
    expect(formatSince(0, NOW)).toBe('-');
    expect(formatSince(NOW + 3 * SEC, NOW)).toBe('0s ago');
    expect(formatAge(NOW - 7 * SEC, NOW)).toBe('7s');
  });

  test('container ids shorten to 12 characters and drop a runtime scheme', () => {
    expect(shortContainerId(CID_A)).toBe('3f2a9b1c4d5e');
    expect(shortContainerId(`containerd://${CID_A}`)).toBe('3f2a9b1c4d5e');
    expect(shortContainerId('abc')).toBe('abc');
    expect(shortContainerId('')).toBe('');
  });

  test('pod labels and IP order', () => {
    expect(podLabel({ namespace: 'ns', name: 'p', containerId: '' })).toBe('ns/p');
    expect(podLabel(null)).toBe('-');
    expect(['10.0.1.10', '10.0.1.9', '10.0.0.200'].sort(compareIp)).toEqual([
      '10.0.0.200',
      '10.0.1.9',
      '10.0.1.10',
    ]);
  });

  test('tables have no trailing spaces and colour only when asked', () => {
    const plain = renderTable(['A', 'LONGER'], [['x', 'y']]);
    expect(plain).toBe('A  LONGER\nx  y');
    expect(renderTable(['A'], [['x']], { indent: 2 })).toBe('  A\n  x');
    expect(hasAnsi(renderTable(['A'], [['x']], { color: true }))).toBe(true);
  });

  test('a table of more rows than a call takes arguments (show flows --limit 0 on a full map)', () => {
    const rows = Array.from({ length: 200_000 }, (_, index) => [String(index), 'x']);
    rows.push(['the widest cell, last', 'y']);
    const lines = renderTable(['N', 'V'], rows, { indent: 1 }).split('\n');
    expect(lines).toHaveLength(200_002);
    // Laid out as the table library lays out a short one: the first rows as wide as the last.
    const column = ' '.repeat('the widest cell, last'.length);
    expect(lines[0]).toBe(` N${column.slice(1)}  V`);
    expect(lines[1]).toBe(` 0${column.slice(1)}  x`);
    expect(lines[200_000]).toBe(` 199999${column.slice(6)}  x`);
    expect(lines[200_001]).toBe(' the widest cell, last  y');
    // The same rows, few enough for the library: the same lines.
    const few = [...rows.slice(0, 9_999), rows[200_000]!];
    const short = renderTable(['N', 'V'], few, { indent: 1 }).split('\n');
    expect(short.slice(0, 3)).toEqual(lines.slice(0, 3));
    expect(short.at(-1)).toBe(lines.at(-1));
  });
});

describe('renderShowFactory', () => {
  const out = renderShowFactory(FACTORY, NOW);

  test('pool summary comes first, with capacity, counts, sizes and the last error', () => {
    const lines = out.split('\n');
    expect(lines[0]).toContain('ecs.g6.large');
    expect(lines[0]).toContain('2 secondary ENIs allowed × 6 IPs per ENI = 12 IPs capacity');
    expect(out).toContain(
      '2 idle, 2 in use, 1 creating, 0 releasing, 1 invalid; 3 allocations waiting',
    );
    expect(out).toContain('min 2, max 5');
    expect(out).toContain('last error: InvalidVSwitchId.IpNotEnough');
    expect(out.indexOf('Pool:')).toBeLessThan(out.indexOf('eni-bp1first'));
  });

  test('each ENI header carries id, MAC, its node link, status, vSwitch, gateway and pending IPs', () => {
    const first = lineWith(out, 'eni-bp1first');
    expect(first).toContain('MAC 00:16:3e:01:02:03  link eth1  status');
    expect(lineWith(out, 'eni-bp1second')).not.toContain('link');
    expect(first).toContain('status in_use');
    expect(first).toContain('4/6 IPs');
    expect(out).toContain('vSwitch vsw-bp1aaaa (10.0.1.0/24)');
    expect(out).toContain('gateway 10.0.1.253');
    expect(out).toContain('primary 10.0.1.10');
    expect(lineWith(out, 'eni-bp1second')).toContain('MAC 00:16:3e:0a:0b:0c');
    expect(lineWith(out, 'vSwitch vsw-bp1bbbb')).toContain('pending IPs 2');
    expect(lineWith(out, 'vSwitch vsw-bp1aaaa')).not.toContain('pending');
    expect(out).toContain('(no IPs on this ENI)');
  });

  test('every IP appears once with its state, owner and since', () => {
    const primary = ipRowOf(out, '10.0.1.10');
    expect(primary).toContain(PRIMARY_MARKER);
    expect(primary).toContain('in_use');
    expect(primary).toContain('2h0m ago');

    const owned = ipRowOf(out, '10.0.1.12');
    expect(owned).toMatch(/in_use\s+default\/nginx-7c9f8 \(3f2a9b1c4d5e\)\s+3m12s ago$/);
    expect(owned).not.toContain(CID_A);
    expect(owned).not.toContain(PRIMARY_MARKER);

    expect(ipRowOf(out, '10.0.1.11')).toMatch(
      /invalid\s+kube-system\/coredns-x7k2p \(aa11bb22cc33\)\s+2m5s ago$/,
    );
    expect(ipRowOf(out, '10.0.1.9')).toMatch(/idle\s+-\s+45s ago$/);
    const tableRows = out.split('\n').filter((l) => /^ {2}10\.0\.1\.\d+ /.test(l));
    expect(tableRows).toHaveLength(4);
  });

  test('IPs are listed primary first, then in address order', () => {
    const order = ['10.0.1.10 ', '10.0.1.9 ', '10.0.1.11 ', '10.0.1.12 '].map((a) =>
      out.indexOf(`  ${a}`),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test('a column header sits over the IP table and no line carries colour or trailing space', () => {
    expect(out).toMatch(/^ {2}IP\s+STATE\s+OWNER\s+SINCE$/m);
    expect(hasAnsi(out)).toBe(false);
    expect(out.split('\n').some((l) => l !== l.trimEnd())).toBe(false);
  });

  test('fits a 100-column terminal for typical names', () => {
    const widest = Math.max(...out.split('\n').map((l) => l.length));
    expect(widest).toBeLessThanOrEqual(100);
  });

  test('an ENI primary flagged only by the ENI record is still marked', () => {
    const reply: ShowFactoryReply__Output = {
      cloud: null,
      pool: pool(),
      enis: [eni({ id: 'eni-x', primaryIp: '10.0.1.5', ips: [ip({ address: '10.0.1.5' })] })],
    };
    expect(ipRowOf(renderShowFactory(reply, NOW), '10.0.1.5')).toContain(PRIMARY_MARKER);
  });

  test('an empty pool says plainly that there are no ENIs yet', () => {
    const empty = renderShowFactory(
      {
        enis: [],
        pool: pool({ idle: 0, inUse: 0, creating: 0, invalid: 0, waiting: 0 }),
        cloud: null,
      },
      NOW,
    );
    expect(empty).toContain(NO_ENIS_MESSAGE);
    expect(empty).toContain('0 idle, 0 in use');
    expect(empty).not.toContain('last error');
    expect(empty).not.toContain('STATE');
  });

  test('a reply without pool figures still renders the ENIs', () => {
    const out2 = renderShowFactory({ enis: FACTORY.enis, pool: null, cloud: null }, NOW);
    expect(out2).toContain('figures not reported');
    expect(lineWith(out2, 'eni-bp1first')).toContain('4 IPs');
  });
});

describe('renderMappings', () => {
  function mapping(ns: string, name: string, ipAddr: string, ipState: string): Mapping__Output {
    return {
      ipState,
      network: {
        pod: { namespace: ns, name, containerId: `${name}-0123456789abcdef` },
        ip: ipAddr,
        prefixLength: 24,
        gateway: '10.0.1.253',
        eniId: 'eni-bp1first',
        eniMac: '00:16:3e:01:02:03',
        vswitchId: 'vsw-bp1aaaa',
        vswitchCidr: '10.0.1.0/24',
        netns: '/var/run/netns/cni-1',
        ifname: 'eth0',
        allocatedAtMs: NOW - 90 * SEC,
        driver: '',
        hostInterface: null,
        podInterface: null,
      },
    };
  }

  const wired = mapping('default', 'api', '10.0.1.12', 'in_use');
  wired.network = {
    ...wired.network!,
    driver: 'veth',
    hostInterface: { name: 'twv0a1b2c3d4e5f', mac: '02:00:00:00:00:01', sandbox: '' },
  };
  const reply: ListMappingsReply__Output = {
    mappings: [
      mapping('kube-system', 'coredns', '10.0.1.11', 'invalid'),
      mapping('default', 'web', '10.0.1.13', 'in_use'),
      wired,
    ],
  };
  const out = renderMappings(reply, NOW);

  test('one row per record with pod, short container, IP/prefix, ENI, MAC, driver, node interface, state and age', () => {
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^POD\s+CONTAINER\s+IP\s+ENI\s+MAC\s+DRIVER\s+NODE IF\s+STATE\s+AGE$/);
    expect(lines).toHaveLength(4);
    expect(lineWith(out, 'default/api')).toMatch(
      /^default\/api\s+api-01234567\s+10\.0\.1\.12\/24\s+eni-bp1first\s+00:16:3e:01:02:03\s+veth\s+twv0a1b2c3d4e5f\s+in_use\s+1m30s$/,
    );
    // Without a datapath (IPAM only) the two columns say so.
    expect(lineWith(out, 'default/web')).toMatch(/00:16:3e:01:02:03\s+-\s+-\s+in_use/);
    expect(lineWith(out, 'kube-system/coredns')).toContain('invalid');
  });

  test('rows are sorted by namespace then name', () => {
    const pods = out
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    expect(pods).toEqual(['default/api', 'default/web', 'kube-system/coredns']);
  });

  test('a record without network data still gets a row', () => {
    const partial = renderMappings({ mappings: [{ network: null, ipState: 'releasing' }] }, NOW);
    expect(partial).toContain('releasing');
  });

  test('no records says so', () => {
    expect(renderMappings({ mappings: [] }, NOW)).toBe(`${NO_MAPPINGS_MESSAGE}\n`);
  });
});
