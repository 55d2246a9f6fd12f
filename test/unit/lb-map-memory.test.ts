import { describe, expect, test } from '@jest/globals';
import { pino } from 'pino';

import {
  checkNewMapsFit,
  DAEMON_MEMORY_RESERVE_BYTES,
  explainLoadFailure,
  memoryAllowedForMaps,
} from '../../src/daemon/lb-map-memory.js';
import type { MemoryHeadroom } from '../../src/dataplane/kernel/memory-cgroup.js';
import { TerwayError } from '../../src/errors/terway-error.js';

const MiB = 1024 * 1024;
const CGROUP = '/sys/fs/cgroup/kubepods/pod1/terwayd';

function headroom(freeMiB: number, limitMiB = 256): MemoryHeadroom {
  return { bytes: freeMiB * MiB, limitBytes: limitMiB * MiB, cgroup: CGROUP };
}

/** The node's own memory binding, no memory cgroup limit. */
function onTheNode(availableMiB: number, totalMiB: number): MemoryHeadroom {
  return { bytes: availableMiB * MiB, limitBytes: totalMiB * MiB };
}

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('checkNewMapsFit', () => {
  test('maps the limit has no room for stop the start, in words that name the size, the limit and the fix', () => {
    const { log } = logged();
    let thrown: unknown;
    try {
      checkNewMapsFit(1_048_576, headroom(193), log);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TerwayError);
    expect((thrown as TerwayError).code).toBe('INVALID_CONFIG');
    expect((thrown as TerwayError).message).toBe(
      "the Service LB's maps need about 271 MiB of kernel memory at --lb-flow-table-size " +
        "1048576, and the kernel charges them to terwayd's memory cgroup, whose limit (256 MiB " +
        `at ${CGROUP}) leaves 193 MiB: raise terwayd's memory limit (the chart's ` +
        'resources.limits.memory) or lower --lb-flow-table-size',
    );
  });

  test('maps that fit but leave terwayd less than its reserve are a warning', () => {
    const { log, lines } = logged();
    checkNewMapsFit(262_144, headroom(120), log);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        flowTableSize: 262_144,
        needMiB: 97,
        freeMiB: 120,
        reserveMiB: 64,
      }),
    ]);
  });

  test("maps the node's memory has no room for stop the start too, and only a smaller size helps", () => {
    const { log } = logged();
    expect(() => checkNewMapsFit(16_777_216, onTheNode(3000, 3900), log)).toThrow(
      "the Service LB's maps need about 3751 MiB of kernel memory at --lb-flow-table-size " +
        '16777216, and the node has 3000 MiB of its 3900 MiB available: lower --lb-flow-table-size',
    );
  });

  test('maps with the reserve to spare, or no limit at all, pass quietly', () => {
    const { log, lines } = logged();
    checkNewMapsFit(262_144, headroom(200), log);
    checkNewMapsFit(16_777_216, undefined, log);
    expect(lines).toEqual([]);
  });
});

describe('memoryAllowedForMaps', () => {
  test('what is free less the reserve, never below 0; unlimited stays unlimited', () => {
    expect(memoryAllowedForMaps(headroom(200))).toBe(200 * MiB - DAEMON_MEMORY_RESERVE_BYTES);
    expect(memoryAllowedForMaps(headroom(10))).toBe(0);
    expect(memoryAllowedForMaps(undefined)).toBeUndefined();
  });
});

describe('explainLoadFailure', () => {
  const enomem = new TerwayError(
    'BPF_ERROR',
    'loadObject(lb.o): load with maps pinned in /sys/fs/bpf/x: ENOMEM (Cannot allocate memory)\nlibbpf: map create failed',
    { cause: Object.assign(new Error('Cannot allocate memory'), { code: 'ENOMEM' }) },
  );

  test('a load out of memory names the memory cgroup and what it left', () => {
    const explained = explainLoadFailure(enomem, headroom(150)) as TerwayError;
    expect(explained.code).toBe('BPF_ERROR');
    expect(explained.cause).toBe(enomem);
    expect(explained.message).toBe(
      'loadObject(lb.o): load with maps pinned in /sys/fs/bpf/x: ENOMEM (Cannot allocate memory): ' +
        "the kernel found no memory for the Service LB's maps; the kernel charges them to " +
        `terwayd's memory cgroup, whose limit (256 MiB at ${CGROUP}) left 150 MiB before the ` +
        "load: raise terwayd's memory limit (the chart's resources.limits.memory) or lower " +
        '--lb-flow-table-size',
    );
    expect((explainLoadFailure(enomem, onTheNode(900, 3900)) as Error).message).toContain(
      'maps; the node had 900 MiB of its 3900 MiB available before the load: lower --lb-flow-table-size',
    );
    // Nothing known to add: the error as it came.
    expect(explainLoadFailure(enomem, undefined)).toBe(enomem);
  });

  test('any other failure stays as it was', () => {
    const eperm = new TerwayError('BPF_ERROR', 'EPERM', {
      cause: Object.assign(new Error('x'), { code: 'EPERM' }),
    });
    expect(explainLoadFailure(eperm, headroom(150))).toBe(eperm);
  });
});
