import { describe, expect, test } from '@jest/globals';

import {
  BPF_FS_MAGIC,
  BPFFS_MOUNT_POINT,
  ensureBpffs,
  INITIAL_MOUNT_NAMESPACE,
  type BpffsHost,
} from '../../src/dataplane/bpf/bpffs.js';
import { thrownTerwayError } from '../support/thrown-terway-error.js';

const SYSFS_MAGIC = 0x62656572;
const TMPFS_MAGIC = 0x01021994;
const EXT4_MAGIC = 0xef53;
const HOST_NS = 'mnt:[4026531841]';

/** A host of paths with filesystem types; a mount turns a path into bpffs (unless `mountFails`). */
function fakeHost(
  paths: Record<string, number>,
  namespaces: { self?: string; init?: string } = { self: HOST_NS, init: HOST_NS },
  mountFails = false,
): BpffsHost & { mounts: string[] } {
  const types = new Map(Object.entries(paths));
  const mounts: string[] = [];
  return {
    mounts,
    fsType: (path) => types.get(path),
    mountNamespace: (pid) => (pid === 'self' ? namespaces.self : namespaces.init),
    mountBpffs(dir) {
      mounts.push(dir);
      if (!mountFails) types.set(dir, BPF_FS_MAGIC);
    },
  };
}

/** A host like this project's CI machines: sysfs, /sys/fs/bpf an empty sysfs directory. */
const bareHost = (namespaces?: { self?: string; init?: string }, mountFails = false) =>
  fakeHost(
    { '/': EXT4_MAGIC, '/sys': SYSFS_MAGIC, '/sys/fs': SYSFS_MAGIC, '/sys/fs/bpf': SYSFS_MAGIC },
    namespaces,
    mountFails,
  );

const failure = (run: () => unknown) => thrownTerwayError(run, 'BPF_ERROR');

describe('ensureBpffs', () => {
  test('a pin directory under a mounted bpffs needs nothing, whether or not it exists yet', () => {
    const host = fakeHost({
      '/': EXT4_MAGIC,
      '/sys': SYSFS_MAGIC,
      '/sys/fs': SYSFS_MAGIC,
      '/sys/fs/bpf': BPF_FS_MAGIC,
      '/sys/fs/bpf/terway-node': BPF_FS_MAGIC,
    });
    expect(ensureBpffs('/sys/fs/bpf/terway-node', host)).toEqual({
      mountedNow: false,
      bpffs: '/sys/fs/bpf/terway-node',
    });
    expect(ensureBpffs('/sys/fs/bpf/lab-x/node-1/', host)).toEqual({
      mountedNow: false,
      bpffs: '/sys/fs/bpf',
    });
    expect(host.mounts).toEqual([]);
  });

  test('a bpffs mounted somewhere else serves too', () => {
    const host = fakeHost({ '/': EXT4_MAGIC, '/run': TMPFS_MAGIC, '/run/bpf': BPF_FS_MAGIC });
    expect(ensureBpffs('/run/bpf/tw', host)).toEqual({ mountedNow: false, bpffs: '/run/bpf' });
    expect(host.mounts).toEqual([]);
  });

  test("nothing mounted at /sys/fs/bpf, in the host's mount namespace: mounts it once", () => {
    const host = bareHost();
    expect(ensureBpffs('/sys/fs/bpf/terway-node', host)).toEqual({
      mountedNow: true,
      bpffs: BPFFS_MOUNT_POINT,
    });
    expect(host.mounts).toEqual(['/sys/fs/bpf']);
    // The next start finds it mounted.
    expect(ensureBpffs('/sys/fs/bpf/terway-node', host).mountedNow).toBe(false);
    expect(host.mounts).toEqual(['/sys/fs/bpf']);
  });

  test('the pin directory may be the mount point itself, written with a trailing slash', () => {
    const host = bareHost();
    expect(ensureBpffs('/sys/fs/bpf/', host).mountedNow).toBe(true);
    expect(host.mounts).toEqual(['/sys/fs/bpf']);
  });

  test('in a mount namespace of its own it refuses, since the mount would be private', () => {
    const host = bareHost({ self: 'mnt:[4026532999]', init: HOST_NS });
    const error = failure(() => ensureBpffs('/sys/fs/bpf/terway-node', host));
    expect(error.message).toContain('mount namespace of its own (mnt:[4026532999]');
    expect(error.message).toContain("the host's is mnt:[4026531841]");
    expect(error.message).toContain('mount -t bpf bpf /sys/fs/bpf');
    expect(error.message).toContain('ip netns exec');
    expect(host.mounts).toEqual([]);
  });

  test("PID 1's namespace unreadable: the initial namespace's fixed number still says host", () => {
    const initial = bareHost({ self: INITIAL_MOUNT_NAMESPACE, init: undefined });
    expect(INITIAL_MOUNT_NAMESPACE).toBe('mnt:[4026531832]');
    expect(ensureBpffs('/sys/fs/bpf/x', initial).mountedNow).toBe(true);
    expect(initial.mounts).toEqual(['/sys/fs/bpf']);

    // A dynamically numbered namespace cannot be told from a container's: refused.
    const other = bareHost({ self: 'mnt:[4026531840]', init: undefined });
    expect(failure(() => ensureBpffs('/sys/fs/bpf/x', other)).message).toContain(
      "(mnt:[4026531840]; the host's is unreadable)",
    );
    expect(other.mounts).toEqual([]);
  });

  test('outside /sys/fs/bpf it mounts nothing and names the filesystem found', () => {
    const host = fakeHost({ '/': EXT4_MAGIC, '/run': TMPFS_MAGIC });
    const error = failure(() => ensureBpffs('/run/terway/bpf', host));
    expect(error.message).toBe(
      'BPF pin directory /run/terway/bpf is not on a bpffs: /run is filesystem 0x1021994, and ' +
        'terwayd mounts a bpffs only at /sys/fs/bpf; mount one (mount -t bpf bpf <dir>) or pin under one',
    );
    expect(host.mounts).toEqual([]);
  });

  test('a kernel without /sys/fs/bpf is reported as such', () => {
    const host = fakeHost({ '/': EXT4_MAGIC, '/sys': SYSFS_MAGIC, '/sys/fs': SYSFS_MAGIC });
    expect(failure(() => ensureBpffs('/sys/fs/bpf/terway-node', host)).message).toContain(
      '/sys/fs/bpf does not exist',
    );
    expect(host.mounts).toEqual([]);
  });

  test('a mount that did not take is an error, not a silent success', () => {
    const host = bareHost(undefined, true);
    expect(failure(() => ensureBpffs('/sys/fs/bpf/terway-node', host)).message).toBe(
      'mounted a bpffs at /sys/fs/bpf, yet it reads as filesystem 0x62656572',
    );
  });

  test('a relative pin directory is refused', () => {
    expect(failure(() => ensureBpffs('sys/fs/bpf/x', bareHost())).message).toContain(
      'must be an absolute path',
    );
  });
});
