/**
 * mapMemoryHeadroom on this machine's own cgroupfs and kernel: a process placed in a memory cgroup
 * made for the test, with a limit, reads that limit and what it has left under it, whichever
 * hierarchy the host gives the memory controller (cgroup v1's memory mount, or cgroup v2 with
 * memory delegated from the root). The layouts this machine does not have are covered by
 * test/unit/memory-cgroup.test.ts, and cgroup v2 by the VM tier.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@jest/globals';

import { REPO_ROOT } from '../support/bins.js';
import { requireRoot } from '../support/netns.js';

requireRoot();

const MiB = 1024 * 1024;

interface Hierarchy {
  /** Where a cgroup of the test's can be made. */
  readonly parent: string;
  readonly limitFile: string;
}

/** A memory hierarchy this process may make a cgroup in; undefined when the host has none. */
function writableMemoryHierarchy(): Hierarchy | undefined {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const line of mounts) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const type = fields[separator + 1];
    const options = fields[separator + 3] ?? '';
    if (type === 'cgroup' && options.split(',').includes('memory')) {
      // cgroup v1 lets a cgroup with processes have children: one under this process's own.
      const own = /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/m.exec(
        readFileSync('/proc/self/cgroup', 'utf8'),
      );
      return { parent: join(fields[4]!, own?.[1] ?? '/'), limitFile: 'memory.limit_in_bytes' };
    }
  }
  for (const line of mounts) {
    const fields = line.split(' ');
    if (fields[fields.indexOf('-') + 1] !== 'cgroup2') continue;
    // cgroup v2 keeps processes out of cgroups with children, bar the root: a child of the root,
    // if the root hands its children the memory controller.
    const root = fields[4]!;
    const delegated = readFileSync(join(root, 'cgroup.subtree_control'), 'utf8').split(' ');
    if (delegated.map((name) => name.trim()).includes('memory')) {
      return { parent: root, limitFile: 'memory.max' };
    }
  }
  return undefined;
}

const hierarchy = writableMemoryHierarchy();

(hierarchy === undefined ? test.skip : test)(
  'a process in a memory cgroup with a limit reads that limit and its room under it, as the one its maps are charged to',
  () => {
    const cgroup = join(hierarchy!.parent, `tn-memtest-${process.pid}`);
    mkdirSync(cgroup);
    try {
      writeFileSync(join(cgroup, hierarchy!.limitFile), String(300 * MiB));
      // What terwayd reads before it creates its maps: this kernel charges them to the cgroup
      // (its BTF has the allocator that does), so the cgroup's limit is the one that binds.
      const module = JSON.stringify(join(REPO_ROOT, 'dist/src/daemon/lb-map-memory.js'));
      const script =
        `const { mapMemoryHeadroom } = await import(${module});` +
        'console.log(JSON.stringify(mapMemoryHeadroom() ?? null));';
      const output = execFileSync(
        'sh',
        [
          '-c',
          'echo $$ > "$0/cgroup.procs" && exec "$1" --input-type=module -e "$2"',
          cgroup,
          process.execPath,
          script,
        ],
        { encoding: 'utf8' },
      );
      const headroom = JSON.parse(output) as { bytes: number; limitBytes: number; cgroup: string };
      expect(headroom.limitBytes).toBe(300 * MiB);
      expect(headroom.cgroup).toBe(cgroup);
      // The node process that read it is charged there too: some of the limit is in use.
      expect(headroom.bytes).toBeGreaterThan(0);
      expect(headroom.bytes).toBeLessThan(300 * MiB);
    } finally {
      removeCgroup(cgroup);
    }
  },
);

/** The process has exited; its cgroup empties as the kernel notices, and is removed then. */
function removeCgroup(cgroup: string): void {
  for (let attempt = 0; existsSync(cgroup); attempt++) {
    try {
      rmdirSync(cgroup);
    } catch (error) {
      if (attempt >= 50) throw error;
      execFileSync('sleep', ['0.1']);
    }
  }
}
