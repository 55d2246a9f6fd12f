/**
 * Scratch network namespaces for baselines (a macvlan "node", a bare veth pair, pod namespaces
 * made before the clock starts). Every one carries this run's prefix, so a teardown (normal, on
 * a thrown error, or on Ctrl-C through `onCleanup`) removes exactly what this run made.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { commandOutput } from './commands.js';

/** iproute2 in one process: `lines` as an `ip -batch` (optionally inside a named netns). */
export function ipBatchSync(lines: readonly string[], netns?: string, force = false): void {
  if (lines.length === 0) return;
  const args = [...(netns === undefined ? [] : ['-n', netns]), ...(force ? ['-force'] : [])];
  const result = spawnSync('ip', [...args, '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`ip ${args.join(' ')} -batch failed: ${result.stderr.trim()}`);
  }
}

export function listNetnsSync(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (result.stdout ?? '')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** Lab namespaces speak IPv4 only (src/lab/vpc-network.ts NO_IPV6); scratch ones match them. */
const NO_IPV6 = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];

export class ScratchNetns {
  readonly prefix: string;
  private readonly unregister: () => void;

  constructor(tag: string) {
    // Short: pod namespace names end up in `ip` lines and logs.
    this.prefix = `tnb${process.pid.toString(36)}${tag}-`;
    this.unregister = onCleanup(() => this.removeAll());
  }

  name(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  /** Creates namespaces (one `ip -batch`), IPv6 off in each, loopback up. */
  create(suffixes: readonly string[]): string[] {
    const names = suffixes.map((suffix) => this.name(suffix));
    ipBatchSync(names.map((name) => `netns add ${name}`));
    // One shell for all of them: a spawn per namespace would be most of the set-up time.
    const script = names
      .map(
        (name) =>
          `nsenter --net=/var/run/netns/${name} sh -c 'sysctl -q -w ${NO_IPV6.join(' ')} && ip link set lo up' || exit 1`,
      )
      .join('\n');
    const result = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`preparing namespaces failed: ${result.stderr}`);
    return names;
  }

  removeAll(): void {
    const mine = listNetnsSync().filter((name) => name.startsWith(this.prefix));
    ipBatchSync(
      mine.map((name) => `netns del ${name}`),
      undefined,
      true,
    );
  }

  /** Normal teardown: removes the namespaces now and drops the exit-time hook. */
  dispose(): void {
    this.removeAll();
    this.unregister();
  }
}

/**
 * Until a socket listens on `port` (TCP, or UDP) inside the namespace at `netnsPath`: servers the
 * benchmarks start in a namespace are ready only once this returns. An `ss` that fails (the
 * namespace not there yet) counts as nothing listening; only the deadline ends the wait.
 */
export async function waitListening(netnsPath: string, port: number, udp = false): Promise<void> {
  const deadline = Date.now() + 10_000;
  const args = [`--net=${netnsPath}`, '--', 'ss', udp ? '-Hlun' : '-Hltn', `sport = :${port}`];
  while (Date.now() < deadline) {
    let sockets = '';
    try {
      sockets = commandOutput('nsenter', args);
    } catch {
      // not there yet
    }
    if (sockets.trim() !== '') return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${udp ? 'UDP' : 'TCP'} ${port} in ${netnsPath}`);
}
