/**
 * The translation records: which backend each client flow to a Service went to. They are the
 * program's own conntrack entries (tw_flow), so what is shown is what the datapath used, not what
 * the daemon believes it configured. A Service address exists only inside the client pod; this is
 * the one place an operator can still see where a connection to it really went.
 */
import { DUMP_PAGE_ENTRIES, dumpPages, type BpfMap } from '../dataplane/bpf/bpf-maps.js';
import { intToIp } from '../util/ipv4.js';
import type { LbProtocol } from './desired-frontend.js';
import {
  FLOW,
  FLOW_F_DIRECT,
  FLOW_F_PORT_MOVED,
  FLOW_KEY,
  FLOW_STATES,
  MOVED_PORT,
  type FlowState,
} from './maps/lb-layouts.js';
import { decode } from './maps/struct-codec.js';
import { protocolName } from './programmed-state.js';
import { RecentFlows } from './recent-flows.js';

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
  /**
   * The client port the flow's packets carry on the wire, when the programs moved it (its own port
   * towards the backend was taken by another flow); undefined when they did not. 0 for a moved
   * flow whose moved-port entry is gone (evicted): the programs treat it as ended.
   */
  readonly movedClientPort: number | undefined;
  /**
   * A direct connection to the backend (its frontend is the backend itself), recorded only because
   * its port was moved; not a flow to a Service.
   */
  readonly direct: boolean;
}

/** Where a moved flow's port on the wire is kept (tw_moved), when the caller can read it. */
export type MovedPorts = BpfMap | undefined;

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

/**
 * A flow's key and backend as numbers, read where they lie in the dump: what a filter needs, before
 * any record is built. One object is reused for every flow of a scan; a filter must not keep it.
 */
export interface FlowAddresses {
  clientAddr: number;
  clientPort: number;
  frontendAddr: number;
  frontendPort: number;
  proto: number;
  backendAddr: number;
  backendPort: number;
}

export interface FlowQuery {
  readonly matches?: (flow: Readonly<FlowAddresses>) => boolean;
  /** At most this many, most recently active first; 0 or absent for all. */
  readonly limit?: number;
}

export interface FlowSelection {
  /** Flows that matched, before the limit. */
  readonly matched: number;
  /** Flows in the map. */
  readonly total: number;
  /**
   * The chosen flows as records, most recently active first, `size` at a time: building a record
   * is most of the cost, and a caller on the daemon's event loop can pause between batches.
   */
  batches(size: number): Generator<FlowRecord[]>;
}

/**
 * The flows that match, most recently active first, at most `limit` of them. A full map holds
 * 262,144 flows and the daemon serves ADDs on the same event loop: the map is read a page at a
 * time off the loop (dumpPages) and scanned with a `pause` every 4,096 flows; flows are matched on
 * numbers read in place, and only the most recent `limit` of those that match are copied out of
 * the pages (RecentFlows). They become records in batches.
 */
export async function selectFlows(
  flows: BpfMap,
  query: FlowQuery = {},
  pause: () => Promise<void> = () => Promise.resolve(),
  movedPorts?: MovedPorts,
  pageEntries: number = DUMP_PAGE_ENTRIES,
): Promise<FlowSelection> {
  const stride = flows.valueStride;
  const kept = new RecentFlows(FLOW_KEY.size, stride, query.limit ?? 0);
  const view: FlowAddresses = {
    clientAddr: 0,
    clientPort: 0,
    frontendAddr: 0,
    frontendPort: 0,
    proto: 0,
    backendAddr: 0,
    backendPort: 0,
  };
  let matched = 0;
  let total = 0;
  for await (const page of dumpPages(flows, pageEntries)) {
    for (let index = 0; index < page.count; index++) {
      if (total > 0 && total % SELECT_SLICE === 0) await pause();
      total++;
      const keyAt = index * FLOW_KEY.size;
      const valueAt = index * stride;
      if (query.matches !== undefined) {
        readAddresses(page.keys, keyAt, page.values, valueAt, view);
        if (!query.matches(view)) continue;
      }
      matched++;
      kept.offer(page.keys, keyAt, page.values, valueAt, readU64(page.values, valueAt + LAST_SEEN));
    }
  }
  const chosen = kept.ranked();
  return {
    matched,
    total,
    *batches(size: number): Generator<FlowRecord[]> {
      for (let start = 0; start < chosen.length; start += size) {
        yield chosen.slice(start, start + size).map((slot) => {
          const key = kept.keyOf(slot);
          const value = kept.valueOf(slot);
          return decodeFlow(key.buffer, key.at, value.buffer, value.at, movedPorts);
        });
      }
    },
  };
}

/**
 * Flows a selection scans between two pauses: keeping a flow copies it, and until the JIT has
 * optimized the scan a flow costs about a microsecond, so a slice holds the loop a few ms at most.
 */
const SELECT_SLICE = 4_096;

/** Every flow record, oldest first. */
export function readFlowRecords(flows: BpfMap, movedPorts?: MovedPorts): FlowRecord[] {
  const dump = flows.dump();
  const records: FlowRecord[] = [];
  for (let index = 0; index < dump.count; index++) {
    records.push(
      decodeFlow(
        dump.keys,
        index * FLOW_KEY.size,
        dump.values,
        index * flows.valueStride,
        movedPorts,
      ),
    );
  }
  return records.sort((a, b) => Number(a.firstSeenNs - b.firstSeenNs));
}

const LAST_SEEN = FLOW.fields.lastSeenNs.offset;

/** A u64 as a double: exact to 2^53 ns (104 days), and close enough beyond to order by. */
function readU64(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at + 4) * 2 ** 32 + buffer.readUInt32LE(at);
}

function readAddresses(
  keys: Buffer,
  keyAt: number,
  values: Buffer,
  valueAt: number,
  into: FlowAddresses,
): void {
  const key = FLOW_KEY.fields;
  const value = FLOW.fields;
  into.clientAddr = keys.readUInt32BE(keyAt + key.clientAddr.offset);
  into.clientPort = keys.readUInt16BE(keyAt + key.clientPort.offset);
  into.frontendAddr = keys.readUInt32BE(keyAt + key.frontendAddr.offset);
  into.frontendPort = keys.readUInt16BE(keyAt + key.frontendPort.offset);
  into.proto = keys[keyAt + key.proto.offset]!;
  into.backendAddr = values.readUInt32BE(valueAt + value.backendAddr.offset);
  into.backendPort = values.readUInt16BE(valueAt + value.backendPort.offset);
}

function decodeFlow(
  keys: Buffer,
  keyAt: number,
  values: Buffer,
  valueAt: number,
  movedPorts: MovedPorts,
): FlowRecord {
  const key = decode(FLOW_KEY, keys, keyAt);
  const value = decode(FLOW, values, valueAt);
  let movedClientPort: number | undefined;
  if ((value.flags & FLOW_F_PORT_MOVED) !== 0) {
    // Looked up one flow at a time: only flows whose port was taken are moved, a handful.
    const moved = movedPorts?.lookup(keys.subarray(keyAt, keyAt + FLOW_KEY.size));
    movedClientPort = moved === undefined ? 0 : decode(MOVED_PORT, moved).clientPort;
  }
  return {
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
    movedClientPort,
    direct: (value.flags & FLOW_F_DIRECT) !== 0,
  };
}
