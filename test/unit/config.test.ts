import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, test } from '@jest/globals';

import {
  DEFAULT_CONFIG as ENI_CONF_DEFAULT_CONFIG,
  eniConfSchema,
  isIPv4Cidr,
  MAX_SECURITY_GROUPS,
} from '../../src/config/eni-conf.js';
import {
  DEFAULT_CONFIG,
  formatConfigIssues,
  loadConfigFile,
  parseConfig,
} from '../../src/config/load-config.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { createLogger, REDACTED } from '../../src/log/logger.js';

const tmp = mkdtempSync(join(tmpdir(), 'terway-config-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The INVALID_CONFIG message parseConfig throws for `raw`. */
function errorOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(TerwayError);
    expect((error as TerwayError).code).toBe('INVALID_CONFIG');
    return (error as TerwayError).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

describe('defaults', () => {
  test('an empty eni_conf resolves to the documented defaults', () => {
    expect(parseConfig({})).toEqual({
      maxPoolSize: 5,
      minPoolSize: 0,
      minEni: 0,
      eniCapRatio: 1,
      eniCapShift: 0,
      eniMtu: 1500,
      eniSelectionPolicy: 'most_ips',
      ipWarmUpSize: 0,
      idleIpReclaimIntervalMs: 600_000,
      idleIpReclaimBatchSize: 5,
      idleIpReclaimJitterFactor: 0.1,
      ipPoolSyncPeriodMs: 120_000,
      ipBatchWindowMs: 20,
      unclaimedIpGracePeriodMs: 60_000,
      eniAttachTimeoutMs: 60_000,
      eniipVirtualType: 'IPVlan',
      ipStack: 'ipv4',
      vswitches: {},
      vswitchSelectionPolicy: 'random',
      securityGroups: [],
      eniTags: {},
      eniTagFilter: {},
      rateLimit: {},
      extraRoutes: [],
      backoffOverride: {},
      cloud: 'auto',
      datapath: 'auto',
      emulator: {
        instanceType: 'ecs.g7.xlarge',
        regionId: 'cn-hangzhou',
        vswitchId: 'vsw-emulator0',
        vswitchCidr: '10.99.0.0/16',
        zoneId: 'cn-hangzhou-k',
        apiLatencyMs: 20,
        attachLatencyMs: 200,
        failureRate: 0,
      },
      unknownKeys: [],
    });
  });

  test('optional keys are absent, not undefined, so idle reclaim is off and there is no cap', () => {
    const config = parseConfig({});
    for (const key of [
      'maxEni',
      'idleIpReclaimAfterMs',
      'credentials',
      'credentialPath',
      'regionId',
      'serviceCidr',
      'resourceGroupId',
    ]) {
      expect(Object.hasOwn(config, key)).toBe(false);
    }
    expect(Object.hasOwn(config.emulator, 'stateFile')).toBe(false);
  });

  test('DEFAULT_CONFIG is parseConfig({}) and cannot be mutated by accident', () => {
    expect(DEFAULT_CONFIG).toEqual(parseConfig({}));
    expect(ENI_CONF_DEFAULT_CONFIG).toBe(DEFAULT_CONFIG);
    expect(Object.isFrozen(DEFAULT_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_CONFIG.emulator)).toBe(true);
    expect(() => {
      (DEFAULT_CONFIG as { maxPoolSize: number }).maxPoolSize = 99;
    }).toThrow(TypeError);
    expect({ ...DEFAULT_CONFIG, maxPoolSize: 9 }.maxPoolSize).toBe(9);
  });
});

describe('a full Terway ConfigMap', () => {
  const terwayConf = {
    version: '1',
    access_key: 'LTAI-example',
    access_secret: 's3cr3t',
    credential_path: '/var/addon/token-config',
    region_id: 'cn-hangzhou',
    service_cidr: '172.21.0.0/20',
    resource_group_id: 'rg-123',
    vswitches: { 'cn-hangzhou-i': ['vsw-a', 'vsw-b'], 'cn-hangzhou-k': ['vsw-c'] },
    vswitch_selection_policy: 'ordered',
    security_group: 'sg-1',
    security_groups: ['sg-2', 'sg-1', 'sg-3', 'sg-2'],
    eni_tags: { 'ack.aliyun.com': 'c123' },
    eni_tag_filter: { owner: 'terway' },
    max_pool_size: 10,
    min_pool_size: 2,
    min_eni: 1,
    max_eni: 3,
    eni_cap_ratio: 0.5,
    eni_cap_shift: -1,
    eni_selection_policy: 'least_ips',
    ip_warm_up_size: 4,
    idle_ip_reclaim_after: '5m',
    idle_ip_reclaim_interval: '1m30s',
    idle_ip_reclaim_batch_size: 3,
    idle_ip_reclaim_jitter_factor: '0.2',
    ip_stack: 'ipv4',
    rate_limit: { DescribeNetworkInterfaces: 800, AssignPrivateIpAddresses: 400 },
    ip_pool_sync_period: '60s',
    eniip_virtual_type: 'ipvlan',
    extra_routes: ['100.100.100.0/24', { dst: '10.0.0.0/8' }],
    backoff_override: {
      eni_create: { duration: '10s', factor: 2, jitter: 0.3, steps: 4 },
      eni_ops: { Duration: 5_000_000_000, Steps: 6 },
    },
  };

  test('resolves every key to camelCase with durations in ms', () => {
    const config = parseConfig(terwayConf);
    expect(config).toMatchObject({
      credentials: { accessKey: 'LTAI-example', accessSecret: 's3cr3t' },
      credentialPath: '/var/addon/token-config',
      regionId: 'cn-hangzhou',
      serviceCidr: '172.21.0.0/20',
      resourceGroupId: 'rg-123',
      vswitches: { 'cn-hangzhou-i': ['vsw-a', 'vsw-b'], 'cn-hangzhou-k': ['vsw-c'] },
      vswitchSelectionPolicy: 'ordered',
      eniTags: { 'ack.aliyun.com': 'c123' },
      eniTagFilter: { owner: 'terway' },
      maxPoolSize: 10,
      minPoolSize: 2,
      minEni: 1,
      maxEni: 3,
      eniCapRatio: 0.5,
      eniCapShift: -1,
      eniSelectionPolicy: 'least_ips',
      ipWarmUpSize: 4,
      idleIpReclaimAfterMs: 300_000,
      idleIpReclaimIntervalMs: 90_000,
      idleIpReclaimBatchSize: 3,
      idleIpReclaimJitterFactor: 0.2,
      ipStack: 'ipv4',
      rateLimit: { DescribeNetworkInterfaces: 800, AssignPrivateIpAddresses: 400 },
      ipPoolSyncPeriodMs: 60_000,
      eniipVirtualType: 'IPVlan',
      extraRoutes: ['100.100.100.0/24', '10.0.0.0/8'],
      backoffOverride: {
        eni_create: { durationMs: 10_000, factor: 2, jitter: 0.3, steps: 4 },
        eni_ops: { durationMs: 5_000, steps: 6 },
      },
      unknownKeys: [],
    });
  });

  test('security_group and security_groups are merged, deduplicated, in order', () => {
    expect(parseConfig(terwayConf).securityGroups).toEqual(['sg-1', 'sg-2', 'sg-3']);
    expect(parseConfig({ security_groups: ['sg-9'] }).securityGroups).toEqual(['sg-9']);
    expect(parseConfig({ security_group: 'sg-9' }).securityGroups).toEqual(['sg-9']);
  });

  test('the loaded file gives the same result as parseConfig', () => {
    const path = join(tmp, 'eni_conf');
    writeFileSync(path, JSON.stringify(terwayConf));
    expect(loadConfigFile(path)).toEqual(parseConfig(terwayConf));
  });
});

describe('Terway compatibility', () => {
  test('empty strings and nulls count as unset, as Go zero values do in Terway', () => {
    const config = parseConfig({
      access_key: '',
      access_secret: '',
      security_group: '',
      region_id: '',
      ip_stack: '',
      eniip_virtual_type: '',
      idle_ip_reclaim_after: '',
      vswitches: null,
      max_eni: null,
    });
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  test('an empty string is not accepted for a number', () => {
    expect(errorOf({ max_pool_size: '' })).toBe(
      'invalid eni_conf: max_pool_size: got "", expected an integer >= 0',
    );
  });

  test('max_eni 0 means no cap, as in Terway', () => {
    expect(Object.hasOwn(parseConfig({ max_eni: 0 }), 'maxEni')).toBe(false);
    expect(parseConfig({ max_eni: 2 }).maxEni).toBe(2);
  });

  test.each([
    ['IPVlan', 'IPVlan'],
    ['ipvlan', 'IPVlan'],
    ['IPVLAN', 'IPVlan'],
    ['veth', 'Veth'],
    ['Veth', 'Veth'],
  ])('eniip_virtual_type %j is normalised to %j', (input, expected) => {
    expect(parseConfig({ eniip_virtual_type: input }).eniipVirtualType).toBe(expected);
  });

  test('idle_ip_reclaim_jitter_factor accepts a number or a numeric string', () => {
    expect(parseConfig({ idle_ip_reclaim_jitter_factor: 0.5 }).idleIpReclaimJitterFactor).toBe(0.5);
    expect(parseConfig({ idle_ip_reclaim_jitter_factor: '1' }).idleIpReclaimJitterFactor).toBe(1);
  });

  test('durations accept plain numbers of seconds', () => {
    expect(parseConfig({ ip_pool_sync_period: 30 }).ipPoolSyncPeriodMs).toBe(30_000);
    expect(parseConfig({ idle_ip_reclaim_after: 90 }).idleIpReclaimAfterMs).toBe(90_000);
  });

  test('emulator keys resolve with durations in ms', () => {
    expect(
      parseConfig({
        emulator: {
          instance_type: 'ecs.g6.large',
          vswitch_id: 'vsw-x',
          vswitch_cidr: '192.168.0.0/24',
          zone_id: 'cn-beijing-a',
          api_latency: '0s',
          attach_latency: '1s',
          failure_rate: 0.25,
          state_file: '/var/lib/terway/cloud.json',
        },
        ip_batch_window: '300ms',
      }),
    ).toMatchObject({
      ipBatchWindowMs: 300,
      emulator: {
        instanceType: 'ecs.g6.large',
        vswitchId: 'vsw-x',
        vswitchCidr: '192.168.0.0/24',
        zoneId: 'cn-beijing-a',
        apiLatencyMs: 0,
        attachLatencyMs: 1000,
        failureRate: 0.25,
        stateFile: '/var/lib/terway/cloud.json',
      },
    });
  });
});

describe('cloud selection keys', () => {
  test('cloud, endpoints and emulator.listen resolve', () => {
    expect(
      parseConfig({
        cloud: 'ecs',
        ecs_endpoint: 'ecs-vpc.cn-hangzhou.aliyuncs.com',
        vpc_endpoint: '127.0.0.1:18080',
        metadata_endpoint: 'http://127.0.0.1:18081/metadata/i-1',
        emulator: { listen: '127.0.0.1:0' },
      }),
    ).toMatchObject({
      cloud: 'ecs',
      ecsEndpoint: 'ecs-vpc.cn-hangzhou.aliyuncs.com',
      vpcEndpoint: '127.0.0.1:18080',
      metadataEndpoint: 'http://127.0.0.1:18081/metadata/i-1',
      emulator: { listen: '127.0.0.1:0' },
    });
  });

  test.each<[Record<string, unknown>, string]>([
    [{ cloud: 'aws' }, 'cloud: got "aws", expected one of "auto", "ecs", "emulator"'],
    [
      { ecs_endpoint: 'https://ecs.aliyuncs.com/' },
      'ecs_endpoint: got "https://ecs.aliyuncs.com/", expected a "host[:port]"',
    ],
    [{ metadata_endpoint: '100.100.100.200' }, 'metadata_endpoint: got "100.100.100.200"'],
    [
      { emulator: { listen: 'localhost' } },
      'emulator.listen: got "localhost", expected host:port, [ipv6]:port, or :port for every address, such as "127.0.0.1:18080" (port 0 picks a free port); no port',
    ],
  ])('%j is refused with a message naming the key', (input, message) => {
    expect(() => parseConfig(input)).toThrow(message);
  });
});

describe('unknown keys', () => {
  test('are accepted and reported, including nested ones', () => {
    const config = parseConfig({
      max_pool_size: 3,
      enable_eni_trunking: true,
      ipam_type: 'crd',
      emulator: { failure_rate: 0.1, latency: '5ms' },
      backoff_override: { eni_create: { steps: 2, cap: '1m' } },
    });
    expect(config.maxPoolSize).toBe(3);
    expect(config.unknownKeys).toEqual([
      'enable_eni_trunking',
      'ipam_type',
      'emulator.latency',
      'backoff_override.eni_create.cap',
    ]);
  });

  test('version is a known Terway key and is not reported', () => {
    expect(parseConfig({ version: '1' }).unknownKeys).toEqual([]);
  });
});

describe('errors name the key, the value given and what is allowed', () => {
  test.each<[string, Record<string, unknown>, string]>([
    ['max_pool_size', { max_pool_size: -3 }, 'max_pool_size: got -3, expected an integer >= 0'],
    ['a fraction', { min_eni: 1.5 }, 'min_eni: got 1.5, expected an integer >= 0'],
    ['a numeric string', { max_eni: '4' }, 'max_eni: got "4", expected an integer >= 0'],
    ['eni_cap_ratio', { eni_cap_ratio: 0 }, 'eni_cap_ratio: got 0, expected a number > 0'],
    ['eni_cap_shift', { eni_cap_shift: 0.5 }, 'eni_cap_shift: got 0.5, expected an integer'],
    [
      'idle_ip_reclaim_batch_size',
      { idle_ip_reclaim_batch_size: 0 },
      'idle_ip_reclaim_batch_size: got 0, expected an integer >= 1',
    ],
    [
      'idle_ip_reclaim_jitter_factor',
      { idle_ip_reclaim_jitter_factor: 1.5 },
      'idle_ip_reclaim_jitter_factor: got 1.5, expected a number between 0 and 1',
    ],
    [
      'vswitch_selection_policy',
      { vswitch_selection_policy: 'best' },
      'vswitch_selection_policy: got "best", expected one of "random", "ordered"',
    ],
    [
      'eni_selection_policy',
      { eni_selection_policy: 'MOST_IPS' },
      'eni_selection_policy: got "MOST_IPS", expected one of "most_ips", "least_ips"',
    ],
    [
      'service_cidr',
      { service_cidr: '172.21.0.0/33' },
      'service_cidr: got "172.21.0.0/33", expected an IPv4 CIDR such as "172.21.0.0/20"',
    ],
    [
      'a bare address as service_cidr',
      { service_cidr: '172.21.0.1' },
      'service_cidr: got "172.21.0.1", expected an IPv4 CIDR',
    ],
    [
      'eniip_virtual_type',
      { eniip_virtual_type: 'macvlan' },
      'eniip_virtual_type: got "macvlan", expected "IPVlan" or "Veth" (case-insensitive)',
    ],
    [
      'a garbage duration',
      { ip_pool_sync_period: 'soon' },
      'ip_pool_sync_period: got "soon", expected a duration such as "300ms"',
    ],
    [
      'a negative duration',
      { idle_ip_reclaim_after: '-5m' },
      'idle_ip_reclaim_after: got "-5m", expected a duration',
    ],
    [
      'a zero interval',
      { idle_ip_reclaim_interval: '0s' },
      'idle_ip_reclaim_interval: got "0s", expected a duration such as "300ms", "120s", "1m30s" or "2h" (units ns, us, ms, s, m, h), or a number of seconds, greater than zero',
    ],
    [
      'a nested vswitch id',
      { vswitches: { 'cn-hangzhou-k': ['vsw-1', 7] } },
      'vswitches.cn-hangzhou-k[1]: got 7, expected a non-empty vSwitch id',
    ],
    [
      'vswitches of the wrong shape',
      { vswitches: ['vsw-1'] },
      'vswitches: got ["vsw-1"], expected an object mapping zone id to an array of vSwitch ids',
    ],
    [
      'a tag key with dots',
      { eni_tags: { 'ack.aliyun.com': 1 } },
      'eni_tags["ack.aliyun.com"]: got 1, expected a string',
    ],
    [
      'rate_limit',
      { rate_limit: { DescribeVSwitches: 0 } },
      'rate_limit.DescribeVSwitches: got 0, expected an integer >= 1',
    ],
    [
      'extra_routes',
      { extra_routes: ['10.0.0.0/8', 'nope'] },
      'extra_routes[1]: got "nope", expected an IPv4 CIDR string, or an object {"dst": "<IPv4 CIDR>"}',
    ],
    [
      'a backoff duration in seconds by mistake',
      { backoff_override: { eni_ops: { duration: 5 } } },
      'backoff_override.eni_ops.duration: got 5, expected a duration string such as "2s", or an integer number of nanoseconds',
    ],
    [
      'a backoff factor',
      { backoff_override: { eni_ops: { factor: 'x' } } },
      'backoff_override.eni_ops.factor: got "x", expected a number >= 0',
    ],
    [
      'emulator.failure_rate',
      { emulator: { failure_rate: 2 } },
      'emulator.failure_rate: got 2, expected a number between 0 and 1',
    ],
    [
      'emulator.vswitch_cidr',
      { emulator: { vswitch_cidr: '10.99.0.0' } },
      'emulator.vswitch_cidr: got "10.99.0.0", expected an IPv4 CIDR',
    ],
    [
      'ip_batch_window',
      { ip_batch_window: '20' },
      'ip_batch_window: got "20", expected a duration',
    ],
  ])('%s', (_name, raw, expected) => {
    expect(errorOf(raw)).toContain(`invalid eni_conf: ${expected}`);
  });

  test('the exact line for a negative max_pool_size', () => {
    expect(errorOf({ max_pool_size: -3 })).toBe(
      'invalid eni_conf: max_pool_size: got -3, expected an integer >= 0',
    );
  });

  test.each(['dual', 'ipv6'])('ip_stack %j is rejected: only ipv4 is supported yet', (stack) => {
    const message = errorOf({ ip_stack: stack });
    expect(message).toContain(`ip_stack: got "${stack}", expected "ipv4"`);
    expect(message).toContain('only ipv4 is supported yet');
  });

  test('min_pool_size above max_pool_size names both keys', () => {
    expect(errorOf({ max_pool_size: 2, min_pool_size: 5 })).toBe(
      'invalid eni_conf: min_pool_size: got 5, expected an integer <= max_pool_size (2)',
    );
    // Against the default max_pool_size too.
    expect(errorOf({ min_pool_size: 6 })).toContain('<= max_pool_size (5)');
  });

  test('an invalid max_pool_size does not also produce a cross-field line', () => {
    expect(errorOf({ max_pool_size: -3, min_pool_size: 1 }).split('\n')).toHaveLength(1);
  });

  test('min_eni above max_eni names both keys', () => {
    expect(errorOf({ min_eni: 4, max_eni: 2 })).toBe(
      'invalid eni_conf: min_eni: got 4, expected an integer <= max_eni (2)',
    );
  });

  test.each([
    [{ access_key: 'LTAI-x' }, 'access_secret', 'access_key'],
    [{ access_secret: 'shh' }, 'access_key', 'access_secret'],
  ])('a lone credential names both keys (%j)', (raw, missing, present) => {
    expect(errorOf(raw)).toBe(
      `invalid eni_conf: ${missing}: missing, expected access_key and access_secret to be set together (${present} is set)`,
    );
  });

  test('more than 5 security groups (the ECS per-ENI limit), alone or with security_group', () => {
    expect(MAX_SECURITY_GROUPS).toBe(5);
    const five = Array.from({ length: 5 }, (_, i) => `sg-${i}`);
    expect(parseConfig({ security_groups: five }).securityGroups).toEqual(five);
    expect(errorOf({ security_groups: [...five, 'sg-5'] })).toContain(
      'security_groups: got ["sg-0",',
    );
    expect(errorOf({ security_groups: [...five, 'sg-5'] })).toContain(
      'expected an array of at most 5 security group ids',
    );
    expect(errorOf({ security_group: 'sg-x', security_groups: five })).toContain(
      'expected at most 5 security groups in security_group and security_groups together (got 6)',
    );
    // A duplicate of security_group does not count twice.
    expect(parseConfig({ security_group: 'sg-0', security_groups: five }).securityGroups).toEqual(
      five,
    );
  });

  test('several problems give one line each', () => {
    const lines = errorOf({
      max_pool_size: -1,
      ip_stack: 'dual',
      eni_selection_policy: 'fewest',
      emulator: { api_latency: 'fast' },
    }).split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines)
      expect(line).toMatch(/^invalid eni_conf: [a-z_.]+: got .+, expected /);
    expect(lines.map((line) => line.split(':')[1]?.trim())).toEqual([
      'max_pool_size',
      'eni_selection_policy',
      'ip_stack',
      'emulator.api_latency',
    ]);
  });

  test('the value of a malformed secret is never echoed', () => {
    const message = errorOf({ access_key: 'LTAI-x', access_secret: ['hunter2-secret'] });
    expect(message).toBe(
      'invalid eni_conf: access_secret: got an array (value hidden), expected a non-empty string',
    );
    expect(message).not.toContain('hunter2');
  });

  test('a root that is not an object', () => {
    expect(errorOf(42)).toBe('invalid eni_conf: got 42, expected a JSON object');
    expect(errorOf([])).toBe('invalid eni_conf: got [], expected a JSON object');
    expect(errorOf(null)).toBe('invalid eni_conf: got null, expected a JSON object');
  });

  test('a long value is shortened to keep one issue on one line', () => {
    const zones = Array.from({ length: 20 }, (_, i) => `vsw-${i}`);
    const message = errorOf({ vswitches: zones });
    expect(message.split('\n')[0]?.length).toBeLessThan(200);
    expect(message).toContain('…');
  });

  test('formatConfigIssues falls back to the raw input when issues carry none', () => {
    const raw = { max_pool_size: -3 };
    const result = eniConfSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(formatConfigIssues(result.error.issues, raw)).toBe(
      'invalid eni_conf: max_pool_size: got -3, expected an integer >= 0',
    );
  });
});

describe('eni_tags and eni_tag_filter', () => {
  test('agreeing and disjoint tags are accepted as given', () => {
    const config = parseConfig({
      eni_tags: { team: 'net', 'ack.aliyun.com': 'c123' },
      eni_tag_filter: { team: 'net', cluster: 'c1', creator: 'terway-node' },
    });
    expect(config.eniTags).toEqual({ team: 'net', 'ack.aliyun.com': 'c123' });
    expect(config.eniTagFilter).toEqual({ team: 'net', cluster: 'c1', creator: 'terway-node' });
  });

  test('the same key with another value names the key, the value and what is allowed', () => {
    expect(errorOf({ eni_tags: { owner: 'team-b' }, eni_tag_filter: { owner: 'terway' } })).toBe(
      'invalid eni_conf: eni_tags.owner: got "team-b", expected "terway" as in eni_tag_filter, or no such key in eni_tags (new ENIs carry the eni_tag_filter tags, so a restarted terwayd finds them again)',
    );
    // One line per clashing key, dotted keys quoted as elsewhere.
    const lines = errorOf({
      eni_tags: { 'ack.aliyun.com': 'c1', team: 'a', free: 'x' },
      eni_tag_filter: { 'ack.aliyun.com': 'c2', team: 'b' },
    }).split('\n');
    expect(lines.map((line) => line.split(': got')[0])).toEqual([
      'invalid eni_conf: eni_tags["ack.aliyun.com"]',
      'invalid eni_conf: eni_tags.team',
    ]);
  });

  test('a filter on our own tags must be satisfiable by the ENIs we create', () => {
    expect(errorOf({ eni_tag_filter: { creator: 'terway' } })).toBe(
      'invalid eni_conf: eni_tag_filter.creator: got "terway", expected "terway-node", or no such key (terway-node tags every ENI it creates creator=terway-node, so another value matches none of them)',
    );
    expect(errorOf({ eni_tag_filter: { 'terway-node.instance-id': 'i-1' } })).toBe(
      'invalid eni_conf: eni_tag_filter["terway-node.instance-id"]: got "i-1", expected no such key (terway-node sets it to each node\'s own instance id)',
    );
  });

  test('eni_tags, eni_tag_filter and our two tags must fit the 20 tags of an ENI', () => {
    const tags = (n: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
    // A key in both counts once.
    expect(() =>
      parseConfig({ eni_tags: tags(18, 'k'), eni_tag_filter: tags(18, 'k') }),
    ).not.toThrow();
    expect(errorOf({ eni_tags: tags(10, 'a'), eni_tag_filter: tags(9, 'b') })).toContain(
      'expected at most 20 tags per ENI, counting eni_tags, eni_tag_filter and the 2 terway-node adds (got 21)',
    );
  });

  test('an invalid tag map does not also produce a cross-field line', () => {
    expect(
      errorOf({ eni_tags: { owner: 1 }, eni_tag_filter: { owner: 'terway' } }).split('\n'),
    ).toEqual(['invalid eni_conf: eni_tags.owner: got 1, expected a string']);
  });
});

describe('loadConfigFile', () => {
  function rejection(path: string): TerwayError {
    try {
      loadConfigFile(path);
    } catch (error) {
      expect(error).toBeInstanceOf(TerwayError);
      return error as TerwayError;
    }
    throw new Error(`expected ${path} to be rejected`);
  }

  test('a missing file is INVALID_CONFIG naming the path', () => {
    const error = rejection(join(tmp, 'does-not-exist.json'));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/cannot read config file .*does-not-exist\.json: ENOENT/);
  });

  test('a file that is not JSON is INVALID_CONFIG', () => {
    const path = join(tmp, 'broken.json');
    writeFileSync(path, '{ "max_pool_size": 5, }');
    const error = rejection(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain(`config file ${path} is not valid JSON:`);
  });

  test('an invalid value is INVALID_CONFIG with the file and the issue lines', () => {
    const path = join(tmp, 'invalid.json');
    writeFileSync(path, JSON.stringify({ max_pool_size: -3, min_pool_size: 'x' }));
    const error = rejection(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message.split('\n')).toEqual([
      `config file ${path} is invalid:`,
      'invalid eni_conf: max_pool_size: got -3, expected an integer >= 0',
      'invalid eni_conf: min_pool_size: got "x", expected an integer >= 0',
    ]);
  });

  test('a valid file with unknown keys loads and reports them', () => {
    const path = join(tmp, 'valid.json');
    writeFileSync(path, JSON.stringify({ min_pool_size: 2, disable_device_plugin: true }));
    const config = loadConfigFile(path);
    expect(config.minPoolSize).toBe(2);
    expect(config.unknownKeys).toEqual(['disable_device_plugin']);
  });
});

test('isIPv4Cidr', () => {
  for (const ok of ['0.0.0.0/0', '10.0.0.0/8', '192.168.1.7/32']) expect(isIPv4Cidr(ok)).toBe(true);
  for (const bad of [
    '10.0.0.0',
    '10.0.0.0/33',
    '10.0.0/8',
    '256.0.0.0/8',
    'fd00::/8',
    '10.0.0.0/',
  ]) {
    expect(isIPv4Cidr(bad)).toBe(false);
  }
});

describe('logger', () => {
  test('writes JSON lines with level names and redacts credentials at any usual depth', () => {
    const path = join(tmp, 'logs', 'terwayd.log');
    const logger = createLogger({ level: 'info', name: 'terwayd', destination: path });
    const rawConf = { access_key: 'LTAI-raw', access_secret: 'raw-secret', max_pool_size: 5 };
    logger.info({ config: rawConf }, 'raw eni_conf');
    logger.info({ config: parseConfig(rawConf) }, 'resolved');
    logger.info({ access_secret: 'top-secret', request: { securityToken: 'sts-token' } }, 'flat');
    logger.child({ credentials: { accessKeyId: 'child-key' } }).info('from a child');
    logger
      .child({ component: 'lb' })
      .child({ config: { access_key: 'grandchild-key' }, step: 2 })
      .info('from a grandchild');
    logger.debug('below the level');
    // Redaction copies: the caller's object still holds what it held.
    expect(rawConf.access_key).toBe('LTAI-raw');

    const text = readFileSync(path, 'utf8');
    for (const secret of [
      'LTAI-raw',
      'raw-secret',
      'top-secret',
      'sts-token',
      'child-key',
      'grandchild-key',
    ]) {
      expect(text).not.toContain(secret);
    }
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({
      level: 'info',
      name: 'terwayd',
      msg: 'raw eni_conf',
      config: { access_key: REDACTED, access_secret: REDACTED, max_pool_size: 5 },
    });
    expect(lines[1]).toMatchObject({
      config: { credentials: { accessKey: REDACTED, accessSecret: REDACTED }, maxPoolSize: 5 },
    });
    expect(lines[2]).toMatchObject({
      access_secret: REDACTED,
      request: { securityToken: REDACTED },
    });
    expect(lines[3]).toMatchObject({ credentials: { accessKeyId: REDACTED }, msg: 'from a child' });
    expect(lines[4]).toMatchObject({
      component: 'lb',
      config: { access_key: REDACTED },
      step: 2,
      msg: 'from a grandchild',
    });
    expect(typeof lines[0]?.['time']).toBe('string');
  });
});

describe('datapath keys', () => {
  test('datapath, host_netns and eni_mtu are read, and bad values are named', () => {
    const config = parseConfig({ datapath: 'kernel', host_netns: 'lab-node-1', eni_mtu: 9000 });
    expect([config.datapath, config.hostNetns, config.eniMtu]).toEqual([
      'kernel',
      'lab-node-1',
      9000,
    ]);
    expect(parseConfig({ host_netns: '/proc/1/ns/net' }).hostNetns).toBe('/proc/1/ns/net');
    expect(() => parseConfig({ datapath: 'ebpf' })).toThrow(
      /datapath: got "ebpf", expected one of "auto", "kernel", "none"/,
    );
    expect(() => parseConfig({ host_netns: 'two words' })).toThrow(/host_netns: got "two words"/);
    expect(() => parseConfig({ eni_mtu: 20 })).toThrow(
      /eni_mtu: got 20, expected an integer between 68 and 9000/,
    );
  });
});
