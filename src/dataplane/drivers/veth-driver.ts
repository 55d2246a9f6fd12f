/**
 * Terway's veth policy-routing datapath (DATAPATH.md): the pod's eth0 is a veth whose node end
 * carries a /32 route to the pod; policy rules send the pod's own traffic out of its ENI through
 * a per-ENI table, and traffic to it to the main table. It is also the fallback when the kernel
 * has no ipvlan.
 */
import type { Expectation } from '../expectations.js';
import type { KernelOp } from '../kernel/kernel-ops.js';
import type { EniLink, PodAttachment, PodInterfaces, PodTeardown } from '../pod-attachment.js';
import { derivedMac, eniRouteTable, hostVethName } from '../pod-attachment.js';
import type { DatapathDriver, EniSite, PodPlan } from './driver.js';

/** The pod's next hop: never a real address, so it cannot collide with anything in the VPC. */
export const VETH_GATEWAY = '169.254.1.1';
/** Terway's priorities: "to pod" must win over "from pod" so node-local traffic stays local. */
export const TO_POD_RULE_PRIORITY = 512;
export const FROM_POD_RULE_PRIORITY = 2048;

const hostMac = (podKey: string) => derivedMac(`host/${podKey}`);
const podMac = (podKey: string) => derivedMac(`pod/${podKey}`);

export class VethDriver implements DatapathDriver {
  readonly name = 'veth' as const;

  planEni(eni: EniLink, site: EniSite): KernelOp[] {
    return [
      // A gateway is only accepted as on-link while the node's loopback is up.
      { op: 'link-up', name: 'lo' },
      { op: 'link-up', name: eni.name, mtu: eni.mtu },
      {
        op: 'route-replace',
        dst: 'default',
        via: site.gateway,
        dev: eni.name,
        onlink: true,
        table: eniRouteTable(eni),
      },
    ];
  }

  planSetup(pod: PodAttachment): PodPlan {
    const host = hostVethName(pod.podKey);
    return {
      host: [
        // A leftover pair from an ADD that died half-way: deleting our end removes both.
        { op: 'link-del', name: host },
        {
          op: 'veth-add',
          name: host,
          mac: hostMac(pod.podKey),
          peer: pod.ifname,
          peerMac: podMac(pod.podKey),
          peerNetns: pod.netns,
          mtu: pod.eni.mtu,
        },
        { op: 'link-up', name: host },
        ...this.planHostResync(pod),
      ],
      pod: [
        { op: 'link-up', name: 'lo' },
        { op: 'link-up', name: pod.ifname },
        { op: 'addr-replace', dev: pod.ifname, cidr: `${pod.ip}/32` },
        { op: 'neigh-replace', dev: pod.ifname, ip: VETH_GATEWAY, mac: hostMac(pod.podKey) },
        { op: 'route-replace', dst: `${VETH_GATEWAY}/32`, dev: pod.ifname, scope: 'link' },
        { op: 'route-replace', dst: 'default', via: VETH_GATEWAY, dev: pod.ifname, onlink: true },
      ],
    };
  }

  planHostResync(pod: PodAttachment): KernelOp[] {
    const table = eniRouteTable(pod.eni);
    return [
      {
        op: 'route-replace',
        dst: 'default',
        via: pod.gateway,
        dev: pod.eni.name,
        onlink: true,
        table,
      },
      { op: 'route-replace', dst: `${pod.ip}/32`, dev: hostVethName(pod.podKey), scope: 'link' },
      { op: 'rule-add', priority: TO_POD_RULE_PRIORITY, to: pod.ip, table: 'main' },
      { op: 'rule-add', priority: FROM_POD_RULE_PRIORITY, from: pod.ip, table },
    ];
  }

  planTeardown(pod: PodTeardown): PodPlan {
    return {
      host: [
        { op: 'link-del', name: hostVethName(pod.podKey) },
        { op: 'rule-del', priority: TO_POD_RULE_PRIORITY, to: pod.ip },
        { op: 'rule-del', priority: FROM_POD_RULE_PRIORITY, from: pod.ip },
      ],
      // The pod end dies with the node end.
      pod: [],
    };
  }

  interfaces(pod: PodAttachment): PodInterfaces {
    return {
      driver: this.name,
      prefixLength: 32,
      gateway: VETH_GATEWAY,
      host: { name: hostVethName(pod.podKey), mac: hostMac(pod.podKey) },
      pod: { name: pod.ifname, mac: podMac(pod.podKey), sandbox: netnsPath(pod) },
    };
  }

  expectations(pod: PodAttachment): { host: Expectation[]; pod: Expectation[] } {
    const host = hostVethName(pod.podKey);
    const table = String(eniRouteTable(pod.eni));
    return {
      host: [
        { kind: 'link', name: host, linkKind: 'veth', mac: hostMac(pod.podKey), up: true },
        { kind: 'route', dst: `${pod.ip}/32`, dev: host },
        { kind: 'rule', priority: TO_POD_RULE_PRIORITY, to: pod.ip, table: 'main' },
        { kind: 'rule', priority: FROM_POD_RULE_PRIORITY, from: pod.ip, table },
        { kind: 'route', dst: 'default', via: pod.gateway, dev: pod.eni.name, table },
      ],
      pod: [
        { kind: 'link', name: pod.ifname, linkKind: 'veth', mac: podMac(pod.podKey), up: true },
        { kind: 'addr', dev: pod.ifname, cidr: `${pod.ip}/32` },
        { kind: 'neigh', dev: pod.ifname, ip: VETH_GATEWAY, mac: hostMac(pod.podKey) },
        { kind: 'route', dst: 'default', via: VETH_GATEWAY, dev: pod.ifname },
      ],
    };
  }
}

export function netnsPath(pod: Pick<PodAttachment, 'netns'>): string {
  return pod.netns.kind === 'path' ? pod.netns.path : '';
}
