/**
 * Moves the conntrack entries of one pair of tables (tw_flow and its reverse index tw_rev) into
 * another, while programs may be writing either: how a resize (flow-table-resize.ts) carries the
 * node's established Service connections from the old tables into the new ones.
 *
 * Run twice per resize: once when the new tables are made, before any program uses them, and again
 * once every pod runs programs that use them, for the flows the old programs made or touched in
 * between. So an entry the new tables already hold is replaced only when the old one has seen a
 * later packet (its last-seen stamp is newer): anything else there was made or touched by a
 * program on the new tables, and is the current truth. A reverse entry never replaces one already
 * there; on a shrink, only those leading to a flow the new table holds take its room.
 *
 * The second run reads only what can have changed since the first (`changedSince`): a program
 * stamps a flow's last-seen time whenever a packet comes a granularity or more after the last
 * stamp, so an entry stamped well before the first run began has seen no packet since that could
 * make it newer than its copy. Its reverse entries are those of the flows it adds.
 *
 * A shrink whose new tables cannot take every entry merges only the flows that are alive
 * (`liveAt`): an ended flow's entry only records a finished connection, and the next packet of
 * its 4-tuple would start anew anyway. Its reverse entry goes with it.
 *
 * A full table (E2BIG; the kernel's LRU tables evict instead, which the caller prevents by
 * refusing a size too small) stops nothing: the entries that do not fit are counted, and the
 * caller says so. Each page of the walk is followed by a turn of the event loop.
 */
import type { BpfMap, BpfMapDump } from '../dataplane/bpf/bpf-maps.js';
import { bpfErrno, BPF_EXIST, BPF_NOEXIST, dumpPages } from '../dataplane/bpf/bpf-maps.js';
import { dumpedFlowAlive, splitNs, type SplitNs } from './flow-liveness.js';
import { FLOW } from './maps/lb-layouts.js';

/** The two maps of a conntrack table. */
export interface FlowTables {
  readonly flow: BpfMap;
  readonly reverse: BpfMap;
}

/** Old tables to merge from: a reverse index may be missing (a load that died before its pin). */
export interface OldFlowTables {
  readonly flow: BpfMap;
  readonly reverse: BpfMap | undefined;
}

export interface FlowTableMergeReport {
  /** Flows the new table did not hold, now written. */
  flowsAdded: number;
  /** Flows it held with an older last-seen stamp, now overwritten. */
  flowsUpdated: number;
  /** Reverse entries written. */
  reverseAdded: number;
  /** Entries (flow or reverse) that found the new table full. */
  dropped: number;
  /** With `liveAt`: old flows left behind because they had ended. */
  endedLeft: number;
}

export interface FlowTableMergeOptions {
  /**
   * CLOCK_MONOTONIC (ns) when an earlier merge into the same tables began: only old flows stamped
   * later than this, less CHANGE_MARGIN_NS, are read.
   */
  readonly changedSince?: bigint;
  /**
   * CLOCK_MONOTONIC (ns): merge only the flows alive then (flow-liveness.ts), and the reverse
   * entries of those. For a new table too small for the ended flows as well.
   */
  readonly liveAt?: bigint;
}

/**
 * How far before `changedSince` a changed flow's stamp may lie: lb.c's LAST_SEEN_GRANULARITY_NS
 * (1 s) plus the programs' clock's lag behind CLOCK_MONOTONIC (a fraction of a second: it counts
 * from the kernel's first tick), with room to spare. Reading a few more flows costs little.
 */
export const CHANGE_MARGIN_NS = 5_000_000_000n;

/** Entries per page of the walks: a page's per-entry work holds the event loop a few ms. */
const MERGE_PAGE_ENTRIES = 4_096;

const LAST_SEEN_OFFSET = FLOW.fields.lastSeenNs.offset;

export async function mergeFlowTables(
  from: OldFlowTables,
  into: FlowTables,
  nextTurn: () => Promise<unknown>,
  options: FlowTableMergeOptions = {},
): Promise<FlowTableMergeReport> {
  const report: FlowTableMergeReport = {
    flowsAdded: 0,
    flowsUpdated: 0,
    reverseAdded: 0,
    dropped: 0,
    endedLeft: 0,
  };
  const { changedSince, liveAt } = options;
  const oldest = changedSince === undefined ? undefined : changedSince - CHANGE_MARGIN_NS;
  const liveNow = liveAt === undefined ? undefined : splitNs(liveAt);
  /** With `changedSince`: the flows this merge added (latin1 keys), whose reverse entries follow. */
  const added = new Set<string>();
  await walk(from.flow, nextTurn, (page) => {
    const { keys, values, count } =
      oldest === undefined && liveNow === undefined
        ? page
        : flowsToMerge(page, from.flow, oldest, liveNow, report);
    // A first merge into tables no program uses yet: the page goes in whole, in one call.
    if (oldest === undefined && insertPage(into.flow, keys, values, count)) {
      report.flowsAdded += count;
      return;
    }
    const { keySize, valueStride } = from.flow;
    for (let index = 0; index < count; index++) {
      const value = values.subarray(index * valueStride, (index + 1) * valueStride);
      const key = keys.subarray(index * keySize, (index + 1) * keySize);
      const outcome = mergeFlow(into.flow, key, value, oldest === undefined, report);
      if (outcome === 'added' && oldest !== undefined) added.add(key.toString('latin1'));
    }
  });
  if (from.reverse === undefined || (oldest !== undefined && added.size === 0)) return report;
  const flowKeySize = into.flow.keySize;
  const reverse = from.reverse;
  // Growing, with every flow carried over, the old index fits whole, stale entries and all (the
  // programs check the flow an entry leads to, so a stale one misleads nothing): a first merge
  // copies it page by page as it is. Otherwise only the entries of flows the new table holds take
  // its room.
  const copyWhole =
    oldest === undefined && liveNow === undefined && reverse.maxEntries <= into.reverse.maxEntries;
  await walk(reverse, nextTurn, ({ keys, values, count }) => {
    if (copyWhole && insertPage(into.reverse, keys, values, count)) {
      report.reverseAdded += count;
      return;
    }
    const { keySize, valueStride } = reverse;
    for (let index = 0; index < count; index++) {
      const key = keys.subarray(index * keySize, (index + 1) * keySize);
      const value = values.subarray(index * valueStride, (index + 1) * valueStride);
      const flowKey = value.subarray(0, flowKeySize);
      if (oldest !== undefined) {
        if (!added.has(flowKey.toString('latin1'))) continue;
      } else if (copyWhole && into.reverse.lookup(key)?.equals(value) === true) {
        report.reverseAdded++; // written by the page that failed partway
        continue;
      } else if (into.flow.lookup(flowKey) === undefined) {
        continue;
      }
      const written = insert(into.reverse, key, value);
      if (written === 'written') report.reverseAdded++;
      else if (written === 'full') report.dropped++;
    }
  });
  return report;
}

/**
 * One old flow into the new table. `afterFailedPage`: a page written whole failed partway, and
 * an entry holding this very value is one it wrote.
 */
function mergeFlow(
  into: BpfMap,
  key: Buffer,
  value: Buffer,
  afterFailedPage: boolean,
  report: FlowTableMergeReport,
): 'added' | 'updated' | 'kept' {
  const present = into.lookup(key);
  if (present === undefined) {
    const written = insert(into, key, value);
    if (written === 'written') {
      report.flowsAdded++;
      return 'added';
    }
    if (written === 'full') report.dropped++;
    return 'kept';
  }
  if (afterFailedPage && present.equals(value)) {
    report.flowsAdded++;
    return 'added';
  }
  if (value.readBigUInt64LE(LAST_SEEN_OFFSET) <= present.readBigUInt64LE(LAST_SEEN_OFFSET)) {
    return 'kept';
  }
  try {
    into.updateBatch(key, value, 1, BPF_EXIST);
    report.flowsUpdated++;
    return 'updated';
  } catch {
    // Deleted meanwhile (the collector judged the copy ended): the next packet starts it anew.
    return 'kept';
  }
}

/** The whole page in one call, none of its keys present; false when any was (or no room). */
function insertPage(into: BpfMap, keys: Buffer, values: Buffer, count: number): boolean {
  if (count === 0) return true;
  try {
    into.updateBatch(keys, values, count, BPF_NOEXIST);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the entry. 'taken': a program made one under the key meanwhile, which stands; 'full':
 * there was no room.
 */
function insert(into: BpfMap, key: Buffer, value: Buffer): 'written' | 'taken' | 'full' {
  try {
    into.updateBatch(key, value, 1, BPF_NOEXIST);
    return 'written';
  } catch (error) {
    return bpfErrno(error) === 'EEXIST' ? 'taken' : 'full';
  }
}

/**
 * The page's flows stamped at `oldest` or later and alive at `liveNow` (each test skipped when
 * undefined), packed as a page of their own. Those left out for having ended are counted; those
 * stamped earlier are not (a second merge's first merge counted them).
 */
function flowsToMerge(
  page: BpfMapDump,
  { keySize, valueStride }: Pick<BpfMap, 'keySize' | 'valueStride'>,
  oldest: bigint | undefined,
  liveNow: SplitNs | undefined,
  report: FlowTableMergeReport,
): BpfMapDump {
  let live = 0;
  for (let index = 0; index < page.count; index++) {
    const lastSeen = page.values.readBigUInt64LE(index * valueStride + LAST_SEEN_OFFSET);
    if (oldest !== undefined && lastSeen < oldest) continue;
    if (liveNow !== undefined && !dumpedFlowAlive(page, valueStride, index, liveNow)) {
      report.endedLeft++;
      continue;
    }
    // In place: an entry moves only towards the page's start, over one already moved or dropped.
    if (live !== index) {
      page.keys.copy(page.keys, live * keySize, index * keySize, (index + 1) * keySize);
      page.values.copy(
        page.values,
        live * valueStride,
        index * valueStride,
        (index + 1) * valueStride,
      );
    }
    live++;
  }
  return { keys: page.keys, values: page.values, count: live };
}

async function walk(
  map: BpfMap,
  nextTurn: () => Promise<unknown>,
  visit: (page: BpfMapDump) => void,
): Promise<void> {
  for await (const page of dumpPages(map, MERGE_PAGE_ENTRIES)) {
    visit(page);
    await nextTurn();
  }
}
