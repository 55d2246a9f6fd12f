/**
 * The dataplane's only door to the kernel. Narrow on purpose: apply a plan of ops in one
 * namespace, read a namespace back, set sysctls, and ask what the kernel supports. The real
 * implementation drives iproute2; the in-memory one models the same state for unit tests.
 */
import type { KernelOp } from './kernel-ops.js';
import type { NetnsRef } from './netns-ref.js';

export interface LinkState {
  ifindex: number;
  name: string;
  /** Lower-case, colon-separated. */
  mac: string;
  mtu: number;
  up: boolean;
  /** 'veth', 'ipvlan', 'macvlan', 'bridge', ... ; undefined for plain devices. */
  kind: string | undefined;
  /** The parent's ifindex for ipvlan/macvlan slaves, or the peer's for a veth. */
  linkIndex: number | undefined;
  noarp: boolean;
  rxPackets: number;
  txPackets: number;
}

export interface AddrState {
  dev: string;
  /** e.g. 10.0.0.5/24 */
  cidr: string;
  scope: string;
}

export interface RouteState {
  /** 'default' or a CIDR; host routes are written as x.x.x.x/32. */
  dst: string;
  dev: string | undefined;
  via: string | undefined;
  onlink: boolean;
  scope: string;
  /** 'main', 'local' or a number. */
  table: string;
}

export interface RuleState {
  priority: number;
  from: string | undefined;
  to: string | undefined;
  table: string;
}

export interface NeighState {
  dev: string;
  ip: string;
  mac: string | undefined;
  permanent: boolean;
}

export interface NetnsState {
  links: LinkState[];
  addrs: AddrState[];
  routes: RouteState[];
  rules: RuleState[];
  neighbors: NeighState[];
}

/**
 * One plan for one namespace, opened before the plan is known: the real kernel starts its `ip`
 * at once, so the process start overlaps whatever the caller still has to do (IPAM, the node
 * side) instead of adding to it.
 */
export interface KernelBatch {
  /** Applies the ops as Kernel.apply does; a batch takes one plan. */
  apply(ops: readonly KernelOp[]): Promise<void>;
  /** Lets it go unused (idempotent; a no-op after apply). */
  close(): void;
}

export interface Kernel {
  /**
   * Applies every op in order inside `netns`, in one go: a failure that only says the op was
   * already done (a removal of something gone, a rule already there) is no failure; any other
   * is thrown afterwards as a KernelError naming the first failed op. Callers that must not keep
   * half a plan roll back on that error.
   */
  apply(netns: NetnsRef, ops: readonly KernelOp[]): Promise<void>;
  /** A batch for a plan that will come; every opened batch must be applied or closed. */
  openBatch(netns: NetnsRef): KernelBatch;
  read(netns: NetnsRef): Promise<NetnsState>;
  /** Keys as in `sysctl`, e.g. net.ipv4.conf.all.rp_filter. */
  setSysctls(netns: NetnsRef, values: Readonly<Record<string, string>>): Promise<void>;
  /** Whether the namespace file still exists and is a namespace. */
  netnsExists(netns: NetnsRef): Promise<boolean>;
  /** Whether this kernel can create ipvlan links (the module may be absent, as on this CI). */
  supportsIpvlan(): Promise<boolean>;
}
