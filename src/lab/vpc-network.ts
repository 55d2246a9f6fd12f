/**
 * The lab's VPC: one namespace whose bridge is the vSwitch segment and owns the gateway IP.
 * It behaves like Alibaba Cloud's VPC rather than a plain LAN: every port is isolated, so
 * nothing is switched directly between ENIs; the gateway answers every ARP (proxy ARP, as the
 * VPC's ee:ff:ff:ff:ff:ff does) and routes each private IP to the ENI that holds it, from a
 * neighbour table mirrored from the emulator's account (the VPC's own IP → ENI mapping).
 */
import { createHash } from 'node:crypto';

import { parseCidr } from '../util/ipv4.js';
import { addNetns, deleteNetns, ipBatch, netnsRef, sysctl } from './lab-shell.js';

const BRIDGE = 'br0';
/**
 * The MAC Alibaba Cloud's VPC answers every ARP with. Set explicitly: a bridge left to pick its
 * own takes its lowest port's, and each change flushes every neighbour entry on it.
 */
export const VPC_GATEWAY_MAC = 'ee:ff:ff:ff:ff:ff';
/** Lab namespaces speak IPv4 only: IPv6 autoconfiguration would only add noise to counters. */
export const NO_IPV6 = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
};

export interface NodeAttachment {
  netns: string;
  mac: string;
  ip: string;
}

/** The VPC-side port of a MAC's link: stable, at most 15 characters. */
export function vpcPortName(mac: string): string {
  return `v${createHash('sha1').update(mac).digest('hex').slice(0, 12)}`;
}

export class VpcNetwork {
  /** ip → MAC currently programmed on the gateway. */
  private readonly neighbors = new Map<string, string>();

  private constructor(
    readonly netns: string,
    readonly cidr: string,
    readonly gateway: string,
  ) {}

  static async create(netns: string, cidr: string, gateway: string): Promise<VpcNetwork> {
    const { prefixLength } = parseCidr(cidr);
    await addNetns(netns);
    const ref = netnsRef(netns);
    await sysctl(ref, {
      ...NO_IPV6,
      'net.ipv4.ip_forward': '1',
      // The gateway routes a packet back out of the bridge it came in on: that is its job
      // here, not a misconfiguration to redirect hosts about.
      'net.ipv4.conf.all.send_redirects': '0',
      'net.ipv4.conf.default.send_redirects': '0',
    });
    await ipBatch(ref, [
      'link set dev lo up',
      `link add ${BRIDGE} address ${VPC_GATEWAY_MAC} type bridge`,
      `addr add ${gateway}/${prefixLength} dev ${BRIDGE}`,
      `link set dev ${BRIDGE} up`,
    ]);
    await sysctl(ref, {
      [`net.ipv4.conf.${BRIDGE}.proxy_arp`]: '1',
      [`net.ipv4.conf.${BRIDGE}.proxy_arp_pvlan`]: '1',
      [`net.ipv4.conf.${BRIDGE}.send_redirects`]: '0',
      [`net.ipv4.neigh.${BRIDGE}.proxy_delay`]: '0',
    });
    return new VpcNetwork(netns, cidr, gateway);
  }

  /**
   * A node: its namespace, with the primary NIC as eth0 (the instance's MAC and IP) plugged into
   * the VPC, and a default route through the gateway.
   */
  async addNode(node: NodeAttachment): Promise<void> {
    const { prefixLength } = parseCidr(this.cidr);
    await addNetns(node.netns);
    const ref = netnsRef(node.netns);
    await sysctl(ref, NO_IPV6);
    await this.plug(node.netns, node.mac, 'eth0');
    await ipBatch(ref, [
      'link set dev lo up',
      `addr add ${node.ip}/${prefixLength} dev eth0`,
      'link set dev eth0 up',
      `route add default via ${this.gateway} dev eth0`,
    ]);
  }

  /**
   * A NIC with `mac`, named `ifname` in the node, its other end an isolated port of the VPC
   * bridge. Left down in the node: bringing an ENI up is the daemon's job.
   */
  async plug(nodeNetns: string, mac: string, ifname: string): Promise<void> {
    const port = vpcPortName(mac);
    await ipBatch(netnsRef(this.netns), [
      `link add ${port} type veth peer name ${ifname} address ${mac} netns ${nodeNetns}`,
      `link set dev ${port} master ${BRIDGE}`,
      `link set dev ${port} type bridge_slave isolated on`,
      `link set dev ${port} up`,
    ]);
  }

  /** Idempotent: deleting the VPC end removes the node end too. */
  async unplug(mac: string): Promise<void> {
    await ipBatch(netnsRef(this.netns), [`link del dev ${vpcPortName(mac)}`], /Cannot find device/);
  }

  /** Makes the gateway's IP → MAC table equal `desired`, touching only what changed. */
  async syncNeighbors(desired: ReadonlyMap<string, string>): Promise<void> {
    const lines: string[] = [];
    for (const [ip, mac] of desired) {
      if (this.neighbors.get(ip) !== mac)
        lines.push(`neigh replace ${ip} lladdr ${mac} dev ${BRIDGE} nud permanent`);
    }
    for (const ip of this.neighbors.keys()) {
      if (!desired.has(ip)) lines.push(`neigh del ${ip} dev ${BRIDGE}`);
    }
    if (lines.length === 0) return;
    await ipBatch(netnsRef(this.netns), lines, /No such file|Cannot find/);
    this.neighbors.clear();
    for (const [ip, mac] of desired) this.neighbors.set(ip, mac);
  }

  async destroy(): Promise<void> {
    await deleteNetns(this.netns);
  }
}
