/**
 * Decides whether this daemon wires pods, and builds what does: the kernel (iproute2 for the
 * node's namespace, route netlink for pods'), the ENI link finder, the gate that keeps an ENI from the pool until its
 * link is up, and the pod datapath with the configured driver.
 */
import type { Logger } from 'pino';

import type { CloudProvider } from '../cloud/provider.js';
import type { DaemonConfig, DatapathMode } from '../config/eni-conf.js';
import { EniLinkGate } from '../dataplane/eni-link-gate.js';
import { EniLinks } from '../dataplane/eni-links.js';
import { Iproute2Kernel } from '../dataplane/kernel/iproute2-kernel.js';
import type { Kernel } from '../dataplane/kernel/kernel.js';
import type { NetnsRef } from '../dataplane/kernel/netns-ref.js';
import { PodNetlinkKernel } from '../dataplane/kernel/pod-netlink-kernel.js';
import { nativeRtnlOpener } from '../dataplane/kernel/rtnetlink/rtnl-socket.js';
import { describeNetns, parseNetnsSetting } from '../dataplane/kernel/netns-ref.js';
import type { DriverName } from '../dataplane/pod-attachment.js';
import { PodDatapath } from '../dataplane/pod-datapath.js';
import { TerwayError } from '../errors/terway-error.js';
import type { Clock } from '../util/clock.js';
import type { DatapathRuntime } from './pod-network.js';
import { startServiceLb, type ServiceLb, type ServiceLbOptions } from './service-lb.js';

export interface DatapathSetup {
  /** The cloud the pool should use: gated on ENI links when pods are wired. */
  cloud: CloudProvider;
  runtime: DatapathRuntime | undefined;
  /** The Service load balancer, which exists only where pods are wired. */
  serviceLb: ServiceLb | undefined;
}

/**
 * iproute2 for the node's namespace (one long-lived ip) and, where the daemon's addon is built,
 * route netlink for pods' namespaces; without the addon, pods get a spawned ip as before.
 */
function realKernel(hostNetns: NetnsRef, log: Logger): Kernel {
  const iproute2 = new Iproute2Kernel({ sessionNetns: hostNetns });
  const rtnl = nativeRtnlOpener();
  if ('unavailable' in rtnl) {
    log.warn({ reason: rtnl.unavailable }, 'pods are programmed with a spawned ip per pod');
    return iproute2;
  }
  return new PodNetlinkKernel(iproute2, { hostNetns, open: rtnl.opener });
}

/** `auto` wires pods unless the cloud is the built-in emulator, whose ENIs never get a link. */
export function resolveDatapathMode(
  mode: DatapathMode,
  cloudMode: 'ecs' | 'emulator',
): 'kernel' | 'none' {
  if (mode !== 'auto') return mode;
  return cloudMode === 'emulator' ? 'none' : 'kernel';
}

export async function createDatapath(options: {
  config: DaemonConfig;
  cloud: CloudProvider;
  cloudMode: 'ecs' | 'emulator';
  clock: Clock;
  log: Logger;
  kernel?: Kernel;
  /** Where the Service LB's program, maps and desired state come from. */
  serviceLb: Omit<ServiceLbOptions, 'log'>;
}): Promise<DatapathSetup> {
  const { config, cloud, cloudMode, clock, log } = options;
  if (resolveDatapathMode(config.datapath, cloudMode) === 'none') {
    log.warn(
      { datapath: config.datapath, cloud: cloudMode },
      'DATAPATH OFF: pods get an IP and a record, but no interface is configured (IPAM only)',
    );
    return { cloud, runtime: undefined, serviceLb: undefined };
  }
  const hostNetns = parseNetnsSetting(config.hostNetns);
  const kernel = options.kernel ?? realKernel(hostNetns, log);
  if (!(await kernel.netnsExists(hostNetns))) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `host_netns: ${describeNetns(hostNetns)} does not exist or is not a network namespace`,
    );
  }
  if (cloud.nodeAddress === undefined) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `the ${cloud.kind} cloud cannot tell the node's IP, which wiring pods needs; set datapath to "none"`,
    );
  }
  const { primaryIp } = await cloud.nodeAddress();
  const enis = new EniLinks({ kernel, hostNetns, mtu: config.eniMtu, clock, log });
  const preferred: DriverName = config.eniipVirtualType === 'IPVlan' ? 'ipvlan' : 'veth';
  const serviceLb = await startServiceLb({ ...options.serviceLb, log });
  const datapath = new PodDatapath({
    kernel,
    hostNetns,
    preferred,
    log,
    lbAttacher: serviceLb.attacher,
  });
  const { driver, fallbackReason } = await datapath.chooseDriver();
  log.info(
    {
      hostNetns: describeNetns(hostNetns),
      nodeIp: primaryIp,
      eniipVirtualType: config.eniipVirtualType,
      driver,
      mtu: config.eniMtu,
    },
    fallbackReason === undefined ? 'wiring pods' : `wiring pods with ${driver}: ${fallbackReason}`,
  );
  return {
    cloud: new EniLinkGate(cloud, enis, log),
    runtime: { datapath, enis, nodeIp: primaryIp },
    serviceLb,
  };
}
