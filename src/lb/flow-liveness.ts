/**
 * Which frontend ids the conntrack entries (tw_flow) that are still alive count under: a deleted
 * frontend's id is kept from reuse until none does (parked-frontend-ids.ts).
 *
 * A flow is alive as the program judges it (flow_alive in bpf/lb.c): its last packet is younger
 * than its state's lifetime. The lifetimes below mirror that file's; a unit test holds them equal.
 */
import type { BpfMapDump } from '../dataplane/bpf/bpf-maps.js';
import { FLOW, FLOW_KEY, FLOW_STATES, IPPROTO_TCP } from './maps/lb-layouts.js';

const NS_PER_S = 1_000_000_000n;

/** lb.c's conntrack lifetimes, in ns, by what the flow's state and protocol are. */
export const FLOW_LIFETIME_NS = {
  tcpNew: 60n * NS_PER_S,
  tcpEstablished: 6n * 3600n * NS_PER_S,
  tcpClosing: 10n * NS_PER_S,
  /** UDP until the flow is a stream: no reply yet, or a request and its answer. */
  udp: 30n * NS_PER_S,
  /** UDP once a reply was seen and a packet came 2 s or more after the first. */
  udpStream: 60n * NS_PER_S,
} as const;

/** An established connection, and a half-closed one (its other side may still send). */
const ESTABLISHED_LIFETIME_STATES = new Set<number>(
  (['established', 'client-fin', 'backend-fin'] as const).map((state) =>
    FLOW_STATES.indexOf(state),
  ),
);
const STATE_CLOSING = FLOW_STATES.indexOf('closing');
const STATE_STREAM = FLOW_STATES.indexOf('stream');

/** Which of the lifetimes a flow of this protocol and state has. */
function lifetimeOf(proto: number, state: number): keyof typeof FLOW_LIFETIME_NS {
  if (proto !== IPPROTO_TCP) return state === STATE_STREAM ? 'udpStream' : 'udp';
  if (ESTABLISHED_LIFETIME_STATES.has(state)) return 'tcpEstablished';
  if (state === STATE_CLOSING) return 'tcpClosing';
  return 'tcpNew';
}

/**
 * Whether a flow is alive at `nowNs` as the program judges it: a packet now would continue it, where
 * past its lifetime the entry only records a finished connection, and the next packet starts anew.
 */
export function flowAlive(
  proto: number,
  state: number,
  lastSeenNs: bigint,
  nowNs: bigint,
): boolean {
  return nowNs - lastSeenNs < FLOW_LIFETIME_NS[lifetimeOf(proto, state)];
}

/** FLOW_LIFETIME_NS as doubles, exact: every lifetime is far below 2^53 ns. */
const LIFETIME_NS_NUMBER = {
  tcpNew: Number(FLOW_LIFETIME_NS.tcpNew),
  tcpEstablished: Number(FLOW_LIFETIME_NS.tcpEstablished),
  tcpClosing: Number(FLOW_LIFETIME_NS.tcpClosing),
  udp: Number(FLOW_LIFETIME_NS.udp),
  udpStream: Number(FLOW_LIFETIME_NS.udpStream),
} as const;

/**
 * flowAlive with the stamps given as their two 32-bit halves, and no BigInt: the conntrack
 * collector judges every flow of a full table (262,144) this way, and with a BigInt per flow its
 * first scan, before the JIT had warmed up, held the event loop 26 ms per 16,384 flows. The age is
 * exact in a double below 2^53 ns (104 days), far past the longest lifetime (6 h): an older stamp
 * is ended however it rounds.
 */
export function flowAliveAt(
  proto: number,
  state: number,
  lastSeenHigh: number,
  lastSeenLow: number,
  nowHigh: number,
  nowLow: number,
): boolean {
  const ageNs = (nowHigh - lastSeenHigh) * 2 ** 32 + (nowLow - lastSeenLow);
  return ageNs < LIFETIME_NS_NUMBER[lifetimeOf(proto, state)];
}

/** A CLOCK_MONOTONIC reading as flowAliveAt takes it: its two 32-bit halves. */
export interface SplitNs {
  readonly high: number;
  readonly low: number;
}

export function splitNs(ns: bigint): SplitNs {
  return { high: Number(ns >> 32n), low: Number(ns & 0xffff_ffffn) };
}

/** Whether entry `index` of a dump of tw_flow (`valueStride` its map's) is alive at `now`. */
export function dumpedFlowAlive(
  dump: BpfMapDump,
  valueStride: number,
  index: number,
  now: SplitNs,
): boolean {
  const at = index * valueStride;
  const lastSeen = at + FLOW.fields.lastSeenNs.offset;
  return flowAliveAt(
    dump.keys[index * FLOW_KEY.size + FLOW_KEY.fields.proto.offset]!,
    dump.values[at + FLOW.fields.state.offset]!,
    dump.values.readUInt32LE(lastSeen + 4),
    dump.values.readUInt32LE(lastSeen),
    now.high,
    now.low,
  );
}

/**
 * Flows scanned between two pauses of a scan on the daemon's event loop (liveFrontendIdsPaused):
 * a few ms of work, so CNI calls wait no longer.
 */
export const FLOW_SCAN_SLICE = 16_384;

/**
 * The frontend ids of the flows in `dump` (a dump of tw_flow; `valueStride` its map's) that are
 * alive at `nowNs` (CLOCK_MONOTONIC), added to `live`, so a walk in pages gathers every page's into
 * one set. A stamp ahead of `nowNs` counts as alive: the programs read a coarse clock that can run
 * a tick ahead of the daemon's. The scan runs on the daemon's event loop, with a `pause` every
 * 16,384 flows: a full map (262,144) takes 13-23 ms to scan here, and the loop serves pod ADDs.
 */
export async function liveFrontendIdsPaused(
  dump: BpfMapDump,
  valueStride: number,
  nowNs: bigint,
  pause: () => Promise<unknown>,
  live = new Set<number>(),
): Promise<Set<number>> {
  for (let from = 0; from < dump.count; from += FLOW_SCAN_SLICE) {
    if (from > 0) await pause();
    addLiveFrontendIds(
      dump,
      valueStride,
      nowNs,
      live,
      from,
      Math.min(dump.count, from + FLOW_SCAN_SLICE),
    );
  }
  return live;
}

function addLiveFrontendIds(
  dump: BpfMapDump,
  valueStride: number,
  nowNs: bigint,
  live: Set<number>,
  from: number,
  to: number,
): void {
  const now = splitNs(nowNs);
  const { frontendId } = FLOW.fields;
  for (let index = from; index < to; index++) {
    const id = dump.values.readUInt32LE(index * valueStride + frontendId.offset);
    if (id === 0 || live.has(id)) continue;
    if (dumpedFlowAlive(dump, valueStride, index, now)) live.add(id);
  }
}
