/**
 * How many flows the Service LB's flow table holds: the max_entries of tw_flow and of its reverse
 * index tw_rev (one entry each per flow), chosen when the daemon loads the programs.
 *
 * The kernel sizes a hash map once, when it creates it, and a pinned map is reused only at its own
 * size. A daemon started with another size moves the pinned tables aside first and carries their
 * flows into new ones (flow-table-resize.ts), so by the time this plans the load, tables still
 * pinned in place have the size to keep: tables it refused to shrink, or the new tables of a
 * resize under way.
 */
import { TerwayError } from '../errors/terway-error.js';
import { LB_LIMITS, LB_MAP_NAMES } from './maps/lb-layouts.js';

/** The build's own size (`TW_MAX_FLOWS`), what a daemon without the flag asks for. */
export const DEFAULT_FLOW_TABLE_SIZE = LB_LIMITS.flows;
/**
 * Below the minimum a busy pod's connections alone would fill the table. At the maximum the two
 * maps take about 3.9 GB of kernel memory: more than any node should give a conntrack table.
 */
export const FLOW_TABLE_SIZE_MIN = 16_384;
export const FLOW_TABLE_SIZE_MAX = 16_777_216;
/**
 * Kernel memory per flow of table, both maps (each preallocates every entry): measured as the
 * maps' memlock on Linux 6.18, 136 bytes for tw_flow and 96 for tw_rev.
 */
export const FLOW_TABLE_BYTES_PER_ENTRY = 232;

/**
 * Kernel memory of the Service LB's other maps (frontends, backends and their slots, their
 * counters, affinity, moved ports, fragments, gates, claims), whatever the table's size: their
 * memlock on Linux 6.18, 41.4 MB, most of it tw_aff (11.5), tw_be_stat and tw_slot (8.4 each). A privileged
 * test holds this and FLOW_TABLE_BYTES_PER_ENTRY to what the kernel reports for a load.
 */
export const LB_OTHER_MAPS_BYTES = 41_388_632;

/** The kernel memory a load with nothing pinned yet creates, its table of `flowTableSize`. */
export function lbMapsKernelBytes(flowTableSize: number): number {
  return LB_OTHER_MAPS_BYTES + flowTableSize * FLOW_TABLE_BYTES_PER_ENTRY;
}

/** The maps the size applies to; tw_flow first: its size is the table's. */
export const SIZED_MAPS = [LB_MAP_NAMES.flow, LB_MAP_NAMES.reverse] as const;

export interface FlowTableSizing {
  /** max_entries per map name, for the load (loadObject's mapSizes). */
  readonly mapSizes: Readonly<Record<string, number>>;
  /** The size the table has after the load. */
  readonly entries: number;
  readonly requested: number;
  /** Set when a pinned table of another size was kept: its size. */
  readonly keptPinned?: number;
}

/** An operator's size (a flag's value, decimal digits); throws INVALID_CONFIG naming `flag`. */
export function parseFlowTableSize(value: string, flag: string): number {
  const entries = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (
    !Number.isSafeInteger(entries) ||
    entries < FLOW_TABLE_SIZE_MIN ||
    entries > FLOW_TABLE_SIZE_MAX
  ) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `${flag} ${JSON.stringify(value)}: expected a number of flows from ${FLOW_TABLE_SIZE_MIN} ` +
        `to ${FLOW_TABLE_SIZE_MAX} (each costs about ${FLOW_TABLE_BYTES_PER_ENTRY} bytes of kernel memory)`,
    );
  }
  return entries;
}

/**
 * The table's size for a load: `requested`, unless the table is already pinned in the load's pin
 * directory, whose size then stands. `pinnedEntries(name)` is the max_entries of the map pinned
 * there under that name, undefined when none is. Both maps take the same size, the flow
 * table's if it is pinned: a reverse index pinned alone (a load that died between the two) is
 * sized like it, and a load with the two pinned at different sizes fails as any mismatch does.
 */
export function planFlowTableSize(
  requested: number,
  pinnedEntries: (mapName: string) => number | undefined,
): FlowTableSizing {
  let pinned: number | undefined;
  for (const name of SIZED_MAPS) {
    pinned = pinnedEntries(name);
    if (pinned !== undefined) break;
  }
  const entries = pinned ?? requested;
  const mapSizes: Record<string, number> = {};
  for (const name of SIZED_MAPS) mapSizes[name] = entries;
  return {
    mapSizes,
    entries,
    requested,
    ...(pinned !== undefined && pinned !== requested ? { keptPinned: pinned } : {}),
  };
}
