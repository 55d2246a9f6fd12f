import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CloudErrorCodes } from '../../src/cloud/provider.js';
import type { MemoryCloud } from '../../src/cloud/memory/memory-cloud.js';
import { Ipam } from '../../src/daemon/ipam.js';
import { restorePool } from '../../src/daemon/restore.js';
import type { IpPool } from '../../src/pool/ip-pool.js';
import type { PoolOptions } from '../../src/pool/ip-state.js';
import { MemoryPodStore } from '../../src/store/memory-pod-store.js';
import type { PodRecord } from '../../src/store/pod-record.js';
import { podKey } from '../../src/store/pod-record.js';
import type { PodStore } from '../../src/store/pod-store.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { memoryCloud, SILENT_LOG, TEST_POOL_OPTIONS } from '../support/pool-fixture.js';

const PODS = 10;
const ALLOCATE_TIMEOUT_MS = 5_000;

type Action =
  | { kind: 'allocate'; pod: number; container: number }
  | { kind: 'release'; pod: number; container: number }
  | { kind: 'advance'; ms: number }
  | {
      kind: 'fail';
      op: 'createEni' | 'assignPrivateIps' | 'unassignPrivateIps' | 'deleteEni' | 'listEnis';
      code: string;
    }
  | { kind: 'restart' };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('allocate' as const),
      pod: fc.nat(PODS - 1),
      container: fc.nat(2),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      pod: fc.nat(PODS - 1),
      container: fc.nat(2),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 3_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fail' as const),
      op: fc.constantFrom(
        'createEni',
        'assignPrivateIps',
        'unassignPrivateIps',
        'deleteEni',
        'listEnis',
      ),
      code: fc.constantFrom(
        CloudErrorCodes.Throttling,
        CloudErrorCodes.ServiceUnavailable,
        CloudErrorCodes.EniPerInstanceLimitExceeded,
        CloudErrorCodes.VSwitchIpNotEnough,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/**
 * The store as one daemon process sees it. After a kill, that process can write nothing more,
 * exactly as with kill -9; what it wrote before stays.
 */
class ProcessView implements PodStore {
  alive = true;
  constructor(private readonly disk: MemoryPodStore) {}
  get(key: string) {
    return this.disk.get(key);
  }
  list() {
    return this.disk.list();
  }
  put(record: PodRecord) {
    return this.alive ? this.disk.put(record) : Promise.reject(new Error('process killed'));
  }
  delete(key: string) {
    return this.alive ? this.disk.delete(key) : Promise.reject(new Error('process killed'));
  }
  async close() {}
}

interface Generation {
  view: ProcessView;
  pool: IpPool;
  ipam: Ipam;
}

async function boot(
  clock: FakeClock,
  cloud: MemoryCloud,
  disk: MemoryPodStore,
  options: PoolOptions,
): Promise<Generation> {
  const view = new ProcessView(disk);
  const restoring = restorePool({ cloud, store: view, options, clock, log: SILENT_LOG });
  let pool: IpPool | undefined;
  void restoring.then((p) => (pool = p));
  // Restore retries failed cloud calls with backoff; let fake time run until it is done.
  for (let i = 0; pool === undefined && i < 200; i++) await clock.advance(1_000);
  if (pool === undefined) throw new Error('restore never finished');
  pool.start();
  return { view, pool, ipam: new Ipam(pool, view, clock, SILENT_LOG) };
}

function expectNoSharedIp(disk: MemoryPodStore): void {
  const owners = new Map<string, string>();
  for (const record of disk.list()) {
    const key = podKey(record.namespace, record.name);
    const other = owners.get(record.ip);
    if (other !== undefined)
      throw new Error(`${record.ip} is recorded for both ${other} and ${key}`);
    owners.set(record.ip, key);
  }
}

async function runScenario(
  instanceType: string,
  options: PoolOptions,
  actions: Action[],
): Promise<void> {
  const clock = new FakeClock();
  const cloud = memoryCloud(clock, instanceType);
  const disk = new MemoryPodStore();
  let gen = await boot(clock, cloud, disk, options);
  /** What a shim was told and not yet told otherwise: pod key -> IP. */
  const acknowledged = new Map<string, string>();
  /**
   * The running process's releases in flight, by pod: at a kill, one whose delete was already
   * issued may have landed without its caller hearing back (kill -9 between the commit and the
   * reply). The shim retries the DEL, which finds nothing: that is a release, not a lost record.
   */
  const releasing = new Map<string, number>();

  for (const action of actions) {
    switch (action.kind) {
      case 'allocate': {
        const current = gen;
        const request = {
          namespace: 'ns',
          name: `p${action.pod}`,
          containerId: `c${action.pod}-${action.container}`,
          netns: `/var/run/netns/p${action.pod}`,
          ifname: 'eth0',
        };
        current.ipam.allocate(request, clock.now() + ALLOCATE_TIMEOUT_MS).then(
          (result) => {
            if (!current.view.alive) return;
            const key = podKey(request.namespace, request.name);
            const earlier = acknowledged.get(key);
            if (earlier !== undefined && earlier !== result.record.ip) {
              throw new Error(`${key} was told ${earlier} and then ${result.record.ip}`);
            }
            acknowledged.set(key, result.record.ip);
          },
          () => undefined,
        );
        break;
      }
      case 'release': {
        const current = gen;
        const identity = {
          namespace: 'ns',
          name: `p${action.pod}`,
          containerId: `c${action.pod}-${action.container}`,
        };
        const key = podKey(identity.namespace, identity.name);
        releasing.set(key, (releasing.get(key) ?? 0) + 1);
        // A killed process's answers reach nobody (its releases were settled at the restart).
        const answered = () => {
          if (!current.view.alive) return;
          const left = releasing.get(key)! - 1;
          if (left === 0) releasing.delete(key);
          else releasing.set(key, left);
        };
        current.ipam.release(identity).then((released) => {
          answered();
          if (current.view.alive && released !== undefined) acknowledged.delete(key);
        }, answered);
        break;
      }
      case 'advance':
        await clock.advance(action.ms);
        break;
      case 'fail':
        cloud.injectFailure(action.op, action.code, 1);
        break;
      case 'restart': {
        gen.view.alive = false;
        void gen.pool.stop();
        // Calls the dead process had sent still land in the cloud before the new one lists it.
        await clock.advance(5_000);
        gen = await boot(clock, cloud, disk, options);
        for (const key of releasing.keys())
          if (disk.get(key) === undefined) acknowledged.delete(key);
        releasing.clear();
        break;
      }
    }
    expectNoSharedIp(disk);
    for (const [key, ip] of acknowledged) {
      // A record, once acknowledged, is only removed by an acknowledged release (or one settled
      // at a restart, see `releasing`), and never changes its IP.
      const record = disk.get(key);
      if (record === undefined || record.ip !== ip)
        throw new Error(`lost the record ${key} -> ${ip}`);
    }
  }

  // Quiesce: no more failures; let every timer (refill, reclaim, periodic sync) run, and keep
  // fake time moving while cloud calls are in flight, since they sleep on that same clock.
  cloud.clearInjectedFailures();
  await clock.advance(options.ipPoolSyncPeriodMs * 5);
  for (let i = 0; i < 1_000 && gen.pool.busy(); i++) await clock.advance(100);
  await clock.advance(10_000);
  for (let i = 0; i < 1_000 && gen.pool.busy(); i++) await clock.advance(100);
  expect(gen.pool.busy()).toBe(false);

  expectNoSharedIp(disk);
  const snapshot = gen.pool.snapshot();
  const inUse = snapshot.enis.flatMap((e) => e.ips).filter((ip) => ip.state === 'in_use');
  const recorded = new Set(disk.list().map((r) => r.ip));
  // Nothing in use without a record, nothing recorded without being in use (or invalid).
  expect(new Set(inUse.map((ip) => ip.address))).toEqual(
    new Set([...recorded].filter((ip) => gen.pool.stateOf(ip) === 'in_use')),
  );
  for (const record of disk.list()) {
    expect(['in_use', 'invalid']).toContain(gen.pool.stateOf(record.ip));
    expect(gen.pool.ownerOf(record.ip)).toBe(podKey(record.namespace, record.name));
  }
  const { idle, limits } = snapshot.pool;
  // An ENI's own primary IP leaves only with the ENI, so an idle primary on an ENI that still
  // serves pods cannot be reclaimed; every other idle IP above max_pool_size must have gone.
  const strandedPrimaries = snapshot.enis.filter(
    (eni) =>
      eni.ips.some((ip) => ip.isEniPrimary && ip.state === 'idle') &&
      eni.ips.some((ip) => ip.state !== 'idle'),
  ).length;
  expect(idle - strandedPrimaries).toBeLessThanOrEqual(options.maxPoolSize);
  expect(idle).toBeGreaterThanOrEqual(
    Math.min(options.minPoolSize, limits.capacity - inUse.length),
  );
  // The cloud holds exactly the IPs the pool knows: nothing leaked on either side.
  const cloudListing = cloud.listEnis();
  await clock.advance(100);
  const cloudIps = (await cloudListing).flatMap((eni) => eni.privateIps).sort();
  const poolIps = snapshot.enis
    .filter((e) => e.state === 'in_use')
    .flatMap((e) => e.ips.map((ip) => ip.address))
    .sort();
  expect(poolIps).toEqual(cloudIps);
  // A periodic sync may be mid-call; it sleeps on the fake clock, so keep time moving.
  let stopped = false;
  const stopping = gen.pool.stop().then(() => (stopped = true));
  for (let i = 0; i < 1_000 && !stopped; i++) await clock.advance(100);
  await stopping;
}

describe('IPAM under random interleavings, restarts and cloud failures', () => {
  test('never gives one IP to two pods, never loses a record, ends within the pool bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('ecs.g6.large', 'ecs.g7.xlarge'),
        fc.record({ min: fc.nat(4), extra: fc.nat(6) }),
        fc.array(actionArb, { minLength: 5, maxLength: 60 }),
        async (instanceType, sizes, actions) => {
          const options = {
            ...TEST_POOL_OPTIONS,
            minPoolSize: sizes.min,
            maxPoolSize: sizes.min + sizes.extra,
          };
          await runScenario(instanceType, options, actions);
        },
      ),
      { numRuns: 500 },
    );
  }, 120_000);
});
