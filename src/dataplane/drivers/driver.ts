/**
 * A datapath driver turns a pod attachment into kernel ops (per namespace) and into the facts
 * CHECK expects to find. Drivers are pure: they never touch the kernel themselves, the
 * reconciler applies what they plan.
 */
import type { KernelOp } from '../kernel/kernel-ops.js';
import type {
  DriverName,
  EniLink,
  PodAttachment,
  PodInterfaces,
  PodTeardown,
} from '../pod-attachment.js';
import type { Expectation } from '../expectations.js';

/** Where an ENI sits: its vSwitch gateway, and the node's own primary IP. */
export interface EniSite {
  gateway: string;
  nodeIp: string;
}

export interface PodPlan {
  /** Applied first, in the node's netns. */
  host: KernelOp[];
  /** Then inside the pod's netns. */
  pod: KernelOp[];
}

export interface DatapathDriver {
  readonly name: DriverName;
  /** Node-wide state for one ENI (idempotent): applied when the ENI is first used and on restart. */
  planEni(eni: EniLink, site: EniSite): KernelOp[];
  planSetup(pod: PodAttachment): PodPlan;
  /** Everything setup made, as removals that succeed when the thing is already gone. */
  planTeardown(pod: PodTeardown): PodPlan;
  /** Only the node side of a pod: re-applied on daemon restart, never touching the pod. */
  planHostResync(pod: PodAttachment): KernelOp[];
  interfaces(pod: PodAttachment): PodInterfaces;
  expectations(pod: PodAttachment): { host: Expectation[]; pod: Expectation[] };
}

/** Sysctls the node needs for any pod to be forwarded (DATAPATH.md). */
export function nodeSysctls(eniLinks: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  };
  for (const link of eniLinks) values[`net.ipv4.conf.${link}.rp_filter`] = '0';
  return values;
}
