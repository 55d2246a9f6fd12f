import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CloudError } from '../../src/cloud/cloud-error.js';
import { lookupInstanceType } from '../../src/cloud/instance-types.js';
import { MemoryCloud } from '../../src/cloud/memory/memory-cloud.js';
import type { MemoryCloudOptions } from '../../src/cloud/memory/memory-cloud.js';
import { MAX_IPS_PER_CLOUD_CALL } from '../../src/cloud/provider.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { cidrContains, ipToInt } from '../../src/util/ipv4.js';

const NEVER_FAIL = (): number => 0.99;

function makeCloud(overrides: Partial<MemoryCloudOptions> = {}): MemoryCloud {
  return new MemoryCloud({
    instanceType: 'ecs.g7.xlarge',
    vswitchId: 'vsw-test',
    vswitchCidr: '10.99.0.0/24',
    zoneId: 'cn-hangzhou-i',
    random: NEVER_FAIL,
    ...overrides,
  });
}

/** Awaits a call that must fail with a CloudError carrying `cloudCode`. */
async function cloudFailure(call: Promise<unknown>, cloudCode: string): Promise<CloudError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CloudError);
  const cloudError = error as CloudError;
  expect(cloudError.code).toBe('CLOUD_ERROR');
  expect(cloudError.cloudCode).toBe(cloudCode);
  return cloudError;
}

function allIps(cloud: MemoryCloud): string[] {
  return cloud.snapshot().flatMap((eni) => eni.privateIps);
}

describe('construction', () => {
  test('refuses an instance type outside the table', () => {
    expect(() => makeCloud({ instanceType: 'ecs.g7.large' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(/ecs\.g6\.large/),
      }),
    );
  });

  test.each(['10.99.0.0', '10.99.0.1/24', '10.99.0.0/30'])('refuses vSwitch CIDR %j', (cidr) => {
    expect(() => makeCloud({ vswitchCidr: cidr })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });

  test('refuses a failure rate outside [0, 1]', () => {
    expect(() => makeCloud({ failureRate: 1.5 })).toThrow(TerwayError);
  });

  test('describes the table entry of its instance type', async () => {
    const cloud = makeCloud({ instanceType: 'ecs.ebmg5.24xlarge' });
    expect(cloud.kind).toBe('memory');
    await expect(cloud.describeInstanceLimits()).resolves.toEqual({
      instanceType: 'ecs.ebmg5.24xlarge',
      eniQuantity: 32,
      ipsPerEni: 10,
    });
    expect(lookupInstanceType('ecs.ebmg5.24xlarge')).toEqual({
      instanceType: 'ecs.ebmg5.24xlarge',
      eniQuantity: 32,
      ipsPerEni: 10,
    });
  });
});

describe('ENIs and IPs', () => {
  test('createEni returns an attached ENI shaped like ECS', async () => {
    const cloud = makeCloud();
    const eni = await cloud.createEni(3);
    expect(eni.id).toMatch(/^eni-[0-9a-f]{20}$/);
    expect(eni.mac).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    expect(eni.status).toBe('InUse');
    expect(eni.privateIps).toHaveLength(4);
    expect(eni.primaryIp).toBe(eni.privateIps[0]);
    expect(eni).toMatchObject({
      vswitchId: 'vsw-test',
      vswitchCidr: '10.99.0.0/24',
      gateway: '10.99.0.253',
    });
    await expect(cloud.listEnis()).resolves.toEqual([eni]);
  });

  test('hands out unique addresses, skipping the reserved ones', async () => {
    const cloud = makeCloud({ instanceType: 'ecs.ebmg5.24xlarge' });
    const enis = [];
    for (let i = 0; i < 5; i++) enis.push(await cloud.createEni(9));
    const ips = enis.flatMap((eni) => eni.privateIps);
    expect(ips).toHaveLength(50);
    expect(new Set(ips).size).toBe(50);
    expect(new Set(enis.map((eni) => eni.mac)).size).toBe(5);
    expect(new Set(enis.map((eni) => eni.id)).size).toBe(5);
    for (const ip of ips) {
      expect(cidrContains('10.99.0.0/24', ip)).toBe(true);
      const last = ipToInt(ip) & 0xff;
      expect(last).toBeGreaterThanOrEqual(4); // .0 network, .1–.3 the node's own
      expect(last).toBeLessThanOrEqual(252); // .253 gateway, .254 reserved, .255 broadcast
    }
  });

  test('does not reuse a released address while fresh ones remain', async () => {
    const cloud = makeCloud();
    const eni = await cloud.createEni(0);
    const first = await cloud.assignPrivateIps(eni.id, 2);
    await cloud.unassignPrivateIps(eni.id, first);
    const second = await cloud.assignPrivateIps(eni.id, 2);
    expect(second.some((ip) => first.includes(ip))).toBe(false);
    expect((await cloud.listEnis())[0]?.privateIps).toEqual([eni.primaryIp, ...second]);
  });

  test('reports IpNotEnough when the vSwitch runs dry, then reuses released addresses', async () => {
    // A /28 has 16 addresses: minus network, 3 for the node and the last 3, 9 are usable.
    const cloud = makeCloud({ vswitchCidr: '10.99.0.16/28' });
    expect(cloud.availableIpCount()).toBe(9);
    const eni = await cloud.createEni(4);
    const more = await cloud.assignPrivateIps(eni.id, 4);
    expect(cloud.availableIpCount()).toBe(0);
    const before = cloud.snapshot();
    await cloudFailure(cloud.assignPrivateIps(eni.id, 1), 'InvalidVSwitchId.IpNotEnough');
    await cloudFailure(cloud.createEni(0), 'InvalidVSwitchId.IpNotEnough');
    expect(cloud.snapshot()).toEqual(before);

    const released = more.slice(0, 2);
    await cloud.unassignPrivateIps(eni.id, released);
    expect((await cloud.assignPrivateIps(eni.id, 2)).sort()).toEqual([...released].sort());
  });

  test('deleteEni frees the ENI slot and its addresses; unknown ids are fine', async () => {
    const cloud = makeCloud({ vswitchCidr: '10.99.0.16/28' });
    const eni = await cloud.createEni(8);
    expect(cloud.availableIpCount()).toBe(0);
    await cloud.deleteEni(eni.id);
    await cloud.deleteEni(eni.id);
    await cloud.deleteEni('eni-00000000000000000000');
    expect(cloud.snapshot()).toEqual([]);
    expect(cloud.availableIpCount()).toBe(9);
  });

  test('unassign ignores foreign IPs but refuses the primary', async () => {
    const cloud = makeCloud();
    const eni = await cloud.createEni(2);
    await cloud.unassignPrivateIps(eni.id, ['10.99.0.200', 'not-an-ip']);
    expect(cloud.snapshot()[0]?.privateIps).toEqual(eni.privateIps);
    const secondary = eni.privateIps[1] ?? '';
    await cloudFailure(
      cloud.unassignPrivateIps(eni.id, [secondary, eni.primaryIp]),
      'InvalidParameter',
    );
    expect(cloud.snapshot()[0]?.privateIps).toEqual(eni.privateIps);
  });

  test('unknown ENI ids are InvalidEniId.NotFound for assign and unassign', async () => {
    const cloud = makeCloud();
    await cloudFailure(cloud.assignPrivateIps('eni-missing', 1), 'InvalidEniId.NotFound');
    await cloudFailure(
      cloud.unassignPrivateIps('eni-missing', ['10.99.0.9']),
      'InvalidEniId.NotFound',
    );
  });

  test('results are copies: changing them does not change the cloud', async () => {
    const cloud = makeCloud();
    const eni = await cloud.createEni(1);
    eni.privateIps.push('1.2.3.4');
    const listed = await cloud.listEnis();
    listed[0]?.privateIps.pop();
    const snap = cloud.snapshot();
    if (snap[0] !== undefined) snap[0].status = 'Deleting';
    expect(cloud.snapshot()[0]).toMatchObject({ status: 'InUse' });
    expect(cloud.snapshot()[0]?.privateIps).toHaveLength(2);
  });
});

describe('limits', () => {
  test('at most EniQuantity − 1 secondary ENIs', async () => {
    const cloud = makeCloud({ instanceType: 'ecs.g6.large' });
    await cloud.createEni(1);
    const error = await cloudFailure(cloud.createEni(1), 'EniPerInstanceLimitExceeded');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/ecs\.g6\.large/);
    expect(cloud.snapshot()).toHaveLength(1);
  });

  test('three secondary ENIs on a g7.xlarge, also when created concurrently', async () => {
    const cloud = makeCloud({ clock: new FakeClock(), apiLatencyMs: 0 });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => cloud.createEni(1)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => (r.reason as CloudError).cloudCode)).toEqual([
      'EniPerInstanceLimitExceeded',
      'EniPerInstanceLimitExceeded',
    ]);
  });

  test('at most EniPrivateIpAddressQuantity IPs per ENI, primary included', async () => {
    const cloud = makeCloud({ instanceType: 'ecs.g6.large' });
    await cloudFailure(cloud.createEni(6), 'MaxEniPrivateIpsCountExceeded');
    const eni = await cloud.createEni(3);
    await cloudFailure(cloud.assignPrivateIps(eni.id, 3), 'MaxEniPrivateIpsCountExceeded');
    await cloud.assignPrivateIps(eni.id, 2);
    expect(cloud.snapshot()[0]?.privateIps).toHaveLength(6);
    await cloudFailure(cloud.assignPrivateIps(eni.id, 1), 'MaxEniPrivateIpsCountExceeded');
  });

  test(`at most ${MAX_IPS_PER_CLOUD_CALL} IPs per call, at least one per assign`, async () => {
    const cloud = makeCloud();
    await cloudFailure(cloud.createEni(MAX_IPS_PER_CLOUD_CALL + 1), 'InvalidParameter');
    const eni = await cloud.createEni(MAX_IPS_PER_CLOUD_CALL);
    await cloud.deleteEni(eni.id);
    const small = await cloud.createEni(0);
    await cloudFailure(
      cloud.assignPrivateIps(small.id, MAX_IPS_PER_CLOUD_CALL + 1),
      'InvalidParameter',
    );
    await cloudFailure(cloud.assignPrivateIps(small.id, 0), 'InvalidParameter');
    await cloudFailure(cloud.assignPrivateIps(small.id, 1.5), 'InvalidParameter');
    await expect(cloud.assignPrivateIps(small.id, MAX_IPS_PER_CLOUD_CALL)).resolves.toHaveLength(
      10,
    );
  });
});

describe('failure injection', () => {
  test('scripted failures fail exactly the next calls and change nothing', async () => {
    const cloud = makeCloud();
    const eni = await cloud.createEni(1);
    const before = cloud.snapshot();
    cloud.injectFailure('assignPrivateIps', 'Throttling', 2);
    for (let i = 0; i < 2; i++) {
      const error = await cloudFailure(cloud.assignPrivateIps(eni.id, 3), 'Throttling');
      expect(error.retryable).toBe(true);
      expect(error.operation).toBe('AssignPrivateIpAddresses');
    }
    expect(cloud.snapshot()).toEqual(before);
    await expect(cloud.assignPrivateIps(eni.id, 3)).resolves.toHaveLength(3);
  });

  test('non-retryable injected codes and failing reads', async () => {
    const cloud = makeCloud();
    cloud.injectFailure('createEni', 'InvalidVSwitchId.IpNotEnough');
    const error = await cloudFailure(cloud.createEni(1), 'InvalidVSwitchId.IpNotEnough');
    expect(error.retryable).toBe(false);
    cloud.injectFailure('listEnis', 'InternalError');
    await cloudFailure(cloud.listEnis(), 'InternalError');
    await expect(cloud.listEnis()).resolves.toEqual([]);
    cloud.injectFailure('deleteEni', 'ServiceUnavailable');
    const eni = await cloud.createEni(1);
    await cloudFailure(cloud.deleteEni(eni.id), 'ServiceUnavailable');
    expect(cloud.snapshot()).toHaveLength(1);
  });

  test('random failures hit mutating calls only, with retryable codes', async () => {
    const cloud = makeCloud({ failureRate: 0.5, random: () => 0.1 });
    const error = await cloudFailure(cloud.createEni(1), 'ServiceUnavailable');
    expect(error.retryable).toBe(true);
    await expect(cloud.listEnis()).resolves.toEqual([]);
    await expect(cloud.describeInstanceLimits()).resolves.toMatchObject({ eniQuantity: 4 });
    cloud.setFailureRate(0);
    await cloud.createEni(1);
    expect(cloud.snapshot()).toHaveLength(1);
  });

  test('callCounts counts every call, failed ones included', async () => {
    const cloud = makeCloud();
    cloud.injectFailure('createEni', 'Throttling');
    await cloud.createEni(2).catch(() => undefined);
    const eni = await cloud.createEni(2);
    await cloud.assignPrivateIps(eni.id, 5);
    await cloud.listEnis();
    expect(cloud.callCounts()).toEqual({
      describeInstanceLimits: 0,
      listEnis: 1,
      createEni: 2,
      assignPrivateIps: 1,
      unassignPrivateIps: 0,
      deleteEni: 0,
    });
  });
});

describe('latency', () => {
  test('createEni resolves only after api + attach latency, attaching in between', async () => {
    const clock = new FakeClock();
    const cloud = makeCloud({ clock, apiLatencyMs: 100, attachLatencyMs: 500 });
    let settled: unknown;
    const created = cloud.createEni(1).then((eni) => (settled = eni));
    await clock.advance(99);
    expect(settled).toBeUndefined();
    expect(cloud.snapshot()).toEqual([]);
    await clock.advance(1);
    expect(cloud.snapshot()).toMatchObject([{ status: 'Attaching' }]);
    const id = cloud.snapshot()[0]?.id ?? '';
    const assign = cloud.assignPrivateIps(id, 1).catch((caught: unknown) => caught);
    await clock.advance(100);
    await expect(assign).resolves.toMatchObject({ cloudCode: 'InvalidOperation.InvalidEniState' });
    await clock.advance(399);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await expect(created).resolves.toMatchObject({ id, status: 'InUse' });
  });

  test('setLatency applies to later calls', async () => {
    const clock = new FakeClock();
    const cloud = makeCloud({ clock });
    await expect(cloud.listEnis()).resolves.toEqual([]);
    cloud.setLatency({ apiLatencyMs: 50 });
    let done = false;
    const listed = cloud.listEnis().then(() => (done = true));
    await clock.advance(49);
    expect(done).toBe(false);
    await clock.advance(1);
    await listed;
    expect(done).toBe(true);
  });
});

describe('persistence', () => {
  let dir: string;
  let stateFile: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'memory-cloud-'));
    stateFile = join(dir, 'cloud', 'state.json');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a second cloud on the same file sees the same ENIs and keeps IPs unique', async () => {
    const first = makeCloud({ stateFile });
    const a = await first.createEni(3);
    const b = await first.createEni(1);
    const extra = await first.assignPrivateIps(a.id, 2);
    await first.unassignPrivateIps(a.id, extra.slice(0, 1));
    await first.deleteEni(b.id);

    const second = makeCloud({ stateFile });
    expect(second.snapshot()).toEqual(first.snapshot());
    expect(second.availableIpCount()).toBe(first.availableIpCount());
    const c = await second.createEni(4);
    expect(
      c.privateIps.some((ip) => [...a.privateIps, ...b.privateIps, ...extra].includes(ip)),
    ).toBe(false);
    expect(new Set(allIps(second)).size).toBe(allIps(second).length);
    expect(readdirSync(join(dir, 'cloud'))).toEqual(['state.json']);
  });

  test('a failed call leaves the file untouched', async () => {
    const cloud = makeCloud({ stateFile });
    const eni = await cloud.createEni(1);
    const before = readFileSync(stateFile, 'utf8');
    cloud.injectFailure('assignPrivateIps', 'ServiceUnavailable');
    await cloudFailure(cloud.assignPrivateIps(eni.id, 2), 'ServiceUnavailable');
    await cloudFailure(cloud.assignPrivateIps(eni.id, 20), 'InvalidParameter');
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
  });

  test('an ENI persisted mid-attach is attached after a restart', async () => {
    const clock = new FakeClock();
    const cloud = makeCloud({ stateFile, clock, attachLatencyMs: 1_000 });
    void cloud.createEni(1);
    await clock.advance(0);
    expect(cloud.snapshot()).toMatchObject([{ status: 'Attaching' }]);
    const restarted = makeCloud({ stateFile });
    expect(restarted.snapshot()).toMatchObject([{ status: 'InUse' }]);
    await clock.advance(1_000);
  });

  test('a corrupt file is INVALID_CONFIG naming the file', () => {
    writeFileSync(join(dir, 'bad.json'), '{"version": 1, "enis": [');
    expect(() => makeCloud({ stateFile: join(dir, 'bad.json') })).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringContaining('bad.json'),
      }),
    );
  });

  test('a file from another vSwitch or with clashing IPs is refused', async () => {
    const cloud = makeCloud({ stateFile });
    const eni = await cloud.createEni(1);
    expect(() => makeCloud({ stateFile, vswitchCidr: '10.98.0.0/24' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: expect.stringContaining(stateFile),
      }),
    );
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
      allocator: { recycledIps: string[] };
    };
    state.allocator.recycledIps.push(eni.primaryIp);
    writeFileSync(stateFile, JSON.stringify(state));
    expect(() => makeCloud({ stateFile })).toThrow(/marked free/);
  });
});
