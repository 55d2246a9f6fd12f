/** The lab's own kernel plumbing: `ip -batch` and sysctl inside its namespaces, bpffs pins. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { runCommand } from '../dataplane/kernel/run-command.js';
import { commandIn, ipCommand, netnsAt } from '../dataplane/kernel/netns-ref.js';
import type { NetnsRef } from '../dataplane/kernel/netns-ref.js';

export function netnsRef(name: string): NetnsRef {
  return netnsAt(`/var/run/netns/${name}`);
}

/** Runs `ip` lines in a namespace; throws with iproute2's message unless `tolerate` matches it. */
export async function ipBatch(
  netns: NetnsRef,
  lines: readonly string[],
  tolerate?: RegExp,
): Promise<void> {
  if (lines.length === 0) return;
  const [command, args] = ipCommand(
    netns,
    tolerate === undefined ? ['-batch', '-'] : ['-force', '-batch', '-'],
  );
  const result = await runCommand(command, args, { stdin: `${lines.join('\n')}\n` });
  if (result.code === 0) return;
  const real = result.stderr
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' && !/^Command failed/.test(line) && !(tolerate?.test(line) ?? false),
    );
  if (real.length > 0) throw new Error(`ip -batch failed: ${real.join('; ')}`);
}

export async function sysctl(netns: NetnsRef, values: Record<string, string>): Promise<void> {
  const pairs = Object.entries(values).map(([key, value]) => `${key}=${value}`);
  const [command, args] = commandIn(netns, 'sysctl', ['-q', '-w', ...pairs]);
  const result = await runCommand(command, args);
  if (result.code !== 0) throw new Error(`sysctl failed: ${result.stderr.trim()}`);
}

export async function addNetns(name: string): Promise<void> {
  const result = await runCommand('ip', ['netns', 'add', name]);
  if (result.code !== 0) throw new Error(`ip netns add ${name}: ${result.stderr.trim()}`);
}

/** Idempotent: a namespace already gone is fine. */
export async function deleteNetns(name: string): Promise<void> {
  const result = await runCommand('ip', ['netns', 'delete', name]);
  if (result.code !== 0 && !/No such file/.test(result.stderr)) {
    throw new Error(`ip netns delete ${name}: ${result.stderr.trim()}`);
  }
}

export async function listNetns(): Promise<string[]> {
  const result = await runCommand('ip', ['netns', 'list']);
  return result.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

const BPFFS = '/sys/fs/bpf';

/**
 * Removes the bpffs directories whose names start with `prefix` (a lab's nodes' Service LB pins).
 * The maps go with their last pin and their last attached program, so this after the pods.
 */
export function removeBpfPinDirs(prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(BPFFS);
  } catch {
    return;
  }
  for (const name of names.filter((entry) => entry.startsWith(prefix))) {
    rmSync(join(BPFFS, name), { recursive: true, force: true });
  }
}
