import type { PodInterfaces } from '../dataplane/pod-attachment.js';
import type { PodNetwork } from '../rpc/generated/terway/v1/PodNetwork.js';
import type { PodRef } from '../rpc/generated/terway/v1/PodRef.js';
import type { PodRecord } from '../store/pod-record.js';
import type { PodNetworkView } from './ipam.js';

/**
 * The wire form of a record plus where its IP lives. For a wired pod, prefix length and gateway
 * are what the pod itself has configured, so a CNI CHECK compares like with like.
 */
export function toPodNetworkMessage(view: PodNetworkView, interfaces?: PodInterfaces): PodNetwork {
  const { record, lease } = view;
  return {
    pod: toPodRef(record),
    ip: record.ip,
    prefixLength: interfaces?.prefixLength ?? lease?.prefixLength ?? 0,
    gateway: interfaces?.gateway ?? lease?.gateway ?? '',
    eniId: record.eniId,
    eniMac: lease?.eniMac ?? '',
    vswitchId: lease?.vswitchId ?? '',
    vswitchCidr: lease?.vswitchCidr ?? '',
    netns: record.netns,
    ifname: record.ifname,
    allocatedAtMs: record.allocatedAtMs,
    driver: interfaces?.driver ?? record.driver ?? '',
    hostInterface: interfaces?.host ?? null,
    podInterface: interfaces?.pod ?? null,
  };
}

/** The pod a record belongs to, as the wire names it. */
export function toPodRef(record: PodRecord): PodRef {
  return { namespace: record.namespace, name: record.name, containerId: record.containerId };
}
