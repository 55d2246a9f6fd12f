/**
 * The node's totals of new flows to Services (tw_node_stat, lb_maps.h): written by the programs
 * only, read here. The map is per CPU, so a value holds one slot per possible CPU, each rounded up
 * to 8 bytes; the totals are their sums.
 */
import type { BpfMap } from '../../dataplane/bpf/bpf-maps.js';
import { ARRAY_INDEX, NODE_COUNTERS } from './lb-layouts.js';
import { decode, encode } from './struct-codec.js';

export interface NodeFlowTotals {
  /** New flows to a frontend that got a backend. */
  readonly balanced: bigint;
  /** New flows to a frontend refused: no ready backend, or its slots being rewritten. */
  readonly refused: bigint;
  /**
   * New connections refused because the client's port towards their backend was held by another
   * open flow (to another frontend with the same backends, or a direct connection's) and no port
   * was free to move it to: on the wire the two would have been one 4-tuple.
   */
  readonly clashed: bigint;
  /**
   * Of the balanced flows, those whose client port was moved: their own port towards their
   * backend was taken, and no other backend was free, so they left from another port.
   */
  readonly moved: bigint;
  /**
   * Direct TCP connections and UDP exchanges (to a backend's own address) whose client port was
   * moved, because an open flow to a frontend held it: not new flows to a Service, and not in
   * `balanced`.
   */
  readonly movedDirect: bigint;
  /**
   * Of the balanced flows, those whose key already had a flow entry, which they took over: a
   * client reopening from the port of its ended flow to the same frontend. They add no entry.
   */
  readonly reused: bigint;
}

export function readNodeFlowTotals(map: BpfMap): NodeFlowTotals {
  const value = map.lookup(encode(ARRAY_INDEX, { index: 0 }));
  let balanced = 0n;
  let refused = 0n;
  let clashed = 0n;
  let moved = 0n;
  let movedDirect = 0n;
  let reused = 0n;
  if (value === undefined) return { balanced, refused, clashed, moved, movedDirect, reused };
  const slot = Math.ceil(NODE_COUNTERS.size / 8) * 8;
  for (let at = 0; at + NODE_COUNTERS.size <= value.length; at += slot) {
    const counters = decode(NODE_COUNTERS, value.subarray(at, at + NODE_COUNTERS.size));
    balanced += counters.flows;
    refused += counters.rejected;
    clashed += counters.clashes;
    moved += counters.moved;
    movedDirect += counters.movedDirect;
    reused += counters.reused;
  }
  return { balanced, refused, clashed, moved, movedDirect, reused };
}

/**
 * The flow entries the programs have added, as their counters tell: every balanced flow but those
 * that took over their key's entry, and every moved direct one. An upper bound on the entries
 * added to tw_flow (a moved direct connection may replace its own ended entry too), which is what
 * the conntrack collector paces itself by: a busy client reopening connections from the ports of
 * its ended ones, the usual case, fills no room.
 */
export function flowEntriesMade(totals: NodeFlowTotals): number {
  return Number(totals.balanced - totals.reused + totals.movedDirect);
}
