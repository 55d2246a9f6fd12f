// CNI ADD then DEL of 50 pods through the real terway shim, exec'd as a kubelet/containerd runs a
// plugin: inside the node's network namespace (nsenter), CNI_* in the environment, the netconf on
// stdin, one process per verb, a fresh pod namespace per pod made beforehand (not timed). The node
// is a lab node (dist/cmd/lab.js: the real terwayd, veth datapath, warm pool, ECS emulator).
//
// Baselines in the same run, interleaved pod by pod with the terway calls so the machine's noise
// falls on all of them alike: (a) Debian's Go reference plugins `macvlan` + `host-local` doing the
// same ADD/DEL in a scratch "node" namespace whose eth0 (one end of a veth pair) is the macvlan
// master; (b) a bare `node -e 0`. Where terway's time goes comes from a probe preloaded into the
// lab's terwayd (../support/daemon-probe.ts): its gRPC handler time and every `ip` it spawns.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { grpcIntrospection } from '../../src/cli/introspection-client.js';
import type { ProbeRecord } from '../support/daemon-probe.js';
import { collectOutput, makeTempDir, removeDir } from '../support/cleanup.js';
import { commandOutput } from '../support/commands.js';
import { formatCounts } from '../support/emulator-process.js';
import { BenchLab } from '../support/lab.js';
import { ipBatchSync, ScratchNetns } from '../support/netns.js';
import type { LatencySummary } from '../support/stats.js';
import { median, ms, ratio, summarize } from '../support/stats.js';

export const REFERENCE_PLUGINS = '/usr/lib/cni';
export const CNI_SETTINGS = {
  pods: 50,
  /** ADDed together then DELed before the clock: every ENI of the node gets its first pod. */
  warmupPods: 4,
  /** The target: ADD p50 ≤ factor × (bare node start p50 + reference ADD p50). */
  targetFactor: 1.2,
  /** The reference plugin's subnet (host-local) and the bench's Kubernetes namespace. */
  referenceSubnet: '10.251.0.0/16',
  podNamespace: 'bench',
  execTimeoutMs: 60_000,
} as const;

export interface ExecBreakdown {
  /** Medians of per-pod values, ms. */
  totalMs: number;
  /** The daemon's gRPC handler, request decoded to reply handed to grpc-js (server side). */
  daemonMs: number;
  /** `ip`/`nsenter` children the daemon spawned inside the handler, spawn to close. */
  kernelMs: number;
  /** Daemon handler minus kernel: IPAM, the durable LMDB write, logging. */
  daemonOtherMs: number;
  /** Client side minus the shim's start-up (VERSION): connect, HTTP/2 frames, call, reply. */
  clientRpcMs: number;
  /** Children spawned per call (median). */
  spawns: number;
  /** Plans per call written to the node's long-lived ip instead of a spawned one. */
  batches: number;
  /** Pod plans per call applied over route netlink from terwayd (no process). */
  netlinkPlans: number;
}

export interface SlowestCall {
  totalMs: number;
  daemonMs: number;
  kernelMs: number;
}

export interface CniAddDelResult {
  settings: typeof CNI_SETTINGS;
  node: { name: string; netns: string };
  terway: {
    add: LatencySummary;
    del: LatencySummary;
    pair: LatencySummary;
    version: LatencySummary;
  };
  macvlan: { add: LatencySummary; del: LatencySummary; pair: LatencySummary };
  nodeStart: LatencySummary;
  breakdown: { add: ExecBreakdown; del: ExecBreakdown };
  /** The slowest call of each verb (its p99 here) and the daemon's share of it. */
  slowest: { add: SlowestCall; del: SlowestCall };
  /**
   * ADD's `ip -batch` children: median duration of one in the node's netns and of one in the
   * pod's, how many of each per ADD, and how many per ADD exited non-zero (with -force a
   * harmless failed line, such as deleting a leftover that is not there, still sets the exit
   * status, though every line ran).
   */
  ipBatch: {
    nodeMs: number;
    podMs: number;
    /** How long the pod side's early-started ip waited for its plan. */
    podWaitMs: number;
    /** A pod plan applied over route netlink instead (median), and how many per ADD. */
    podNetlinkMs: number;
    podNetlinkCount: number;
    nodeCount: number;
    podCount: number;
    failedPerAdd: number;
    failedMs: number;
  };
  target: { limitMs: number; measuredMs: number; pass: boolean };
  ratios: { addOverMacvlan: number; delOverMacvlan: number; pairOverMacvlan: number };
  /** Cloud API calls terwayd logged while the measured pods ran, by API. */
  cloudCallsInWindow: Record<string, number>;
  /** Distinct ENIs the measured pods were placed on. */
  enisUsed: number;
  durationSeconds: number;
}

interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one process to its end; the clock runs from just before spawn to its exit. */
async function timedExec(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin = '',
): Promise<Timed> {
  let exitedAt = 0;
  const started = performance.now();
  const child = spawn(command, args, {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: CNI_SETTINGS.execTimeoutMs,
    killSignal: 'SIGKILL',
  });
  child.once('exit', () => (exitedAt = performance.now()));
  const output = collectOutput(child);
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  const { code, stdout, stderr } = await output;
  return { ms: (exitedAt || performance.now()) - started, code, stdout, stderr };
}

interface Pod {
  name: string;
  containerId: string;
  netnsPath: string;
}

function cniEnv(command: string, pod: Pod, cniPath: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: pod.netnsPath,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: [
      'IgnoreUnknown=1',
      `K8S_POD_NAMESPACE=${CNI_SETTINGS.podNamespace}`,
      `K8S_POD_NAME=${pod.name}`,
      `K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
    ].join(';'),
    CNI_PATH: cniPath,
  };
}

/** One plugin run as the runtime runs it: `nsenter --net=<node>` then exec of the binary. */
class Plugin {
  constructor(
    readonly label: string,
    private readonly binary: string,
    private readonly nodeNetnsPath: string,
    private readonly netconf: string,
    private readonly cniPath: string,
  ) {}

  async run(command: 'ADD' | 'DEL' | 'VERSION', pod: Pod): Promise<Timed> {
    const result = await timedExec(
      'nsenter',
      [`--net=${this.nodeNetnsPath}`, '--', this.binary],
      cniEnv(command, pod, this.cniPath),
      this.netconf,
    );
    if (result.code !== 0) {
      throw new Error(
        `${this.label} ${command} ${pod.name} exited ${result.code}: ${result.stdout}${result.stderr}`,
      );
    }
    if (command === 'ADD' && !/"ips"\s*:\s*\[\s*\{/.test(result.stdout)) {
      throw new Error(`${this.label} ADD ${pod.name} printed no IP: ${result.stdout}`);
    }
    return result;
  }
}

function addressOf(addResult: string): string {
  const parsed = JSON.parse(addResult) as { ips?: Array<{ address?: string }> };
  return parsed.ips?.[0]?.address ?? '';
}

/** The pod's eth0 really carries the address the plugin printed (checked outside the clock). */
function requireWired(label: string, pod: Pod, address: string): void {
  const name = pod.netnsPath.slice(pod.netnsPath.lastIndexOf('/') + 1);
  const text = commandOutput('ip', ['-n', name, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  if (address === '' || !text.includes(` ${address}/`)) {
    throw new Error(`${label}: ${pod.name}'s eth0 does not carry ${address}: ${text}`);
  }
}

function readProbe(dir: string): ProbeRecord[] {
  const records: ProbeRecord[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() !== '') records.push(JSON.parse(line) as ProbeRecord);
    }
  }
  return records.sort((a, b) => a.start - b.start);
}

interface CallProfile {
  daemonMs: number;
  kernelMs: number;
  spawns: Array<Extract<ProbeRecord, { kind: 'spawn' }>>;
  /** Plans written to the node's long-lived ip. */
  batches: Array<Extract<ProbeRecord, { kind: 'batch' }>>;
  /** Pod plans applied over route netlink. */
  netlink: Array<Extract<ProbeRecord, { kind: 'netlink' }>>;
}

/** The last `count` calls of `method`, each with the children spawned inside its handler. */
function callProfiles(records: ProbeRecord[], method: string, count: number): CallProfile[] {
  const calls = records.filter(
    (r): r is Extract<ProbeRecord, { kind: 'rpc' }> => r.kind === 'rpc' && r.method === method,
  );
  if (calls.length < count) {
    throw new Error(`the probe saw ${calls.length} ${method} calls, expected at least ${count}`);
  }
  const spawns = records.filter(
    (r): r is Extract<ProbeRecord, { kind: 'spawn' }> => r.kind === 'spawn',
  );
  const batches = records.filter(
    (r): r is Extract<ProbeRecord, { kind: 'batch' }> => r.kind === 'batch',
  );
  const netlinkPlans = records.filter(
    (r): r is Extract<ProbeRecord, { kind: 'netlink' }> => r.kind === 'netlink',
  );
  const within = <T extends { start: number }>(items: T[], call: { start: number; ms: number }) =>
    items.filter((s) => s.start >= call.start && s.start <= call.start + call.ms);
  return calls.slice(-count).map((call) => {
    const inside = within(spawns, call);
    const planned = within(batches, call);
    const netlink = within(netlinkPlans, call);
    return {
      daemonMs: call.ms,
      kernelMs: [...inside, ...planned, ...netlink].reduce((sum, s) => sum + s.ms, 0),
      spawns: inside,
      batches: planned,
      netlink,
    };
  });
}

function slowestOf(totals: number[], profiles: CallProfile[]): SlowestCall {
  let worst = 0;
  totals.forEach((value, i) => {
    if (value > (totals[worst] ?? -1)) worst = i;
  });
  return {
    totalMs: totals[worst] ?? Number.NaN,
    daemonMs: profiles[worst]?.daemonMs ?? Number.NaN,
    kernelMs: profiles[worst]?.kernelMs ?? Number.NaN,
  };
}

function breakdown(totals: number[], profiles: CallProfile[], versionMs: number): ExecBreakdown {
  const outside = totals.map((total, i) => total - (profiles[i]?.daemonMs ?? Number.NaN));
  return {
    totalMs: median(totals),
    daemonMs: median(profiles.map((p) => p.daemonMs)),
    kernelMs: median(profiles.map((p) => p.kernelMs)),
    daemonOtherMs: median(profiles.map((p) => p.daemonMs - p.kernelMs)),
    clientRpcMs: median(outside.map((value) => value - versionMs)),
    spawns: median(profiles.map((p) => p.spawns.length)),
    batches: median(profiles.map((p) => p.batches.length)),
    netlinkPlans: median(profiles.map((p) => p.netlink.length)),
  };
}

/** Cloud API calls in terwayd's log between two instants (epoch ms), by API. */
function cloudCallsBetween(log: string, from: number, to: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.includes('cloud api call')) continue;
    try {
      const entry = JSON.parse(line) as { time: string; api?: string };
      const time = Date.parse(entry.time);
      if (time >= from && time <= to)
        counts[entry.api ?? '?'] = (counts[entry.api ?? '?'] ?? 0) + 1;
    } catch {
      // a partial line
    }
  }
  return counts;
}

function enisOf(log: string, pods: ReadonlySet<string>): number {
  const enis = new Set<string>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.includes('"allocated pod IP"')) continue;
    try {
      const entry = JSON.parse(line) as { pod?: string; eniId?: string };
      if (entry.pod !== undefined && pods.has(entry.pod) && entry.eniId !== undefined) {
        enis.add(entry.eniId);
      }
    } catch {
      // a partial line
    }
  }
  return enis.size;
}

export async function runCniAddDelBench(
  progress: (line: string) => void = () => undefined,
): Promise<CniAddDelResult> {
  const began = Date.now();
  const { pods: podCount, warmupPods } = CNI_SETTINGS;
  for (const plugin of ['macvlan', 'host-local']) {
    if (!existsSync(join(REFERENCE_PLUGINS, plugin))) {
      throw new Error(
        `${REFERENCE_PLUGINS}/${plugin} is missing: install containernetworking-plugins`,
      );
    }
  }
  const dir = makeTempDir('tn-cni-');
  const probeDir = join(dir, 'probe');
  mkdirSync(probeDir);
  const scratch = new ScratchNetns('c');
  let lab: BenchLab | undefined;
  try {
    progress('bringing up a 1-node lab (veth datapath, terwayd with the timing probe)');
    lab = await BenchLab.up({ nodes: 1, probeDir });
    const node = lab.node('node-1');

    // The reference "node": a scratch namespace whose eth0 is one end of a veth pair.
    const [refNode, refPeer] = scratch.create(['refnode', 'refpeer']) as [string, string];
    ipBatchSync(
      [`link add eth0 type veth peer name peer0 netns ${refPeer}`, 'link set dev eth0 up'],
      refNode,
    );
    ipBatchSync(['link set dev peer0 up'], refPeer);

    // Pod namespaces, made before any clock: warm-up and measured, for terway and macvlan.
    const suffixes = (kind: string, n: number) =>
      Array.from({ length: n }, (_, i) => `${kind}${i}`);
    progress(`creating ${2 * (podCount + warmupPods)} pod namespaces`);
    const makePods = (kind: string, n: number): Pod[] =>
      scratch.create(suffixes(kind, n)).map((netns, i) => ({
        name: `addel-${kind}${i}`,
        containerId: randomBytes(32).toString('hex'),
        netnsPath: `/var/run/netns/${netns}`,
      }));
    const terwayWarm = makePods('tw', warmupPods);
    const terwayPods = makePods('t', podCount);
    const macvlanWarm = makePods('mw', warmupPods);
    const macvlanPods = makePods('m', podCount);

    const conflist = JSON.parse(readFileSync(node.conflist, 'utf8')) as {
      cniVersion: string;
      name: string;
      plugins: Array<Record<string, unknown>>;
    };
    const terway = new Plugin(
      'terway',
      join(lab.manifest.cniBinDir, 'terway'),
      node.netnsPath,
      JSON.stringify({
        ...conflist.plugins[0],
        cniVersion: conflist.cniVersion,
        name: conflist.name,
      }),
      `${lab.manifest.cniBinDir}:${REFERENCE_PLUGINS}`,
    );
    const hostLocalData = join(dir, 'host-local');
    const macvlan = new Plugin(
      'macvlan',
      join(REFERENCE_PLUGINS, 'macvlan'),
      `/var/run/netns/${refNode}`,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'bench-macvlan',
        type: 'macvlan',
        master: 'eth0',
        mode: 'bridge',
        ipam: { type: 'host-local', subnet: CNI_SETTINGS.referenceSubnet, dataDir: hostLocalData },
      }),
      REFERENCE_PLUGINS,
    );
    const nodeEnv = { PATH: process.env.PATH };

    // Warm-up: the shim's V8 code cache, every ENI's first pod, the page cache of every binary.
    progress('warm-up');
    for (const plugin of [terway, macvlan]) {
      const warm = plugin === terway ? terwayWarm : macvlanWarm;
      for (const pod of warm) await plugin.run('ADD', pod);
      for (const pod of warm) await plugin.run('DEL', pod);
    }
    for (let i = 0; i < 3; i++) {
      await timedExec(process.execPath, ['-e', '0'], nodeEnv);
      await terway.run('VERSION', terwayWarm[0]!);
    }

    progress(`measuring ${podCount} pods`);
    const samples = {
      node: [] as number[],
      version: [] as number[],
      tAdd: [] as number[],
      tDel: [] as number[],
      mAdd: [] as number[],
      mDel: [] as number[],
    };
    const windowStart = Date.now();
    for (let i = 0; i < podCount; i++) {
      const tPod = terwayPods[i]!;
      const mPod = macvlanPods[i]!;
      samples.node.push((await timedExec(process.execPath, ['-e', '0'], nodeEnv)).ms);
      samples.version.push((await terway.run('VERSION', tPod)).ms);
      const tAdd = await terway.run('ADD', tPod);
      samples.tAdd.push(tAdd.ms);
      if (i === 0) requireWired('terway', tPod, addressOf(tAdd.stdout).split('/')[0] ?? '');
      samples.tDel.push((await terway.run('DEL', tPod)).ms);
      const mAdd = await macvlan.run('ADD', mPod);
      samples.mAdd.push(mAdd.ms);
      if (i === 0) requireWired('macvlan', mPod, addressOf(mAdd.stdout).split('/')[0] ?? '');
      samples.mDel.push((await macvlan.run('DEL', mPod)).ms);
      if ((i + 1) % 10 === 0) progress(`  ${i + 1}/${podCount}`);
    }
    const windowEnd = Date.now();

    // Every ADD had its DEL: nothing may be left anywhere.
    const left = (await grpcIntrospection.listMappings(node.socket)).mappings.length;
    const hostLocalLeft = existsSync(join(hostLocalData, 'bench-macvlan'))
      ? readdirSync(join(hostLocalData, 'bench-macvlan')).filter((f) => /^\d/.test(f)).length
      : 0;
    const vethsLeft = commandOutput('ip', ['-n', node.netns, '-o', 'link', 'show'])
      .split('\n')
      .filter((line) => / twv/.test(line)).length;
    if (left !== 0 || hostLocalLeft !== 0 || vethsLeft !== 0) {
      throw new Error(
        `ADD+DEL left ${left} terway records, ${vethsLeft} host veths, ${hostLocalLeft} host-local IPs`,
      );
    }

    const records = readProbe(probeDir);
    const adds = callProfiles(records, 'AllocateIP', podCount);
    const dels = callProfiles(records, 'ReleaseIP', podCount);
    const versionMs = median(samples.version);
    const ipSpawns = adds.flatMap((p) => p.spawns).filter((s) => s.command === 'ip');
    const inNode = [
      ...ipSpawns.filter((s) => s.args[1] === node.netns),
      ...adds.flatMap((p) => p.batches),
    ];
    const inPod = ipSpawns.filter((s) => s.args[1] !== node.netns);
    const podNetlink = adds.flatMap((p) => p.netlink);
    const failed = ipSpawns.filter((s) => s.code !== 0);

    const pair = (a: number[], b: number[]) => a.map((value, i) => value + (b[i] ?? Number.NaN));
    const nodeStart = summarize(samples.node);
    const macvlanAdd = summarize(samples.mAdd);
    const terwayAdd = summarize(samples.tAdd);
    const limitMs = CNI_SETTINGS.targetFactor * (nodeStart.p50Ms + macvlanAdd.p50Ms);
    const macvlanPair = summarize(pair(samples.mAdd, samples.mDel));
    const terwayPair = summarize(pair(samples.tAdd, samples.tDel));
    const macvlanDel = summarize(samples.mDel);
    const terwayDel = summarize(samples.tDel);
    return {
      settings: CNI_SETTINGS,
      node: { name: node.name, netns: node.netns },
      terway: {
        add: terwayAdd,
        del: terwayDel,
        pair: terwayPair,
        version: summarize(samples.version),
      },
      macvlan: { add: macvlanAdd, del: macvlanDel, pair: macvlanPair },
      nodeStart,
      breakdown: {
        add: breakdown(samples.tAdd, adds, versionMs),
        del: breakdown(samples.tDel, dels, versionMs),
      },
      slowest: { add: slowestOf(samples.tAdd, adds), del: slowestOf(samples.tDel, dels) },
      ipBatch: {
        nodeMs: median(inNode.map((s) => s.ms)),
        podMs: median(inPod.map((s) => s.ms)),
        podWaitMs: median(inPod.map((s) => s.waitedMs)),
        podNetlinkMs: median(podNetlink.map((plan) => plan.ms)),
        podNetlinkCount: podNetlink.length / podCount,
        nodeCount: inNode.length / podCount,
        podCount: inPod.length / podCount,
        failedPerAdd: failed.length / podCount,
        failedMs: median(failed.map((s) => s.ms)),
      },
      target: { limitMs, measuredMs: terwayAdd.p50Ms, pass: terwayAdd.p50Ms <= limitMs },
      ratios: {
        addOverMacvlan: terwayAdd.p50Ms / macvlanAdd.p50Ms,
        delOverMacvlan: terwayDel.p50Ms / macvlanDel.p50Ms,
        pairOverMacvlan: terwayPair.p50Ms / macvlanPair.p50Ms,
      },
      cloudCallsInWindow: cloudCallsBetween(node.log, windowStart, windowEnd),
      enisUsed: enisOf(
        node.log,
        new Set(terwayPods.map((pod) => `${CNI_SETTINGS.podNamespace}/${pod.name}`)),
      ),
      durationSeconds: (Date.now() - began) / 1000,
    };
  } finally {
    scratch.dispose();
    if (lab !== undefined) await lab.down();
    removeDir(dir);
  }
}

export function printCniAddDel(r: CniAddDelResult): void {
  const row = (label: string, s: LatencySummary) =>
    `${label.padEnd(26)} p50 ${ms(s.p50Ms).padStart(9)}  p99 ${ms(s.p99Ms).padStart(9)}`;
  const lines = [
    row('terway ADD', r.terway.add),
    row('terway DEL', r.terway.del),
    row('terway ADD+DEL', r.terway.pair),
    row('terway VERSION', r.terway.version),
    row('macvlan+host-local ADD', r.macvlan.add),
    row('macvlan+host-local DEL', r.macvlan.del),
    row('macvlan+host-local pair', r.macvlan.pair),
    row('node -e 0', r.nodeStart),
    `ADD breakdown (medians)    daemon ${ms(r.breakdown.add.daemonMs)} (kernel ${ms(r.breakdown.add.kernelMs)}, ` +
      `${r.breakdown.add.spawns} spawns + ${r.breakdown.add.batches} node plans + ${r.breakdown.add.netlinkPlans} netlink plans), client gRPC ${ms(r.breakdown.add.clientRpcMs)}`,
    `DEL breakdown (medians)    daemon ${ms(r.breakdown.del.daemonMs)} (kernel ${ms(r.breakdown.del.kernelMs)}, ` +
      `${r.breakdown.del.spawns} spawns + ${r.breakdown.del.batches} node plans + ${r.breakdown.del.netlinkPlans} netlink plans), client gRPC ${ms(r.breakdown.del.clientRpcMs)}`,
    `target                     ADD p50 ${ms(r.target.measuredMs)} ≤ ${ms(r.target.limitMs)}: ` +
      `${r.target.pass ? 'PASS' : 'FAIL'} (ADD / reference ADD ${ratio(r.ratios.addOverMacvlan)})`,
    `cloud API calls during the window: ${formatCounts(r.cloudCallsInWindow)}; ENIs used: ${r.enisUsed}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Standalone: node dist/bench/cni-add-del/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printCniAddDel(await runCniAddDelBench((line) => process.stdout.write(`${line}\n`)));
}
