import { describe, expect, test } from '@jest/globals';

import { CloudError } from '../../src/cloud/cloud-error.js';
import type { CloudEni, EcsApi, EniFilter } from '../../src/cloud/aliyun/ecs-api.js';
import { JANITOR_RETRY_MS, LeakedEniJanitor } from '../../src/cloud/aliyun/leaked-eni-janitor.js';
import {
  CREATOR_TAG_KEY,
  CREATOR_TAG_VALUE,
  INSTANCE_TAG_KEY,
} from '../../src/cloud/aliyun/node-identity.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { SILENT_LOG } from '../support/pool-fixture.js';

const INSTANCE = 'i-node1';
const OURS = { [CREATOR_TAG_KEY]: CREATOR_TAG_VALUE, [INSTANCE_TAG_KEY]: INSTANCE };

/**
 * Just enough of ECS for the janitor: ENIs with a status, transitions that finish after a set
 * time on the fake clock, and calls that can be made to fail.
 */
class FakeEcs implements Partial<EcsApi> {
  readonly enis = new Map<string, CloudEni>();
  readonly calls: string[] = [];
  failDeletes = 0;

  constructor(private readonly clock: FakeClock) {}

  add(id: string, status: string, tags: Record<string, string> = OURS): void {
    this.enis.set(id, {
      id,
      status,
      type: 'Secondary',
      instanceId: status === 'Available' ? undefined : INSTANCE,
      mac: '00:16:3e:00:00:01',
      primaryIp: '10.0.0.2',
      privateIps: ['10.0.0.2'],
      vswitchId: 'vsw-1',
      vpcId: 'vpc-1',
      zoneId: 'z',
      securityGroupIds: [],
      tags,
      creationTime: undefined,
    });
  }

  /** The ENI becomes `status` after `ms`, as an async ECS transition would. */
  later(id: string, status: string, ms: number): void {
    this.clock.setTimeout(() => {
      const eni = this.enis.get(id);
      if (eni !== undefined) eni.status = status;
    }, ms);
  }

  async describeNetworkInterfaces(filter: EniFilter): Promise<CloudEni[]> {
    this.calls.push('Describe');
    return [...this.enis.values()]
      .filter((eni) => filter.eniIds === undefined || filter.eniIds.includes(eni.id))
      .filter((eni) =>
        Object.entries(filter.tags ?? {}).every(([key, value]) => eni.tags[key] === value),
      )
      .map((eni) => ({ ...eni }));
  }

  async detachNetworkInterface(eniId: string): Promise<void> {
    this.calls.push(`Detach ${eniId}`);
    const eni = this.enis.get(eniId);
    if (eni?.status !== 'InUse') {
      throw new CloudError('InvalidOperation.InvalidEniState', `${eniId} is ${eni?.status}`);
    }
    eni.status = 'Detaching';
    this.later(eniId, 'Available', 1_000);
  }

  async deleteNetworkInterface(eniId: string): Promise<void> {
    this.calls.push(`Delete ${eniId}`);
    if (this.failDeletes > 0) {
      this.failDeletes--;
      throw new CloudError('Throttling', 'Request was denied due to request throttling.');
    }
    this.enis.delete(eniId);
  }
}

function setup(eniTagFilter?: Record<string, string>) {
  const clock = new FakeClock();
  const ecs = new FakeEcs(clock);
  const janitor = new LeakedEniJanitor({
    api: ecs as unknown as EcsApi,
    identity: {
      instanceId: INSTANCE,
      zoneId: 'z',
      instanceType: 'ecs.g7.xlarge',
      vswitchId: 'vsw-1',
      primaryMac: '00:16:3e:ff:ff:ff',
    },
    clock,
    log: SILENT_LOG,
    detachTimeoutMs: 10_000,
    ...(eniTagFilter === undefined ? {} : { eniTagFilter }),
  });
  return { clock, ecs, janitor };
}

describe('LeakedEniJanitor', () => {
  test('an attached ENI is detached, waited for, then deleted', async () => {
    const { clock, ecs, janitor } = setup();
    ecs.add('eni-a', 'InUse');
    const done = janitor.detachAndDelete('eni-a');
    await clock.advance(5_000);
    await done;
    expect(ecs.enis.has('eni-a')).toBe(false);
    expect(ecs.calls.filter((call) => !call.startsWith('Describe'))).toEqual([
      'Detach eni-a',
      'Delete eni-a',
    ]);
  });

  test('an ENI stuck mid-attach is not detached (ECS refuses); it is deleted once it fails back', async () => {
    const { clock, ecs, janitor } = setup();
    ecs.add('eni-stuck', 'Attaching');
    ecs.later('eni-stuck', 'Available', 3_000);
    const done = janitor.dispose('eni-stuck');
    await clock.advance(5_000);
    await done;
    expect(ecs.enis.has('eni-stuck')).toBe(false);
    expect(ecs.calls).not.toContain('Detach eni-stuck');
    expect(janitor.pending()).toEqual([]);
  });

  test('a clean-up that fails stays pending and is retried until the ENI is gone', async () => {
    const { clock, ecs, janitor } = setup();
    ecs.add('eni-b', 'Available');
    ecs.failDeletes = 2;
    await janitor.dispose('eni-b');
    expect(janitor.pending()).toEqual(['eni-b']);
    await clock.advance(JANITOR_RETRY_MS);
    expect(janitor.pending()).toEqual(['eni-b']);
    // The retry interval doubles after each failed round.
    await clock.advance(JANITOR_RETRY_MS * 2);
    expect(janitor.pending()).toEqual([]);
    expect(ecs.enis.has('eni-b')).toBe(false);
    expect(ecs.calls.filter((call) => call === 'Delete eni-b')).toHaveLength(3);
  });

  test('the start-up sweep deletes our unattached ENIs and leaves the rest alone', async () => {
    const { clock, ecs, janitor } = setup();
    ecs.add('eni-leaked', 'Available');
    ecs.add('eni-in-use', 'InUse');
    ecs.add('eni-other-node', 'Available', { ...OURS, [INSTANCE_TAG_KEY]: 'i-node2' });
    ecs.add('eni-by-hand', 'Available', { owner: 'operator' });
    const done = janitor.sweepTagged();
    await clock.advance(1_000);
    await done;
    expect([...ecs.enis.keys()].sort()).toEqual(['eni-by-hand', 'eni-in-use', 'eni-other-node']);
  });

  test('with eni_tag_filter, the sweep deletes only unattached ENIs carrying its tags and ours', async () => {
    const { clock, ecs, janitor } = setup({ cluster: 'c1' });
    ecs.add('eni-leaked', 'Available', { ...OURS, cluster: 'c1', team: 'net' });
    ecs.add('eni-other-cluster', 'Available', { ...OURS, cluster: 'c2' });
    ecs.add('eni-unfiltered', 'Available', OURS);
    ecs.add('eni-foreign', 'Available', { cluster: 'c1' });
    const done = janitor.sweepTagged();
    await clock.advance(1_000);
    await done;
    expect([...ecs.enis.keys()].sort()).toEqual([
      'eni-foreign',
      'eni-other-cluster',
      'eni-unfiltered',
    ]);
  });

  test('the sweep checks the tags itself: an ECS that ignored the tag filter deletes nothing foreign', async () => {
    const { clock, ecs, janitor } = setup({ cluster: 'c1' });
    const describe = ecs.describeNetworkInterfaces.bind(ecs);
    ecs.describeNetworkInterfaces = async (filter) => describe({ ...filter, tags: {} });
    ecs.add('eni-leaked', 'Available', { ...OURS, cluster: 'c1' });
    ecs.add('eni-by-hand', 'Available', { owner: 'operator' });
    ecs.add('eni-other-node', 'Available', { ...OURS, cluster: 'c1', [INSTANCE_TAG_KEY]: 'i-2' });
    ecs.add('eni-unfiltered', 'Available', OURS);
    const done = janitor.sweepTagged();
    await clock.advance(1_000);
    await done;
    expect([...ecs.enis.keys()].sort()).toEqual([
      'eni-by-hand',
      'eni-other-node',
      'eni-unfiltered',
    ]);
    expect(ecs.calls.filter((call) => call.startsWith('Delete'))).toEqual(['Delete eni-leaked']);
  });

  test('a sweep that cannot list ENIs yet is retried, not fatal', async () => {
    const { clock, ecs, janitor } = setup();
    ecs.add('eni-leaked', 'Available');
    const describe = ecs.describeNetworkInterfaces.bind(ecs);
    let failures = 1;
    ecs.describeNetworkInterfaces = async (filter) => {
      if (failures-- > 0) throw new CloudError('ServiceUnavailable', 'try later');
      return describe(filter);
    };
    await janitor.sweepTagged();
    expect(ecs.enis.has('eni-leaked')).toBe(true);
    await clock.advance(JANITOR_RETRY_MS);
    expect(ecs.enis.has('eni-leaked')).toBe(false);
    janitor.close();
  });

  test('a retried sweep never runs while a create is in flight (its ENI is not a leak)', async () => {
    const { clock, ecs, janitor } = setup();
    const describe = ecs.describeNetworkInterfaces.bind(ecs);
    let failures = 1;
    ecs.describeNetworkInterfaces = async (filter) => {
      if (failures-- > 0) throw new CloudError('ServiceUnavailable', 'try later');
      return describe(filter);
    };
    await janitor.sweepTagged();
    // A create starts: its ENI exists, Available, tagged for this node, not attached yet.
    const release = await janitor.holdSweeps();
    ecs.add('eni-being-attached', 'Available');
    await clock.advance(JANITOR_RETRY_MS);
    expect(ecs.enis.has('eni-being-attached')).toBe(true);
    // Attached by the time the create is done; a later sweep leaves it alone.
    ecs.enis.get('eni-being-attached')!.status = 'InUse';
    release();
    await clock.advance(JANITOR_RETRY_MS * 2);
    expect(ecs.enis.has('eni-being-attached')).toBe(true);
    // The sweep did run once the create was done (the first, failed listing is not counted).
    expect(ecs.calls.filter((call) => call === 'Describe')).toHaveLength(1);
    janitor.close();
  });
});
