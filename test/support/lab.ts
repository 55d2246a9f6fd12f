/**
 * Driving a `lab` (src/lab/) from the privileged suite: bring one up in a private directory, add
 * and remove pods through the real CNI shim, ask each node's terwayd what it holds, restart a
 * node's terwayd, read interface counters, and always take everything down again.
 *
 * The built commands come from `dist/` of this checkout, or from `$TERWAY_DIST` when set (a
 * private build, so that a concurrent `npm run build`, which empties dist/ first, cannot pull the
 * daemon out from under a running test).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect } from '@jest/globals';

import { requireRoot } from './netns.js';

import { terwaydEnv } from '../../src/daemon/runtime-settings.js';
import type { TcHookChoice } from '../../src/dataplane/bpf/native-bpf.js';
import type { LabManifest, LabNodeInfo } from '../../src/lab/lab-manifest.js';
import { processAlive as alive } from '../../src/util/process-alive.js';
import { REPO_ROOT } from './bins.js';

export const DIST = process.env.TERWAY_DIST ?? join(REPO_ROOT, 'dist');
export const LAB_BINS = {
  lab: join(DIST, 'cmd/lab.js'),
  terwayd: join(DIST, 'cmd/terwayd.js'),
  terway: join(DIST, 'bundle/terway.cjs'),
  terwayCli: join(DIST, 'cmd/terway-cli.js'),
} as const;
export const TCP_ECHO = join(REPO_ROOT, 'test/support/tcp-echo.mjs');

const LAB_UP_TIMEOUT_MS = 150_000;
const LAB_DOWN_TIMEOUT_MS = 90_000;
const DAEMON_READY_TIMEOUT_MS = 30_000;
const DAEMON_STOP_TIMEOUT_MS = 20_000;

/** The environment of the processes tests start: the test runner's, minus Jest's node flags. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, ...extra };
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit, kills it after timeoutMs. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs ?? 30_000} ms)`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its stdin must not fail the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like run, but a non-zero exit is an error that shows the command and its output. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

export function inNetns(
  netns: string,
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<Exec> {
  return run('ip', ['netns', 'exec', netns, command, ...args], options);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function listNetns(): Promise<string[]> {
  const out = await mustRun('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** A CNI error result as the shim prints it on stdout. */
export interface CniErrorResult {
  code: number;
  msg: string;
  details?: string;
}

/** The CNI error result a shim run (stdout) or a `lab` command (stderr) printed. */
export function cniErrorOf(result: Exec): CniErrorResult | undefined {
  return cniErrorIn(result.stdout) ?? cniErrorIn(result.stderr);
}

/** The CNI_* environment of one attachment, as a runtime sets it for the shim. */
export function attachmentEnv(
  command: string,
  pod: { name: string; containerId: string; netns: string; ifname?: string },
): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: pod.netns,
    CNI_IFNAME: pod.ifname ?? 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
  };
}

/** No IP leaked on the node: what the pool has in use is exactly what the records hold. */
export async function expectNoLeak(lab: Lab, node: string): Promise<void> {
  const { inUse, recorded, counted } = await lab.ipAccounting(node);
  expect(inUse).toEqual(recorded);
  expect(counted).toBe(recorded.length);
}

/** The `{...}` a `lab` command printed after "failed: " (the plugin's CNI error result). */
export function cniErrorIn(text: string): CniErrorResult | undefined {
  const match = /\{"cniVersion".*?"code":\d+.*\}/.exec(text);
  if (match === null) return undefined;
  try {
    return JSON.parse(match[0]) as CniErrorResult;
  } catch {
    return undefined;
  }
}

export interface CniInterface {
  name: string;
  mac: string;
  sandbox?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
}

export interface LabPod {
  node: string;
  name: string;
  /** The pod's namespace name (for `ip -n`). */
  netns: string;
  netnsPath: string;
  containerId: string;
  result: CniResult;
  ip: string;
}

export interface MappedPod {
  pod: { namespace: string; name: string; containerId: string };
  ip: string;
  eniId: string;
  eniMac: string;
  netns: string;
  ifname: string;
  driver: string;
  hostInterface?: { name: string; mac: string };
  podInterface?: { name: string; mac: string; sandbox: string };
}

export interface FactoryIp {
  address: string;
  state: string;
  owner: { namespace: string; name: string; containerId: string } | null;
}

export interface Factory {
  enis: Array<{ id: string; mac: string; status: string; ips: FactoryIp[] }>;
  pool: { idle: number; inUse: number; invalid: number; releasing: number };
}

export interface IpAccounting {
  /** IPs in state in_use on the node's ENIs (show factory). */
  inUse: string[];
  /** IPs of the records terway-cli mapping lists. */
  recorded: string[];
  /** The pool's own in-use count. */
  counted: number;
}

export interface LinkCounters {
  rx: number;
  tx: number;
}

/** One terwayd this test started (a restart), so cleanup can stop it: the lab does not know it. */
interface RestartedDaemon {
  node: string;
  child: ChildProcess;
  exited: Promise<void>;
}

export class Lab {
  private readonly restarted: RestartedDaemon[] = [];
  /** The terwayd currently serving each node, by pid. */
  private readonly daemonPids = new Map<string, number>();

  private constructor(
    readonly dir: string,
    readonly manifest: LabManifest,
  ) {
    for (const node of manifest.nodes) this.daemonPids.set(node.name, node.daemonPid);
  }

  get id(): string {
    return this.manifest.id;
  }

  get vpcNetns(): string {
    return this.manifest.vpc.netns;
  }

  /**
   * `lab up` in a fresh temp dir, veth driver. Whatever happens, nothing is left behind when it
   * throws: a half-built lab is taken down here.
   */
  static async up(options: {
    nodes: number;
    config?: Record<string, unknown>;
    lbHook?: TcHookChoice;
    /**
     * Let the supervisor start a node's terwayd again when it exits. Off by default: these tests
     * stop and start daemons themselves (restartDaemon), which a supervisor restarting them too
     * would race for the node's state dir.
     */
    restartDaemons?: boolean;
  }): Promise<Lab> {
    const dir = mkdtempSync(join(tmpdir(), 'tnlab-'));
    const args = [
      LAB_BINS.lab,
      'up',
      '--dir',
      dir,
      '--nodes',
      String(options.nodes),
      '--driver',
      'veth',
      ...(options.lbHook === undefined ? [] : ['--lb-hook', options.lbHook]),
      ...(options.restartDaemons === true ? [] : ['--no-daemon-restart']),
      '--json',
      ...(options.config === undefined ? [] : ['--config-json', JSON.stringify(options.config)]),
    ];
    const result = await run(process.execPath, args, { timeoutMs: LAB_UP_TIMEOUT_MS });
    if (result.code === 0) {
      try {
        return new Lab(dir, JSON.parse(result.stdout) as LabManifest);
      } catch {
        // Not a manifest: swept below like any other failure.
      }
    }
    await sweepFailedLab(dir);
    throw new Error(`lab up failed (${result.code}):\n${result.stdout}${result.stderr}`);
  }

  node(name: string): LabNodeInfo {
    const node = this.manifest.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new Error(`no node ${name} in lab ${this.id}`);
    return node;
  }

  podNetns(node: string, pod: string): string {
    return `${this.id}-${node}-${pod}`;
  }

  lab(args: readonly string[], timeoutMs = 60_000): Promise<Exec> {
    return run(process.execPath, [LAB_BINS.lab, ...args, '--dir', this.dir], { timeoutMs });
  }

  /** `lab pod add`; the raw outcome, for tests that expect it to fail. */
  tryAddPod(
    node: string,
    pod: string,
    options: { conflist?: string; runtimeConfig?: Record<string, unknown> } = {},
  ): Promise<Exec> {
    return this.lab([
      'pod',
      'add',
      node,
      pod,
      ...(options.conflist === undefined ? [] : ['--conflist', options.conflist]),
      ...(options.runtimeConfig === undefined
        ? []
        : ['--runtime-config', JSON.stringify(options.runtimeConfig)]),
    ]);
  }

  async addPod(
    node: string,
    pod: string,
    options: { conflist?: string; runtimeConfig?: Record<string, unknown> } = {},
  ): Promise<LabPod> {
    const result = await this.tryAddPod(node, pod, options);
    if (result.code !== 0) {
      throw new Error(`lab pod add ${node} ${pod} failed:\n${result.stdout}${result.stderr}`);
    }
    const out = JSON.parse(result.stdout) as {
      netns: string;
      containerId: string;
      result: CniResult;
    };
    const address = out.result.ips?.[0]?.address;
    if (address === undefined) throw new Error(`no IP in ${result.stdout}`);
    return {
      node,
      name: pod,
      netns: this.podNetns(node, pod),
      netnsPath: out.netns,
      containerId: out.containerId,
      result: out.result,
      ip: address.split('/')[0] ?? '',
    };
  }

  delPod(node: string, pod: string): Promise<Exec> {
    return this.lab(['pod', 'del', node, pod]);
  }

  checkPod(node: string, pod: string): Promise<Exec> {
    return this.lab(['pod', 'check', node, pod]);
  }

  cli(node: string, args: readonly string[]): Promise<Exec> {
    return run(process.execPath, [LAB_BINS.terwayCli, '--socket', this.node(node).socket, ...args]);
  }

  async mapping(node: string): Promise<MappedPod[]> {
    const result = await this.cli(node, ['mapping', '--json']);
    if (result.code !== 0) throw new Error(`terway-cli mapping failed: ${result.stderr}`);
    return (JSON.parse(result.stdout) as { mappings: Array<{ network: MappedPod }> }).mappings.map(
      (entry) => entry.network,
    );
  }

  async factory(node: string): Promise<Factory> {
    const result = await this.cli(node, ['show', 'factory', '--json']);
    if (result.code !== 0) throw new Error(`terway-cli show factory failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Factory;
  }

  /** Runs the real shim for one CNI verb against a node's terwayd, as a runtime would. */
  shim(
    node: string,
    env: Record<string, string>,
    netconf: Record<string, unknown> = {},
  ): Promise<Exec> {
    const conf = {
      cniVersion: '1.1.0',
      name: 'terway',
      type: 'terway',
      daemon_socket: this.node(node).socket,
      ...netconf,
    };
    return run(process.execPath, [LAB_BINS.terway], {
      input: JSON.stringify(conf),
      env: { PATH: process.env.PATH ?? '', CNI_PATH: this.manifest.cniBinDir, ...env },
    });
  }

  daemonPid(node: string): number {
    return this.daemonPids.get(node) ?? 0;
  }

  /** SIGTERM (or `signal`) to a node's terwayd, and waits until it is gone. */
  async stopDaemon(node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.daemonPid(node);
    if (pid <= 0 || !alive(pid)) return;
    process.kill(pid, signal);
    const deadline = Date.now() + DAEMON_STOP_TIMEOUT_MS;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) {
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await sleep(50);
    }
  }

  /**
   * Starts a node's terwayd again exactly as the lab supervisor does (the manifest's
   * daemonArgs, output appended to the node's log), with
   * `env` added to its environment and `extraArgs` after its arguments (a repeated flag's last
   * value wins: an upgrade test passes another --bpf-object) and the flags in `withoutFlags`
   * (with their values) taken out, and waits until it serves. The previous one must be gone.
   */
  async startDaemon(
    node: string,
    env: Record<string, string> = {},
    extraArgs: readonly string[] = [],
    withoutFlags: readonly string[] = [],
  ): Promise<number> {
    const info = this.node(node);
    const args = info.daemonArgs.filter(
      (arg, index) =>
        !withoutFlags.includes(arg) && !withoutFlags.includes(info.daemonArgs[index - 1] ?? ''),
    );
    if (alive(this.daemonPid(node))) throw new Error(`terwayd of ${node} is still running`);
    const from = statSync(info.log).size;
    const logFd = openSync(info.log, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...args, ...extraArgs], {
        stdio: ['ignore', logFd, logFd],
        env: terwaydEnv(childEnv(env)),
      });
    } finally {
      closeSync(logFd);
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.restarted.push({ node, child, exited });
    this.daemonPids.set(node, child.pid ?? 0);
    const deadline = Date.now() + DAEMON_READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`restarted terwayd of ${node} exited:\n${this.logSince(node, from)}`);
      }
      if (this.logSince(node, from).includes('"msg":"terwayd is serving"')) return child.pid ?? 0;
      await sleep(100);
    }
    throw new Error(`restarted terwayd of ${node} not serving:\n${this.logSince(node, from)}`);
  }

  async restartDaemon(
    node: string,
    env: Record<string, string> = {},
    extraArgs: readonly string[] = [],
    withoutFlags: readonly string[] = [],
  ): Promise<number> {
    await this.stopDaemon(node);
    return this.startDaemon(node, env, extraArgs, withoutFlags);
  }

  /** Whether the terwayd serving `node` is still running (a failpoint may have killed it). */
  daemonAlive(node: string): boolean {
    return alive(this.daemonPid(node));
  }

  logSince(node: string, offset: number): string {
    return readFileSync(this.node(node).log, 'utf8').slice(offset);
  }

  logSize(node: string): number {
    return statSync(this.node(node).log).size;
  }

  /** A failpoint kills the daemon from inside: wait until it is really gone. */
  async waitDaemonGone(node: string, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.daemonAlive(node) && Date.now() < deadline) await sleep(100);
    return !this.daemonAlive(node);
  }

  /** IPs the pool has in use, and IPs the records hold: equal when nothing leaked. */
  async ipAccounting(node: string): Promise<IpAccounting> {
    const factory = await this.factory(node);
    const inUse = factory.enis
      .flatMap((eni) => eni.ips)
      .filter((ip) => ip.state === 'in_use')
      .map((ip) => ip.address)
      .sort();
    const recorded = (await this.mapping(node)).map((m) => m.ip).sort();
    return { inUse, recorded, counted: factory.pool.inUse };
  }

  /**
   * Links, rules and routes of a node: "nothing created" compares two of these. An ENI's own
   * table (`default via <gw> dev ethN table 1000+ifindex`) is left out: it belongs to the ENI,
   * made for its first pod and kept while the ENI is attached, not to any one pod.
   */
  async nodeFootprint(
    node: string,
  ): Promise<{ links: string[]; rules: string[]; routes: string[] }> {
    const netns = this.node(node).netns;
    const { rules, routes } = await routingState(netns);
    const eniTable = /^default via \S+ dev eth\d+ table \d+ onlink/;
    return {
      links: await linkNames(netns),
      rules,
      routes: routes.filter((route) => !eniTable.test(route)),
    };
  }

  /** The node's rules and routes that name this IP. */
  async nodeStateFor(node: string, ip: string): Promise<{ rules: string[]; routes: string[] }> {
    const { rules, routes } = await routingState(this.node(node).netns);
    const pattern = new RegExp(`(^|[\\s/])${ip.replace(/\./g, '\\.')}(\\s|/|$)`);
    return {
      rules: rules.filter((line) => pattern.test(line)),
      routes: routes.filter((line) => pattern.test(line)),
    };
  }

  /**
   * `lab down` (CNI DEL of every pod, daemons and namespaces gone), then what the lab cannot
   * know about: daemons this test restarted, and any namespace still carrying the lab's id.
   * Never throws: it runs in afterAll, where a throw would hide the test's own failure.
   */
  async down(): Promise<string[]> {
    const problems: string[] = [];
    const down = await run(process.execPath, [LAB_BINS.lab, 'down', '--dir', this.dir], {
      timeoutMs: LAB_DOWN_TIMEOUT_MS,
    }).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error) }));
    if (down.code !== 0) problems.push(`lab down: ${down.stdout}${down.stderr}`);
    // What `lab down` would have stopped had it run (say dist/ was being rebuilt under it):
    // the supervisor first (it stops its daemons and emulator), then any daemon it left.
    await stopPid(this.manifest.supervisorPid, this.dir, problems, 'the lab supervisor');
    for (const node of this.manifest.nodes) {
      await stopPid(node.daemonPid, this.dir, problems, `the first terwayd of ${node.name}`);
    }
    for (const daemon of this.restarted) {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
        daemon.child.kill('SIGTERM');
        const timer = setTimeout(() => daemon.child.kill('SIGKILL'), DAEMON_STOP_TIMEOUT_MS);
        await daemon.exited;
        clearTimeout(timer);
      }
    }
    for (const name of (await listNetns()).filter((ns) => ns.startsWith(`${this.id}-`))) {
      problems.push(`namespace ${name} outlived lab down`);
      await run('ip', ['netns', 'delete', name]);
    }
    for (const node of this.manifest.nodes) {
      if (existsSync(node.bpfPinDir)) {
        problems.push(`bpffs pins ${node.bpfPinDir} outlived lab down`);
        rmSync(node.bpfPinDir, { recursive: true, force: true });
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/** Processes whose command line names `dir` (a lab's supervisor and daemons), with their args. */
function processesOf(dir: string): Array<{ pid: number; args: string[] }> {
  const found: Array<{ pid: number; args: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => arg === dir || arg.startsWith(`${dir}/`))) found.push({ pid, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * What a `lab up` that failed (or was killed, or printed no manifest) may have left: `lab down`
 * when a manifest exists, then any supervisor or daemon still naming the directory, and the
 * namespaces of the lab id the supervisor was given.
 */
async function sweepFailedLab(dir: string): Promise<void> {
  if (existsSync(join(dir, 'lab.json'))) {
    await run(process.execPath, [LAB_BINS.lab, 'down', '--dir', dir], {
      timeoutMs: LAB_DOWN_TIMEOUT_MS,
    });
  }
  const ids = new Set<string>();
  for (const { pid, args } of processesOf(dir)) {
    const id = args[args.indexOf('--id') + 1];
    if (args.includes('supervise') && id !== undefined) ids.add(id);
    await stopPid(pid, dir, [], 'a process of a failed lab');
  }
  for (const id of ids) {
    for (const name of (await listNetns()).filter((ns) => ns.startsWith(`${id}-`))) {
      await run('ip', ['netns', 'delete', name]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * SIGTERM, then SIGKILL after a grace period, to a process of this lab: only while its command
 * line still names the lab's directory, so a recycled pid is never someone else's process.
 */
async function stopPid(pid: number, dir: string, problems: string[], what: string): Promise<void> {
  if (pid <= 0 || !alive(pid)) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.includes(dir)) return;
  problems.push(`${what} (pid ${pid}) outlived lab down`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + DAEMON_STOP_TIMEOUT_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Every link of a namespace with its packet counters. */
export async function linkCounters(netns: string): Promise<Map<string, LinkCounters>> {
  const out = await mustRun('ip', ['-n', netns, '-s', '-j', 'link', 'show']);
  const links = JSON.parse(out) as Array<{
    ifname: string;
    stats64?: { rx: { packets: number }; tx: { packets: number } };
  }>;
  return new Map(
    links.map((link) => [
      link.ifname,
      { rx: link.stats64?.rx.packets ?? 0, tx: link.stats64?.tx.packets ?? 0 },
    ]),
  );
}

/** Link names of a namespace (for before/after comparisons). */
export async function linkNames(netns: string): Promise<string[]> {
  return [...(await linkCounters(netns)).keys()].sort();
}

/** ifindex of a link in a namespace. */
export async function ifindexOf(netns: string, dev: string): Promise<number> {
  const out = await mustRun('ip', ['-n', netns, '-j', 'link', 'show', 'dev', dev]);
  const [link] = JSON.parse(out) as Array<{ ifindex: number }>;
  if (link === undefined) throw new Error(`no ${dev} in ${netns}`);
  return link.ifindex;
}

/** The link in `netns` with this MAC (an ENI's link on its node). */
export async function linkByMac(netns: string, mac: string): Promise<string> {
  const out = await mustRun('ip', ['-n', netns, '-j', 'link', 'show']);
  const links = JSON.parse(out) as Array<{ ifname: string; address?: string }>;
  const link = links.find((candidate) => candidate.address?.toLowerCase() === mac.toLowerCase());
  if (link === undefined) throw new Error(`no link with MAC ${mac} in ${netns}`);
  return link.ifname;
}

/** `ip rule` and every route of every table, as text lines, for "nothing of the pod" checks. */
export async function routingState(netns: string): Promise<{ rules: string[]; routes: string[] }> {
  const rules = (await mustRun('ip', ['-n', netns, 'rule', 'show'])).split('\n').filter(Boolean);
  const routes = (await mustRun('ip', ['-n', netns, 'route', 'show', 'table', 'all']))
    .split('\n')
    .filter(Boolean);
  return { rules, routes };
}

export interface PingOutcome {
  transmitted: number;
  received: number;
  output: string;
}

export async function ping(
  netns: string,
  destination: string,
  options: { count?: number; intervalS?: number; waitS?: number } = {},
): Promise<PingOutcome> {
  const count = options.count ?? 1;
  const result = await inNetns(
    netns,
    'ping',
    [
      '-n',
      '-q',
      '-c',
      String(count),
      '-i',
      String(options.intervalS ?? 0.2),
      '-W',
      String(options.waitS ?? 1),
      destination,
    ],
    { timeoutMs: 30_000 + count * 1_000 },
  );
  const output = result.stdout + result.stderr;
  const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
  return {
    transmitted: Number(match?.[1] ?? 0),
    received: Number(match?.[2] ?? 0),
    output,
  };
}

/** One echo reply within a few tries: a loaded machine may drop the first packet (ARP). */
export async function expectPing(netns: string, destination: string, tries = 5): Promise<void> {
  let last: PingOutcome | undefined;
  for (let attempt = 0; attempt < tries; attempt++) {
    last = await ping(netns, destination, { count: 1, waitS: 2 });
    if (last.received === 1) return;
    await sleep(300);
  }
  throw new Error(`no ping reply from ${destination} in ${netns}:\n${last?.output}`);
}

/** A TCP echo server listening in a namespace until stopped. */
export class EchoServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  static async start(netns: string, ip: string, port: number): Promise<EchoServer> {
    const child = spawn(
      'ip',
      ['netns', 'exec', netns, process.execPath, TCP_ECHO, 'server', ip, String(port)],
      { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const server = new EchoServer(child, exited);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void server.stop();
        reject(new Error(`echo server in ${netns} not listening after 15 s: ${output}`));
      }, 15_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`echo server in ${netns} exited: ${output}`));
      });
    });
    return server;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** One request and its response over TCP, from `netns` to ip:port; retried a few times. */
export async function tcpEcho(
  netns: string,
  ip: string,
  port: number,
  message: string,
  tries = 4,
): Promise<{ from: string; echo: string }> {
  let last: Exec | undefined;
  for (let attempt = 0; attempt < tries; attempt++) {
    last = await inNetns(netns, process.execPath, [TCP_ECHO, 'client', ip, String(port), message], {
      timeoutMs: 15_000,
    });
    if (last.code === 0) return JSON.parse(last.stdout.trim()) as { from: string; echo: string };
    await sleep(500);
  }
  throw new Error(`no TCP echo from ${ip}:${port} in ${netns}: ${last?.stdout}${last?.stderr}`);
}

/**
 * One lab for a test file: up (as root) before its tests, down after them, and the file fails
 * if anything of the lab is left behind. `prepare` runs once the lab is up. Returns the getter
 * the tests use.
 */
export function useLab(
  options: Parameters<typeof Lab.up>[0],
  prepare?: (lab: Lab) => Promise<void>,
): () => Lab {
  let started: Lab | undefined;
  beforeAll(async () => {
    requireRoot();
    started = await Lab.up(options);
    await prepare?.(started);
  }, 180_000);
  afterAll(async () => {
    if (started !== undefined) expect(await started.down()).toEqual([]);
  }, 120_000);
  return () => {
    if (started === undefined) throw new Error('the lab did not come up');
    return started;
  };
}
