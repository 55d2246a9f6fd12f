/** The load balancer's maps in memory: for unit tests and for benchmarking the control plane. */
import { MemoryBpfMap } from '../dataplane/bpf/memory-bpf-map.js';
import { LB_MAP_SHAPES, type LbMaps } from './lb-maps.js';
import { GATE_BITS } from './maps/key-gate.js';
import { LB_LIMITS, LB_MAP_NAMES } from './maps/lb-layouts.js';
import { sharedArray } from './maps/shared-array.js';

function handle(
  role:
    | 'frontend'
    | 'flow'
    | 'reverse'
    | 'affinity'
    | 'frontendStats'
    | 'backendStats'
    | 'nodeStats'
    | 'movedPorts',
  maxEntries: number,
) {
  return new MemoryBpfMap({
    name: LB_MAP_NAMES[role],
    // nodeStats is per CPU in the kernel; in memory, one CPU's slot.
    type:
      role === 'frontend'
        ? 'hash'
        : role === 'frontendStats' || role === 'backendStats' || role === 'nodeStats'
          ? 'array'
          : 'lru_hash',
    keySize: LB_MAP_SHAPES[role].key,
    valueSize: LB_MAP_SHAPES[role].value,
    maxEntries,
  });
}

function mapped(role: 'slot' | 'backend' | 'frontendGate' | 'backendGate', maxEntries: number) {
  const valueSize = LB_MAP_SHAPES[role].value;
  const memory = new ArrayBuffer(Math.ceil(valueSize / 8) * 8 * maxEntries);
  return sharedArray(LB_MAP_NAMES[role], valueSize, maxEntries, memory);
}

export function memoryLbMaps(): LbMaps & {
  frontend: MemoryBpfMap;
  flow: MemoryBpfMap;
  reverse: MemoryBpfMap;
  affinity: MemoryBpfMap;
  frontendStats: MemoryBpfMap;
  backendStats: MemoryBpfMap;
  nodeStats: MemoryBpfMap;
  movedPorts: MemoryBpfMap;
} {
  return {
    frontend: handle('frontend', LB_LIMITS.frontends),
    flow: handle('flow', LB_LIMITS.flows),
    reverse: handle('reverse', LB_LIMITS.flows),
    affinity: handle('affinity', LB_LIMITS.affinity),
    frontendStats: handle('frontendStats', LB_LIMITS.frontends),
    backendStats: handle('backendStats', LB_LIMITS.backends),
    nodeStats: handle('nodeStats', 1),
    movedPorts: handle('movedPorts', LB_LIMITS.movedPorts),
    slot: mapped('slot', LB_LIMITS.slots),
    backend: mapped('backend', LB_LIMITS.backends),
    frontendGate: mapped('frontendGate', GATE_BITS / 64),
    backendGate: mapped('backendGate', GATE_BITS / 64),
  };
}
