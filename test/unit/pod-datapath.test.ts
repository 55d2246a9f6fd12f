import { describe, expect, test } from '@jest/globals';
import { pino } from 'pino';

import { MemoryLbAttacher } from '../../src/dataplane/bpf/lb-attacher.js';
import { VETH_GATEWAY } from '../../src/dataplane/drivers/veth-driver.js';
import { MemoryKernel } from '../../src/dataplane/kernel/memory-kernel.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import type { DriverName, PodAttachment } from '../../src/dataplane/pod-attachment.js';
import {
  hostVethName,
  ipvlanHostLinkName,
  tempLinkName,
} from '../../src/dataplane/pod-attachment.js';
import { PodDatapath } from '../../src/dataplane/pod-datapath.js';

const NODE = netnsAt('/var/run/netns/node-1');
const POD_NETNS_PATH = '/var/run/netns/pod-a';
const POD_NETNS = netnsAt(POD_NETNS_PATH);
const ENI_MAC = '00:16:3e:00:00:01';

function fixture(preferred: DriverName = 'ipvlan') {
  const kernel = new MemoryKernel();
  kernel.addNetns(NODE);
  kernel.addNetns(POD_NETNS);
  const eni = kernel.addDevice(NODE, 'eth1', ENI_MAC);
  const datapath = new PodDatapath({
    kernel,
    hostNetns: NODE,
    preferred,
    log: pino({ level: 'silent' }),
  });
  const pod: PodAttachment = {
    podKey: 'default/pod-a',
    containerId: 'sandbox-a',
    netns: POD_NETNS,
    ifname: 'eth0',
    ip: '10.0.0.5',
    prefixLength: 24,
    gateway: '10.0.0.253',
    eni: { name: 'eth1', ifindex: eni.ifindex, mac: ENI_MAC, mtu: 1500 },
    nodeIp: '10.0.0.2',
  };
  return { kernel, datapath, pod };
}

describe.each(['ipvlan', 'veth'] as const)('PodDatapath with the %s driver', (driver) => {
  test('setup leaves exactly what CHECK expects, and is repeatable', async () => {
    const { datapath, pod } = fixture(driver);
    await datapath.setup(pod, driver);
    expect(await datapath.check(pod, driver)).toEqual([]);
    // A retried ADD (the reply was lost) converges to the same state.
    await datapath.setup(pod, driver);
    expect(await datapath.check(pod, driver)).toEqual([]);
  });

  test('teardown removes every pod link, route and rule, twice without error', async () => {
    const { kernel, datapath, pod } = fixture(driver);
    await datapath.setup(pod, driver);
    await datapath.teardown(pod, driver);
    await datapath.teardown(pod, driver);
    const node = await kernel.read(NODE);
    const inPod = await kernel.read(POD_NETNS);
    expect(node.links.map((link) => link.name).sort()).toEqual(
      driver === 'ipvlan' ? ['eth1', ipvlanHostLinkName(pod.eni), 'lo'] : ['eth1', 'lo'],
    );
    expect(node.routes.filter((route) => route.dst === `${pod.ip}/32`)).toEqual([]);
    expect(node.rules.filter((rule) => rule.from === pod.ip || rule.to === pod.ip)).toEqual([]);
    expect(inPod.links.map((link) => link.name)).toEqual(['lo']);
  });

  test('teardown succeeds when the pod netns is already gone', async () => {
    const { kernel, datapath, pod } = fixture(driver);
    await datapath.setup(pod, driver);
    kernel.deleteNetns(POD_NETNS);
    await datapath.teardown(pod, driver);
    const node = await kernel.read(NODE);
    expect(node.links.map((link) => link.name)).not.toContain(hostVethName(pod.podKey));
    expect(node.rules.filter((rule) => rule.from === pod.ip || rule.to === pod.ip)).toEqual([]);
  });

  test('a failure half-way removes what was made and names the failed op', async () => {
    const { kernel, datapath, pod } = fixture(driver);
    kernel.failNext = 'route replace default via';
    await datapath.setup(pod, driver).then(
      () => {
        throw new Error('setup should have failed');
      },
      (error: { code: string; message: string }) => {
        expect(error.code).toBe('KERNEL_ERROR');
        expect(error.message).toContain('route replace default via');
      },
    );
    const node = await kernel.read(NODE);
    expect(node.links.map((link) => link.name)).not.toContain(hostVethName(pod.podKey));
    expect(node.links.map((link) => link.name)).not.toContain(tempLinkName(pod.containerId));
    expect(node.routes.filter((route) => route.dst === `${pod.ip}/32`)).toEqual([]);
    expect((await kernel.read(POD_NETNS)).links.map((link) => link.name)).toEqual(['lo']);
  });

  test('CHECK names each drift precisely', async () => {
    const { kernel, datapath, pod } = fixture(driver);
    await datapath.setup(pod, driver);
    await kernel.apply(POD_NETNS, [{ op: 'route-del', dst: 'default' }]);
    const via = driver === 'veth' ? VETH_GATEWAY : pod.gateway;
    expect(await datapath.check(pod, driver)).toEqual([
      `route default via ${via} dev eth0 is missing in the pod`,
    ]);
  });

  test('an unknown netns is refused before anything is touched', async () => {
    const { kernel, datapath, pod } = fixture(driver);
    const missing = { ...pod, netns: netnsAt('/var/run/netns/never-made') };
    await expect(datapath.setup(missing, driver)).rejects.toMatchObject({
      code: 'NETNS_NOT_FOUND',
    });
    expect(kernel.applied).toEqual([]);
  });
});

describe('driver choice', () => {
  test('ipvlan preferred on a kernel without ipvlan falls back to veth, saying why', async () => {
    const { kernel, datapath } = fixture('ipvlan');
    kernel.ipvlan = false;
    expect(await datapath.chooseDriver()).toEqual({
      driver: 'veth',
      fallbackReason: expect.stringContaining('no ipvlan'),
    });
  });

  test('ipvlan is kept when the kernel has it; veth is never upgraded', async () => {
    expect((await fixture('ipvlan').datapath.chooseDriver()).driver).toBe('ipvlan');
    expect((await fixture('veth').datapath.chooseDriver()).driver).toBe('veth');
  });
});

describe('restart', () => {
  test('host resync restores node-side routes and rules without touching the pod', async () => {
    const { kernel, datapath, pod } = fixture('veth');
    await datapath.setup(pod, 'veth');
    await kernel.apply(NODE, [
      { op: 'route-del', dst: `${pod.ip}/32` },
      { op: 'rule-del', priority: 2048, from: pod.ip },
    ]);
    const podOpsBefore = kernel.applied.filter((entry) => entry.netns === POD_NETNS_PATH).length;
    const fresh = new PodDatapath({
      kernel,
      hostNetns: NODE,
      preferred: 'veth',
      log: pino({ level: 'silent' }),
    });
    await fresh.resyncHost([{ pod, driver: 'veth' }]);
    expect(await fresh.check(pod, 'veth')).toEqual([]);
    expect(kernel.applied.filter((entry) => entry.netns === POD_NETNS_PATH)).toHaveLength(
      podOpsBefore,
    );
  });

  test('a pod whose ADD died before its node link existed does not cost the others their routes', async () => {
    const { kernel, datapath, pod } = fixture('veth');
    await datapath.setup(pod, 'veth');
    await kernel.apply(NODE, [{ op: 'route-del', dst: `${pod.ip}/32` }]);
    const halfMade = {
      ...pod,
      podKey: 'default/aa-crashed',
      containerId: 'crashed',
      ip: '10.0.0.9',
    };
    const fresh = new PodDatapath({
      kernel,
      hostNetns: NODE,
      preferred: 'veth',
      log: pino({ level: 'silent' }),
    });
    const outcome = await fresh.resyncHost([
      { pod: halfMade, driver: 'veth' },
      { pod, driver: 'veth' },
    ]);
    expect(outcome).toEqual({ resynced: 1, skipped: ['default/aa-crashed'] });
    expect(await fresh.check(pod, 'veth')).toEqual([]);
  });
});

describe('Service LB programs of existing pods after a restart', () => {
  /** A veth datapath with the Service LB on, as a restarted daemon has it. */
  const withLbAttacher = () => {
    const { kernel, pod } = fixture('veth');
    const attacher = new MemoryLbAttacher();
    const datapath = new PodDatapath({
      kernel,
      hostNetns: NODE,
      preferred: 'veth',
      log: pino({ level: 'silent' }),
      lbAttacher: attacher,
    });
    return { kernel, pod, attacher, datapath };
  };

  const podNamed = (base: PodAttachment, name: string): PodAttachment => ({
    ...base,
    podKey: `default/${name}`,
    containerId: `sandbox-${name}`,
    netns: netnsAt(`/var/run/netns/${name}`),
  });

  test('an older program is replaced, a missing one restored, a current one left alone', async () => {
    const { kernel, pod, attacher, datapath } = withLbAttacher();
    const [older, missing, current, gone] = ['older', 'missing', 'current', 'gone'].map((name) =>
      podNamed(pod, name),
    );
    for (const each of [older!, missing!, current!]) kernel.addNetns(each.netns);
    attacher.attach(older!.netns, 'eth0', 'veth');
    attacher.markOutdated(older!.netns, 'eth0');
    attacher.attach(current!.netns, 'eth0', 'veth');
    const attachesBefore = attacher.attached.size;

    const report = await datapath.refreshLbPrograms(
      [older!, missing!, current!, gone!].map((each) => ({ pod: each, driver: 'veth' as const })),
    );

    expect(report).toEqual({
      current: 1,
      replaced: ['default/older'],
      restored: ['default/missing'],
      gone: ['default/gone'],
      failed: [],
    });
    expect(attacher.attached.size).toBe(attachesBefore + 1);
    for (const each of [older!, missing!, current!]) {
      expect(attacher.check(each.netns, 'eth0', 'veth')).toEqual([]);
    }
  });

  test('a pod whose refresh fails is reported, and the next pod still gets its program', async () => {
    const { kernel, pod, attacher, datapath } = withLbAttacher();
    const [first, second] = ['first', 'second'].map((name) => podNamed(pod, name));
    kernel.addNetns(first!.netns);
    kernel.addNetns(second!.netns);
    attacher.failNext = new Error('injected: the pod netns refused us');

    const report = await datapath.refreshLbPrograms(
      [first!, second!].map((each) => ({ pod: each, driver: 'veth' as const })),
    );

    expect(report).toEqual({
      current: 0,
      replaced: [],
      restored: ['default/second'],
      gone: [],
      failed: ['default/first'],
    });
    expect(attacher.check(second!.netns, 'eth0', 'veth')).toEqual([]);
  });

  test('without the Service LB there is nothing to refresh', async () => {
    const { datapath, pod } = fixture('veth');
    expect(await datapath.refreshLbPrograms([{ pod, driver: 'veth' }])).toBeUndefined();
  });
});
