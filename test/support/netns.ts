import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { release } from 'node:os';

/** A network namespace this test run created, with a name no other run can collide with. */
export class TestNetns {
  readonly name = `tn-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly path = `/var/run/netns/${this.name}`;

  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /** Idempotent, so cleanup after a test that already deleted it is harmless. */
  delete(): void {
    if (this.exists()) execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the privileged suite needs root (make test runs it as root in CI)');
  }
}

/** Whether the running kernel is at least major.minor (tcx needs 6.6). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const [runningMajor = 0, runningMinor = 0] = release()
    .split('.')
    .map((part) => parseInt(part, 10));
  return runningMajor > major || (runningMajor === major && runningMinor >= minor);
}

/**
 * `unshare` arguments that run `shellCommand` (with `args` as $0, $1, ...) in a private mount
 * namespace whose /sys/fs/bpf has nothing mounted: a host without a bpffs, or a container without
 * the host's. Unmounted lazily: pins below it belong to the test machine's namespace, which keeps
 * them.
 */
export function unshareWithoutBpffs(shellCommand: string, ...args: string[]): string[] {
  const unmount = 'while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf; done';
  return [
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `${unmount}; ${shellCommand}`,
    ...args,
  ];
}
