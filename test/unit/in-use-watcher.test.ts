import { describe, expect, test } from '@jest/globals';

import { CloudError } from '../../src/cloud/cloud-error.js';
import type { CloudEni, EcsApi, EniFilter } from '../../src/cloud/aliyun/ecs-api.js';
import { DENSE_POLL_MS } from '../../src/cloud/aliyun/attach-latency.js';
import { ATTACH_FAILED, InUseWatcher } from '../../src/cloud/aliyun/in-use-watcher.js';
import { FakeClock } from '../../src/util/fake-clock.js';

function eni(id: string, status: string): CloudEni {
  return {
    id,
    status,
    type: 'Secondary',
    instanceId: 'i-1',
    mac: '00:16:3e:00:00:01',
    primaryIp: '10.0.0.2',
    privateIps: ['10.0.0.2'],
    vswitchId: 'vsw-1',
    vpcId: 'vpc-1',
    zoneId: 'z',
    securityGroupIds: [],
    tags: {},
    creationTime: undefined,
  };
}

/** ENIs that turn InUse at a set time on the fake clock; every Describe is recorded. */
function fakeEcs(clock: FakeClock, inUseAt: Record<string, number>) {
  const describes: string[][] = [];
  let failNext: unknown;
  const api = {
    describeNetworkInterfaces: async (filter: EniFilter) => {
      describes.push([...(filter.eniIds ?? [])]);
      if (failNext !== undefined) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      return (filter.eniIds ?? []).map((id) =>
        eni(id, clock.now() >= (inUseAt[id] ?? Infinity) ? 'InUse' : 'Attaching'),
      );
    },
  } as unknown as EcsApi;
  return { api, describes, fail: (error: unknown) => (failNext = error) };
}

describe('InUseWatcher', () => {
  test('ten ENIs attaching together are watched with one Describe per poll', async () => {
    const clock = new FakeClock(0);
    const ids = Array.from({ length: 10 }, (_, i) => `eni-${i}`);
    const ecs = fakeEcs(clock, Object.fromEntries(ids.map((id) => [id, 2_000])));
    const watcher = new InUseWatcher(ecs.api, clock);
    const done = Promise.all(ids.map((id) => watcher.waitInUse(id, 60_000)));
    await clock.advance(5_000);
    const enis = await done;
    expect(enis.map((e) => e.status)).toEqual(ids.map(() => 'InUse'));
    expect(ecs.describes.every((call) => call.length === 10)).toBe(true);
    // Polls at 200, 500, 950, 1625, 2637 ms: five Describes instead of fifty.
    expect(ecs.describes).toHaveLength(5);
  });

  /** ENIs attached at `attachedAt`, each InUse `attachMs` later; when each was seen, and the reads. */
  async function replay(attachedAt: number[], attachMs: number) {
    const clock = new FakeClock(0);
    const ids = attachedAt.map((_, i) => `eni-${i}`);
    const inUseAt = Object.fromEntries(ids.map((id, i) => [id, attachedAt[i]! + attachMs]));
    const ecs = fakeEcs(clock, inUseAt);
    const watcher = new InUseWatcher(ecs.api, clock);
    const seenAt: Record<string, number> = {};
    const waits: Promise<unknown>[] = [];
    for (let i = 0; i < ids.length; i++) {
      await clock.advance(attachedAt[i]! - clock.now());
      const id = ids[i]!;
      waits.push(watcher.waitInUse(id, 60_000).then(() => (seenAt[id] = clock.now())));
    }
    await clock.advance(10_000);
    await Promise.all(waits);
    expect(clock.pendingTimers()).toBe(0);
    const lags = ids.map((id) => seenAt[id]! - inUseAt[id]!);
    return { lags, reads: ecs.describes.length, firstSeen: Math.min(...Object.values(seenAt)) };
  }

  test('a burst: once the first ENIs go InUse, the later ones are read within a read of it', async () => {
    // As in bench/burst: four ENIs attached together, then one every 120 ms as the account's
    // throttle lets their creates through; each goes InUse 2 s after its attach.
    const attachedAt = [0, 0, 0, 0, 150, 270, 390, 510, 630, 750];
    const { lags, reads, firstSeen } = await replay(attachedAt, 2_000);
    // Until one has been seen InUse, only the growing interval finds them: the first four go
    // InUse at 2,000 ms and are read at 2,375 (a read for a later ENI).
    expect(firstSeen).toBe(2_375);
    expect(lags.slice(0, 4)).toEqual([375, 375, 375, 375]);
    // Every ENI that goes InUse after that is read within one dense interval of it. Without the
    // learned window, the last four were read 637 to 997 ms late (8 reads in all).
    const later = attachedAt.map((at, i) => i).filter((i) => attachedAt[i]! + 2_000 >= firstSeen);
    expect(later).toEqual([6, 7, 8, 9]);
    for (const i of later) expect(lags[i]).toBeLessThanOrEqual(DENSE_POLL_MS);
    // Three reads more than the growing interval alone takes (8), for a burst of ten ENIs.
    expect(reads).toBe(11);
  });

  test('two ENIs far apart on a fast attach: no read more than the growing interval takes', async () => {
    // As in bench/cluster-scale: attach 500 ms, a node's second ENI attached seconds after its
    // first (the account throttles). The growing interval reads each at 200 and 500 ms.
    const { lags, reads } = await replay([0, 5_000], 500);
    expect(lags).toEqual([0, 0]);
    expect(reads).toBe(4);
  });

  test('a throttled poll is "not yet"; a hard error fails the waits; a stuck one times out', async () => {
    const clock = new FakeClock(0);
    const ecs = fakeEcs(clock, { 'eni-ok': 1_000 });
    const watcher = new InUseWatcher(ecs.api, clock);
    ecs.fail(new CloudError('Throttling', 'slow down'));
    const ok = watcher.waitInUse('eni-ok', 60_000);
    await clock.advance(3_000);
    await expect(ok).resolves.toMatchObject({ id: 'eni-ok', status: 'InUse' });

    const stuck = watcher.waitInUse('eni-stuck', 4_000);
    const settled = stuck.catch((error: unknown) => error);
    await clock.advance(10_000);
    expect(await settled).toMatchObject({ cloudCode: 'WaitTimeout' });

    const broken = watcher.waitInUse('eni-x', 60_000);
    const brokenSettled = broken.catch((error: unknown) => error);
    ecs.fail(new CloudError('InvalidParameter', 'bad id'));
    // Read in the middle of the window eni-ok taught (its last Attaching read and its InUse one).
    await clock.advance(2_000);
    expect(await brokenSettled).toMatchObject({ cloudCode: 'InvalidParameter' });
  });
});

/** ENIs whose status follows a script of [fromMs, status] steps on the fake clock. */
function scriptedEcs(clock: FakeClock, scripts: Record<string, [number, string][]>) {
  let describes = 0;
  const api = {
    describeNetworkInterfaces: async (filter: EniFilter) => {
      describes++;
      return (filter.eniIds ?? []).map((id) => {
        const steps = (scripts[id] ?? []).filter(([from]) => clock.now() >= from);
        return eni(id, steps.at(-1)?.[1] ?? 'Attaching');
      });
    },
  } as unknown as EcsApi;
  return { api, describes: () => describes };
}

describe('InUseWatcher: an attach that fails back to Available', () => {
  test('Attaching then Available ends the wait at the next poll with EniAttachFailed', async () => {
    const clock = new FakeClock(0);
    const ecs = scriptedEcs(clock, { 'eni-failed': [[1_000, 'Available']] });
    const watcher = new InUseWatcher(ecs.api, clock);
    let settledAt: number | undefined;
    const failed = watcher.waitInUse('eni-failed', 60_000).catch((error: unknown) => {
      settledAt = clock.now();
      return error;
    });
    await clock.advance(5_000);
    expect(await failed).toMatchObject({
      cloudCode: ATTACH_FAILED,
      retryable: false,
      operation: 'AttachNetworkInterface',
    });
    // Polls at 200, 500, 950 saw Attaching; the one at 1625 saw Available.
    expect(settledAt).toBe(1_625);
    expect(ecs.describes()).toBe(4);
    expect(clock.pendingTimers()).toBe(0);
  });

  test('one Available read before any Attaching is a lagging read; two in a row end the wait', async () => {
    const clock = new FakeClock(0);
    const ecs = scriptedEcs(clock, {
      // The first poll (200 ms) lags the attach; the ENI is Attaching by the second.
      'eni-lagging': [
        [0, 'Available'],
        [300, 'Attaching'],
        [1_000, 'InUse'],
      ],
      'eni-never': [[0, 'Available']],
    });
    const watcher = new InUseWatcher(ecs.api, clock);
    const lagging = watcher.waitInUse('eni-lagging', 60_000);
    const never = watcher.waitInUse('eni-never', 60_000).catch((error: unknown) => error);
    await clock.advance(2_000);
    await expect(lagging).resolves.toMatchObject({ status: 'InUse' });
    expect(await never).toMatchObject({ cloudCode: ATTACH_FAILED });
  });
});
