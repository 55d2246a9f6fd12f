/**
 * Pods' namespaces programmed over route netlink (the daemon's addon) against the same plans
 * applied with iproute2, in namespaces of this test's own: both drivers' pod-side plans leave the
 * two namespaces identical, failures read as iproute2's (so removals of what is gone stay
 * harmless), and a re-applied plan converges.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';

import { VethDriver } from '../../src/dataplane/drivers/veth-driver.js';
import { IpvlanDriver } from '../../src/dataplane/drivers/ipvlan-driver.js';
import { Iproute2Kernel } from '../../src/dataplane/kernel/iproute2-kernel.js';
import type { NetnsState } from '../../src/dataplane/kernel/kernel.js';
import type { KernelOp } from '../../src/dataplane/kernel/kernel-ops.js';
import { KernelError } from '../../src/dataplane/kernel/kernel-error.js';
import type { NetnsRef } from '../../src/dataplane/kernel/netns-ref.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import { PodNetlinkKernel } from '../../src/dataplane/kernel/pod-netlink-kernel.js';
import { nativeRtnlOpener } from '../../src/dataplane/kernel/rtnetlink/rtnl-socket.js';
import type { RtnlOpener } from '../../src/dataplane/kernel/rtnetlink/rtnl-socket.js';
import type { PodAttachment } from '../../src/dataplane/pod-attachment.js';
import { requireRoot, TestNetns } from '../support/netns.js';

requireRoot();

const native = nativeRtnlOpener();
if ('unavailable' in native) throw new Error(`the addon is required here: ${native.unavailable}`);
const opener: RtnlOpener = native.opener;

let host: TestNetns;
let viaNetlink: TestNetns;
let viaIp: TestNetns;
const iproute2 = new Iproute2Kernel();
let kernel: PodNetlinkKernel;
let opens: number;

const ip = (ns: TestNetns, ...args: string[]) =>
  execFileSync('ip', ['-n', ns.name, ...args], { encoding: 'utf8' });

beforeEach(() => {
  host = new TestNetns();
  viaNetlink = new TestNetns();
  viaIp = new TestNetns();
  opens = 0;
  kernel = new PodNetlinkKernel(iproute2, {
    hostNetns: netnsAt(host.path),
    open: (path) => {
      opens += 1;
      return opener(path);
    },
  });
});
afterEach(() => {
  for (const ns of [viaNetlink, viaIp, host]) ns.delete();
});

/** The parts of a namespace a plan decides (ifindexes and counters differ between two). */
function comparable(state: NetnsState) {
  return {
    links: state.links
      .map(({ name, mac, mtu, up, kind, noarp }) => ({ name, mac, mtu, up, kind, noarp }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    addrs: state.addrs,
    routes: state.routes,
    neighbors: state.neighbors,
  };
}

/** A pod's eth0 as the node side leaves it: a veth end, named `name`, down, in the pod's netns. */
function podLink(pod: TestNetns, name: string, mac: string): void {
  execFileSync('ip', [
    '-n',
    host.name,
    'link',
    'add',
    `h-${pod.name.slice(-6)}`,
    'type',
    'veth',
    'peer',
    'name',
    name,
    'address',
    mac,
    'netns',
    pod.name,
  ]);
}

function attachment(pod: TestNetns): PodAttachment {
  return {
    podKey: 'default/web-0',
    containerId: 'c0ffee0123456789',
    netns: netnsAt(pod.path),
    ifname: 'eth0',
    ip: '10.9.0.17',
    prefixLength: 24,
    gateway: '10.9.0.253',
    nodeIp: '10.9.0.5',
    eni: { name: 'eth1', mac: '02:00:00:aa:bb:01', ifindex: 3, mtu: 1500 },
  };
}

async function applyBoth(plan: (pod: TestNetns) => readonly KernelOp[]): Promise<void> {
  await kernel.apply(netnsAt(viaNetlink.path), plan(viaNetlink));
  await iproute2.apply(netnsAt(viaIp.path), plan(viaIp));
}

async function states(): Promise<[ReturnType<typeof comparable>, ReturnType<typeof comparable>]> {
  return [
    comparable(await iproute2.read(netnsAt(viaNetlink.path))),
    comparable(await iproute2.read(netnsAt(viaIp.path))),
  ];
}

describe('PodNetlinkKernel', () => {
  test("the veth driver's pod side leaves the namespace exactly as ip does, re-applied too", async () => {
    for (const pod of [viaNetlink, viaIp]) podLink(pod, 'eth0', '02:00:00:00:00:02');
    const plan = (pod: TestNetns) => new VethDriver().planSetup(attachment(pod)).pod;
    await applyBoth(plan);
    const [netlink, reference] = await states();
    expect(netlink).toEqual(reference);
    expect(netlink.routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: 'default', via: '169.254.1.1', dev: 'eth0', onlink: true }),
      ]),
    );
    expect(netlink.addrs).toEqual(
      expect.arrayContaining([expect.objectContaining({ dev: 'eth0', cidr: '10.9.0.17/32' })]),
    );
    expect(opens).toBe(1);
    // A retried ADD replays the whole plan: every op is a replace, so nothing fails.
    await applyBoth(plan);
    expect((await states())[0]).toEqual(netlink);
  });

  test("the ipvlan driver's pod side (rename a temporary link to eth0) matches ip", async () => {
    const pod = attachment(viaNetlink);
    const plan = (ns: TestNetns) =>
      new IpvlanDriver().planSetup({ ...pod, netns: netnsAt(ns.path) }).pod;
    // The node side moves the pod's link in under a temporary name; its first pod-side op
    // removes an eth0 left by an earlier attempt, which is not there.
    const temp = plan(viaNetlink).find((op) => op.op === 'link-rename');
    if (temp?.op !== 'link-rename') throw new Error('the ipvlan plan renames a temporary link');
    for (const ns of [viaNetlink, viaIp]) podLink(ns, temp.name, '02:00:00:00:00:03');
    await applyBoth(plan);
    const [netlink, reference] = await states();
    expect(netlink).toEqual(reference);
    expect(netlink.links.map((link) => link.name)).toEqual(['eth0', 'lo']);
    expect(netlink.neighbors).toEqual([
      expect.objectContaining({ dev: 'eth0', ip: '10.9.0.5', mac: '02:00:00:aa:bb:01' }),
    ]);
  });

  test('removals of what is gone are harmless; other failures name the op and the kernel reason', async () => {
    const pod = netnsAt(viaNetlink.path);
    await kernel.apply(pod, [
      { op: 'link-del', name: 'no-such-link' },
      { op: 'route-del', dst: '10.1.2.0/24' },
      { op: 'link-up', name: 'lo' },
    ]);
    expect(ip(viaNetlink, '-j', 'link', 'show', 'lo')).toContain('"UP"');

    const failed = kernel.apply(pod, [
      { op: 'route-replace', dst: '10.1.2.0/24', dev: 'eth9' },
      { op: 'addr-replace', dev: 'lo', cidr: '10.3.3.3/32' },
    ]);
    await expect(failed).rejects.toThrow(KernelError);
    await expect(failed).rejects.toThrow(
      `ip route replace 10.1.2.0/24 dev eth9 failed in netns ${viaNetlink.path}: Cannot find device "eth9"`,
    );
    // ip -force semantics: the ops after a failure still ran.
    expect(ip(viaNetlink, 'addr', 'show', 'dev', 'lo')).toContain('10.3.3.3/32');

    // A gateway that is not on any link, without onlink: the kernel refuses, and says why.
    await expect(
      kernel.apply(pod, [{ op: 'route-replace', dst: 'default', via: '10.200.0.1', dev: 'lo' }]),
    ).rejects.toThrow(/RTNETLINK answers: .*\((ENETUNREACH|EINVAL)\)/);
  });

  test("the node's namespace and ops without a netlink form go to the wrapped kernel", async () => {
    const node: NetnsRef = netnsAt(host.path);
    await kernel.apply(node, [{ op: 'link-up', name: 'lo' }]);
    await kernel.apply(netnsAt(viaNetlink.path), [
      { op: 'rule-add', priority: 3000, from: '10.9.9.9', table: 100 },
    ]);
    expect(opens).toBe(0);
    expect(ip(viaNetlink, 'rule', 'show')).toContain('from 10.9.9.9 lookup 100');
    expect(ip(host, '-j', 'link', 'show', 'lo')).toContain('"UP"');
  });

  test('a path that is not a network namespace is a KernelError, nothing applied', async () => {
    await expect(
      kernel.apply(netnsAt('/proc/self/status'), [{ op: 'link-up', name: 'lo' }]),
    ).rejects.toThrow(/cannot open a netlink socket in netns \/proc\/self\/status: .*EINVAL/);
  });
});
