/**
 * The memory cgroup headroom, read from cgroupfs files as the kernel shows them in each layout a
 * node or container has: cgroup v2 in a container's own namespace, v2 on a host with nested
 * limits, v1's memory controller beside a v2 mount (a hybrid host), and a container without a
 * cgroup namespace. The privileged test (test/netns/memory-cgroup.test.ts) reads a real one.
 */
import { describe, expect, test } from '@jest/globals';

import { memoryHeadroom, type TextReader } from '../../src/dataplane/kernel/memory-cgroup.js';

const MiB = 1024 * 1024;

/** A reader over a fixed set of files. */
function files(entries: Record<string, string>): TextReader {
  return (path) => entries[path];
}

const V2_MOUNT = '40 30 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
const V1_MOUNTS = [
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('memoryHeadroom', () => {
  test('cgroup v2 in a container: its own cgroup at the mount, page cache not recently used left out', () => {
    const headroom = memoryHeadroom(
      files({
        '/proc/self/cgroup': '0::/\n',
        '/proc/self/mountinfo': V2_MOUNT,
        '/sys/fs/cgroup/memory.max': `${256 * MiB}\n`,
        '/sys/fs/cgroup/memory.current': `${150 * MiB}\n`,
        '/sys/fs/cgroup/memory.stat': `anon ${100 * MiB}\ninactive_file ${30 * MiB}\nactive_file 0\n`,
      }),
    );
    expect(headroom).toEqual({ bytes: 136 * MiB, limitBytes: 256 * MiB, cgroup: '/sys/fs/cgroup' });
  });

  test('cgroup v2 on a host: the tightest limit up the tree binds, an unlimited level is skipped', () => {
    const pod = '/sys/fs/cgroup/kubepods.slice/pod1';
    const headroom = memoryHeadroom(
      files({
        '/proc/self/cgroup': '0::/kubepods.slice/pod1/terwayd\n',
        '/proc/self/mountinfo': V2_MOUNT,
        [`${pod}/terwayd/memory.max`]: 'max\n',
        [`${pod}/terwayd/memory.current`]: `${100 * MiB}\n`,
        [`${pod}/memory.max`]: `${300 * MiB}\n`,
        [`${pod}/memory.current`]: `${250 * MiB}\n`,
        '/sys/fs/cgroup/kubepods.slice/memory.max': `${8000 * MiB}\n`,
        '/sys/fs/cgroup/kubepods.slice/memory.current': `${4000 * MiB}\n`,
        '/sys/fs/cgroup/memory.current': `${5000 * MiB}\n`,
      }),
    );
    expect(headroom).toEqual({ bytes: 50 * MiB, limitBytes: 300 * MiB, cgroup: pod });
  });

  test('cgroup v1\'s memory controller on a hybrid host; its huge "no limit" is none', () => {
    const dir = '/sys/fs/cgroup/memory/process_api/abc';
    const hybrid = (limit: number) =>
      files({
        '/proc/self/cgroup': '9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n',
        '/proc/self/mountinfo': V1_MOUNTS,
        [`${dir}/memory.limit_in_bytes`]: `${limit}\n`,
        [`${dir}/memory.usage_in_bytes`]: `${120 * MiB}\n`,
        [`${dir}/memory.stat`]: `inactive_file ${5 * MiB}\ntotal_inactive_file ${20 * MiB}\n`,
      });
    expect(memoryHeadroom(hybrid(512 * MiB))).toEqual({
      bytes: 412 * MiB,
      limitBytes: 512 * MiB,
      cgroup: dir,
    });
    expect(memoryHeadroom(hybrid(9_223_372_036_854_771_712))).toBeUndefined();
  });

  test('a container without a cgroup namespace: its mount is its own cgroup, read at the top', () => {
    const headroom = memoryHeadroom(
      files({
        '/proc/self/cgroup': '4:memory:/kubepods/burstable/pod1/c1\n',
        '/proc/self/mountinfo':
          '35 31 0:32 /kubepods/burstable/pod1/c1 /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes': `${256 * MiB}\n`,
        '/sys/fs/cgroup/memory/memory.usage_in_bytes': `${56 * MiB}\n`,
      }),
    );
    expect(headroom).toEqual({
      bytes: 200 * MiB,
      limitBytes: 256 * MiB,
      cgroup: '/sys/fs/cgroup/memory',
    });
  });

  test('a mount path with an escaped space is found', () => {
    const headroom = memoryHeadroom(
      files({
        '/proc/self/cgroup': '0::/\n',
        '/proc/self/mountinfo': '40 30 0:38 / /run/my\\040cgroups rw - cgroup2 cgroup2 rw',
        '/run/my cgroups/memory.max': `${100 * MiB}`,
        '/run/my cgroups/memory.current': `${40 * MiB}`,
      }),
    );
    expect(headroom?.bytes).toBe(60 * MiB);
  });

  test('usage over the limit (reclaim pending) leaves nothing, never less', () => {
    const headroom = memoryHeadroom(
      files({
        '/proc/self/cgroup': '0::/\n',
        '/proc/self/mountinfo': V2_MOUNT,
        '/sys/fs/cgroup/memory.max': `${100 * MiB}`,
        '/sys/fs/cgroup/memory.current': `${101 * MiB}`,
      }),
    );
    expect(headroom?.bytes).toBe(0);
  });

  test("the node's available memory binds when it is tighter than any cgroup's, or none limits", () => {
    const meminfo = `MemTotal:        4000000 kB\nMemFree:          100000 kB\nMemAvailable:    1000000 kB\n`;
    const container = {
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': V2_MOUNT,
      '/proc/meminfo': meminfo,
      '/sys/fs/cgroup/memory.current': `${100 * MiB}\n`,
    };
    expect(
      memoryHeadroom(files({ ...container, '/sys/fs/cgroup/memory.max': `${2000 * MiB}\n` })),
    ).toEqual({ bytes: 1_000_000 * 1024, limitBytes: 4_000_000 * 1024 });
    expect(
      memoryHeadroom(files({ ...container, '/sys/fs/cgroup/memory.max': `${300 * MiB}\n` })),
    ).toEqual({ bytes: 200 * MiB, limitBytes: 300 * MiB, cgroup: '/sys/fs/cgroup' });
    expect(memoryHeadroom(files({ ...container, '/sys/fs/cgroup/memory.max': 'max\n' }))).toEqual({
      bytes: 1_000_000 * 1024,
      limitBytes: 4_000_000 * 1024,
    });
    // A kernel that does not charge maps to cgroups: only the node counts.
    expect(
      memoryHeadroom(files({ ...container, '/sys/fs/cgroup/memory.max': `${300 * MiB}\n` }), {
        cgroups: false,
      }),
    ).toEqual({ bytes: 1_000_000 * 1024, limitBytes: 4_000_000 * 1024 });
  });

  test('no limit anywhere, no memory hierarchy mounted, or nothing readable: undefined', () => {
    expect(
      memoryHeadroom(
        files({
          '/proc/self/cgroup': '0::/\n',
          '/proc/self/mountinfo': V2_MOUNT,
          '/sys/fs/cgroup/memory.max': 'max\n',
          '/sys/fs/cgroup/memory.current': '1000\n',
        }),
      ),
    ).toBeUndefined();
    expect(
      memoryHeadroom(
        files({
          '/proc/self/cgroup': '4:memory:/a\n',
          '/proc/self/mountinfo': '32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
        }),
      ),
    ).toBeUndefined();
    expect(memoryHeadroom(files({}))).toBeUndefined();
  });
});
