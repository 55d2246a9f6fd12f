/**
 * Which network namespace a kernel operation targets. The daemon never enters a namespace
 * itself: every operation runs in a child process (`ip -n`, or `nsenter --net=`) aimed at one.
 */
import { isAbsolute } from 'node:path';

/** Where `ip netns add` puts named namespaces; `ip -n <name>` resolves names only here. */
export const NAMED_NETNS_DIRS = ['/var/run/netns/', '/run/netns/'] as const;

export type NetnsRef =
  /** The daemon's own namespace. */
  | { readonly kind: 'self' }
  /** A namespace file: a bind mount under /var/run/netns, or /proc/<pid>/ns/net. */
  | { readonly kind: 'path'; readonly path: string };

export const SELF_NETNS: NetnsRef = Object.freeze({ kind: 'self' });

export function netnsAt(path: string): NetnsRef {
  if (!isAbsolute(path)) throw new Error(`a netns path must be absolute: ${path}`);
  return Object.freeze({ kind: 'path', path });
}

/**
 * A config value naming a namespace: empty means the daemon's own, a bare name is one made by
 * `ip netns add`, anything with a slash is a path.
 */
export function parseNetnsSetting(value: string | undefined): NetnsRef {
  if (value === undefined || value === '') return SELF_NETNS;
  return value.includes('/') ? netnsAt(value) : netnsAt(`${NAMED_NETNS_DIRS[0]}${value}`);
}

/** The `ip netns` name when the path is a named namespace, else undefined. */
export function netnsName(ref: NetnsRef): string | undefined {
  if (ref.kind === 'self') return undefined;
  for (const dir of NAMED_NETNS_DIRS) {
    if (ref.path.startsWith(dir)) {
      const name = ref.path.slice(dir.length);
      if (name !== '' && !name.includes('/')) return name;
    }
  }
  return undefined;
}

export function sameNetns(a: NetnsRef, b: NetnsRef): boolean {
  return a.kind === 'self' ? b.kind === 'self' : b.kind === 'path' && a.path === b.path;
}

/** For logs and errors. */
export function describeNetns(ref: NetnsRef): string {
  return ref.kind === 'self' ? 'the host netns' : `netns ${ref.path}`;
}

/**
 * The command line that runs `ip <args>` inside `ref`: `ip -n <name>` for a named namespace
 * (one exec), else nsenter, which enters the namespace file and execs ip.
 */
export function ipCommand(ref: NetnsRef, args: readonly string[]): [string, string[]] {
  if (ref.kind === 'self') return ['ip', [...args]];
  const name = netnsName(ref);
  if (name !== undefined) return ['ip', ['-n', name, ...args]];
  return ['nsenter', [`--net=${ref.path}`, '--', 'ip', ...args]];
}

/** Any other command inside `ref` (sysctl, tc, ...). */
export function commandIn(
  ref: NetnsRef,
  command: string,
  args: readonly string[],
): [string, string[]] {
  if (ref.kind === 'self') return [command, [...args]];
  return ['nsenter', [`--net=${ref.path}`, '--', command, ...args]];
}

/** The value `ip link set ... netns <x>` takes to move a link into `ref`. */
export function netnsArgument(ref: NetnsRef): string {
  if (ref.kind === 'self') throw new Error('a link cannot be moved into the daemon netns by path');
  return netnsName(ref) ?? ref.path;
}
