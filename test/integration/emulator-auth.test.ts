/**
 * Authentication through the official SDK: access keys, the v3 and legacy signatures, and the
 * RAM role credentials the metadata source hands out.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ClientError } from '@alicloud/openapi-core';

import type { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import {
  Ecs,
  KEY,
  REGION,
  VSWITCH,
  ecsClient,
  sdkError,
  startEmulator,
} from './emulator-harness.js';

/** Short, so advancing the fake clock past it keeps x-acs-date within the 15-minute skew. */
const STS_TTL_MS = 6 * 60_000;
let clock: FakeClock;
let emulator: EcsEmulator;
let instanceId: string;

beforeAll(async () => {
  clock = new FakeClock(Date.now());
  emulator = await startEmulator({ clock, stsTtlMs: STS_TTL_MS });
  ({ instanceId } = emulator.addInstance({
    instanceType: 'ecs.g7.xlarge',
    ramRoleName: 'TerwayRole',
  }));
});

afterAll(async () => {
  await emulator.stop();
});

const describeTypes = new Ecs.DescribeInstanceTypesRequest({ instanceTypes: ['ecs.g6.large'] });

describe('access keys', () => {
  test('the right secret works; a wrong one is SignatureDoesNotMatch; an unknown key is 404', async () => {
    const ok = await ecsClient(emulator).describeInstanceTypes(describeTypes);
    expect(ok.body?.instanceTypes?.instanceType?.[0]?.eniQuantity).toBe(2);

    const wrong = await sdkError(
      ecsClient(emulator, { ...KEY, accessKeySecret: 'not-the-secret' }).describeInstanceTypes(
        describeTypes,
      ),
    );
    expect(wrong).toBeInstanceOf(ClientError);
    expect([wrong.code, wrong.statusCode]).toEqual(['SignatureDoesNotMatch', 400]);

    const unknown = await sdkError(
      ecsClient(emulator, {
        accessKeyId: 'LTAIunknown',
        accessKeySecret: 'x',
      }).describeInstanceTypes(describeTypes),
    );
    expect([unknown.code, unknown.statusCode]).toEqual(['InvalidAccessKeyId.NotFound', 404]);
    expect(emulator.stats().errors).toMatchObject({
      SignatureDoesNotMatch: 1,
      'InvalidAccessKeyId.NotFound': 1,
    });
  });

  test('the legacy RPC signature (signatureAlgorithm v2) is accepted and checked', async () => {
    const legacy = ecsClient(emulator, KEY, { signatureAlgorithm: 'v2' });
    const created = await legacy.createNetworkInterface(
      new Ecs.CreateNetworkInterfaceRequest({
        regionId: REGION,
        vSwitchId: VSWITCH,
        securityGroupId: 'sg-emutest0',
        description: "it's (a) *test*",
      }),
    );
    expect(created.body?.networkInterfaceId).toMatch(/^eni-/);
    expect(created.body?.description).toBe("it's (a) *test*");
    const wrong = await sdkError(
      ecsClient(
        emulator,
        { ...KEY, accessKeySecret: 'bad' },
        { signatureAlgorithm: 'v2' },
      ).describeInstanceTypes(describeTypes),
    );
    expect(wrong.code).toBe('SignatureDoesNotMatch');
  });
});

describe('RAM role credentials from the metadata source', () => {
  test('sign requests until they expire, then InvalidSecurityToken.Expired', async () => {
    const source = emulator.metadataSource();
    expect(source.instance(instanceId)?.ramRoleName).toBe('TerwayRole');
    const credentials = source.roleCredentials(instanceId);
    if (credentials === undefined) throw new Error('no role credentials');
    expect(Date.parse(credentials.expiration) - clock.now()).toBeLessThanOrEqual(STS_TTL_MS);
    const client = ecsClient(emulator, {
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
      securityToken: credentials.securityToken,
    });
    const ok = await client.describeInstances(
      new Ecs.DescribeInstancesRequest({
        regionId: REGION,
        instanceIds: JSON.stringify([instanceId]),
      }),
    );
    expect(ok.body?.instances?.instance?.[0]?.instanceId).toBe(instanceId);

    // Less than a third of the lifetime left: the metadata source renews, the old token still works.
    await clock.advance(STS_TTL_MS * 0.7);
    const renewed = source.roleCredentials(instanceId);
    expect(renewed?.securityToken).not.toBe(credentials.securityToken);
    await client.describeInstanceTypes(describeTypes);

    await clock.advance(STS_TTL_MS * 0.3);
    const expired = await sdkError(client.describeInstanceTypes(describeTypes));
    expect([expired.code, expired.statusCode]).toEqual(['InvalidSecurityToken.Expired', 400]);
    const forged = await sdkError(
      ecsClient(emulator, {
        accessKeyId: credentials.accessKeyId,
        accessKeySecret: credentials.accessKeySecret,
        securityToken: 'CAISforged',
      }).describeInstanceTypes(describeTypes),
    );
    expect(forged.code).toBe('InvalidSecurityToken.Malformed');
  });

  test('an instance without a role has no credentials; an unknown instance has no view', () => {
    const bare = emulator.addInstance({ instanceType: 'ecs.g6.large' });
    expect(emulator.metadataSource().roleCredentials(bare.instanceId)).toBeUndefined();
    expect(emulator.metadataSource().instance('i-nope')).toBeUndefined();
  });
});

describe('metadata view', () => {
  test('own NICs only, secondary ENIs once InUse, vSwitch netmask and gateway', async () => {
    const ecs = ecsClient(emulator);
    const eniId =
      (
        await ecs.createNetworkInterface(
          new Ecs.CreateNetworkInterfaceRequest({
            regionId: REGION,
            vSwitchId: VSWITCH,
            securityGroupId: 'sg-emutest0',
          }),
        )
      ).body?.networkInterfaceId ?? '';
    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: eniId,
        instanceId,
      }),
    );
    const view = () => emulator.metadataSource().instance(instanceId);
    expect(view()?.nics).toHaveLength(1);
    await clock.advance(5);
    const nics = view()?.nics ?? [];
    expect(nics.map((nic) => nic.eniId)).toEqual([
      emulator.enis().find((e) => e.instanceId === instanceId && e.type === 'Primary')?.id,
      eniId,
    ]);
    expect(nics[1]).toMatchObject({
      gateway: '192.168.1.253',
      netmask: '255.255.255.0',
      vswitchCidr: '192.168.1.0/24',
      vpcCidr: '192.168.0.0/16',
      vswitchId: VSWITCH,
    });
    const other = emulator.addInstance({ instanceType: 'ecs.g6.large' });
    expect(
      emulator
        .metadataSource()
        .instance(other.instanceId)
        ?.nics.map((nic) => nic.eniId),
    ).toEqual([other.primaryEniId]);
  });
});

describe('metadata over HTTP', () => {
  test('each instance has its own metadata service under its URL prefix', async () => {
    const get = async (url: string) => {
      const response = await fetch(url);
      return { status: response.status, text: await response.text() };
    };
    const base = `${emulator.metadataUrl(instanceId)}/latest/meta-data`;
    expect(await get(`${base}/instance-id`)).toEqual({ status: 200, text: instanceId });
    const macs = (await get(`${base}/network/interfaces/macs/`)).text;
    const primaryMac = emulator
      .enis()
      .find((eni) => eni.instanceId === instanceId && eni.type === 'Primary')?.mac;
    expect(macs.split('\n')).toContain(`${primaryMac}/`);
    expect((await get(`${base}/network/interfaces/macs/${primaryMac}/gateway`)).text).toBe(
      '192.168.1.253',
    );
    const role = JSON.parse(
      (await get(`${base}/ram/security-credentials/TerwayRole`)).text,
    ) as Record<string, string>;
    expect(role.AccessKeyId).toBe(
      emulator.metadataSource().roleCredentials(instanceId)?.accessKeyId,
    );
    expect(
      (await get(`${emulator.metadataUrl('i-nope')}/latest/meta-data/instance-id`)).status,
    ).toBe(404);
  });
});
