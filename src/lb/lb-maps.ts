/**
 * The load balancer's maps as one set, opened from their pins and checked against the layouts the
 * daemon was built with: a pinned map whose key or value size differs was created by another
 * layout, and writing it would corrupt the datapath. The slot, backend and gate arrays, which the
 * reconciler writes with plain stores, are mapped into memory; the counter arrays are not (see
 * counter-resets.ts).
 */
import { join } from 'node:path';

import type { BpfMap } from '../dataplane/bpf/bpf-maps.js';
import { TerwayError } from '../errors/terway-error.js';
import {
  AFFINITY,
  AFFINITY_KEY,
  ARRAY_INDEX,
  BACKEND,
  BACKEND_ID,
  COUNTERS,
  FLOW,
  FLOW_KEY,
  FRONTEND,
  FRONTEND_KEY,
  GATE_WORD,
  LB_MAP_NAMES,
  MOVED_PORT,
  NODE_COUNTERS,
  REVERSE_KEY,
  type LbMapRole,
} from './maps/lb-layouts.js';
import { sharedArray, type SharedArray } from './maps/shared-array.js';

/** Maps the daemon reaches through syscalls. */
const HANDLE_ROLES = [
  'frontend',
  'flow',
  'reverse',
  'affinity',
  'frontendStats',
  'backendStats',
  'nodeStats',
  'movedPorts',
] as const;
/** Arrays mapped into the daemon's memory. */
const MAPPED_ROLES = ['slot', 'backend', 'frontendGate', 'backendGate'] as const;
type HandleRole = (typeof HANDLE_ROLES)[number];
type MappedRole = (typeof MAPPED_ROLES)[number];

export type LbMaps = { readonly [Role in HandleRole]: BpfMap } & {
  readonly [Role in MappedRole]: SharedArray;
};

/** Key and value sizes per map, from the layouts. */
export const LB_MAP_SHAPES: { readonly [Role in LbMapRole]: { key: number; value: number } } = {
  frontend: { key: FRONTEND_KEY.size, value: FRONTEND.size },
  slot: { key: ARRAY_INDEX.size, value: BACKEND_ID.size },
  backend: { key: ARRAY_INDEX.size, value: BACKEND.size },
  flow: { key: FLOW_KEY.size, value: FLOW.size },
  reverse: { key: REVERSE_KEY.size, value: FLOW_KEY.size },
  affinity: { key: AFFINITY_KEY.size, value: AFFINITY.size },
  frontendStats: { key: ARRAY_INDEX.size, value: COUNTERS.size },
  backendStats: { key: ARRAY_INDEX.size, value: COUNTERS.size },
  frontendGate: { key: ARRAY_INDEX.size, value: GATE_WORD.size },
  backendGate: { key: ARRAY_INDEX.size, value: GATE_WORD.size },
  nodeStats: { key: ARRAY_INDEX.size, value: NODE_COUNTERS.size },
  movedPorts: { key: FLOW_KEY.size, value: MOVED_PORT.size },
};

/** What openLbMaps needs of a pinned map: the BpfMap view, and a mapping for the arrays. */
export interface PinnedMap extends BpfMap {
  mmap(): ArrayBuffer;
}

export function openLbMaps(pinDir: string, openPinned: (path: string) => PinnedMap): LbMaps {
  const opened: PinnedMap[] = [];
  const open = (role: LbMapRole): PinnedMap => {
    const map = openPinned(join(pinDir, LB_MAP_NAMES[role]));
    opened.push(map);
    const shape = LB_MAP_SHAPES[role];
    if (map.keySize !== shape.key || map.valueSize !== shape.value) {
      throw new TerwayError(
        'BPF_ERROR',
        `pinned map ${LB_MAP_NAMES[role]} has key/value sizes ${map.keySize}/${map.valueSize}, ` +
          `this daemon's layout needs ${shape.key}/${shape.value}: it was created by another ` +
          `layout version under the same name`,
      );
    }
    return map;
  };
  try {
    const handles = Object.fromEntries(HANDLE_ROLES.map((role) => [role, open(role)]));
    const arrays = Object.fromEntries(
      MAPPED_ROLES.map((role) => {
        const map = open(role);
        const shared = sharedArray(map.name, map.valueSize, map.maxEntries, map.mmap());
        // The mapping holds its own reference on the map; the descriptor is not needed.
        map.close();
        return [role, shared];
      }),
    );
    return { ...handles, ...arrays } as unknown as LbMaps;
  } catch (error) {
    for (const map of opened) map.close();
    throw error;
  }
}

export function closeLbMaps(maps: LbMaps): void {
  for (const role of HANDLE_ROLES) maps[role].close();
}
