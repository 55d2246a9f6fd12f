/**
 * The official SDK against the emulator, API by API: what the SDK sends is accepted, and what
 * the emulator answers survives the SDK's model casting (a wrong shape would come back empty).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ClientError, ServerError } from '@alicloud/openapi-core';

import type { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import {
  Ecs,
  Vpc,
  REGION,
  VSWITCH,
  ZONE,
  ecsClient,
  sdkError,
  startEmulator,
  vpcClient,
  waitFor,
} from './emulator-harness.js';
import type { EcsClient } from './emulator-harness.js';

let emulator: EcsEmulator;
let ecs: EcsClient;
let instanceId: string;
let primaryEniId: string;

beforeAll(async () => {
  emulator = await startEmulator({
    vswitches: [
      { vswitchId: VSWITCH, zoneId: ZONE, cidr: '192.168.1.0/24' },
      { vswitchId: 'vsw-tiny', zoneId: ZONE, cidr: '192.168.9.0/28' },
      { vswitchId: 'vsw-other-zone', zoneId: 'cn-hangzhou-j', cidr: '192.168.2.0/24' },
    ],
    // Long enough that a Describe right after the call still sees the intermediate state on a
    // loaded CI machine.
    latencies: { perApi: {}, attachMs: 300, detachMs: 300, deleteMs: 300 },
  });
  ecs = ecsClient(emulator);
  ({ instanceId, primaryEniId } = emulator.addInstance({
    instanceType: 'ecs.g7.xlarge',
    vswitchId: VSWITCH,
  }));
});

afterAll(async () => {
  await emulator.stop();
});

function create(fields: Record<string, unknown> = {}) {
  return ecs.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: REGION,
      vSwitchId: VSWITCH,
      securityGroupId: 'sg-emutest0',
      ...fields,
    }),
  );
}

async function describeEni(id: string) {
  const response = await ecs.describeNetworkInterfaces(
    new Ecs.DescribeNetworkInterfacesRequest({ regionId: REGION, networkInterfaceId: [id] }),
  );
  return response.body?.networkInterfaceSets?.networkInterfaceSet?.[0];
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await describeEni(id))?.status;
}

describe('CreateNetworkInterface', () => {
  test('returns an Available Secondary ENI with its IPs, groups and tags in the SDK model', async () => {
    const response = await create({
      securityGroupId: undefined,
      securityGroupIds: ['sg-emutest0', 'sg-emutest1'],
      secondaryPrivateIpAddressCount: 2,
      tag: [{ key: 'creator', value: 'terway node' }],
      description: 'a b*c',
      networkInterfaceName: 'eni-name',
    });
    const body = response.body;
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['x-acs-request-id']).toBe(body?.requestId);
    expect(body?.requestId).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/,
    );
    expect(body?.networkInterfaceId).toMatch(/^eni-[0-9a-z]{20}$/);
    expect(body?.status).toBe('Available');
    expect(body?.type).toBe('Secondary');
    expect(body?.macAddress).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    expect(body?.privateIpSets?.privateIpSet).toHaveLength(3);
    expect(body?.privateIpSets?.privateIpSet?.[0]).toEqual({
      primary: true,
      privateIpAddress: body?.privateIpAddress,
    });
    expect(body?.securityGroupIds?.securityGroupId).toEqual(['sg-emutest0', 'sg-emutest1']);
    expect(body?.tags?.tag).toEqual([{ tagKey: 'creator', tagValue: 'terway node' }]);
    expect(body?.description).toBe('a b*c');
    expect(body?.vSwitchId).toBe(VSWITCH);
    expect(body?.zoneId).toBe(ZONE);
  });

  test('explicit private IPs', async () => {
    const body = (
      await create({
        primaryIpAddress: '192.168.1.200',
        privateIpAddress: ['192.168.1.201', '192.168.1.202'],
      })
    ).body;
    expect(body?.privateIpSets?.privateIpSet?.map((s) => s.privateIpAddress)).toEqual([
      '192.168.1.200',
      '192.168.1.201',
      '192.168.1.202',
    ]);
    const taken = await sdkError(create({ primaryIpAddress: '192.168.1.201' }));
    expect(taken.code).toBe('InvalidPrivateIpAddress.Duplicated');
  });

  test('ClientToken: same parameters → same ENI; other parameters → IdempotentParameterMismatch', async () => {
    const first = await create({ clientToken: 'token-1', secondaryPrivateIpAddressCount: 1 });
    const again = await create({ clientToken: 'token-1', secondaryPrivateIpAddressCount: 1 });
    expect(again.body?.networkInterfaceId).toBe(first.body?.networkInterfaceId);
    expect(again.body?.requestId).not.toBe(first.body?.requestId);
    const before = emulator.enis().length;
    const mismatch = await sdkError(
      create({ clientToken: 'token-1', secondaryPrivateIpAddressCount: 2 }),
    );
    expect(mismatch).toBeInstanceOf(ClientError);
    expect(mismatch.code).toBe('IdempotentParameterMismatch');
    expect(mismatch.statusCode).toBe(400);
    expect(emulator.enis()).toHaveLength(before);
  });

  test('parameter errors', async () => {
    const missing = await sdkError(
      ecs.createNetworkInterface(
        new Ecs.CreateNetworkInterfaceRequest({ regionId: REGION, securityGroupId: 'sg-emutest0' }),
      ),
    );
    expect(missing).toBeInstanceOf(ClientError);
    expect([missing.code, missing.statusCode]).toEqual(['MissingParameter', 400]);
    expect((missing.data as Record<string, unknown>).HostId).toBe('ecs.aliyuncs.com');
    expect((await sdkError(create({ securityGroupId: undefined }))).code).toBe('MissingParameter');
    expect((await sdkError(create({ securityGroupIds: ['sg-emutest1'] }))).code).toBe(
      'InvalidParameter.Conflict',
    );
    expect((await sdkError(create({ secondaryPrivateIpAddressCount: 50 }))).code).toBe(
      'InvalidParameter',
    );
    expect((await sdkError(create({ securityGroupId: 'sg-nope' }))).code).toBe(
      'InvalidSecurityGroupId.NotFound',
    );
    const vsw = await sdkError(create({ vSwitchId: 'vsw-nope' }));
    expect([vsw.code, vsw.statusCode]).toEqual(['InvalidVSwitchId.NotFound', 404]);
    expect((await sdkError(create({ regionId: 'cn-beijing' }))).code).toBe(
      'InvalidRegionId.NotFound',
    );
  });
});

describe('Attach, Detach, Delete', () => {
  test('the async transitions, seen through DescribeNetworkInterfaces', async () => {
    const eniId = (await create()).body?.networkInterfaceId ?? '';
    const request = { regionId: REGION, networkInterfaceId: eniId, instanceId };
    await ecs.attachNetworkInterface(new Ecs.AttachNetworkInterfaceRequest(request));
    expect(await statusOf(eniId)).toBe('Attaching');
    await waitFor(async () => (await statusOf(eniId)) === 'InUse');
    const attached = await describeEni(eniId);
    expect(attached?.instanceId).toBe(instanceId);
    expect(attached?.attachment?.instanceId).toBe(instanceId);
    expect(attached?.attachment?.deviceIndex).toBeGreaterThan(0);

    const busy = await sdkError(
      ecs.deleteNetworkInterface(
        new Ecs.DeleteNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: eniId }),
      ),
    );
    expect([busy.code, busy.statusCode]).toEqual(['InvalidOperation.InvalidEniState', 400]);

    await ecs.detachNetworkInterface(new Ecs.DetachNetworkInterfaceRequest(request));
    expect(await statusOf(eniId)).toBe('Detaching');
    await waitFor(async () => (await statusOf(eniId)) === 'Available');
    expect((await describeEni(eniId))?.attachment).toBeUndefined();

    await ecs.deleteNetworkInterface(
      new Ecs.DeleteNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: eniId }),
    );
    expect(await statusOf(eniId)).toBe('Deleting');
    await waitFor(async () => (await describeEni(eniId)) === undefined);
    const gone = await sdkError(
      ecs.deleteNetworkInterface(
        new Ecs.DeleteNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: eniId }),
      ),
    );
    expect([gone.code, gone.statusCode]).toEqual(['InvalidEniId.NotFound', 404]);
  });

  test('refusals: primary detach, zone mismatch, unknown instance, ENI limit', async () => {
    const primary = await sdkError(
      ecs.detachNetworkInterface(
        new Ecs.DetachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: primaryEniId,
          instanceId,
        }),
      ),
    );
    expect(primary.code).toBe('InvalidOperation.DetachPrimaryEniNotAllowed');
    const far = (await create({ vSwitchId: 'vsw-other-zone' })).body?.networkInterfaceId;
    const zone = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: far,
          instanceId,
        }),
      ),
    );
    expect([zone.code, zone.statusCode]).toEqual([
      'InvalidOperation.AvailabilityZoneMismatch',
      403,
    ]);
    const noInstance = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: far,
          instanceId: 'i-nope',
        }),
      ),
    );
    expect(noInstance.code).toBe('InvalidInstanceId.NotFound');

    // ecs.g6.large takes 2 ENIs, the primary included.
    const small = emulator.addInstance({ instanceType: 'ecs.g6.large', vswitchId: VSWITCH });
    const [a, b] = [
      (await create()).body?.networkInterfaceId,
      (await create()).body?.networkInterfaceId,
    ];
    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: a,
        instanceId: small.instanceId,
      }),
    );
    const limit = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: b,
          instanceId: small.instanceId,
        }),
      ),
    );
    expect(limit).toBeInstanceOf(ClientError);
    expect([limit.code, limit.statusCode]).toEqual(['EniPerInstanceLimitExceeded', 403]);
    const missing = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: b }),
      ),
    );
    expect(missing.code).toBe('MissingParameter');
  });
});

describe('Assign and Unassign private IPs', () => {
  test('count and explicit forms, the instance-type limit, and unassign errors', async () => {
    const eniId = (await create()).body?.networkInterfaceId ?? '';
    const assigned = await ecs.assignPrivateIpAddresses(
      new Ecs.AssignPrivateIpAddressesRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        secondaryPrivateIpAddressCount: 3,
      }),
    );
    const ips = assigned.body?.assignedPrivateIpAddressesSet?.privateIpSet?.privateIpAddress ?? [];
    expect(ips).toHaveLength(3);
    expect(assigned.body?.assignedPrivateIpAddressesSet?.networkInterfaceId).toBe(eniId);
    const explicit = await ecs.assignPrivateIpAddresses(
      new Ecs.AssignPrivateIpAddressesRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        privateIpAddress: ['192.168.1.230'],
      }),
    );
    expect(explicit.body?.assignedPrivateIpAddressesSet?.privateIpSet?.privateIpAddress).toEqual([
      '192.168.1.230',
    ]);

    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        instanceId,
      }),
    );
    await waitFor(async () => (await statusOf(eniId)) === 'InUse');
    // g7.xlarge: 15 IPs per ENI, the primary included; 5 are on it.
    await ecs.assignPrivateIpAddresses(
      new Ecs.AssignPrivateIpAddressesRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        secondaryPrivateIpAddressCount: 10,
      }),
    );
    const over = await sdkError(
      ecs.assignPrivateIpAddresses(
        new Ecs.AssignPrivateIpAddressesRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          secondaryPrivateIpAddressCount: 1,
        }),
      ),
    );
    expect([over.code, over.statusCode]).toEqual(['MaxEniPrivateIpsCountExceeded', 403]);

    await ecs.unassignPrivateIpAddresses(
      new Ecs.UnassignPrivateIpAddressesRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        privateIpAddress: ips,
      }),
    );
    const left =
      (await describeEni(eniId))?.privateIpSets?.privateIpSet?.map((s) => s.privateIpAddress) ?? [];
    expect(left).toHaveLength(12);
    expect(left.some((ip) => ips.includes(ip ?? ''))).toBe(false);
    const again = await sdkError(
      ecs.unassignPrivateIpAddresses(
        new Ecs.UnassignPrivateIpAddressesRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          privateIpAddress: [ips[0] ?? ''],
        }),
      ),
    );
    expect([again.code, again.statusCode]).toEqual(['InvalidIp.IpUnassigned', 403]);
    const primary = await sdkError(
      ecs.unassignPrivateIpAddresses(
        new Ecs.UnassignPrivateIpAddressesRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          privateIpAddress: [left[0] ?? ''],
        }),
      ),
    );
    expect(primary.code).toBe('InvalidParameter');
    const missing = await sdkError(
      ecs.unassignPrivateIpAddresses(
        new Ecs.UnassignPrivateIpAddressesRequest({ regionId: REGION, networkInterfaceId: eniId }),
      ),
    );
    expect([missing.code, missing.statusCode]).toEqual(['MissingParameter', 403]);
  });

  test('ClientToken replays the same IPs', async () => {
    const eniId = (await create()).body?.networkInterfaceId ?? '';
    const request = () =>
      ecs.assignPrivateIpAddresses(
        new Ecs.AssignPrivateIpAddressesRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          secondaryPrivateIpAddressCount: 2,
          clientToken: 'assign-1',
        }),
      );
    const first = (await request()).body?.assignedPrivateIpAddressesSet?.privateIpSet
      ?.privateIpAddress;
    const second = (await request()).body?.assignedPrivateIpAddressesSet?.privateIpSet
      ?.privateIpAddress;
    expect(second).toEqual(first);
    expect((await describeEni(eniId))?.privateIpSets?.privateIpSet).toHaveLength(3);
  });

  test('a /28 vSwitch runs out: InvalidVSwitchId.IpNotEnough, and DescribeVSwitches counts down', async () => {
    const vpc = vpcClient(emulator);
    const available = async () =>
      (
        await vpc.describeVSwitches(
          new Vpc.DescribeVSwitchesRequest({ regionId: REGION, vSwitchId: 'vsw-tiny' }),
        )
      ).body?.vSwitches?.vSwitch?.[0]?.availableIpAddressCount;
    expect(await available()).toBe(12);
    const eniId =
      (await create({ vSwitchId: 'vsw-tiny', secondaryPrivateIpAddressCount: 9 })).body
        ?.networkInterfaceId ?? '';
    expect(await available()).toBe(2);
    const full = await sdkError(
      ecs.assignPrivateIpAddresses(
        new Ecs.AssignPrivateIpAddressesRequest({
          regionId: REGION,
          networkInterfaceId: eniId,
          secondaryPrivateIpAddressCount: 3,
        }),
      ),
    );
    expect(full).toBeInstanceOf(ClientError);
    expect([full.code, full.statusCode]).toEqual(['InvalidVSwitchId.IpNotEnough', 403]);
    expect(await available()).toBe(2);
    await ecs.deleteNetworkInterface(
      new Ecs.DeleteNetworkInterfaceRequest({ regionId: REGION, networkInterfaceId: eniId }),
    );
    await waitFor(async () => (await available()) === 12);
  });
});

describe('DescribeNetworkInterfaces', () => {
  test('NextToken pages across more than 10 ENIs; filters narrow the set', async () => {
    const tagged: string[] = [];
    for (let i = 0; i < 23; i++) {
      tagged.push(
        (await create({ tag: [{ key: 'paging', value: 'yes' }] })).body?.networkInterfaceId ?? '',
      );
    }
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const body = (
        await ecs.describeNetworkInterfaces(
          new Ecs.DescribeNetworkInterfacesRequest({
            regionId: REGION,
            tag: [{ key: 'paging', value: 'yes' }],
            nextToken,
          }),
        )
      ).body;
      const page = body?.networkInterfaceSets?.networkInterfaceSet ?? [];
      expect(page.length).toBeLessThanOrEqual(10);
      seen.push(...page.map((eni) => eni.networkInterfaceId ?? ''));
      nextToken = body?.nextToken || undefined;
      pages++;
    } while (nextToken !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(tagged);

    const big = await ecs.describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({
        regionId: REGION,
        tag: [{ key: 'paging', value: 'yes' }],
        maxResults: 1000,
      }),
    );
    expect(big.body?.networkInterfaceSets?.networkInterfaceSet).toHaveLength(23);
    expect(big.body?.nextToken).toBe('');

    const byInstance = await ecs.describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({ regionId: REGION, instanceId, type: 'Primary' }),
    );
    expect(
      byInstance.body?.networkInterfaceSets?.networkInterfaceSet?.map((e) => e.networkInterfaceId),
    ).toEqual([primaryEniId]);
    const primaryIp = emulator.enis().find((e) => e.id === primaryEniId)?.primaryIp;
    const byIp = await ecs.describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({
        regionId: REGION,
        privateIpAddress: [primaryIp ?? ''],
      }),
    );
    expect(
      byIp.body?.networkInterfaceSets?.networkInterfaceSet?.map((e) => e.networkInterfaceId),
    ).toEqual([primaryEniId]);
    const byStatus = await ecs.describeNetworkInterfaces(
      new Ecs.DescribeNetworkInterfacesRequest({
        regionId: REGION,
        status: 'Available',
        vSwitchId: VSWITCH,
        vpcId: 'vpc-emutest0',
        maxResults: 500,
      }),
    );
    const list = byStatus.body?.networkInterfaceSets?.networkInterfaceSet ?? [];
    expect(list.length).toBeGreaterThanOrEqual(23);
    expect(list.every((eni) => eni.status === 'Available' && eni.vSwitchId === VSWITCH)).toBe(true);
    const full = list.find((eni) => eni.networkInterfaceId === tagged[0]);
    expect(full?.securityGroupIds?.securityGroupId).toEqual(['sg-emutest0']);
    expect(full?.tags?.tag).toEqual([{ tagKey: 'paging', tagValue: 'yes' }]);
    expect(full?.privateIpSets?.privateIpSet?.[0]?.primary).toBe(true);
    expect(full?.creationTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
  });

  test('a bad token or status is InvalidParameter; RegionId is required', async () => {
    expect(
      (
        await sdkError(
          ecs.describeNetworkInterfaces(
            new Ecs.DescribeNetworkInterfacesRequest({ regionId: REGION, nextToken: 'nope!' }),
          ),
        )
      ).code,
    ).toBe('InvalidParameter');
    expect(
      (
        await sdkError(
          ecs.describeNetworkInterfaces(
            new Ecs.DescribeNetworkInterfacesRequest({ regionId: REGION, status: 'Broken' }),
          ),
        )
      ).code,
    ).toBe('InvalidParameter');
    expect(
      (await sdkError(ecs.describeNetworkInterfaces(new Ecs.DescribeNetworkInterfacesRequest({}))))
        .code,
    ).toBe('MissingParameter');
  });
});

describe('DescribeInstances, DescribeInstanceTypes, DescribeVSwitches', () => {
  test('DescribeInstances takes InstanceIds as a JSON string and lists the NICs', async () => {
    const body = (
      await ecs.describeInstances(
        new Ecs.DescribeInstancesRequest({
          regionId: REGION,
          instanceIds: JSON.stringify([instanceId, 'i-unknown']),
        }),
      )
    ).body;
    const instance = body?.instances?.instance?.[0];
    expect(body?.instances?.instance).toHaveLength(1);
    expect(instance?.instanceId).toBe(instanceId);
    expect(instance?.instanceType).toBe('ecs.g7.xlarge');
    expect(instance?.status).toBe('Running');
    expect(instance?.zoneId).toBe(ZONE);
    expect(instance?.vpcAttributes?.vpcId).toBe('vpc-emutest0');
    expect(instance?.vpcAttributes?.vSwitchId).toBe(VSWITCH);
    expect(instance?.vpcAttributes?.privateIpAddress?.ipAddress).toHaveLength(1);
    expect(instance?.securityGroupIds?.securityGroupId).toEqual(['sg-emutest0']);
    const nics = instance?.networkInterfaces?.networkInterface ?? [];
    expect(nics[0]).toMatchObject({ networkInterfaceId: primaryEniId, type: 'Primary' });
    expect(nics.slice(1).every((nic) => nic.type === 'Secondary')).toBe(true);
    const malformed = await sdkError(
      ecs.describeInstances(
        new Ecs.DescribeInstancesRequest({ regionId: REGION, instanceIds: 'i-1' }),
      ),
    );
    expect(malformed.code).toBe('InvalidInstanceIds.Malformed');
    const all = await ecs.describeInstances(
      new Ecs.DescribeInstancesRequest({ regionId: REGION, maxResults: 100 }),
    );
    expect(all.body?.totalCount).toBe(all.body?.instances?.instance?.length);
  });

  test('DescribeInstanceTypes: the ENI limits, filtered and paged', async () => {
    const body = (
      await ecs.describeInstanceTypes(
        new Ecs.DescribeInstanceTypesRequest({ instanceTypes: ['ecs.g7.xlarge', 'ecs.g6.large'] }),
      )
    ).body;
    const types = body?.instanceTypes?.instanceType ?? [];
    expect(types.map((t) => t.instanceTypeId).sort()).toEqual(['ecs.g6.large', 'ecs.g7.xlarge']);
    expect(types.find((t) => t.instanceTypeId === 'ecs.g7.xlarge')).toMatchObject({
      eniQuantity: 4,
      eniPrivateIpAddressQuantity: 15,
      eniIpv6AddressQuantity: 15,
      eniTotalQuantity: 20,
      eniTrunkSupported: true,
      cpuCoreCount: 4,
      memorySize: 16,
      instanceTypeFamily: 'ecs.g7',
    });
    const firstPage = (
      await ecs.describeInstanceTypes(new Ecs.DescribeInstanceTypesRequest({ maxResults: 2 }))
    ).body;
    expect(firstPage?.instanceTypes?.instanceType).toHaveLength(2);
    const rest = (
      await ecs.describeInstanceTypes(
        new Ecs.DescribeInstanceTypesRequest({ maxResults: 100, nextToken: firstPage?.nextToken }),
      )
    ).body;
    expect(rest?.instanceTypes?.instanceType?.length).toBeGreaterThanOrEqual(3);
    expect(rest?.nextToken).toBe('');
  });

  test('DescribeVSwitches: filters, pages, VPC error host', async () => {
    const vpc = vpcClient(emulator);
    const byZone = (
      await vpc.describeVSwitches(
        new Vpc.DescribeVSwitchesRequest({ vpcId: 'vpc-emutest0', zoneId: ZONE }),
      )
    ).body;
    expect(byZone?.vSwitches?.vSwitch?.map((v) => v.vSwitchId).sort()).toEqual([
      VSWITCH,
      'vsw-tiny',
    ]);
    const one = byZone?.vSwitches?.vSwitch?.find((v) => v.vSwitchId === VSWITCH);
    expect(one).toMatchObject({
      cidrBlock: '192.168.1.0/24',
      vpcId: 'vpc-emutest0',
      zoneId: ZONE,
      status: 'Available',
    });
    const paged = (
      await vpc.describeVSwitches(
        new Vpc.DescribeVSwitchesRequest({ regionId: REGION, pageSize: 2, pageNumber: 2 }),
      )
    ).body;
    expect(paged?.totalCount).toBe(3);
    expect(paged?.vSwitches?.vSwitch).toHaveLength(1);
    const missing = await sdkError(vpc.describeVSwitches(new Vpc.DescribeVSwitchesRequest({})));
    expect(missing.code).toBe('MissingParameter');
    expect((missing.data as Record<string, unknown>).HostId).toBe('vpc.aliyuncs.com');
  });
});

describe('wire-level errors', () => {
  test('an unknown action is a 404 JSON error; an unknown ENI is InvalidEniId.NotFound', async () => {
    const unknown = await sdkError(
      ecs.describeNetworkInterfaceAttribute(
        new Ecs.DescribeNetworkInterfaceAttributeRequest({
          regionId: REGION,
          networkInterfaceId: 'eni-x',
        }),
      ),
    );
    expect(unknown).toBeInstanceOf(ClientError);
    expect([unknown.code, unknown.statusCode]).toEqual(['InvalidAction.NotFound', 404]);
    const eni = await sdkError(
      ecs.attachNetworkInterface(
        new Ecs.AttachNetworkInterfaceRequest({
          regionId: REGION,
          networkInterfaceId: 'eni-nope',
          instanceId,
        }),
      ),
    );
    expect([eni.code, eni.statusCode]).toEqual(['InvalidEniId.NotFound', 404]);
    const data = eni.data as Record<string, unknown>;
    expect(Object.keys(data).sort()).toEqual([
      'Code',
      'HostId',
      'Message',
      'Recommend',
      'RequestId',
    ]);
  });

  test('an injected InternalError is a ServerError', async () => {
    emulator.setFault('DescribeInstanceTypes', { errorRate: 1 });
    try {
      const error = await sdkError(
        ecs.describeInstanceTypes(new Ecs.DescribeInstanceTypesRequest({})),
      );
      expect(error).toBeInstanceOf(ServerError);
      expect([error.code, error.statusCode]).toEqual(['InternalError', 500]);
    } finally {
      emulator.clearFaults();
    }
  });
});
