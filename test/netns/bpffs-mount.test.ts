/**
 * The bpffs under the Service LB's pins, for real: the addon's mount, and terwayd refusing to
 * mount one where the mount would be private to it (a mount namespace of its own with no bpffs in
 * view, as under `ip netns exec`). The other case, a host with nothing at /sys/fs/bpf where
 * terwayd mounts it, is not run here: it would mean unmounting the host's bpffs under whatever else
 * pins on it. The unit tests cover that decision with a fake host.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BPF_FS_MAGIC, ensureBpffs } from '../../src/dataplane/bpf/bpffs.js';
import { bpfErrno } from '../../src/dataplane/bpf/bpf-maps.js';
import { mountBpffs } from '../../src/dataplane/bpf/native-bpf.js';
import { LAB_BINS, run } from '../support/lab.js';
import { requireRoot, unshareWithoutBpffs } from '../support/netns.js';

const scratch: string[] = [];
const mounted: string[] = [];

beforeAll(requireRoot);

afterEach(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

const netnsNames = (): string[] => {
  try {
    return readdirSync('/run/netns').sort();
  } catch {
    return [];
  }
};

describe('bpffs', () => {
  test('mountBpffs mounts one where it is told; pins work there, and ensureBpffs accepts it', () => {
    const dir = scratchDir('tw-bpffs-');
    expect(statfsSync(dir).type).not.toBe(BPF_FS_MAGIC);
    mountBpffs(dir);
    mounted.push(dir);
    expect(statfsSync(dir).type).toBe(BPF_FS_MAGIC);
    expect(ensureBpffs(join(dir, 'terway-node'))).toEqual({ mountedNow: false, bpffs: dir });
    const spec = ['type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'probe'];
    execFileSync('bpftool', ['map', 'create', join(dir, 'probe'), ...spec]);
    // A fresh bpffs also holds the kernel's preload entries (maps.debug, progs.debug).
    expect(readdirSync(dir)).toContain('probe');
    expect(
      execFileSync('bpftool', ['map', 'show', 'pinned', join(dir, 'probe')]).toString(),
    ).toContain('name probe');
  });

  test('mountBpffs on a missing directory throws BPF_ERROR with the errno', () => {
    const missing = join(scratchDir('tw-bpffs-'), 'missing');
    let caught: unknown;
    try {
      mountBpffs(missing);
    } catch (error) {
      caught = error;
    }
    expect(bpfErrno(caught)).toBe('ENOENT');
    expect((caught as Error).message).toContain(`mount -t bpf bpf ${missing}`);
  });

  test('terwayd in a mount namespace of its own with no bpffs in view refuses, and mounts nothing', async () => {
    const dir = scratchDir('tw-bpffs-lab-');
    const netnsBefore = netnsNames();
    const hostBpffs = readdirSync('/sys/fs/bpf').sort();
    // The lab's terwayd inherits the namespace `unshare` makes, where /sys/fs/bpf is unmounted.
    const up = await run(
      'unshare',
      unshareWithoutBpffs(
        'exec "$0" "$@"',
        process.execPath,
        LAB_BINS.lab,
        'up',
        '--dir',
        join(dir, 'lab'),
        '--nodes',
        '1',
        '--driver',
        'veth',
      ),
      { timeoutMs: 120_000 },
    );
    expect(up.code).toBe(1);
    expect(up.stdout + up.stderr).toContain('terwayd of node-1 exited with 1');
    const log = readFileSync(join(dir, 'lab', 'node-1', 'terwayd.log'), 'utf8');
    expect(log).toContain('"code":"BPF_ERROR"');
    expect(log).toContain('terwayd runs in a mount namespace of its own');
    expect(log).not.toContain('mounted a bpffs');
    // The host's bpffs is as it was, and the failed lab left no namespace behind.
    expect(statfsSync('/sys/fs/bpf').type).toBe(BPF_FS_MAGIC);
    expect(readdirSync('/sys/fs/bpf').sort()).toEqual(hostBpffs);
    expect(netnsNames()).toEqual(netnsBefore);
  }, 150_000);
});
