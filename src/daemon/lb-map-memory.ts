/**
 * Whether the Service LB's maps fit under terwayd's memory limit and in the node's memory. The
 * kernel charges a map's memory to the memory cgroup of the process that creates it
 * (memory-cgroup.ts), so the maps a load creates, about 100 MB at the default table size, count
 * against terwayd's container limit beside terwayd itself. A load past the limit fails with a bare
 * ENOMEM, and one that barely fits leaves terwayd to be killed by the next Service sync; this says
 * which, before the load, in words an operator can act on.
 */
import type { Logger } from 'pino';

import { bpfErrno } from '../dataplane/bpf/bpf-maps.js';
import { kernelHasFunction } from '../dataplane/bpf/native-bpf.js';
import { memoryHeadroom, type MemoryHeadroom } from '../dataplane/kernel/memory-cgroup.js';
import { TerwayError } from '../errors/terway-error.js';
import { lbMapsKernelBytes } from '../lb/flow-table-size.js';

/**
 * The kernel's allocator that charges a map's memory to its creator's memory cgroup (Linux 5.11,
 * with CONFIG_MEMCG): present in the kernel's BTF exactly when maps are charged that way. Before,
 * a map counted against RLIMIT_MEMLOCK, which libbpf raises, and no container limit bound it.
 */
const MEMCG_MAP_ALLOCATOR = 'bpf_map_kmalloc_node';

/**
 * The memory the Service LB's new maps can draw on: the node's available memory, and terwayd's
 * memory cgroups where this kernel charges maps to them.
 */
export function mapMemoryHeadroom(): MemoryHeadroom | undefined {
  return memoryHeadroom(undefined, { cgroups: mapsChargedToMemoryCgroup() });
}

function mapsChargedToMemoryCgroup(): boolean {
  try {
    return kernelHasFunction(MEMCG_MAP_ALLOCATOR);
  } catch {
    // No BTF to tell: count the cgroups, as every kernel since 5.11 does.
    return true;
  }
}

/**
 * What the maps must leave under the limit for terwayd's own growth: a 10,000-Service sync takes
 * its RSS from about 127 to 162 MB at its peak (BENCHMARKS.md §7), with room to spare.
 */
export const DAEMON_MEMORY_RESERVE_BYTES = 64 * 1024 * 1024;

const RAISE_LIMIT = "raise terwayd's memory limit (the chart's resources.limits.memory)";
const LOWER_SIZE = 'lower --lb-flow-table-size';

/** What binds and what it leaves (`now`, or `before` the load), and what to do about it. */
function limitAndFix(
  headroom: MemoryHeadroom,
  when: 'now' | 'before',
): { limit: string; fix: string } {
  const free = mib(headroom.bytes);
  if (headroom.cgroup === undefined) {
    const has = when === 'now' ? 'has' : 'had';
    return {
      limit: `the node ${has} ${free} MiB of its ${mib(headroom.limitBytes)} MiB available`,
      fix: LOWER_SIZE,
    };
  }
  const leaves = when === 'now' ? 'leaves' : 'left';
  return {
    limit:
      `the kernel charges them to terwayd's memory cgroup, whose limit (` +
      `${mib(headroom.limitBytes)} MiB at ${headroom.cgroup}) ${leaves} ${free} MiB`,
    fix: `${RAISE_LIMIT} or ${LOWER_SIZE}`,
  };
}

/** How much kernel memory new maps may take and still leave terwayd its reserve; unknown: undefined. */
export function memoryAllowedForMaps(headroom: MemoryHeadroom | undefined): number | undefined {
  return headroom === undefined
    ? undefined
    : Math.max(0, headroom.bytes - DAEMON_MEMORY_RESERVE_BYTES);
}

/**
 * Before a load that creates every map (nothing pinned yet), its table of `flowTableSize`: throws
 * when the maps need more than the limit still allows (the load would fail), and warns when they
 * leave less than the reserve.
 */
export function checkNewMapsFit(
  flowTableSize: number,
  headroom: MemoryHeadroom | undefined,
  log: Logger,
): void {
  if (headroom === undefined) return;
  const needBytes = lbMapsKernelBytes(flowTableSize);
  const fields = {
    flowTableSize,
    needMiB: mib(needBytes),
    freeMiB: mib(headroom.bytes),
    limitMiB: mib(headroom.limitBytes),
    cgroup: headroom.cgroup ?? 'none (the node)',
  };
  const { limit, fix } = limitAndFix(headroom, 'now');
  if (needBytes > headroom.bytes) {
    throw new TerwayError(
      'INVALID_CONFIG',
      `the Service LB's maps need about ${fields.needMiB} MiB of kernel memory at ` +
        `--lb-flow-table-size ${flowTableSize}, and ${limit}: ${fix}`,
    );
  }
  if (needBytes > headroom.bytes - DAEMON_MEMORY_RESERVE_BYTES) {
    log.warn(
      { ...fields, reserveMiB: mib(DAEMON_MEMORY_RESERVE_BYTES) },
      `the Service LB's maps leave terwayd less than its reserve of memory (${limit} before ` +
        `them), and a large Service sync may get it killed: ${fix}`,
    );
  }
}

/**
 * A failed load said again with its likely cause when the kernel ran out of memory for a map: the
 * memory cgroup's limit or the node's memory, with what it left before the load.
 */
export function explainLoadFailure(error: unknown, headroom: MemoryHeadroom | undefined): unknown {
  if (bpfErrno(error) !== 'ENOMEM' || !(error instanceof Error) || headroom === undefined) {
    return error;
  }
  // libbpf's lines after the first say the same again, map by map.
  const said = error.message.split('\n')[0] ?? error.message;
  const { limit, fix } = limitAndFix(headroom, 'before');
  return new TerwayError(
    'BPF_ERROR',
    `${said}: the kernel found no memory for the Service LB's maps; ${limit} before the load: ${fix}`,
    { cause: error },
  );
}

export function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
