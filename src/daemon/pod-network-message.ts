import type { PodNetwork } from '../rpc/generated/terway/v1/PodNetwork.js';
import type { PodNetworkView } from './ipam.js';

/** The wire form of a record plus where its IP lives. */
export function toPodNetworkMessage(view: PodNetworkView): PodNetwork {
  const { record, lease } = view;
  return {
    pod: { namespace: record.namespace, name: record.name, containerId: record.containerId },
    ip: record.ip,
    prefixLength: lease?.prefixLength ?? 0,
    gateway: lease?.gateway ?? '',
    eniId: record.eniId,
    eniMac: lease?.eniMac ?? '',
    vswitchId: lease?.vswitchId ?? '',
    vswitchCidr: lease?.vswitchCidr ?? '',
    netns: record.netns,
    ifname: record.ifname,
    allocatedAtMs: record.allocatedAtMs,
  };
}
