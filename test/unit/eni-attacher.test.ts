/**
 * The attach half of creating an ENI, on the fake clock: refused attaches are spaced out, and an
 * attach that ECS fails back to Available ends promptly and the ENI is deleted.
 */
import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { AliyunCloud } from '../../src/cloud/aliyun/aliyun-cloud.js';
import type { CloudEni, EcsApi, EniFilter } from '../../src/cloud/aliyun/ecs-api.js';
import { EniAttacher } from '../../src/cloud/aliyun/eni-attacher.js';
import { ATTACH_FAILED } from '../../src/cloud/aliyun/in-use-watcher.js';
import type { NodeMetadata } from '../../src/cloud/aliyun/node-identity.js';
import { VSwitchSelector } from '../../src/cloud/aliyun/vswitch-selector.js';
import { CloudError } from '../../src/cloud/cloud-error.js';
import { CloudErrorCodes } from '../../src/cloud/provider.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const INSTANCE = 'i-node';
const MAC = '00:16:3e:00:00:09';
const log = pino({ level: 'silent' });

function cloudEni(id: string, status: string, tags: Record<string, string> = {}): CloudEni {
  return {
    id,
    status,
    type: 'Secondary',
    instanceId: status === 'Available' ? undefined : INSTANCE,
    mac: MAC,
    primaryIp: '10.0.0.9',
    privateIps: ['10.0.0.9'],
    vswitchId: 'vsw-1',
    vpcId: 'vpc-1',
    zoneId: 'zone-a',
    securityGroupIds: ['sg-1'],
    tags,
    creationTime: undefined,
  };
}

const metadata: NodeMetadata = {
  instanceId: async () => INSTANCE,
  zoneId: async () => 'zone-a',
  instanceType: async () => 'ecs.g7.xlarge',
  vswitchId: async () => 'vsw-1',
  primaryMac: async () => '00:16:3e:00:00:01',
  nicIfPresent: async (mac) =>
    mac === MAC
      ? {
          eniId: 'eni-1',
          primaryIp: '10.0.0.9',
          privateIps: ['10.0.0.9'],
          gateway: '10.0.0.253',
          vswitchCidr: '10.0.0.0/24',
        }
      : undefined,
};

/**
 * One ENI on a fake ECS: attaches are refused (InvalidEniState) `refusals` times, then
 * accepted; an accepted attach turns InUse at `inUseAfterMs`, or fails back to Available at
 * `failBackAfterMs`. Every call is recorded with its clock time.
 */
function fakeEcs(
  clock: FakeClock,
  behaviour: { refusals: number; inUseAfterMs?: number; failBackAfterMs?: number },
) {
  const calls: { api: string; at: number }[] = [];
  let refusalsLeft = behaviour.refusals;
  let attachedAt: number | undefined;
  let deleted = false;
  let tags: Record<string, string> = {};
  const status = (): string | undefined => {
    if (deleted) return undefined;
    if (attachedAt === undefined) return 'Available';
    const since = clock.now() - attachedAt;
    if (behaviour.failBackAfterMs !== undefined && since >= behaviour.failBackAfterMs)
      return 'Available';
    if (behaviour.inUseAfterMs !== undefined && since >= behaviour.inUseAfterMs) return 'InUse';
    return 'Attaching';
  };
  const api: Partial<EcsApi> = {
    createNetworkInterface: async (request) => {
      calls.push({ api: 'Create', at: clock.now() });
      tags = { ...request.tags };
      return cloudEni('eni-1', 'Available', tags);
    },
    attachNetworkInterface: async () => {
      calls.push({ api: 'Attach', at: clock.now() });
      if (refusalsLeft > 0) {
        refusalsLeft--;
        throw new CloudError(CloudErrorCodes.InvalidEniState, 'the ENI is busy', {
          operation: 'AttachNetworkInterface',
        });
      }
      attachedAt = clock.now();
    },
    describeNetworkInterfaces: async (filter: EniFilter) => {
      calls.push({ api: 'Describe', at: clock.now() });
      const now = status();
      return now === undefined ? [] : (filter.eniIds ?? []).map((id) => cloudEni(id, now, tags));
    },
    deleteNetworkInterface: async () => {
      calls.push({ api: 'Delete', at: clock.now() });
      deleted = true;
    },
  };
  const attachTimes = () => calls.filter((c) => c.api === 'Attach').map((c) => c.at);
  return { api: api as EcsApi, calls, attachTimes };
}

function attacher(clock: FakeClock, api: EcsApi, attachTimeoutMs = 60_000): EniAttacher {
  return new EniAttacher({
    api,
    metadata,
    instanceId: INSTANCE,
    clock,
    log,
    attachTimeoutMs,
    metadataTimeoutMs: 10_000,
  });
}

describe('EniAttacher: refused attaches', () => {
  test('tries are spaced by a growing pause on the clock, not fired back to back', async () => {
    const clock = new FakeClock(0);
    const ecs = fakeEcs(clock, { refusals: 4, inUseAfterMs: 100 });
    const done = attacher(clock, ecs.api).attach('eni-1');
    await clock.advance(10_000);
    await expect(done).resolves.toMatchObject({ eni: { status: 'InUse' } });
    // Pauses of 200, 300, 450, 675 ms (POLL_INITIAL_MS growing by POLL_GROWTH).
    expect(ecs.attachTimes()).toEqual([0, 200, 500, 950, 1_625]);
  });

  test('an ENI that stays busy is given up at the attach timeout, a pause never overshooting it', async () => {
    const clock = new FakeClock(0);
    const ecs = fakeEcs(clock, { refusals: Infinity });
    const failed = attacher(clock, ecs.api, 10_000)
      .attach('eni-1')
      .catch((error: unknown) => error);
    await clock.advance(30_000);
    expect(await failed).toMatchObject({ cloudCode: CloudErrorCodes.InvalidEniState });
    // The pause stops growing at POLL_MAX_MS and the last one is cut to end at the deadline.
    expect(ecs.attachTimes()).toEqual([
      0, 200, 500, 950, 1_625, 2_637.5, 4_156.25, 6_156.25, 8_156.25, 10_000,
    ]);
  });
});

describe('an attach that fails back to Available', () => {
  test('the attacher ends its wait with EniAttachFailed at the next poll, not the timeout', async () => {
    const clock = new FakeClock(0);
    const ecs = fakeEcs(clock, { refusals: 0, failBackAfterMs: 1_000 });
    let endedAt: number | undefined;
    const failed = attacher(clock, ecs.api)
      .attach('eni-1')
      .catch((error: unknown) => {
        endedAt = clock.now();
        return error;
      });
    await clock.advance(5_000);
    expect(await failed).toMatchObject({ cloudCode: ATTACH_FAILED });
    expect(endedAt).toBe(1_625);
  });

  test('AliyunCloud deletes the ENI, as for any failed attach', async () => {
    const clock = new FakeClock(0);
    const ecs = fakeEcs(clock, { refusals: 0, failBackAfterMs: 1_000 });
    const vswitches = new VSwitchSelector({
      zoneId: 'zone-a',
      vswitchIds: [],
      fallbackVSwitchId: 'vsw-1',
      policy: 'ordered',
      describe: async () => [
        { vswitchId: 'vsw-1', zoneId: 'zone-a', cidr: '10.0.0.0/24', availableIpCount: 200 },
      ],
      clock,
      log,
    });
    const cloud = new AliyunCloud({
      api: ecs.api,
      metadata,
      identity: {
        instanceId: INSTANCE,
        zoneId: 'zone-a',
        instanceType: 'ecs.g7.xlarge',
        vswitchId: 'vsw-1',
        primaryMac: '00:16:3e:00:00:01',
      },
      vswitches,
      securityGroupIds: ['sg-1'],
      eniTags: {},
      eniTagFilter: {},
      clock,
      log,
    });
    const failed = cloud.createEni(0).catch((error: unknown) => error);
    await clock.advance(5_000);
    expect(await failed).toMatchObject({ cloudCode: ATTACH_FAILED });
    expect(ecs.calls.filter((c) => c.api === 'Delete')).toEqual([{ api: 'Delete', at: 1_625 }]);
    expect(cloud.status().pendingCleanup).toEqual([]);
    cloud.close();
  });
});
