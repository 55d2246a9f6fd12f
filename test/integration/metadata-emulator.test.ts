/**
 * The metadata client and the RAM-role credential provider against the real emulator: token
 * handshake in hardening mode, the instance's identity, and an ENI created and attached through
 * the official SDK (signed with the role's STS credentials from metadata) showing up in metadata.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';

import { resolveCredentialProvider } from '../../src/cloud/aliyun/credentials.js';
import type { CredentialProvider } from '../../src/cloud/aliyun/credentials.js';
import { MetadataClient } from '../../src/cloud/aliyun/metadata-client.js';
import type { MetadataNicInfo } from '../../src/cloud/aliyun/metadata-client.js';
import { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import type { AddedInstance } from '../../src/emulator/ecs-emulator.js';
import { systemClock } from '../../src/util/clock.js';
import { captureLog } from '../unit/metadata-fixture.js';
import type { CapturedLog } from '../unit/metadata-fixture.js';

const ROLE = 'TerwayNodeRole';
const ZONE = 'cn-hangzhou-k';
const VSWITCH = 'vsw-meta0';
const POLL_INTERVAL_MS = 50;
const POLL_TIMEOUT_MS = 5_000;

type EcsClient = InstanceType<typeof Ecs.default.default>;

let emulator: EcsEmulator;
let instance: AddedInstance;
let metadata: MetadataClient;
let captured: CapturedLog;

async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function ecsClient(credentials: CredentialProvider): EcsClient {
  return new Ecs.default.default(
    new $OpenApiUtil.Config({
      // The SDK types `credential` as its own Credential class; it only calls getCredential().
      credential: credentials.sdkCredential() as never,
      endpoint: emulator.endpoint,
      protocol: 'http',
      regionId: 'cn-hangzhou',
    }),
  );
}

beforeAll(async () => {
  emulator = await EcsEmulator.start({
    accessKeys: [{ accessKeyId: 'LTAImetadata0001', accessKeySecret: 'unused-static-secret' }],
    regionId: 'cn-hangzhou',
    vpcCidr: '10.0.0.0/8',
    vswitches: [{ vswitchId: VSWITCH, zoneId: ZONE, cidr: '10.30.0.0/16' }],
    requireMetadataToken: true,
  });
  instance = emulator.addInstance({
    instanceType: 'ecs.g7.xlarge',
    zoneId: ZONE,
    vswitchId: VSWITCH,
    ramRoleName: ROLE,
  });
  captured = captureLog();
  metadata = new MetadataClient({
    baseUrl: emulator.metadataUrl(instance.instanceId),
    clock: systemClock,
    log: captured.log,
  });
});

afterAll(async () => {
  await emulator?.stop();
});

describe('metadata from the emulator', () => {
  test('a token-less GET is refused in hardening mode; the client fetches a token', async () => {
    const raw = await fetch(`${emulator.metadataUrl(instance.instanceId)}/latest/meta-data/`);
    expect(raw.status).toBe(403);
    await expect(metadata.instanceId()).resolves.toBe(instance.instanceId);
  });

  test("the instance's identity and primary NIC", async () => {
    await expect(metadata.regionId()).resolves.toBe('cn-hangzhou');
    await expect(metadata.zoneId()).resolves.toBe(ZONE);
    await expect(metadata.instanceType()).resolves.toBe('ecs.g7.xlarge');
    await expect(metadata.vswitchId()).resolves.toBe(VSWITCH);
    await expect(metadata.primaryMac()).resolves.toBe(instance.mac.toLowerCase());
    await expect(metadata.macs()).resolves.toEqual([instance.mac.toLowerCase()]);
    const nic = await metadata.nic(instance.mac);
    expect(nic).toMatchObject({
      eniId: instance.primaryEniId,
      primaryIp: instance.primaryIp,
      vswitchId: VSWITCH,
      vswitchCidr: '10.30.0.0/16',
      netmask: '255.255.0.0',
    });
    expect(nic.privateIps[0]).toBe(instance.primaryIp);
    await expect(metadata.ramRoleName()).resolves.toBe(ROLE);
  });

  test('an unknown instance is 404 through the client', async () => {
    const stranger = new MetadataClient({
      baseUrl: emulator.metadataUrl('i-does-not-exist'),
      clock: systemClock,
      log: captured.log,
    });
    await expect(stranger.instanceId()).rejects.toMatchObject({ cloudCode: 'MetadataNotFound' });
  });
});

describe('RAM role credentials drive the official SDK', () => {
  test('create + attach with STS credentials; metadata shows the ENI, then drops it', async () => {
    const credentials = resolveCredentialProvider({
      env: {},
      metadata,
      clock: systemClock,
      log: captured.log,
      useRamRole: true,
    });
    expect(credentials?.source).toBe('ram_role');
    const sts = await credentials!.get();
    expect(sts.securityToken).toBeTruthy();
    const ecs = ecsClient(credentials!);

    const created = await ecs.createNetworkInterface(
      new Ecs.CreateNetworkInterfaceRequest({
        regionId: 'cn-hangzhou',
        vSwitchId: VSWITCH,
        securityGroupIds: ['sg-emulator0'],
        secondaryPrivateIpAddressCount: 2,
      }),
    );
    const eniId = created.body?.networkInterfaceId ?? '';
    const mac = (created.body?.macAddress ?? '').toLowerCase();
    expect(eniId).toMatch(/^eni-/);
    await expect(metadata.nicIfPresent(mac)).resolves.toBeUndefined();

    await ecs.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: 'cn-hangzhou',
        networkInterfaceId: eniId,
        instanceId: instance.instanceId,
      }),
    );
    const attached = await poll(
      () => metadata.nicIfPresent(mac),
      (nic: MetadataNicInfo | undefined) => nic !== undefined,
    );
    expect(attached).toMatchObject({ mac, eniId, vswitchId: VSWITCH });
    expect(attached?.privateIps).toHaveLength(3);
    await expect(metadata.macs()).resolves.toEqual([instance.mac.toLowerCase(), mac]);

    await ecs.detachNetworkInterface(
      new Ecs.DetachNetworkInterfaceRequest({
        regionId: 'cn-hangzhou',
        networkInterfaceId: eniId,
        instanceId: instance.instanceId,
      }),
    );
    const detached = await poll(
      () => metadata.nicIfPresent(mac),
      (nic) => nic === undefined,
    );
    expect(detached).toBeUndefined();

    const text = captured.text();
    expect(text).not.toContain(sts.accessKeySecret);
    expect(text).not.toContain(sts.securityToken!);
  });
});
