/**
 * The measuring tools: netload (netload.c, compiled here), its servers run inside the backends'
 * namespaces with `nsenter --net` (never `ip netns exec`, which remounts /sys: EBPF.md trap 1),
 * its clients from the root namespace, making their sockets in each path's client namespace; and
 * their output parsed.
 *
 *  - TCP and UDP request/response: round trips of 64-byte messages, p50;
 *  - connections/s and HTTP keep-alive requests/s;
 *  - stream: one TCP connection, bytes the receiver acknowledged per second.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { collectOutput, stopChild, trackChild } from '../support/cleanup.js';
import { commandOutput, firstLine } from '../support/commands.js';
import type { Stream } from '../support/net-tools.js';
import { REPO_ROOT } from '../support/paths.js';
import { netnsPath } from './topology.js';

/**
 * Compiles netload.c into `dir` with the compiler the addon build uses (clang, from the
 * bootstrap; $CC or cc otherwise). The source is read from the checkout: it is not part of dist/.
 */
export function buildNetload(dir: string): { binary: string; compiler: string } {
  const source = join(REPO_ROOT, 'bench/lb-datapath/netload.c');
  const out = join(dir, 'netload');
  const compilers = [process.env.CC, 'clang', 'cc', 'gcc'].filter(
    (c): c is string => c !== undefined && c !== '',
  );
  const errors: string[] = [];
  for (const cc of compilers) {
    try {
      commandOutput(cc, ['-O2', '-Wall', '-o', out, source]);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    return { binary: out, compiler: firstLine(cc, ['--version']) ?? cc };
  }
  throw new Error(`cannot compile ${source}:\n${errors.join('\n')}`);
}

/**
 * `command args` inside a namespace, bound to one CPU when `cpu` is given: the benchmark pins its
 * client and its server the same way on every path (see LbDatapathSettings.cpus), so no path is
 * measured with the two on one CPU while another has them apart.
 */
function nsenterArgs(netns: string, command: string, args: string[], cpu?: number): string[] {
  const pinned =
    cpu === undefined ? [command, ...args] : ['taskset', '-c', String(cpu), command, ...args];
  return [`--net=${netnsPath(netns)}`, '--', ...pinned];
}

/** A long-running server inside a namespace (on `cpu`, if given), tracked so it dies with the benchmark. */
export function serveIn(
  netns: string,
  command: string,
  args: string[],
  cpu?: number,
): ChildProcess {
  const child = spawn('nsenter', nsenterArgs(netns, command, args, cpu), {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  trackChild(child);
  return child;
}

export async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((child) => stopChild(child, 2_000)));
}

// ---- netload clients: every path in one process, turn about -----------------------------------

/** Where a netload client dials: `ip:port` from a socket made in the netns named `netns`. */
export interface NetloadTarget {
  netns: string;
  ip: string;
  port: number;
}

/** How a netload client shares its time between its targets. */
export interface Turns {
  /** Measured seconds per target. */
  seconds: number;
  /** Unmeasured seconds first, every target taking turns. */
  warmupSeconds: number;
  /** One target's turn. */
  turnMs: number;
  /** The CPU the client is bound to (taskset), if any. */
  cpu?: number;
}

/**
 * Runs a netload client over several targets in one process: `head` (the mode and its own
 * arguments), then the schedule, then the targets. netload makes each target's sockets in that
 * target's namespace (setns) and gives the targets turns of `turnMs`, in an order that rotates
 * every pass, for `seconds` each after `warmupSeconds`: every path is measured in the same
 * milliseconds as the others. Measured one after another, even in 2 s windows, two copies of one
 * path differed by up to 25% here when the VM's state moved between the windows (the bimodal
 * rounds in earlier BENCHMARKS.md); turn about, by about 1% (round trips, connections/s) to 3%
 * (stream). Returns netload's per-target figures, in the targets' order.
 */
async function netloadTurns<T>(
  binary: string,
  head: string[],
  targets: readonly NetloadTarget[],
  turns: Turns,
): Promise<T[]> {
  const all = [
    ...head,
    String(turns.seconds),
    String(turns.turnMs),
    String(turns.warmupSeconds),
    ...targets.map((t) => `${t.netns},${t.ip},${t.port}`),
  ];
  const command = turns.cpu === undefined ? binary : 'taskset';
  const argv = turns.cpu === undefined ? all : ['-c', String(turns.cpu), binary, ...all];
  const totalS = turns.warmupSeconds + turns.seconds * targets.length;
  const { code, stdout, stderr } = await collectOutput(
    spawn(command, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: (totalS * 2 + 30) * 1000,
      killSignal: 'SIGKILL',
    }),
  );
  if (code !== 0) throw new Error(`netload ${all.join(' ')} exited ${code}: ${stderr}${stdout}`);
  const parsed = JSON.parse(stdout) as { targets: T[] };
  if (parsed.targets.length !== targets.length)
    throw new Error(`netload answered for ${parsed.targets.length} of ${targets.length} targets`);
  return parsed.targets;
}

export interface RoundTripFigures {
  /** Round trips measured (after the warm-up). */
  count: number;
  /** Requests with no answer within 1 s (UDP), or failed sends and receives. */
  lost: number;
  p50Us: number;
  p99Us: number;
}

/** Request/response round trips, one message in flight per target (netload rr, echo servers). */
export async function roundTrips(
  binary: string,
  targets: readonly NetloadTarget[],
  tcp: boolean,
  messageBytes: number,
  turns: Turns,
): Promise<RoundTripFigures[]> {
  const head = ['rr', tcp ? 'tcp' : 'udp', String(messageBytes)];
  const raw = await netloadTurns<{ count: number; lost: number; p50_us: number; p99_us: number }>(
    binary,
    head,
    targets,
    turns,
  );
  return raw.map((t) => ({ count: t.count, lost: t.lost, p50Us: t.p50_us, p99Us: t.p99_us }));
}

export interface LoadFigures {
  done: number;
  seconds: number;
  /** Completed connections (crr) or requests (http) per second. */
  rate: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  firstError: string;
}

/** Connections/s (crr) or keep-alive requests/s (http) against netload's HTTP servers. */
export async function netload(
  binary: string,
  mode: 'http' | 'crr',
  targets: readonly NetloadTarget[],
  connections: number,
  turns: Turns,
): Promise<LoadFigures[]> {
  const raw = await netloadTurns<{
    done: number;
    seconds: number;
    rate: number;
    errors: number;
    p50_us: number;
    p99_us: number;
    first_error: string;
  }>(binary, [mode, String(connections)], targets, turns);
  return raw.map((t) => ({
    done: t.done,
    seconds: t.seconds,
    rate: t.rate,
    errors: t.errors,
    p50Us: t.p50_us,
    p99Us: t.p99_us,
    firstError: t.first_error,
  }));
}

/**
 * One TCP stream per target, each written to as fast as it takes in its turns (netload stream):
 * Gbit/s the receiver acknowledged during the target's turns.
 */
export async function streams(
  binary: string,
  targets: readonly NetloadTarget[],
  turns: Turns,
): Promise<Stream[]> {
  const raw = await netloadTurns<{ gbps: number; retransmits: number }>(
    binary,
    ['stream'],
    targets,
    turns,
  );
  return raw.map((t) => ({ gbps: t.gbps, retransmits: t.retransmits }));
}

/** One HTTP request with `Connection: close`; resolves with whether the backend answered "ok". */
export async function probe(
  binary: string,
  netns: string,
  target: string,
  port: number,
  timeoutMs = 1_000,
): Promise<{ ok: boolean; output: string }> {
  const { code, stdout, stderr } = await collectOutput(
    spawn(
      'nsenter',
      [`--net=${netnsPath(netns)}`, '--', binary, 'probe', target, String(port), String(timeoutMs)],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs + 5_000, killSignal: 'SIGKILL' },
    ),
  );
  return { ok: code === 0, output: `${stdout}${stderr}`.trim() };
}

// ---- BPF program statistics ------------------------------------------------------------------

export interface ProgStats {
  runTimeNs: number;
  runCount: number;
}

/** run_time_ns / run_cnt of a pinned program (0 when statistics were never on). */
export function progStats(pinnedPath: string): ProgStats {
  const out = commandOutput('bpftool', ['prog', 'show', 'pinned', pinnedPath, '--json']);
  const json = JSON.parse(out) as { run_time_ns?: number; run_cnt?: number };
  return { runTimeNs: json.run_time_ns ?? 0, runCount: json.run_cnt ?? 0 };
}

/**
 * Holds BPF_ENABLE_STATS (netload bpf-stats) while `during` runs: the kernel counts run time
 * only while someone holds it, and this way nothing global is left on if the benchmark dies.
 */
export async function withBpfStats<T>(binary: string, during: () => Promise<T>): Promise<T> {
  const holder = spawn(binary, ['bpf-stats'], { stdio: ['pipe', 'pipe', 'pipe'] });
  trackChild(holder);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      holder.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('ready')) resolve();
      });
      holder.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`netload bpf-stats exited ${code}: ${err}`)));
    });
    return await during();
  } finally {
    holder.stdin.end();
    await stopChild(holder, 2_000);
  }
}
