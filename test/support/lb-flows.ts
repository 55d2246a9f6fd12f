/** Conntrack entries (tw_flow) as the LB program writes them, for tests of what reads them. */
import type { BpfMapDump } from '../../src/dataplane/bpf/bpf-maps.js';
import { FLOW, FLOW_KEY, FLOW_STATES, type FlowState } from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';

export interface FlowShape {
  readonly frontendId: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly state: FlowState;
  /** The program's clock (CLOCK_MONOTONIC, ns) at the flow's last packet. */
  readonly lastSeenNs: bigint;
  /** Tells flows of one client apart. */
  readonly clientPort: number;
}

/** A flow from 10.0.0.99 to 10.96.0.20:80 reaching 10.0.0.7:8080, its key and value encoded. */
export function flowEntry(flow: FlowShape): { key: Buffer; value: Buffer } {
  return {
    key: encode(FLOW_KEY, {
      clientAddr: 0x0a00_0063,
      frontendAddr: 0x0a60_0014,
      clientPort: flow.clientPort,
      frontendPort: 80,
      proto: flow.protocol === 'TCP' ? 6 : 17,
    }),
    value: encode(FLOW, {
      firstSeenNs: flow.lastSeenNs,
      lastSeenNs: flow.lastSeenNs,
      packets: 5n,
      bytes: 500n,
      nextHop: 0n,
      frontendId: flow.frontendId,
      backendId: 1,
      backendAddr: 0x0a00_0007,
      backendPort: 8080,
      state: FLOW_STATES.indexOf(flow.state),
      flags: 0,
    }),
  };
}

/** Entries (built here, or read from a pinned map) as a map dump hands them over: back to back. */
export function dumpOf(entries: readonly { key: Buffer; value: Buffer }[]): BpfMapDump {
  return {
    keys: Buffer.concat(entries.map((entry) => entry.key)),
    values: Buffer.concat(entries.map((entry) => entry.value)),
    count: entries.length,
  };
}
