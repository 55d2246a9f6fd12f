/**
 * A resize of the conntrack tables (tw_flow and tw_rev) at a daemon start, without dropping the
 * node's established Service connections.
 *
 * The kernel sizes a hash map once. So a start asking for another size than the pinned tables
 * have moves their pins aside, under `<pinDir>/resizing/`, and the load makes new tables of the
 * size asked for. The programs running in pods keep using the old tables meanwhile: a program
 * holds its maps, not their pins. The flows are then merged into the new tables
 * (flow-table-merge.ts), the pods' programs are swapped in place for ones on the new tables, and
 * the flows the old programs made or touched in between are merged again. Only then are the old
 * tables unpinned; the kernel frees them with the last program that used them.
 *
 * Every step survives a crash: the pins are moved aside through a staging directory renamed in
 * one step, so `resizing/` always holds both old tables; a start that finds it resumes the resize
 * (merges, then finishes after the pods), whatever size it asks for; and a finished resize renames
 * the directory before unpinning anything in it, so a crash there leaves garbage that the next
 * start removes, never a half-emptied `resizing/`.
 *
 * The new tables are filled to RESIZE_FILL_LIMIT of their size at most: they are LRU maps, which
 * start evicting before they are quite full (each CPU keeps a reserve of free entries), and a
 * merge that evicted would drop live flows with the ended ones. So a shrink below what the entries
 * need carries only the live flows over (flow-liveness.ts), leaving the ended ones behind, and a
 * size too small for the live flows alone is refused: the tables keep their size and every entry.
 * So is a size whose new tables the daemon's memory cgroup, or the node, has no room for
 * (memory-cgroup.ts says why they count there): their creation would fail, or leave the daemon too
 * little to run in.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { FLOW_TABLE_BYTES_PER_ENTRY, SIZED_MAPS } from './flow-table-size.js';
import { LB_MAP_NAMES } from './maps/lb-layouts.js';

/** The most of a new table the old tables' entries may fill (see the top of this file). */
export const RESIZE_FILL_LIMIT = 0.9;

/** Under the pin dir: the old tables, while their flows move to the new ones. */
export const RESIZE_DIR = 'resizing';
/**
 * Where the old pins gather before RESIZE_DIR exists: a crash between two moves leaves this. No
 * dots in these names: bpffs refuses a name with one (EPERM).
 */
const STAGING_DIR = 'resizing-new';
/** A finished resize's old tables, renamed out of the way before they are unpinned. */
const FINISHED_PREFIX = 'resized-';

/** What the pins tell about a map pinned at a path. */
export interface PinnedTableReader {
  /** max_entries of the map pinned at `path`; undefined when nothing is pinned there. */
  sizeOf(path: string): number | undefined;
  /** How many entries the flow table pinned at `path` holds, and how many of them are alive. */
  flowsOf(path: string): Promise<FlowCounts>;
}

export interface FlowCounts {
  readonly entries: number;
  /** Entries whose flows are alive (flow-liveness.ts) when counted. */
  readonly live: number;
}

export type FlowTableResizeStart =
  /** No pinned table of another size, no resize under way. */
  | { readonly kind: 'none' }
  /** The pinned tables moved aside: the load makes new ones of the size asked for. */
  | ({ readonly kind: 'started'; readonly from: number } & FlowCounts)
  /** An earlier start's resize, not finished (a crash, or a pod still on the old tables). */
  | { readonly kind: 'resumed'; readonly from: number }
  /**
   * The tables keep their size: they hold more live flows than the size asked for can take
   * (`flows`), or new tables of that size need more memory than the daemon may still charge
   * (`memory`: `needBytes` of `allowedBytes`).
   */
  | ({ readonly kind: 'refused'; readonly reason: 'flows'; readonly size: number } & FlowCounts)
  | {
      readonly kind: 'refused';
      readonly reason: 'memory';
      readonly size: number;
      readonly needBytes: number;
      readonly allowedBytes: number;
    };

/** Whether a table of `size` takes `entries` without evicting (see the top of this file). */
export function takesEntries(size: number, entries: number): boolean {
  return entries <= size * RESIZE_FILL_LIMIT;
}

/**
 * Before the load: starts a resize when the tables pinned in `pinDir` have another size than
 * `requested`, or takes up one under way. `memoryAllowedBytes`: how much more kernel memory the
 * daemon may charge, when it is limited.
 */
export async function startFlowTableResize(
  pinDir: string,
  requested: number,
  pins: PinnedTableReader,
  memoryAllowedBytes?: number,
): Promise<FlowTableResizeStart> {
  for (const entry of readdirOrNone(pinDir)) {
    if (entry.startsWith(FINISHED_PREFIX)) {
      rmSync(join(pinDir, entry), { recursive: true, force: true });
    }
  }
  const staging = join(pinDir, STAGING_DIR);
  if (existsSync(staging)) {
    // Only a start that found no resize under way stages one, so what is still pinned in place
    // is the old tables' other half.
    moveTables(pinDir, staging);
    renameSync(staging, join(pinDir, RESIZE_DIR));
  }
  const resizing = join(pinDir, RESIZE_DIR);
  if (existsSync(resizing)) {
    const from = pins.sizeOf(join(resizing, LB_MAP_NAMES.flow));
    if (from !== undefined) return { kind: 'resumed', from };
    // No table of this layout in it (an upgrade renamed the maps meanwhile): nothing to merge.
    retireOldFlowTables(pinDir);
  }
  const flowPin = join(pinDir, LB_MAP_NAMES.flow);
  const size = pins.sizeOf(flowPin);
  if (size === undefined || size === requested) return { kind: 'none' };
  const needBytes = requested * FLOW_TABLE_BYTES_PER_ENTRY;
  if (memoryAllowedBytes !== undefined && needBytes > memoryAllowedBytes) {
    return { kind: 'refused', reason: 'memory', size, needBytes, allowedBytes: memoryAllowedBytes };
  }
  const counts = await pins.flowsOf(flowPin);
  if (!takesEntries(requested, counts.live)) {
    return { kind: 'refused', reason: 'flows', size, ...counts };
  }
  mkdirSync(staging, { mode: 0o700 });
  moveTables(pinDir, staging);
  renameSync(staging, resizing);
  return { kind: 'started', from: size, ...counts };
}

/**
 * Once nothing uses the old tables: unpins them. The directory is renamed first, so a start never
 * finds a `resizing/` that lacks one of them.
 */
export function retireOldFlowTables(pinDir: string): void {
  const resizing = join(pinDir, RESIZE_DIR);
  if (!existsSync(resizing)) return;
  const finished = join(pinDir, `${FINISHED_PREFIX}${process.pid}-${Date.now()}`);
  renameSync(resizing, finished);
  rmSync(finished, { recursive: true, force: true });
}

/** Whether a resize's old tables are still pinned aside in `pinDir`. */
export function oldFlowTablesPinned(pinDir: string): boolean {
  return existsSync(join(pinDir, RESIZE_DIR));
}

/** Where the old tables of a resize under way are pinned. */
export function oldFlowTablePins(pinDir: string): { flow: string; reverse: string } {
  return {
    flow: join(pinDir, RESIZE_DIR, LB_MAP_NAMES.flow),
    reverse: join(pinDir, RESIZE_DIR, LB_MAP_NAMES.reverse),
  };
}

function moveTables(pinDir: string, to: string): void {
  for (const name of SIZED_MAPS) {
    const pin = join(pinDir, name);
    if (existsSync(pin)) renameSync(pin, join(to, name));
  }
}

function readdirOrNone(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
