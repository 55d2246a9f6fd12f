/**
 * scripts/install-cni.sh's bpffs step, for real: in a mount namespace standing in for a node with
 * nothing at /sys/fs/bpf (a private one, made here, with the bpffs unmounted inside), it mounts a
 * bpffs there, once however often it runs, and the test machine's own mounts stay as they were.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { BINS, requireBuilt } from '../support/bins.js';
import { runInstallCni, scratchNode, type ScratchNode } from '../support/install-cni.js';
import { requireRoot, unshareWithoutBpffs } from '../support/netns.js';

const BPF_MOUNT_POINT = '/sys/fs/bpf';

let node: ChildProcessWithoutNullStreams;
let scratch: ScratchNode;

/** The bpf mounts at /sys/fs/bpf in a mountinfo file (field 5 the mount point, then the type). */
function bpfMountsAt(mountinfo: string): number {
  return mountinfo
    .split('\n')
    .filter((line) => line.split(' ')[4] === BPF_MOUNT_POINT && / - bpf /.test(line)).length;
}

beforeAll(async () => {
  requireRoot();
  requireBuilt(BINS.terway);
  scratch = scratchNode('terway-install-bpffs-', {
    cniVersion: '1.0.0',
    name: 'terway',
    plugins: [],
  });
  // The stand-in node: a private mount namespace with nothing at /sys/fs/bpf.
  node = spawn('unshare', unshareWithoutBpffs('echo ready; exec sleep 600'), {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    node.stdout.once('data', () => resolve());
    node.once('exit', (code) => reject(new Error(`unshare exited ${code}`)));
  });
});

afterAll(() => {
  node?.kill('SIGKILL');
  if (scratch) rmSync(scratch.root, { recursive: true, force: true });
});

function nodeMountinfo(): string {
  return readFileSync(`/proc/${node.pid}/mountinfo`, 'utf8');
}

function install(overrides: Record<string, string> = {}) {
  return runInstallCni(scratch, {
    MOUNT_BPFFS: '1',
    HOST_MOUNT_NS: `/proc/${node.pid}/ns/mnt`,
    ...overrides,
  });
}

describe('install-cni.sh MOUNT_BPFFS=1', () => {
  test("mounts a bpffs at the node's /sys/fs/bpf, once, and only in the node's namespace", () => {
    const ownBefore = bpfMountsAt(readFileSync('/proc/self/mountinfo', 'utf8'));
    expect(bpfMountsAt(nodeMountinfo())).toBe(0);

    const first = install();
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('/sys/fs/bpf is a bpffs on the node');
    expect(bpfMountsAt(nodeMountinfo())).toBe(1);
    const type = spawnSync(
      'nsenter',
      [`--mount=/proc/${node.pid}/ns/mnt`, '--', 'stat', '-f', '-c', '%T', BPF_MOUNT_POINT],
      { encoding: 'utf8' },
    );
    expect(type.stdout.trim()).toBe('bpf_fs');

    // An upgrade runs it again: the bpffs is there, nothing is stacked on it.
    expect(install().status).toBe(0);
    expect(bpfMountsAt(nodeMountinfo())).toBe(1);

    expect(bpfMountsAt(readFileSync('/proc/self/mountinfo', 'utf8'))).toBe(ownBefore);
  });

  test('fails, naming the step, when the namespace cannot be entered', () => {
    const run = install({ HOST_MOUNT_NS: join(scratch.root, 'no-such-namespace') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("cannot mount a bpffs at the node's /sys/fs/bpf");
  });
});
