/**
 * Terway's IPVLAN L2 datapath (DATAPATH.md): the pod's eth0 is an ipvlan slave of its ENI, so
 * pod-to-pod traffic on one ENI is switched inside the ipvlan parent and never crosses the
 * node's stack. The node reaches its pods through one host-side slave per ENI (ipvl_<ifindex>)
 * that holds the node IP; the pod reaches the node through a /32 route and a permanent
 * neighbour entry pointing at its own MAC, which ipvlan turns around to ipvl_x.
 */
import type { Expectation } from '../expectations.js';
import type { KernelOp } from '../kernel/kernel-ops.js';
import type { EniLink, PodAttachment, PodInterfaces, PodTeardown } from '../pod-attachment.js';
import { ipvlanHostLinkName, tempLinkName } from '../pod-attachment.js';
import type { DatapathDriver, EniSite, PodPlan } from './driver.js';
import { netnsPath } from './veth-driver.js';

export class IpvlanDriver implements DatapathDriver {
  readonly name = 'ipvlan' as const;

  planEni(eni: EniLink, site: EniSite): KernelOp[] {
    const host = ipvlanHostLinkName(eni);
    return [
      // A gateway is only accepted as on-link while the node's loopback is up.
      { op: 'link-up', name: 'lo' },
      { op: 'link-up', name: eni.name, mtu: eni.mtu },
      { op: 'ipvlan-add', name: host, parent: eni.name, mtu: eni.mtu, existOk: true },
      // Up first, NOARP second: opening an ipvlan L2 slave clears IFF_NOARP (the kernel's
      // ipvlan_open), so `arp off` given with `up` in one command does not stick.
      { op: 'link-up', name: host },
      { op: 'link-up', name: host, noarp: true },
      { op: 'addr-replace', dev: host, cidr: `${site.nodeIp}/32`, scope: 'host' },
    ];
  }

  planSetup(pod: PodAttachment): PodPlan {
    const temp = tempLinkName(pod.containerId);
    return {
      host: [
        // Left by an ADD that died before the move: it would block the name.
        { op: 'link-del', name: temp },
        { op: 'ipvlan-add', name: temp, parent: pod.eni.name, mtu: pod.eni.mtu },
        { op: 'link-netns', name: temp, netns: pod.netns },
        ...this.planHostResync(pod),
      ],
      pod: [
        // A retried ADD finds the previous attempt's slave under the final name.
        { op: 'link-del', name: pod.ifname },
        { op: 'link-rename', name: temp, to: pod.ifname },
        { op: 'link-up', name: 'lo' },
        { op: 'link-up', name: pod.ifname },
        { op: 'addr-replace', dev: pod.ifname, cidr: `${pod.ip}/${pod.prefixLength}` },
        { op: 'route-replace', dst: `${pod.nodeIp}/32`, dev: pod.ifname, scope: 'link' },
        { op: 'neigh-replace', dev: pod.ifname, ip: pod.nodeIp, mac: pod.eni.mac },
        { op: 'route-replace', dst: 'default', via: pod.gateway, dev: pod.ifname, onlink: true },
      ],
    };
  }

  planHostResync(pod: PodAttachment): KernelOp[] {
    return [
      { op: 'route-replace', dst: `${pod.ip}/32`, dev: ipvlanHostLinkName(pod.eni), scope: 'link' },
    ];
  }

  planTeardown(pod: PodTeardown): PodPlan {
    return {
      host: [
        { op: 'link-del', name: tempLinkName(pod.containerId) },
        { op: 'route-del', dst: `${pod.ip}/32` },
      ],
      // A slave does not die with anything the node holds, so the pod end is removed by name.
      pod: [{ op: 'link-del', name: pod.ifname }],
    };
  }

  interfaces(pod: PodAttachment): PodInterfaces {
    return {
      driver: this.name,
      prefixLength: pod.prefixLength,
      gateway: pod.gateway,
      host: { name: ipvlanHostLinkName(pod.eni), mac: pod.eni.mac },
      pod: { name: pod.ifname, mac: pod.eni.mac, sandbox: netnsPath(pod) },
    };
  }

  expectations(pod: PodAttachment): { host: Expectation[]; pod: Expectation[] } {
    const host = ipvlanHostLinkName(pod.eni);
    return {
      host: [
        { kind: 'link', name: host, linkKind: 'ipvlan', up: true },
        { kind: 'addr', dev: host, cidr: `${pod.nodeIp}/32` },
        { kind: 'route', dst: `${pod.ip}/32`, dev: host },
      ],
      pod: [
        { kind: 'link', name: pod.ifname, linkKind: 'ipvlan', mac: pod.eni.mac, up: true },
        { kind: 'addr', dev: pod.ifname, cidr: `${pod.ip}/${pod.prefixLength}` },
        { kind: 'route', dst: `${pod.nodeIp}/32`, dev: pod.ifname },
        { kind: 'neigh', dev: pod.ifname, ip: pod.nodeIp, mac: pod.eni.mac },
        { kind: 'route', dst: 'default', via: pod.gateway, dev: pod.ifname },
      ],
    };
  }
}
