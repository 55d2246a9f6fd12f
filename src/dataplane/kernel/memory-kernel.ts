/**
 * An in-memory kernel: namespaces of links, addresses, routes, rules and neighbours that the
 * same ops change, with iproute2's error texts, so drivers and the reconciler are unit-tested
 * without root. It models what the datapath relies on (a veth pair dies with either end, a
 * slave needs its parent, routes die with their device), not the whole kernel.
 */
import type { KernelOp } from './kernel-ops.js';
import { isHarmless, toIpBatchLine } from './kernel-ops.js';
import { KernelError } from './kernel-error.js';
import type { Kernel, KernelBatch, LinkState, NetnsState } from './kernel.js';
import type { NetnsRef } from './netns-ref.js';
import { describeNetns } from './netns-ref.js';

interface MemoryLink extends LinkState {
  /** For a veth: the namespace key and name of the other end. */
  peer?: { ns: string; name: string };
}

interface MemoryNetns {
  state: NetnsState;
  links: MemoryLink[];
}

const keyOf = (ref: NetnsRef): string => (ref.kind === 'self' ? 'self' : ref.path);

class OpFailure extends Error {}

export class MemoryKernel implements Kernel {
  private readonly namespaces = new Map<string, MemoryNetns>();
  private nextIfindex = 2;
  ipvlan = true;
  /** Every op applied, per namespace key, for tests that count kernel work. */
  readonly applied: Array<{ netns: string; line: string }> = [];
  /** Fails the next op whose batch line contains this text (fault injection). */
  failNext: string | undefined;

  constructor() {
    this.addNetns({ kind: 'self' });
  }

  /** A new namespace holds only a loopback that is down, as `ip netns add` makes it. */
  addNetns(ref: NetnsRef): void {
    this.namespaces.set(keyOf(ref), {
      links: [{ ...this.newLink('lo', '00:00:00:00:00:00', 65536, undefined), ifindex: 1 }],
      state: { links: [], addrs: [], routes: [], rules: [], neighbors: [] },
    });
  }

  /** As the kernel does when the last reference goes: its links die, and veth peers with them. */
  deleteNetns(ref: NetnsRef): void {
    const ns = this.namespaces.get(keyOf(ref));
    if (ns === undefined) return;
    for (const link of [...ns.links]) this.removeLink(keyOf(ref), link.name);
    this.namespaces.delete(keyOf(ref));
  }

  /** A device the datapath finds rather than makes: an ENI, or the node's primary NIC. */
  addDevice(ref: NetnsRef, name: string, mac: string, mtu = 1500): LinkState {
    const link: MemoryLink = this.newLink(name, mac, mtu, undefined);
    this.ns(keyOf(ref)).links.push(link);
    return { ...link };
  }

  removeDevice(ref: NetnsRef, name: string): void {
    this.removeLink(keyOf(ref), name);
  }

  /** Batches opened, and those applied or closed since: a test can tell a leaked one. */
  openedBatches = 0;
  settledBatches = 0;

  openBatch(netns: NetnsRef): KernelBatch {
    this.openedBatches += 1;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.settledBatches += 1;
      return true;
    };
    return {
      apply: (ops) =>
        settle() ? this.apply(netns, ops) : Promise.reject(new Error('a batch takes one plan')),
      close: () => {
        settle();
      },
    };
  }

  async apply(netns: NetnsRef, ops: readonly KernelOp[]): Promise<void> {
    const key = keyOf(netns);
    if (!this.namespaces.has(key)) {
      throw new KernelError(
        `cannot enter ${describeNetns(netns)}`,
        undefined,
        'No such file or directory',
      );
    }
    const fatal: Array<{ op: KernelOp; message: string }> = [];
    for (const op of ops) {
      const line = toIpBatchLine(op);
      try {
        if (this.failNext !== undefined && line.includes(this.failNext)) {
          this.failNext = undefined;
          throw new OpFailure('RTNETLINK answers: Operation not permitted (injected)');
        }
        this.applyOne(key, op);
        this.applied.push({ netns: key, line });
      } catch (error) {
        if (!(error instanceof OpFailure)) throw error;
        if (isHarmless(op, error.message)) continue;
        fatal.push({ op, message: error.message });
      }
    }
    const first = fatal[0];
    if (first !== undefined) {
      throw new KernelError(
        `ip ${toIpBatchLine(first.op)} failed in ${describeNetns(netns)}`,
        first.op,
        first.message,
      );
    }
  }

  async read(netns: NetnsRef): Promise<NetnsState> {
    const ns = this.namespaces.get(keyOf(netns));
    if (ns === undefined) {
      throw new KernelError(
        `reading ${describeNetns(netns)} failed`,
        undefined,
        'No such file or directory',
      );
    }
    return structuredClone({
      ...ns.state,
      links: ns.links.map(({ peer: _peer, ...link }) => link),
    });
  }

  readonly sysctls = new Map<string, string>();

  async setSysctls(netns: NetnsRef, values: Readonly<Record<string, string>>): Promise<void> {
    for (const [key, value] of Object.entries(values))
      this.sysctls.set(`${keyOf(netns)}:${key}`, value);
  }

  async netnsExists(netns: NetnsRef): Promise<boolean> {
    return this.namespaces.has(keyOf(netns));
  }

  async supportsIpvlan(): Promise<boolean> {
    return this.ipvlan;
  }

  private ns(key: string): MemoryNetns {
    const ns = this.namespaces.get(key);
    if (ns === undefined) throw new OpFailure(`Invalid "netns" value ${key}`);
    return ns;
  }

  private link(key: string, name: string): MemoryLink {
    const link = this.ns(key).links.find((candidate) => candidate.name === name);
    if (link === undefined) throw new OpFailure(`Cannot find device "${name}"`);
    return link;
  }

  private newLink(name: string, mac: string, mtu: number, kind: string | undefined): MemoryLink {
    return {
      ifindex: this.nextIfindex++,
      name,
      mac,
      mtu,
      up: false,
      kind,
      linkIndex: undefined,
      noarp: false,
      rxPackets: 0,
      txPackets: 0,
    };
  }

  private addLink(key: string, link: MemoryLink): void {
    const ns = this.ns(key);
    if (ns.links.some((existing) => existing.name === link.name)) {
      throw new OpFailure('RTNETLINK answers: File exists');
    }
    ns.links.push(link);
  }

  private removeLink(key: string, name: string): void {
    const ns = this.namespaces.get(key);
    const link = ns?.links.find((candidate) => candidate.name === name);
    if (ns === undefined || link === undefined) return;
    ns.links = ns.links.filter((candidate) => candidate !== link);
    ns.state.addrs = ns.state.addrs.filter((addr) => addr.dev !== name);
    ns.state.routes = ns.state.routes.filter((route) => route.dev !== name);
    ns.state.neighbors = ns.state.neighbors.filter((neigh) => neigh.dev !== name);
    if (link.peer !== undefined) {
      const { ns: peerNs, name: peerName } = link.peer;
      link.peer = undefined;
      const other = this.namespaces
        .get(peerNs)
        ?.links.find((candidate) => candidate.name === peerName);
      if (other !== undefined) other.peer = undefined;
      this.removeLink(peerNs, peerName);
    }
    // Slaves die with their parent.
    for (const slave of ns.links.filter(
      (candidate) => candidate.linkIndex === link.ifindex && candidate.kind === 'ipvlan',
    )) {
      this.removeLink(key, slave.name);
    }
  }

  private moveLink(key: string, name: string, target: string): void {
    const link = this.link(key, name);
    this.ns(target);
    this.removeFromNs(key, link);
    this.addLink(target, link);
    if (link.peer !== undefined) {
      const other = this.namespaces
        .get(link.peer.ns)
        ?.links.find((candidate) => candidate.name === link.peer?.name);
      if (other?.peer !== undefined) other.peer = { ns: target, name: link.name };
    }
  }

  private removeFromNs(key: string, link: MemoryLink): void {
    const ns = this.ns(key);
    ns.links = ns.links.filter((candidate) => candidate !== link);
    ns.state.addrs = ns.state.addrs.filter((addr) => addr.dev !== link.name);
    ns.state.routes = ns.state.routes.filter((route) => route.dev !== link.name);
  }

  private applyOne(key: string, op: KernelOp): void {
    const ns = this.ns(key);
    switch (op.op) {
      case 'veth-add': {
        const peerKey = keyOf(op.peerNetns);
        this.ns(peerKey);
        const host: MemoryLink = {
          ...this.newLink(op.name, op.mac, op.mtu, 'veth'),
          peer: { ns: peerKey, name: op.peer },
        };
        const peer: MemoryLink = {
          ...this.newLink(op.peer, op.peerMac, op.mtu, 'veth'),
          peer: { ns: key, name: op.name },
        };
        host.linkIndex = peer.ifindex;
        peer.linkIndex = host.ifindex;
        this.addLink(key, host);
        try {
          this.addLink(peerKey, peer);
        } catch (error) {
          ns.links = ns.links.filter((candidate) => candidate !== host);
          throw error;
        }
        return;
      }
      case 'ipvlan-add': {
        if (!this.ipvlan) throw new OpFailure('Error: Unknown device type.');
        const parent = this.link(key, op.parent);
        const slave = this.newLink(op.name, parent.mac, op.mtu, 'ipvlan');
        slave.linkIndex = parent.ifindex;
        this.addLink(key, slave);
        return;
      }
      case 'link-netns':
        return this.moveLink(key, op.name, keyOf(op.netns));
      case 'link-rename': {
        const link = this.link(key, op.name);
        if (ns.links.some((candidate) => candidate.name === op.to))
          throw new OpFailure('RTNETLINK answers: File exists');
        if (link.up) throw new OpFailure('RTNETLINK answers: Device or resource busy');
        link.name = op.to;
        return;
      }
      case 'link-up': {
        const link = this.link(key, op.name);
        link.up = true;
        if (op.mtu !== undefined) link.mtu = op.mtu;
        if (op.noarp === true) link.noarp = true;
        return;
      }
      case 'link-del':
        this.link(key, op.name);
        return this.removeLink(key, op.name);
      case 'addr-replace': {
        this.link(key, op.dev);
        ns.state.addrs = ns.state.addrs.filter(
          (addr) => !(addr.dev === op.dev && addr.cidr === op.cidr),
        );
        ns.state.addrs.push({ dev: op.dev, cidr: op.cidr, scope: op.scope ?? 'global' });
        return;
      }
      case 'route-replace': {
        this.link(key, op.dev);
        const table = op.table === undefined ? 'main' : String(op.table);
        ns.state.routes = ns.state.routes.filter(
          (route) => !(route.dst === op.dst && route.table === table),
        );
        ns.state.routes.push({
          dst: op.dst,
          dev: op.dev,
          via: op.via,
          onlink: op.onlink === true,
          scope: op.scope ?? (op.via === undefined ? 'link' : 'global'),
          table,
        });
        return;
      }
      case 'route-del': {
        const table = op.table === undefined ? 'main' : String(op.table);
        const before = ns.state.routes.length;
        ns.state.routes = ns.state.routes.filter(
          (route) =>
            !(
              route.dst === op.dst &&
              route.table === table &&
              (op.dev === undefined || route.dev === op.dev)
            ),
        );
        if (ns.state.routes.length === before)
          throw new OpFailure('RTNETLINK answers: No such process');
        return;
      }
      case 'rule-add': {
        const rule = { priority: op.priority, from: op.from, to: op.to, table: String(op.table) };
        if (ns.state.rules.some((existing) => JSON.stringify(existing) === JSON.stringify(rule))) {
          throw new OpFailure('RTNETLINK answers: File exists');
        }
        ns.state.rules.push(rule);
        return;
      }
      case 'rule-del': {
        const index = ns.state.rules.findIndex(
          (rule) => rule.priority === op.priority && rule.from === op.from && rule.to === op.to,
        );
        if (index < 0) throw new OpFailure('RTNETLINK answers: No such file or directory');
        ns.state.rules.splice(index, 1);
        return;
      }
      case 'neigh-replace': {
        this.link(key, op.dev);
        ns.state.neighbors = ns.state.neighbors.filter(
          (neigh) => !(neigh.dev === op.dev && neigh.ip === op.ip),
        );
        ns.state.neighbors.push({ dev: op.dev, ip: op.ip, mac: op.mac, permanent: true });
        return;
      }
    }
  }
}
