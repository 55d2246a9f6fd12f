/**
 * The translation records: which backend each client flow to a Service went to. They are the
 * program's own conntrack entries (tw_flow), so what is shown is what the datapath used, not what
 * the daemon believes it configured. A Service address exists only inside the client pod; this is
 * the one place an operator can still see where a connection to it really went.
 */
import type { BpfMap } from '../dataplane/bpf/bpf-maps.js';
import { intToIp } from '../util/ipv4.js';
import type { LbProtocol } from './desired-frontend.js';
import { FLOW, FLOW_KEY, FLOW_STATES, type FlowState } from './maps/lb-layouts.js';
import { decode } from './maps/struct-codec.js';
import { protocolName } from './programmed-state.js';

export interface FlowRecord {
  readonly protocol: LbProtocol;
  readonly client: { readonly ip: string; readonly port: number };
  readonly frontend: { readonly ip: string; readonly port: number };
  readonly backend: { readonly ip: string; readonly port: number; readonly id: number };
  readonly frontendId: number;
  readonly state: FlowState;
  /** bpf_ktime_get_ns() clock (monotonic, since boot). */
  readonly firstSeenNs: bigint;
  readonly lastSeenNs: bigint;
  readonly packets: bigint;
  readonly bytes: bigint;
  /**
   * The source MAC of the backend's last reply, which an L2 pod's egress program addresses the
   * flow's packets to while that reply is recent; undefined before the first reply.
   */
  readonly nextHopMac: string | undefined;
}

/** Bits 48-63 of tw_flow.next_hop hold its stamp; bits 0-47 (bytes 0-5 in memory) the MAC. */
const NEXT_HOP_MAC_BYTES = 6;

/** The MAC in a tw_flow.next_hop word, as aa:bb:cc:dd:ee:ff; undefined for 0 (none learned). */
export function nextHopMacOf(nextHop: bigint): string | undefined {
  if (nextHop === 0n) return undefined;
  const bytes: string[] = [];
  for (let index = 0; index < NEXT_HOP_MAC_BYTES; index++) {
    bytes.push(
      Number((nextHop >> BigInt(8 * index)) & 0xffn)
        .toString(16)
        .padStart(2, '0'),
    );
  }
  return bytes.join(':');
}

export function readFlowRecords(flows: BpfMap): FlowRecord[] {
  const dump = flows.dump();
  const records: FlowRecord[] = [];
  for (let index = 0; index < dump.count; index++) {
    const key = decode(FLOW_KEY, dump.keys, index * FLOW_KEY.size);
    const value = decode(FLOW, dump.values, index * flows.valueStride);
    records.push({
      protocol: protocolName(key.proto),
      client: { ip: intToIp(key.clientAddr), port: key.clientPort },
      frontend: { ip: intToIp(key.frontendAddr), port: key.frontendPort },
      backend: { ip: intToIp(value.backendAddr), port: value.backendPort, id: value.backendId },
      frontendId: value.frontendId,
      state: FLOW_STATES[value.state] ?? 'closing',
      firstSeenNs: value.firstSeenNs,
      lastSeenNs: value.lastSeenNs,
      packets: value.packets,
      bytes: value.bytes,
      nextHopMac: nextHopMacOf(value.nextHop),
    });
  }
  return records.sort((a, b) => Number(a.firstSeenNs - b.firstSeenNs));
}
