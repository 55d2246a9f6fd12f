/**
 * PodNetwork: IPAM and the datapath as one unit per pod, on the in-memory cloud and kernel,
 * with the ENI link gate in between as terwayd wires it.
 */
import { describe, expect, test } from '@jest/globals';

import type { MemoryCloud } from '../../src/cloud/memory/memory-cloud.js';
import type { CloudProvider, EniInfo } from '../../src/cloud/provider.js';
import { Ipam } from '../../src/daemon/ipam.js';
import { PodNetwork } from '../../src/daemon/pod-network.js';
import { EniLinkGate } from '../../src/dataplane/eni-link-gate.js';
import { EniLinks } from '../../src/dataplane/eni-links.js';
import { MemoryKernel } from '../../src/dataplane/kernel/memory-kernel.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import { hostVethName } from '../../src/dataplane/pod-attachment.js';
import { PodDatapath } from '../../src/dataplane/pod-datapath.js';
import { MemoryLbAttacher } from '../../src/dataplane/bpf/lb-attacher.js';
import { IpPool } from '../../src/pool/ip-pool.js';
import { computePoolLimits } from '../../src/pool/pool-limits.js';
import { MemoryPodStore } from '../../src/store/memory-pod-store.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { memoryCloud, SILENT_LOG, TEST_POOL_OPTIONS } from '../support/pool-fixture.js';

const NODE = netnsAt('/var/run/netns/node');
const NODE_IP = '10.20.0.2';

/** The cloud as seen on a node: each ENI it attaches shows up as a link, as ECS makes it. */
function linkingCloud(inner: MemoryCloud, kernel: MemoryKernel): CloudProvider {
  let next = 1;
  return Object.assign(Object.create(inner) as CloudProvider, {
    createEni: async (count: number): Promise<EniInfo> => {
      const eni = await inner.createEni(count);
      kernel.addDevice(NODE, `eth${next++}`, eni.mac);
      return eni;
    },
  });
}

async function fixture(lbAttacher?: MemoryLbAttacher) {
  const clock = new FakeClock();
  const kernel = new MemoryKernel();
  kernel.addNetns(NODE);
  const inner = memoryCloud(clock);
  const enis = new EniLinks({ kernel, hostNetns: NODE, mtu: 1500, clock, log: SILENT_LOG });
  const cloud = new EniLinkGate(linkingCloud(inner, kernel), enis, SILENT_LOG);
  const options = { ...TEST_POOL_OPTIONS, maxPoolSize: 10 };
  const limitsCall = cloud.describeInstanceLimits();
  await clock.advance(100);
  const pool = new IpPool({
    cloud,
    clock,
    log: SILENT_LOG,
    options,
    limits: computePoolLimits(await limitsCall, options),
  });
  pool.restore([], []);
  const store = new MemoryPodStore();
  const ipam = new Ipam(pool, store, clock, SILENT_LOG);
  const datapath = new PodDatapath({
    kernel,
    hostNetns: NODE,
    preferred: 'veth',
    log: SILENT_LOG,
    lbAttacher,
  });
  const pods = new PodNetwork(ipam, { datapath, enis, nodeIp: NODE_IP }, SILENT_LOG, pool);
  /** Runs `work` while fake time moves, as the pool's waits need it to. */
  const settle = async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const tracked = work.finally(() => (done = true));
    // Observed below once time has moved; until then a rejection must not count as unhandled.
    tracked.catch(() => undefined);
    for (let i = 0; i < 200 && !done; i++) await clock.advance(50);
    return tracked;
  };
  const addPod = async (name: string, containerId = `${name}-sandbox`) => {
    const netns = `/var/run/netns/${containerId}`;
    kernel.addNetns(netnsAt(netns));
    return settle(
      pods.add(
        { namespace: 'default', name, containerId, netns, ifname: 'eth0' },
        clock.now() + 30_000,
      ),
    );
  };
  return { clock, kernel, pool, store, pods, settle, addPod };
}

const linkNames = async (kernel: MemoryKernel, netns: string) =>
  (await kernel.read(netnsAt(netns))).links.map((link) => link.name);

describe('PodNetwork', () => {
  test('ADD records the IP and wires the pod; DEL unwires and releases, twice without error', async () => {
    const { kernel, pool, store, pods, addPod } = await fixture();
    const added = await addPod('web');
    expect(added.interfaces?.driver).toBe('veth');
    expect(store.get('default/web')?.driver).toBe('veth');
    expect(await linkNames(kernel, '/var/run/netns/web-sandbox')).toContain('eth0');
    expect(await pods.check({ namespace: 'default', name: 'web' })).toMatchObject({ drift: [] });

    const identity = { namespace: 'default', name: 'web', containerId: 'web-sandbox' };
    expect((await pods.del(identity))?.ip).toBe(added.record.ip);
    expect(await pods.del(identity)).toBeUndefined();
    expect(pool.stateOf(added.record.ip)).toBe('idle');
    expect(await linkNames(kernel, '/var/run/netns/node')).not.toContain(
      hostVethName('default/web'),
    );
  });

  test('a new sandbox of the pod takes the IP over and the old sandbox is unwired', async () => {
    const { kernel, addPod } = await fixture();
    const first = await addPod('db', 'sandbox-1');
    const second = await addPod('db', 'sandbox-2');
    expect(second.record.ip).toBe(first.record.ip);
    expect(await linkNames(kernel, '/var/run/netns/sandbox-1')).toEqual(['lo']);
    expect(await linkNames(kernel, '/var/run/netns/sandbox-2')).toContain('eth0');
  });

  test('a wiring failure gives the IP back and leaves nothing on the node', async () => {
    const { kernel, pool, store, addPod } = await fixture();
    kernel.failNext = 'rule add priority 2048';
    await expect(addPod('broken')).rejects.toMatchObject({ code: 'KERNEL_ERROR' });
    expect(store.list()).toEqual([]);
    expect(pool.snapshot().pool.inUse).toBe(0);
    expect(await linkNames(kernel, '/var/run/netns/node')).not.toContain(
      hostVethName('default/broken'),
    );
  });

  test('a path that is not a namespace is refused before an IP is taken', async () => {
    const { clock, pool, pods } = await fixture();
    const request = {
      namespace: 'default',
      name: 'x',
      containerId: 'c',
      netns: '/etc/hostname',
      ifname: 'eth0',
    };
    await expect(pods.add(request, clock.now() + 1_000)).rejects.toMatchObject({
      code: 'NETNS_NOT_FOUND',
    });
    expect(pool.snapshot().pool.inUse).toBe(0);
  });

  test('an ENI whose link vanished is held back: the ADD moves to another ENI, no IP leaks', async () => {
    const { kernel, pool, addPod } = await fixture();
    const first = await addPod('first');
    kernel.removeDevice(NODE, 'eth1');
    const second = await addPod('second');
    expect(second.record.eniId).not.toBe(first.record.eniId);
    expect(pool.snapshot().pool.inUse).toBe(2);
    // Still held while its link is missing: the next pod goes elsewhere at once.
    const third = await addPod('third');
    expect(third.record.eniId).toBe(second.record.eniId);
  });

  test('every pod-side batch started early is applied or let go, whatever the ADD met', async () => {
    const { kernel, pods, clock, addPod } = await fixture();
    await addPod('ok');
    expect(kernel.openedBatches).toBe(1);
    kernel.failNext = 'rule add priority 2048';
    await expect(addPod('broken')).rejects.toMatchObject({ code: 'KERNEL_ERROR' });
    kernel.removeDevice(NODE, 'eth1');
    await addPod('moved'); // ENI_LINK_MISSING, then a retry with a batch of its own
    await expect(
      pods.add(
        {
          namespace: 'default',
          name: 'x',
          containerId: 'c',
          netns: '/etc/hostname',
          ifname: 'eth0',
        },
        clock.now() + 1_000,
      ),
    ).rejects.toMatchObject({ code: 'NETNS_NOT_FOUND' });
    expect(kernel.openedBatches).toBe(4);
    expect(kernel.settledBatches).toBe(kernel.openedBatches);
  });

  test('a DEL whose unwiring fails keeps the record, so the runtime retries it', async () => {
    const { kernel, store, pods, addPod } = await fixture();
    await addPod('sticky');
    kernel.failNext = `link del dev ${hostVethName('default/sticky')}`;
    await expect(
      pods.del({ namespace: 'default', name: 'sticky', containerId: 'sticky-sandbox' }),
    ).rejects.toMatchObject({
      code: 'KERNEL_ERROR',
    });
    expect(store.get('default/sticky')).toBeDefined();
    expect(
      (await pods.del({ namespace: 'default', name: 'sticky', containerId: 'sticky-sandbox' }))
        ?.name,
    ).toBe('sticky');
  });

  test('after a restart the node side comes back without touching the pod', async () => {
    const { kernel, pods, addPod } = await fixture();
    const added = await addPod('api');
    await kernel.apply(NODE, [{ op: 'route-del', dst: `${added.record.ip}/32` }]);
    const drift = await pods.check({ namespace: 'default', name: 'api' });
    expect(drift?.drift).toEqual([
      `route ${added.record.ip}/32 dev ${hostVethName('default/api')} is missing in the node`,
    ]);
    const before = kernel.applied.filter(
      (entry) => entry.netns === '/var/run/netns/api-sandbox',
    ).length;
    await pods.resync();
    expect((await pods.check({ namespace: 'default', name: 'api' }))?.drift).toEqual([]);
    expect(
      kernel.applied.filter((entry) => entry.netns === '/var/run/netns/api-sandbox'),
    ).toHaveLength(before);
  });

  test("after a restart a pod's Service LB program from an older daemon is replaced", async () => {
    const attacher = new MemoryLbAttacher();
    const { pods, addPod } = await fixture(attacher);
    await addPod('old');
    await addPod('new');
    const netns = netnsAt('/var/run/netns/old-sandbox');
    attacher.markOutdated(netns, 'eth0');
    expect((await pods.check({ namespace: 'default', name: 'old' }))?.drift).toEqual([
      "the pod's eth0 runs another Service LB program",
    ]);
    await pods.resync();
    expect((await pods.check({ namespace: 'default', name: 'old' }))?.drift).toEqual([]);
    expect((await pods.check({ namespace: 'default', name: 'new' }))?.drift).toEqual([]);
  });
});
