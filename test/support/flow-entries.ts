/** Translation records (tw_flow entries) as the tests write them into a flow map. */
import type { BpfMap } from '../../src/dataplane/bpf/bpf-maps.js';
import {
  FLOW,
  FLOW_KEY,
  FLOW_STATES,
  IPPROTO_TCP,
  REVERSE_KEY,
  type FlowState,
} from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { ipToInt } from '../../src/util/ipv4.js';

/** One flow; what is left out is 10.0.0.10 → 10.96.0.10:80/TCP → 10.0.0.21:8080, established. */
export interface TestFlow {
  readonly clientPort: number;
  readonly client?: string;
  readonly frontend?: string;
  readonly frontendPort?: number;
  readonly proto?: number;
  readonly backend?: string;
  readonly backendPort?: number;
  readonly backendId?: number;
  readonly firstSeenNs?: bigint;
  readonly lastSeenNs?: bigint;
  readonly packets?: bigint;
  readonly bytes?: bigint;
  readonly nextHop?: bigint;
  readonly state?: FlowState;
  /** tw_flow.flags (FLOW_F_*). */
  readonly flags?: number;
}

/** The tw_flow key of a test flow. */
export function flowKeyOf(flow: TestFlow): Buffer {
  return encode(FLOW_KEY, {
    clientAddr: ipToInt(flow.client ?? '10.0.0.10'),
    frontendAddr: ipToInt(flow.frontend ?? '10.96.0.10'),
    clientPort: flow.clientPort,
    frontendPort: flow.frontendPort ?? 80,
    proto: flow.proto ?? IPPROTO_TCP,
  });
}

/** The tw_rev key of a test flow: its client and backend, as a reply from the backend reads them. */
export function reverseKeyOf(flow: TestFlow): Buffer {
  return encode(REVERSE_KEY, {
    clientAddr: ipToInt(flow.client ?? '10.0.0.10'),
    backendAddr: ipToInt(flow.backend ?? '10.0.0.21'),
    clientPort: flow.clientPort,
    backendPort: flow.backendPort ?? 8080,
    proto: flow.proto ?? IPPROTO_TCP,
  });
}

/** Writes each flow's reverse entry (leading to its flow key) into `map`, in one batch. */
export function writeReverseEntries(map: BpfMap, flows: readonly TestFlow[]): void {
  if (flows.length === 0) return;
  map.updateBatch(
    Buffer.concat(flows.map(reverseKeyOf)),
    Buffer.concat(flows.map(flowKeyOf)),
    flows.length,
  );
}

/** Writes `flows` into `map` in one batch, in their order. */
export function writeFlows(map: BpfMap, flows: readonly TestFlow[]): void {
  if (flows.length === 0) return;
  const keys = Buffer.concat(flows.map(flowKeyOf));
  const values = Buffer.concat(
    flows.map((flow) =>
      encode(FLOW, {
        firstSeenNs: flow.firstSeenNs ?? 1n,
        lastSeenNs: flow.lastSeenNs ?? flow.firstSeenNs ?? 1n,
        packets: flow.packets ?? 1n,
        bytes: flow.bytes ?? 60n,
        nextHop: flow.nextHop ?? 0n,
        frontendId: 1,
        backendId: flow.backendId ?? 1,
        backendAddr: ipToInt(flow.backend ?? '10.0.0.21'),
        flags: flow.flags ?? 0,
        backendPort: flow.backendPort ?? 8080,
        state: FLOW_STATES.indexOf(flow.state ?? 'established'),
      }),
    ),
  );
  map.updateBatch(keys, values, flows.length);
}
