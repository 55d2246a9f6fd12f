/** The load balancer's maps in memory: for unit tests and for benchmarking the control plane. */
import { MemoryBpfMap } from '../dataplane/bpf/memory-bpf-map.js';
import { LB_MAP_SHAPES, type LbMaps } from './lb-maps.js';
import { LB_LIMITS, LB_MAP_NAMES } from './maps/lb-layouts.js';
import { sharedArray } from './maps/shared-array.js';

function hash(role: 'frontend' | 'flow' | 'reverse' | 'affinity', maxEntries: number) {
  return new MemoryBpfMap({
    name: LB_MAP_NAMES[role],
    type: role === 'frontend' ? 'hash' : 'lru_hash',
    keySize: LB_MAP_SHAPES[role].key,
    valueSize: LB_MAP_SHAPES[role].value,
    maxEntries,
  });
}

function array(role: 'slot' | 'backend' | 'frontendStats' | 'backendStats', maxEntries: number) {
  const valueSize = LB_MAP_SHAPES[role].value;
  const memory = new ArrayBuffer(Math.ceil(valueSize / 8) * 8 * maxEntries);
  return sharedArray(LB_MAP_NAMES[role], valueSize, maxEntries, memory);
}

export function memoryLbMaps(): LbMaps & {
  frontend: MemoryBpfMap;
  flow: MemoryBpfMap;
  reverse: MemoryBpfMap;
  affinity: MemoryBpfMap;
} {
  return {
    frontend: hash('frontend', LB_LIMITS.frontends),
    flow: hash('flow', LB_LIMITS.flows),
    reverse: hash('reverse', LB_LIMITS.flows),
    affinity: hash('affinity', LB_LIMITS.affinity),
    slot: array('slot', LB_LIMITS.slots),
    backend: array('backend', LB_LIMITS.backends),
    frontendStats: array('frontendStats', LB_LIMITS.frontends),
    backendStats: array('backendStats', LB_LIMITS.backends),
  };
}
