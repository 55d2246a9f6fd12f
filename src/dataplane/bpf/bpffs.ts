/**
 * The bpffs under the Service LB's pins. Most hosts mount one at /sys/fs/bpf at boot (systemd
 * does); a minimal Debian does not. Without it nothing can be pinned, and the maps every pod's
 * programs share could not outlive the daemon. So terwayd mounts it itself, but only where that
 * mount is the host's: in the host's mount namespace (PID 1's, or the initial one). In a mount
 * namespace of its own (a container without the host's /sys/fs/bpf, a process under
 * `ip netns exec`, which remounts /sys), a bpffs mounted there would be private to the daemon and
 * vanish with it (EBPF.md trap 1): it refuses, and says what to do instead.
 */
import { readlinkSync, statfsSync } from 'node:fs';
import { dirname, isAbsolute, normalize } from 'node:path';
import { TerwayError } from '../../errors/terway-error.js';
import { mountBpffs } from './native-bpf.js';

/** The one place terwayd mounts a bpffs: where the kernel's docs, systemd and other CNIs put it. */
export const BPFFS_MOUNT_POINT = '/sys/fs/bpf';
/** statfs(2)'s f_type of a bpffs (linux/magic.h). */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** What ensureBpffs asks of the host: a narrow seam, faked in unit tests. */
export interface BpffsHost {
  /** statfs(2)'s f_type of `path`, or undefined when nothing exists there. */
  fsType(path: string): number | undefined;
  /** /proc/<pid>/ns/mnt of `self` or a pid (`mnt:[4026531841]`), undefined when unreadable. */
  mountNamespace(pid: 'self' | number): string | undefined;
  /** Mounts a bpffs on `dir`. */
  mountBpffs(dir: string): void;
}

export type BpffsOutcome =
  { mountedNow: false; bpffs: string } | { mountedNow: true; bpffs: typeof BPFFS_MOUNT_POINT };

export const systemBpffsHost: BpffsHost = {
  fsType(path) {
    try {
      return statfsSync(path).type;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TerwayError('BPF_ERROR', `statfs ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  },
  mountNamespace(pid) {
    try {
      return readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      return undefined;
    }
  },
  mountBpffs,
};

/**
 * The initial mount namespace as /proc/<pid>/ns/mnt names it on kernels that give the initial
 * namespaces fixed inode numbers (0xEFFFFFF8 for mnt; 6.18 does). Namespaces created later are
 * numbered from 0xF0000000 up, so this name can only be the initial one. It answers when PID 1's
 * link is unreadable, as it is to a root process short of ptrace access to PID 1 (a sandbox's).
 */
export const INITIAL_MOUNT_NAMESPACE = `mnt:[${0xeffffff8}]`;

const hex = (type: number): string => `0x${type.toString(16)}`;

/**
 * Makes sure `pinDir` is on a bpffs, mounting one at /sys/fs/bpf when `pinDir` is under it,
 * nothing is mounted there, and this process shares the host's mounts. Throws BPF_ERROR otherwise,
 * naming the directory that decided and what to do.
 */
export function ensureBpffs(pinDir: string, host: BpffsHost = systemBpffsHost): BpffsOutcome {
  if (!isAbsolute(pinDir)) {
    throw new TerwayError('BPF_ERROR', `BPF pin directory ${pinDir}: must be an absolute path`);
  }
  const dir = normalize(pinDir).replace(/(.)\/+$/, '$1');
  // The nearest existing ancestor decides: the pin directory itself is created by the load.
  let existing = dir;
  let type = host.fsType(existing);
  while (type === undefined && existing !== '/') {
    existing = dirname(existing);
    type = host.fsType(existing);
  }
  if (type === BPF_FS_MAGIC) return { mountedNow: false, bpffs: existing };

  const underMountPoint = dir === BPFFS_MOUNT_POINT || dir.startsWith(`${BPFFS_MOUNT_POINT}/`);
  if (!underMountPoint || existing !== BPFFS_MOUNT_POINT) {
    const why = underMountPoint
      ? `${BPFFS_MOUNT_POINT} does not exist (a kernel without BPF, or /sys not mounted)`
      : `${existing} is filesystem ${hex(type ?? 0)}, and terwayd mounts a bpffs only at ${BPFFS_MOUNT_POINT}`;
    throw new TerwayError(
      'BPF_ERROR',
      `BPF pin directory ${dir} is not on a bpffs: ${why}; mount one (mount -t bpf bpf <dir>) or pin under one`,
    );
  }

  const own = host.mountNamespace('self');
  const hosts = host.mountNamespace(1);
  const hostsMounts = own !== undefined && (own === hosts || own === INITIAL_MOUNT_NAMESPACE);
  if (!hostsMounts) {
    throw new TerwayError(
      'BPF_ERROR',
      `nothing is mounted at ${BPFFS_MOUNT_POINT} in this process's view, and terwayd runs in a mount ` +
        `namespace of its own (${own ?? 'unreadable'}; the host's is ${hosts ?? 'unreadable'}): a ` +
        `bpffs mounted here would vanish with the daemon. Mount it on the host ` +
        `(mount -t bpf bpf ${BPFFS_MOUNT_POINT}), or give the container the host's ` +
        `${BPFFS_MOUNT_POINT}; do not start terwayd under \`ip netns exec\`, which remounts /sys`,
    );
  }
  host.mountBpffs(BPFFS_MOUNT_POINT);
  const after = host.fsType(BPFFS_MOUNT_POINT);
  if (after !== BPF_FS_MAGIC) {
    throw new TerwayError(
      'BPF_ERROR',
      `mounted a bpffs at ${BPFFS_MOUNT_POINT}, yet it reads as filesystem ${after === undefined ? 'missing' : hex(after)}`,
    );
  }
  return { mountedNow: true, bpffs: BPFFS_MOUNT_POINT };
}
