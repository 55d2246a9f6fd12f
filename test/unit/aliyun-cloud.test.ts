/**
 * AliyunCloud against a fake ECS behind `EcsApi`: which tags new ENIs carry and which ENIs a
 * (restarted) provider takes as its own, the security-group cap, and the security-group lookup
 * under throttling.
 */
import { describe, expect, test } from '@jest/globals';

import { AliyunCloud } from '../../src/cloud/aliyun/aliyun-cloud.js';
import {
  SECURITY_GROUP_RETRY_MAX_MS,
  SECURITY_GROUP_RETRY_MS,
} from '../../src/cloud/aliyun/security-group-lookup.js';
import type {
  CloudEni,
  CloudInstance,
  CreateEniRequest,
  EcsApi,
  EniFilter,
} from '../../src/cloud/aliyun/ecs-api.js';
import type { NicMetadata, NodeMetadata } from '../../src/cloud/aliyun/node-identity.js';
import {
  CREATOR_TAG_KEY,
  CREATOR_TAG_VALUE,
  INSTANCE_TAG_KEY,
  ownedEniTags,
} from '../../src/cloud/aliyun/node-identity.js';
import type { VSwitchSelector } from '../../src/cloud/aliyun/vswitch-selector.js';
import { CloudError } from '../../src/cloud/cloud-error.js';
import { MAX_SECURITY_GROUPS } from '../../src/config/eni-conf.js';
import { MAX_SECURITY_GROUPS as EMULATOR_MAX_SECURITY_GROUPS } from '../../src/emulator/api/eni-handlers.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { FakeClock, flushMicrotasks } from '../../src/util/fake-clock.js';
import { SILENT_LOG } from '../support/pool-fixture.js';

const INSTANCE = 'i-node1';
const PRIMARY_MAC = '00:16:3e:ff:ff:ff';
const THROTTLED = () =>
  new CloudError('Throttling', 'Request was denied due to request throttling.');

/**
 * Just enough of ECS: creates record the request, attaches finish at once, Describe filters by
 * id, instance and tags, and DescribeInstances can be made to fail while counting how many run
 * at the same time.
 */
class FakeEcs {
  readonly enis = new Map<string, CloudEni>();
  readonly creates: CreateEniRequest[] = [];
  readonly describeInstanceAt: number[] = [];
  instanceGroups = ['sg-a', 'sg-b'];
  /** Errors the next DescribeInstances calls throw, in order. */
  instanceFailures: (() => Error)[] = [];
  /** DescribeInstances is throttled until this time, as the account was in the benchmark. */
  throttledUntil = 0;
  private inFlight = 0;
  maxInFlight = 0;
  private seq = 0;

  constructor(private readonly clock: FakeClock) {}

  /** An ENI someone else created and attached to this instance. */
  addForeign(id: string, tags: Record<string, string>): void {
    this.enis.set(id, this.eni(id, 'InUse', tags, INSTANCE));
  }

  async createNetworkInterface(request: CreateEniRequest): Promise<CloudEni> {
    this.creates.push(request);
    const eni = this.eni(`eni-${++this.seq}`, 'Available', { ...request.tags }, undefined);
    this.enis.set(eni.id, eni);
    return { ...eni };
  }

  async attachNetworkInterface(eniId: string, instanceId: string): Promise<void> {
    const eni = this.enis.get(eniId)!;
    eni.status = 'InUse';
    eni.instanceId = instanceId;
  }

  async describeNetworkInterfaces(filter: EniFilter): Promise<CloudEni[]> {
    return [...this.enis.values()]
      .filter((eni) => filter.eniIds === undefined || filter.eniIds.includes(eni.id))
      .filter((eni) => filter.instanceId === undefined || eni.instanceId === filter.instanceId)
      .filter((eni) =>
        Object.entries(filter.tags ?? {}).every(([key, value]) => eni.tags[key] === value),
      )
      .map((eni) => ({ ...eni, tags: { ...eni.tags } }));
  }

  async describeInstance(instanceId: string): Promise<CloudInstance> {
    this.describeInstanceAt.push(this.clock.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Answers take a while, as they do when the ApiCaller is retrying a throttled call.
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 100));
      const failure = this.instanceFailures.shift();
      if (failure !== undefined) throw failure();
      if (this.clock.now() < this.throttledUntil) throw THROTTLED();
      return {
        instanceId,
        instanceType: 'ecs.g7.xlarge',
        zoneId: 'z',
        vpcId: 'vpc-1',
        vswitchId: 'vsw-1',
        securityGroupIds: [...this.instanceGroups],
      };
    } finally {
      this.inFlight--;
    }
  }

  nic(mac: string): NicMetadata | undefined {
    const eni = [...this.enis.values()].find(
      (entry) => entry.mac === mac && entry.status === 'InUse',
    );
    if (eni === undefined) return undefined;
    return {
      eniId: eni.id,
      primaryIp: eni.primaryIp,
      privateIps: [...eni.privateIps],
      gateway: '10.0.0.1',
      vswitchCidr: '10.0.0.0/24',
    };
  }

  private eni(
    id: string,
    status: string,
    tags: Record<string, string>,
    instanceId: string | undefined,
  ): CloudEni {
    const n = this.enis.size + 10;
    return {
      id,
      status,
      type: 'Secondary',
      instanceId,
      mac: `00:16:3e:00:00:${n.toString(16).padStart(2, '0')}`,
      primaryIp: `10.0.0.${n}`,
      privateIps: [`10.0.0.${n}`],
      vswitchId: 'vsw-1',
      vpcId: 'vpc-1',
      zoneId: 'z',
      securityGroupIds: [],
      tags,
      creationTime: undefined,
    };
  }
}

interface Setup {
  eniTags?: Record<string, string>;
  eniTagFilter?: Record<string, string>;
  securityGroupIds?: string[];
}

function provider(clock: FakeClock, ecs: FakeEcs, setup: Setup = {}): AliyunCloud {
  const metadata: NodeMetadata = {
    instanceId: async () => INSTANCE,
    zoneId: async () => 'z',
    instanceType: async () => 'ecs.g7.xlarge',
    vswitchId: async () => 'vsw-1',
    primaryMac: async () => PRIMARY_MAC,
    nicIfPresent: async (mac) => ecs.nic(mac),
  };
  const vswitches = {
    pick: async () => ({ vswitchId: 'vsw-1', zoneId: 'z', availableIpCount: 100 }),
    markExhausted: () => undefined,
    inhibitedReason: () => undefined,
    status: () => [],
  } as unknown as VSwitchSelector;
  return new AliyunCloud({
    api: ecs as unknown as EcsApi,
    metadata,
    identity: {
      instanceId: INSTANCE,
      zoneId: 'z',
      instanceType: 'ecs.g7.xlarge',
      vswitchId: 'vsw-1',
      primaryMac: PRIMARY_MAC,
    },
    vswitches,
    securityGroupIds: setup.securityGroupIds ?? [],
    eniTags: setup.eniTags ?? {},
    eniTagFilter: setup.eniTagFilter ?? {},
    clock,
    log: SILENT_LOG,
    random: () => 0,
  });
}

/** Runs `promise` to completion while moving the fake clock along. */
async function settle<T>(clock: FakeClock, promise: Promise<T>, ms = 60_000): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => (done = true));
  for (let waited = 0; !done && waited < ms; waited += 50) await clock.advance(50);
  return tracked;
}

describe('ENI ownership tags', () => {
  test('new ENIs carry eni_tags, every eni_tag_filter tag and ours', () => {
    expect(
      ownedEniTags({ team: 'net', extra: 'x' }, { cluster: 'c1', team: 'net' }, 'i-1'),
    ).toEqual({
      team: 'net',
      extra: 'x',
      cluster: 'c1',
      [CREATOR_TAG_KEY]: CREATOR_TAG_VALUE,
      [INSTANCE_TAG_KEY]: 'i-1',
    });
  });

  test('with a filter its eni_tags do not satisfy, a restarted provider still lists its ENIs', async () => {
    const clock = new FakeClock();
    const ecs = new FakeEcs(clock);
    const setup = { eniTags: { team: 'net' }, eniTagFilter: { cluster: 'c1' } };
    ecs.addForeign('eni-by-hand', { owner: 'operator' });
    ecs.addForeign('eni-half-match', { team: 'net', [CREATOR_TAG_KEY]: CREATOR_TAG_VALUE });

    const first = provider(clock, ecs, setup);
    const created = await settle(clock, first.createEni(2));
    expect(ecs.creates[0]?.tags).toEqual({
      team: 'net',
      cluster: 'c1',
      [CREATOR_TAG_KEY]: CREATOR_TAG_VALUE,
      [INSTANCE_TAG_KEY]: INSTANCE,
    });
    first.close();

    // The daemon restarts: only its own ENI comes back, the others are not its to manage.
    const restarted = provider(clock, ecs, setup);
    expect((await restarted.listEnis()).map((eni) => eni.id)).toEqual([created.id]);
    restarted.close();
  });

  test('without a filter only ENIs with our creator tag are listed', async () => {
    const clock = new FakeClock();
    const ecs = new FakeEcs(clock);
    ecs.addForeign('eni-by-hand', { owner: 'operator' });
    const cloud = provider(clock, ecs);
    const created = await settle(clock, cloud.createEni(1));
    expect((await cloud.listEnis()).map((eni) => eni.id)).toEqual([created.id]);
    cloud.close();
  });
});

describe('security groups', () => {
  test('client, config and emulator agree on 5 per ENI', () => {
    expect(MAX_SECURITY_GROUPS).toBe(5);
    expect(EMULATOR_MAX_SECURITY_GROUPS).toBe(MAX_SECURITY_GROUPS);
  });

  test('an instance in more groups than an ENI may join: new ENIs join the first 5', async () => {
    const clock = new FakeClock();
    const ecs = new FakeEcs(clock);
    ecs.instanceGroups = ['sg-1', 'sg-2', 'sg-3', 'sg-4', 'sg-5', 'sg-6', 'sg-7'];
    const cloud = provider(clock, ecs);
    await settle(clock, cloud.createEni(1));
    expect(ecs.creates[0]?.securityGroupIds).toEqual(['sg-1', 'sg-2', 'sg-3', 'sg-4', 'sg-5']);
    cloud.close();
  });

  test('configured groups are used as they are, with no lookup', async () => {
    const clock = new FakeClock();
    const ecs = new FakeEcs(clock);
    const cloud = provider(clock, ecs, { securityGroupIds: ['sg-conf'] });
    await cloud.prepare();
    await settle(clock, cloud.createEni(1));
    expect(ecs.creates[0]?.securityGroupIds).toEqual(['sg-conf']);
    expect(ecs.describeInstanceAt).toEqual([]);
    cloud.close();
  });
});

describe('security-group lookup after a failed start-up lookup', () => {
  test('N concurrent creates cause at most one DescribeInstances at a time, spaced by backoff', async () => {
    const clock = new FakeClock(0);
    const ecs = new FakeEcs(clock);
    const cloud = provider(clock, ecs);
    // The account is throttled for the first 10 s, start-up lookup included.
    ecs.throttledUntil = 10_000;
    await settle(clock, cloud.prepare());
    expect(ecs.describeInstanceAt).toHaveLength(1);

    // Fifty creates, each retried 50 ms after a failure (faster than the pool ever retries).
    let failed = 0;
    const creates = Array.from({ length: 50 }, async () => {
      for (;;) {
        try {
          return await cloud.createEni(1);
        } catch (error) {
          expect((error as CloudError).cloudCode).toBe('Throttling');
          failed++;
          await new Promise<void>((resolve) => clock.setTimeout(resolve, 50));
        }
      }
    });
    const enis = await settle(clock, Promise.all(creates), 120_000);

    expect(enis).toHaveLength(50);
    // The creates did see the throttling (the pool reports it), but never caused a lookup.
    expect(failed).toBeGreaterThan(50);
    expect(ecs.maxInFlight).toBe(1);
    // Each retry waited its own backoff after the previous answer (100 ms later): 500 ms,
    // doubling; the sixth lookup is the first after the throttling ended. Fifty creates retried
    // every 50 ms would have fired some 200 lookups had each create looked up on its own.
    const gaps = ecs.describeInstanceAt.slice(1).map((at, i) => at - ecs.describeInstanceAt[i]!);
    expect(gaps).toEqual([600, 1_100, 2_100, 4_100, 8_100]);
    expect(new Set(ecs.creates.map((create) => create.securityGroupIds.join()))).toEqual(
      new Set(['sg-a,sg-b']),
    );
    cloud.close();
  });

  test('the lookup retries on its own, with nobody waiting, and stops once it has the groups', async () => {
    const clock = new FakeClock(0);
    const ecs = new FakeEcs(clock);
    const cloud = provider(clock, ecs);
    ecs.instanceFailures = [THROTTLED, THROTTLED];
    await settle(clock, cloud.prepare());
    await clock.advance(10_000);
    expect(ecs.describeInstanceAt).toHaveLength(3);
    await settle(clock, cloud.createEni(1));
    await clock.advance(SECURITY_GROUP_RETRY_MAX_MS * 2);
    expect(ecs.describeInstanceAt).toHaveLength(3);
    cloud.close();
  });

  test('a refusal retrying cannot fix waits the longest backoff', async () => {
    const clock = new FakeClock(0);
    const ecs = new FakeEcs(clock);
    const cloud = provider(clock, ecs);
    ecs.instanceFailures = [() => new CloudError('Forbidden.RAM', 'no permission')];
    await settle(clock, cloud.prepare());
    await clock.advance(SECURITY_GROUP_RETRY_MAX_MS - 1_000);
    expect(ecs.describeInstanceAt).toHaveLength(1);
    await clock.advance(2_000);
    expect(ecs.describeInstanceAt).toHaveLength(2);
    expect(SECURITY_GROUP_RETRY_MS).toBeLessThan(SECURITY_GROUP_RETRY_MAX_MS);
    cloud.close();
  });

  test('close stops the retries and fails the creates that wait with NOT_READY', async () => {
    const clock = new FakeClock(0);
    const ecs = new FakeEcs(clock);
    const cloud = provider(clock, ecs);
    ecs.instanceFailures = [THROTTLED];
    await settle(clock, cloud.prepare());
    const waiting = cloud.createEni(1);
    const outcome = waiting.then(
      () => undefined,
      (error: unknown) => error,
    );
    await flushMicrotasks();
    cloud.close();
    const error = await outcome;
    expect(error).toBeInstanceOf(TerwayError);
    expect((error as TerwayError).code).toBe('NOT_READY');
    await clock.advance(SECURITY_GROUP_RETRY_MAX_MS * 2);
    expect(ecs.describeInstanceAt).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});
