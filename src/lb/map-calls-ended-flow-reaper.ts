/**
 * tw_lb_collect's rules through the maps' own calls: a flow is deleted only if it is ended when
 * the reaper looks, with its moved-port entry and the reverse entry that still leads to it. Over
 * maps in memory (memory-lb-maps.ts) it is the program's fake in the collector's unit tests; over
 * the kernel's it is what the daemon would do without the program, a system call per lookup or
 * delete, and bench/conntrack-collect's baseline.
 */
import type { BpfMap } from '../dataplane/bpf/bpf-maps.js';
import type { EndedFlowReaper, ReapedEntries } from './ended-flow-reaper.js';
import { flowAlive } from './flow-liveness.js';
import {
  COLLECT_FRAME,
  FLOW,
  FLOW_F_PORT_MOVED,
  FLOW_KEY,
  REVERSE_KEY,
} from './maps/lb-layouts.js';

export interface ReaperMaps {
  readonly flow: BpfMap;
  readonly reverse: BpfMap;
  readonly movedPorts: BpfMap;
}

export class MapCallsEndedFlowReaper implements EndedFlowReaper {
  readonly batch = COLLECT_FRAME.batch;
  /**
   * Keys handed to reap, in order, when constructed with `recordAsked`: what a test can hold the
   * collector's choice against.
   */
  readonly asked: Buffer[] = [];

  constructor(
    private readonly maps: ReaperMaps,
    /** The programs' clock, CLOCK_MONOTONIC in ns. */
    private readonly monotonicNs: () => bigint,
    private readonly recordAsked = true,
  ) {}

  reap(keys: Buffer, count: number): ReapedEntries {
    if (count < 1 || count > this.batch) throw new RangeError(`reap takes 1 to ${this.batch} keys`);
    const now = this.monotonicNs();
    let flows = 0;
    let reverse = 0;
    let moved = 0;
    for (let index = 0; index < count; index++) {
      const key = keys.subarray(index * FLOW_KEY.size, (index + 1) * FLOW_KEY.size);
      if (this.recordAsked) this.asked.push(Buffer.from(key));
      const flow = this.maps.flow.lookup(key);
      const proto = key[FLOW_KEY.fields.proto.offset]!;
      if (flow === undefined || flowAlive(proto, stateOf(flow), lastSeenOf(flow), now)) continue;
      const portMoved = (flow[FLOW.fields.flags.offset]! & FLOW_F_PORT_MOVED) !== 0;
      const wirePort = portMoved
        ? this.maps.movedPorts.lookup(key)?.subarray(0, 2)
        : key.subarray(8, 10);
      flows += this.maps.flow.deleteBatch(key, 1);
      if (portMoved) moved += this.maps.movedPorts.deleteBatch(key, 1);
      if (wirePort === undefined) continue;
      const reverseKey = reverseKeyOf(key, flow, wirePort);
      const owner = this.maps.reverse.lookup(reverseKey);
      if (owner !== undefined && owner.subarray(0, FLOW_KEY.size).equals(key)) {
        reverse += this.maps.reverse.deleteBatch(reverseKey, 1);
      }
    }
    return { flows, reverse, moved };
  }
}

function stateOf(flow: Buffer): number {
  return flow[FLOW.fields.state.offset]!;
}

function lastSeenOf(flow: Buffer): bigint {
  return flow.readBigUInt64LE(FLOW.fields.lastSeenNs.offset);
}

/** The reverse key a flow's replies carry: client address and wire port, backend, protocol. */
function reverseKeyOf(key: Buffer, flow: Buffer, wirePort: Buffer): Buffer {
  const reverse = Buffer.alloc(REVERSE_KEY.size);
  const copy = (from: Buffer, fromOffset: number, toOffset: number, length: number): number =>
    from.copy(reverse, toOffset, fromOffset, fromOffset + length);
  copy(key, FLOW_KEY.fields.clientAddr.offset, REVERSE_KEY.fields.clientAddr.offset, 4);
  copy(flow, FLOW.fields.backendAddr.offset, REVERSE_KEY.fields.backendAddr.offset, 4);
  copy(wirePort, 0, REVERSE_KEY.fields.clientPort.offset, 2);
  copy(flow, FLOW.fields.backendPort.offset, REVERSE_KEY.fields.backendPort.offset, 2);
  reverse[REVERSE_KEY.fields.proto.offset] = key[FLOW_KEY.fields.proto.offset]!;
  return reverse;
}
