// The eBPF Service load balancer's control plane: how fast 10,000 Services × 10 backends get into
// the kernel maps, how long one EndpointSlice change takes to reach them, and what holding them
// costs in memory. Baseline in the same run: iptables DNAT, programmed the way kube-proxy does it
// (iptables-restore of its KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-* chains) in a scratch netns.
//
// Every sync runs in a fresh process (worker.ts) against real maps in a fresh bpffs pin dir: the
// daemon does it once, cold. The change latency runs the cluster path end to end: an apiserver
// (the in-repo TestApiServer, real list/watch HTTP on loopback) in this process, client-node
// informers + ServiceTable + LbReconciler + kernel maps in the worker; the time runs from the
// apiserver write to the moment the worker has read the new backend back from the map. Both
// processes stamp with CLOCK_MONOTONIC (process.hrtime), which is system-wide.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

import Table from 'cli-table3';

import { compatObjectPath } from '../../src/dataplane/bpf/lb-object.js';
import { ADDON_ENV, NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import type { K8sObject } from '../../src/k8s/test-apiserver.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { closeLbMaps, openLbMaps } from '../../src/lb/lb-maps.js';
import { LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';
import {
  collectOutput,
  makeTempDir,
  onCleanup,
  removeDir,
  stopChild,
  trackChild,
} from '../support/cleanup.js';
import { BenchLab } from '../support/lab.js';
import { peakRssMb, resetPeakRss, rssOf, type RssBreakdown } from '../support/process-memory.js';
import { ScratchNetns } from '../support/netns.js';
import type { LatencySummary } from '../support/stats.js';
import { median, ms, rate, ratio, summarize } from '../support/stats.js';
import type { Target } from '../support/stats.js';
import { TERWAYD_ENV, TERWAYD_NODE_FLAGS, terwaydEnv } from '../../src/daemon/runtime-settings.js';
import { REPO_ROOT } from '../support/paths.js';
import {
  backendIps,
  clusterIp,
  makeCluster,
  makeSlice,
  replacementIp,
  type FixtureShape,
} from './fixture.js';
import { changeRestore, fullRestore } from './kube-proxy-rules.js';
import { checkMaps, type MapsCheck } from './maps-check.js';
import type {
  MemoryFigures,
  ParentMessage,
  SyncFigures,
  WorkerConfig,
  WorkerMessage,
  WorkerMode,
} from './worker.js';
import { mdTable, notCompleted } from '../support/markdown.js';
import { processAlive } from '../../src/util/process-alive.js';

export const LB_MAPS_SETTINGS = {
  services: 10_000,
  endpointsPerService: 10,
  /** Fresh worker processes per offline sync mode; medians. */
  syncRuns: 5,
  /** EndpointSlice changes through the apiserver, one at a time, this far apart. */
  changes: 200,
  changeSpacingMs: 20,
  /** A change not in the map by then is a failure. */
  changeTimeoutMs: 10_000,
  /** Full iptables-restore runs (each into a fresh netns); median. */
  iptablesRuns: 3,
  /** One-Service `iptables-restore --noflush` runs against the loaded ruleset. */
  iptablesChanges: 20,
  /** The same, with KUBE-SERVICES rewritten too, as kube-proxy's partial sync does. */
  iptablesKubeProxyChanges: 5,
  iptablesTimeoutMs: 300_000,
  /** The real terwayd in a lab node: RSS samples (this far apart) before and after loading. */
  daemonRssSamples: 5,
  daemonRssSampleMs: 200,
  /**
   * Left to the daemon after its maps are complete, before the RSS samples: V8 gives the heap a
   * burst grew back after about 10 s of idle (its memory reducer), and an operator looks later.
   */
  daemonSettleMs: 15_000,
  daemonLoadTimeoutMs: 180_000,
} as const;

export const LB_MAPS_TARGETS = {
  servicesPerSecond: 100_000,
  changeMs: 10,
  rssMb: 150,
} as const;

export interface SyncSummary {
  runs: SyncFigures[];
  /** Medians over the runs. */
  wallMs: number;
  handOverMs: number;
  /** The reconciler's own time (sum of its passes' durationMs). */
  passMs: number;
  /** Services ÷ median wall time. */
  servicesPerSecond: number;
  /** Minor page faults in the clock's window. */
  minorFaults: number;
  /** What one first touch of a fresh page cost in the runs' processes (µs). */
  usPerFault: number;
  /** Each run's faults at its own process's cost per fault: the window's time in fresh pages. */
  faultMs: number;
}

export interface DaemonMemory {
  /** Where its Services came from: its services file, or the apiserver (cluster mode). */
  source: 'services file' | 'kubernetes';
  pid: number;
  /** Medians of the samples, MiB. */
  rssBeforeMb: number;
  rssAfterMb: number;
  before: RssBreakdown;
  after: RssBreakdown;
  /**
   * The highest RSS from just before the load to the after-sample (the kernel's VmHWM, reset
   * before the load): what a memory limit on the daemon's container must leave room for.
   */
  peakMb: number;
  /**
   * File written (or first object created) → all frontends in the daemon's maps (parse or
   * list/watch, translate, program).
   */
  loadMs: number;
  /** The services file's size; undefined in cluster mode. */
  inputBytes: number | undefined;
  check: MapsCheck;
}

export interface LbMapsResult {
  settings: typeof LB_MAPS_SETTINGS;
  /** What the workers ran: the build's dist/bench/lb-maps/worker.js, or worker.ts bundled by esbuild. */
  workers: 'dist' | 'esbuild bundle';
  iptablesVersion: string;
  sync: {
    reconciler: SyncSummary;
    table: SyncSummary;
    /** One run: informers listing the apiserver over HTTP → maps. */
    informer: SyncFigures;
  };
  iptables: {
    runsMs: number[];
    medianMs: number;
    servicesPerSecond: number;
    rules: number;
    chains: number;
    bytes: number;
  };
  change: {
    ours: LatencySummary;
    /** The reconciler's pass (map writes) alone, for the same changes. */
    oursPass: LatencySummary;
    iptables: LatencySummary;
    iptablesKubeProxy: LatencySummary;
  };
  memory: {
    /** The informer worker: the daemon's cluster-mode Service path, alone in a process. */
    loaded: MemoryFigures;
    empty: MemoryFigures;
    deltaMb: number;
    /** The real terwayd of a lab node, standalone mode (services file); absent when skipped. */
    daemon: DaemonMemory | undefined;
    daemonSkipped: string | undefined;
    /** The same terwayd in cluster mode (--kubeconfig); absent when skipped. */
    clusterDaemon: DaemonMemory | undefined;
    clusterDaemonSkipped: string | undefined;
  };
  checks: {
    reconciler: MapsCheck[];
    table: MapsCheck[];
    informer: MapsCheck;
    afterChanges: MapsCheck;
  };
  ratios: {
    /** services/s, ours ÷ iptables: above 1 is faster. */
    reconcilerOverIptables: number;
    tableOverIptables: number;
    informerOverIptables: number;
    /** Latency, ours ÷ iptables: below 1 is faster. */
    changeP50: number;
    changeP99: number;
    changeP50KubeProxy: number;
    /** RSS with 10,000 Services ÷ RSS with none (the real terwayd when measured). */
    rss: number;
    /** The same for terwayd in cluster mode, when measured. */
    clusterRss: number | undefined;
  };
  targets: Target[];
  durationSeconds: number;
}

// ---- where things are ------------------------------------------------------------------------

const HERE = dirname(fileURLToPath(import.meta.url));
/** Under tsx this file is run.ts; built, it is dist/bench/lb-maps/run.js. */
const RUNTIME: 'compiled' | 'tsx' = fileURLToPath(import.meta.url).endsWith('.ts')
  ? 'tsx'
  : 'compiled';

const ROOT = REPO_ROOT;

/** What the workers run with, copied into the run's temp dir. */
interface Runtime {
  objectPath: string;
  /** The worker's entry point and the Node flags it needs. */
  workerArgs: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * Private copies of dist/bpf/lb.o and lb-compat.o (built by scripts/build-bpf.sh if missing) and of the
 * terway_bpf addon: a concurrent `npm run build` empties dist/ for a while, and that must not
 * pull either from under a run.
 *
 * Built, the worker is dist/bench/lb-maps/worker.js. From TypeScript (tsx), it is bundled here
 * with esbuild into plain JavaScript: a worker under tsx's loader would carry the loader's own
 * thread and heap in every RSS figure (+75–95 MB measured) and in its start-up.
 */
async function prepareRuntime(dir: string): Promise<Runtime> {
  const built = join(ROOT, 'dist/bpf/lb.o');
  if (!existsSync(built) || !existsSync(compatObjectPath(built))) {
    const { code, stderr } = await collectOutput(
      spawn(join(ROOT, 'scripts/build-bpf.sh'), [], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    if (code !== 0 || !existsSync(built)) throw new Error(`scripts/build-bpf.sh failed: ${stderr}`);
  }
  const objectPath = join(dir, 'lb.o');
  copyFileSync(built, objectPath);
  copyFileSync(compatObjectPath(built), compatObjectPath(objectPath));
  const addon = [
    join(ROOT, 'dist/native/terway_bpf.node'),
    join(ROOT, 'native/build/Release/terway_bpf.node'),
  ].find((candidate) => existsSync(candidate));
  if (addon === undefined)
    throw new Error('the terway_bpf addon is not built: run scripts/build-native.sh');
  const addonCopy = join(dir, 'terway_bpf.node');
  copyFileSync(addon, addonCopy);
  const env = { ...process.env, [ADDON_ENV]: addonCopy };
  if (RUNTIME === 'compiled') return { objectPath, workerArgs: [join(HERE, 'worker.js')], env };
  const bundle = join(dir, 'worker.mjs');
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(HERE, 'worker.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  // The bundle imports its packages by name: they resolve through this link.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return { objectPath, workerArgs: [bundle], env };
}

let pinCounter = 0;
const pinDirs = new Set<string>();
let unregisterPins: (() => void) | undefined;

/** A unique bpffs dir for one worker; every one is removed at exit at the latest. */
function freshPinDir(): string {
  unregisterPins ??= onCleanup(() => {
    for (const dir of pinDirs) rmSync(dir, { recursive: true, force: true });
  });
  const dir = `/sys/fs/bpf/terway-bench-${process.pid}-${++pinCounter}`;
  pinDirs.add(dir);
  return dir;
}

function dropPinDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  pinDirs.delete(dir);
}

// ---- workers ---------------------------------------------------------------------------------

class Worker {
  private readonly child: ChildProcess;
  private readonly output: Promise<{ code: number | null; stdout: string; stderr: string }>;
  private readonly inbox: WorkerMessage[] = [];
  private waiting: (() => void) | undefined;

  constructor(runtime: Runtime, config: WorkerConfig) {
    // The daemon's runtime settings: the reconciler is measured as terwayd runs it.
    const args = [
      ...TERWAYD_NODE_FLAGS,
      '--expose-gc',
      ...runtime.workerArgs,
      JSON.stringify(config),
    ];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: terwaydEnv(runtime.env),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    trackChild(this.child);
    this.output = collectOutput(this.child);
    this.child.on('message', (message: WorkerMessage) => {
      this.inbox.push(message);
      this.waiting?.();
    });
    this.child.once('exit', () => this.waiting?.());
  }

  send(message: ParentMessage): void {
    this.child.send(message);
  }

  /** The next message of `type`; an error message or the worker's exit rejects. */
  async next<T extends WorkerMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (at >= 0) {
        const [message] = this.inbox.splice(at, 1);
        if (message?.type === 'error') throw new Error(`lb-maps worker: ${message.message}`);
        return message as Extract<WorkerMessage, { type: T }>;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        const { code, stderr } = await this.output;
        throw new Error(`lb-maps worker exited (${code}) before sending ${type}: ${stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`lb-maps worker sent no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  async exited(): Promise<void> {
    const { code, stderr } = await this.output;
    if (code !== 0) throw new Error(`lb-maps worker exited with ${code}: ${stderr}`);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function requireCorrect(check: MapsCheck, services: number, what: string): void {
  if (check.frontends !== services || check.correct !== services) {
    throw new Error(
      `${what}: the maps hold ${check.frontends} frontends, ${check.correct} of ${services} ` +
        `with the right backends: ${check.problems.join('; ')}`,
    );
  }
}

async function offlineSync(
  mode: Exclude<WorkerMode, 'informer'>,
  runtime: Runtime,
  shape: FixtureShape,
): Promise<SyncFigures> {
  const pinDir = freshPinDir();
  const worker = new Worker(runtime, { mode, objectPath: runtime.objectPath, pinDir, ...shape });
  try {
    const { sync } = await worker.next('result', 120_000);
    await worker.exited();
    requireCorrect(sync.check, shape.services, `${mode} sync`);
    return sync;
  } finally {
    worker.kill();
    dropPinDir(pinDir);
  }
}

function summarizeSync(runs: SyncFigures[], services: number): SyncSummary {
  const wallMs = median(runs.map((r) => r.wallMs));
  return {
    runs,
    wallMs,
    handOverMs: median(runs.map((r) => r.handOverMs)),
    passMs: median(runs.map((r) => r.passes.reduce((sum, p) => sum + p.durationMs, 0))),
    servicesPerSecond: services / (wallMs / 1000),
    minorFaults: median(runs.map((r) => r.minorFaults)),
    usPerFault: median(
      runs.map((r) => r.usPerFault ?? Number.NaN).filter((us) => !Number.isNaN(us)),
    ),
    faultMs: median(runs.map(faultMsOf).filter((faultMs) => !Number.isNaN(faultMs))),
  };
}

// ---- the cluster path: apiserver → informers → maps ---------------------------------------------

async function apiserverWith(shape: FixtureShape): Promise<TestApiServer> {
  const server = await TestApiServer.start({ historyLimit: 10_000 });
  const { services, slices } = makeCluster(shape);
  for (const service of services) server.create(service as unknown as K8sObject);
  for (const slice of slices) server.create(slice as unknown as K8sObject);
  return server;
}

interface ClusterFigures {
  sync: SyncFigures;
  memory: MemoryFigures;
  latenciesMs: number[];
  passMs: number[];
  afterChanges: MapsCheck;
}

/**
 * The informer worker against an apiserver holding `shape`; with `changes` > 0, then one
 * EndpointSlice change at a time: one endpoint of a Service replaced by a new IP.
 */
async function clusterRun(
  runtime: Runtime,
  shape: FixtureShape,
  changes: number,
  log: (line: string) => void,
): Promise<ClusterFigures> {
  const { changeSpacingMs, changeTimeoutMs } = LB_MAPS_SETTINGS;
  const server = await apiserverWith(shape);
  const pinDir = freshPinDir();
  const worker = new Worker(runtime, {
    mode: 'informer',
    objectPath: runtime.objectPath,
    pinDir,
    apiserverUrl: server.url,
    ...shape,
  });
  try {
    const { sync, memory } = await worker.next('result', 120_000);
    requireCorrect(sync.check, shape.services, 'informer sync');
    const current = new Map<number, string[]>();
    const latenciesMs: number[] = [];
    const passMs: number[] = [];
    for (let k = 0; k < changes; k++) {
      const began = performance.now();
      // 37 is prime to 10,000: 200 changes touch 200 different Services.
      const index = (k * 37 + 11) % shape.services;
      const ips = current.get(index) ?? backendIps(shape, index);
      const slot = k % ips.length;
      const oldIp = ips[slot]!;
      const next = ips.slice();
      next[slot] = replacementIp(k);
      worker.send({ type: 'expect', id: k, ip: clusterIp(index), newIp: next[slot]!, oldIp });
      await worker.next('armed', 5_000);
      const written = process.hrtime.bigint();
      server.update(makeSlice(index, next) as unknown as K8sObject);
      const seen = await worker.next('seen', changeTimeoutMs);
      if (seen.id !== k) throw new Error(`change ${k}: the worker saw change ${seen.id}`);
      latenciesMs.push(Number(BigInt(seen.atNs) - written) / 1e6);
      passMs.push(seen.passMs);
      current.set(index, next);
      if ((k + 1) % 50 === 0) {
        const so = summarize(latenciesMs);
        log(`  ${k + 1} changes: p50 ${ms(so.p50Ms)}, p99 ${ms(so.p99Ms)}`);
      }
      const left = changeSpacingMs - (performance.now() - began);
      if (left > 0) await sleep(left);
    }
    worker.send({ type: 'finish', overrides: [...current.entries()] });
    const { check: afterChanges } = await worker.next('final', 60_000);
    requireCorrect(afterChanges, shape.services, 'maps after the changes');
    await worker.exited();
    return { sync, memory, latenciesMs, passMs, afterChanges };
  } finally {
    worker.kill();
    dropPinDir(pinDir);
    await server.close();
  }
}

// ---- baseline: iptables the kube-proxy way ------------------------------------------------------

async function iptablesRestore(netns: string, input: string, args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, 'iptables-restore', '-w', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: LB_MAPS_SETTINGS.iptablesTimeoutMs,
    killSignal: 'SIGKILL',
  });
  const output = collectOutput(child);
  child.stdin?.end(input);
  const { code, stderr } = await output;
  const elapsed = performance.now() - started;
  if (code !== 0)
    throw new Error(`iptables-restore ${args.join(' ')} in ${netns} exited ${code}: ${stderr}`);
  return elapsed;
}

async function iptablesVersion(): Promise<string> {
  const { stdout, stderr } = await collectOutput(
    spawn('iptables-restore', ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  return `${stdout}${stderr}`.trim();
}

/** The DNAT rules for one Service's endpoints in the netns, as iptables-save prints them. */
async function dnatTargets(netns: string, chainPrefix: string): Promise<number> {
  const { stdout } = await collectOutput(
    spawn('nsenter', [`--net=/run/netns/${netns}`, 'iptables-save', '-t', 'nat'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  // ' -j DNAT ': a base32 chain name may itself contain "DNAT".
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(chainPrefix) && line.includes(' -j DNAT ')).length;
}

interface IptablesFigures {
  runsMs: number[];
  rules: number;
  chains: number;
  bytes: number;
  changeMs: number[];
  changeKubeProxyMs: number[];
}

async function iptablesBaseline(
  shape: FixtureShape,
  log: (line: string) => void,
): Promise<IptablesFigures> {
  const { iptablesRuns, iptablesChanges, iptablesKubeProxyChanges } = LB_MAPS_SETTINGS;
  const full = fullRestore(shape);
  const scratch = new ScratchNetns('lbm');
  try {
    // A fresh, empty namespace per run: each restore is an initial sync, as the maps' is. All
    // are made first and removed last: tearing down 320,000 rules keeps a kernel worker busy for
    // a while, which would land on the next run's clock.
    const names = scratch.create(Array.from({ length: iptablesRuns }, (_, i) => `ipt${i + 1}`));
    const runsMs: number[] = [];
    for (const [i, name] of names.entries()) {
      // Not --noflush: with iptables-nft, kube-proxy's --noflush grows quadratically with the
      // chain count (tens of seconds at 2,000 Services). Replacing the table is the fastest way
      // iptables has to load it, so the baseline is, if anything, flattered.
      const elapsed = await iptablesRestore(name, full.text, []);
      runsMs.push(elapsed);
      log(`  iptables-restore run ${i + 1}: ${ms(elapsed)}`);
    }
    const loaded = names.at(-1)!;
    const dnat = await dnatTargets(loaded, '-A KUBE-SEP-');
    if (dnat !== shape.services * shape.endpointsPerService) {
      throw new Error(
        `the iptables baseline holds ${dnat} DNAT rules, not ${shape.services * shape.endpointsPerService}`,
      );
    }
    // One Service's endpoint replaced, with the full ruleset loaded.
    const changeMs: number[] = [];
    const changeKubeProxyMs: number[] = [];
    const current = new Map<number, string[]>();
    const total = iptablesChanges + iptablesKubeProxyChanges;
    for (let k = 0; k < total; k++) {
      const index = (k * 53 + 7) % shape.services;
      const ips = current.get(index) ?? backendIps(shape, index);
      const slot = k % ips.length;
      const next = ips.slice();
      next[slot] = replacementIp(100_000 + k);
      const kubeProxy = k >= iptablesChanges;
      const input = changeRestore(shape, index, next, ips[slot]!, kubeProxy);
      const elapsed = await iptablesRestore(loaded, input, ['--noflush']);
      (kubeProxy ? changeKubeProxyMs : changeMs).push(elapsed);
      current.set(index, next);
    }
    const after = await dnatTargets(loaded, '-A KUBE-SEP-');
    if (after !== shape.services * shape.endpointsPerService) {
      throw new Error(`after the changes the iptables baseline holds ${after} DNAT rules`);
    }
    return {
      runsMs,
      rules: full.rules,
      chains: full.chains,
      bytes: full.text.length,
      changeMs,
      changeKubeProxyMs,
    };
  } finally {
    scratch.dispose();
  }
}

// ---- the real daemon: a lab node's terwayd, Services from its services file -------------------

/** The sample with the median RSS. */
async function sampledRss(pid: number): Promise<RssBreakdown> {
  const samples: RssBreakdown[] = [];
  for (let i = 0; i < LB_MAPS_SETTINGS.daemonRssSamples; i++) {
    if (i > 0) await sleep(LB_MAPS_SETTINGS.daemonRssSampleMs);
    samples.push(rssOf(pid));
  }
  samples.sort((a, b) => a.rssMb - b.rssMb);
  return samples[Math.floor((samples.length - 1) / 2)]!;
}

function frontendCount(pinDir: string): number {
  try {
    const map = NativeBpfMap.openPinned(join(pinDir, LB_MAP_NAMES.frontend));
    try {
      return map.dump().count;
    } finally {
      map.close();
    }
  } catch {
    return 0;
  }
}

/**
 * Polls the node's frontend map until it holds every Service. `untilCorrect`: and until every
 * frontend has its backends too: a file arrives whole, but through the apiserver a Service may be
 * programmed before its slice.
 */
async function waitForFrontends(
  pinDir: string,
  shape: FixtureShape,
  logPath: string,
  untilCorrect = false,
): Promise<void> {
  const deadline = Date.now() + LB_MAPS_SETTINGS.daemonLoadTimeoutMs;
  let count = 0;
  for (;;) {
    count = frontendCount(pinDir);
    if (
      count >= shape.services &&
      (!untilCorrect || checkPinnedMaps(pinDir, shape).correct === shape.services)
    ) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `terwayd programmed ${count} of ${shape.services} frontends in time; see ${logPath}`,
      );
    }
    await sleep(count >= shape.services ? 100 : 20);
  }
}

function checkPinnedMaps(pinDir: string, shape: FixtureShape): MapsCheck {
  const maps = openLbMaps(pinDir, (path) => NativeBpfMap.openPinned(path));
  try {
    return checkMaps(maps, shape);
  } finally {
    closeLbMaps(maps);
  }
}

interface LoadedDaemon {
  check: MapsCheck;
  after: RssBreakdown;
  peakMb: number;
}

/** Checks the daemon's maps, lets it settle, samples its RSS. */
async function loadedDaemon(
  pid: number,
  pinDir: string,
  shape: FixtureShape,
): Promise<LoadedDaemon> {
  const check = checkPinnedMaps(pinDir, shape);
  requireCorrect(check, shape.services, "the lab terwayd's maps");
  await sleep(LB_MAPS_SETTINGS.daemonSettleMs);
  const after = await sampledRss(pid);
  return { check, after, peakMb: peakRssMb(pid) };
}

function measuredDaemon(
  source: DaemonMemory['source'],
  pid: number,
  before: RssBreakdown,
  loaded: LoadedDaemon,
  loadMs: number,
  inputBytes: number | undefined,
): DaemonMemory {
  const { check, after, peakMb } = loaded;
  return {
    source,
    pid,
    rssBeforeMb: before.rssMb,
    rssAfterMb: after.rssMb,
    before,
    after,
    peakMb,
    loadMs,
    inputBytes,
    check,
  };
}

/**
 * terwayd as it runs on a node (dist/cmd/terwayd.js in a lab node: pool, gRPC, datapath, Service
 * LB), standalone mode: its services file gets the 10,000 Services and slices as one JSON List,
 * written with a rename as an editor or a ConfigMap would. RSS is read from /proc before and
 * after; no GC is forced (the daemon has no --expose-gc): this is what an operator would see.
 */
async function daemonMemory(
  shape: FixtureShape,
  log: (line: string) => void,
): Promise<DaemonMemory> {
  const lab = await BenchLab.up({ nodes: 1 });
  try {
    const node = lab.manifest.nodes[0];
    if (node === undefined) throw new Error('the lab has no node');
    await sleep(LB_MAPS_SETTINGS.daemonSettleMs);
    const before = await sampledRss(node.daemonPid);
    const { services, slices } = makeCluster(shape);
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [...services, ...slices],
    });
    const staging = `${node.services}.bench-tmp`;
    writeFileSync(staging, text);
    resetPeakRss(node.daemonPid);
    const started = performance.now();
    renameSync(staging, node.services);
    await waitForFrontends(node.bpfPinDir, shape, node.log);
    const loadMs = performance.now() - started;
    const loaded = await loadedDaemon(node.daemonPid, node.bpfPinDir, shape);
    log(
      `  terwayd (pid ${node.daemonPid}): RSS ${before.rssMb.toFixed(0)} MB → ` +
        `${loaded.after.rssMb.toFixed(0)} MB (peak ${loaded.peakMb.toFixed(0)} MB); ` +
        `file → maps ${ms(loadMs)}`,
    );
    return measuredDaemon('services file', node.daemonPid, before, loaded, loadMs, text.length);
  } finally {
    await lab.down();
  }
}

/**
 * The same terwayd in cluster mode, as it runs in a real cluster: the lab node's daemon is
 * replaced by one started with the lab's arguments and runtime settings but `--kubeconfig` (the
 * benchmark's apiserver, holding the Services and slices, every object with the managedFields a
 * real apiserver adds) instead of `--services`. RSS is sampled before (the daemon synced to an
 * empty apiserver) and after the objects are created, with the same settle time and no forced GC.
 */
async function clusterDaemonMemory(
  shape: FixtureShape,
  log: (line: string) => void,
): Promise<DaemonMemory> {
  const server = await TestApiServer.start({ historyLimit: 4 * shape.services });
  const lab = await BenchLab.up({ nodes: 1 });
  let daemon: ChildProcess | undefined;
  try {
    const node = lab.manifest.nodes[0];
    if (node === undefined) throw new Error('the lab has no node');
    const kubeconfig = server.writeKubeconfig(join(lab.dir, 'bench.kubeconfig'));
    await stopProcess(node.daemonPid);
    const args = [...node.daemonArgs];
    const servicesFlag = args.indexOf('--services');
    if (servicesFlag >= 0) args.splice(servicesFlag, 2);
    const logFrom = statSync(node.log).size;
    const logFd = openSync(node.log, 'a');
    try {
      daemon = spawn(process.execPath, [...args, '--kubeconfig', kubeconfig], {
        stdio: ['ignore', logFd, logFd],
        env: terwaydEnv(process.env),
      });
    } finally {
      closeSync(logFd);
    }
    // Tracked: SIGKILLed even if the benchmark itself is interrupted.
    trackChild(daemon);
    const pid = daemon.pid ?? 0;
    await waitForLog(
      node.log,
      logFrom,
      '"msg":"service source synced',
      LB_MAPS_SETTINGS.daemonLoadTimeoutMs,
    );
    await sleep(LB_MAPS_SETTINGS.daemonSettleMs);
    const before = await sampledRss(pid);
    const { services, slices } = makeCluster(shape);
    resetPeakRss(pid);
    const started = performance.now();
    for (const service of services) server.create(service as unknown as K8sObject);
    for (const slice of slices) server.create(slice as unknown as K8sObject);
    await waitForFrontends(node.bpfPinDir, shape, node.log, true);
    const loadMs = performance.now() - started;
    const loaded = await loadedDaemon(pid, node.bpfPinDir, shape);
    log(
      `  terwayd (pid ${pid}, --kubeconfig): RSS ${before.rssMb.toFixed(0)} MB → ` +
        `${loaded.after.rssMb.toFixed(0)} MB (peak ${loaded.peakMb.toFixed(0)} MB); ` +
        `apiserver → maps ${ms(loadMs)}`,
    );
    return measuredDaemon('kubernetes', pid, before, loaded, loadMs, undefined);
  } finally {
    if (daemon !== undefined) await stopChild(daemon, 10_000);
    await lab.down();
    await server.close();
  }
}

/**
 * The lab supervisor's daemon, which is not this process's child: SIGTERM, then SIGKILL after
 * 10 s; resolves once it is gone.
 */
async function stopProcess(pid: number): Promise<void> {
  const alive = (): boolean => processAlive(pid);
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (alive() && Date.now() < deadline) await sleep(50);
  if (alive()) process.kill(pid, 'SIGKILL');
  while (alive()) await sleep(50);
}

/** Waits for `text` in the log at `path`, written after byte `from`. */
async function waitForLog(
  path: string,
  from: number,
  text: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!readFileSync(path).subarray(from).toString('utf8').includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in ${path} in time`);
    await sleep(100);
  }
}

// ---- the benchmark ---------------------------------------------------------------------------

/**
 * A phase on a lab, the one kind that needs more than this machine's kernel: its failure costs
 * its own figure, not the others; and it needs the built tree.
 */
async function labPhase<T>(
  what: string,
  measure: () => Promise<T>,
  log: (line: string) => void,
): Promise<{ result: T | undefined; skipped: string | undefined }> {
  if (RUNTIME !== 'compiled') {
    const skipped = 'needs the built tree: run node dist/bench/lb-maps/run.js (make bench does)';
    log(`${what}: skipped (${skipped})`);
    return { result: undefined, skipped };
  }
  log(what);
  try {
    return { result: await measure(), skipped: undefined };
  } catch (error) {
    const skipped = `failed: ${error instanceof Error ? error.message : String(error)}`;
    log(`  ${skipped}`);
    return { result: undefined, skipped };
  }
}

/**
 * What the RSS target is judged on: the real terwayd in cluster mode, the way it runs in a
 * cluster, when measured; else terwayd standalone; else the worker.
 */
function judgedRss(result: Pick<LbMapsResult, 'memory'>): { mb: number; what: string } {
  const { clusterDaemon, daemon, loaded } = result.memory;
  if (clusterDaemon !== undefined)
    return { mb: clusterDaemon.rssAfterMb, what: 'terwayd, cluster mode' };
  if (daemon !== undefined) return { mb: daemon.rssAfterMb, what: 'terwayd, standalone' };
  return { mb: loaded.rssMb, what: 'worker' };
}

function targetsOf(result: Omit<LbMapsResult, 'targets'>): Target[] {
  const { servicesPerSecond, changeMs, rssMb } = LB_MAPS_TARGETS;
  const sps = (value: number) => rate(value, 'services/s');
  return [
    {
      name: 'initial sync, reconciler alone',
      measured: sps(result.sync.reconciler.servicesPerSecond),
      limit: `≥ ${sps(servicesPerSecond)}`,
      pass: result.sync.reconciler.servicesPerSecond >= servicesPerSecond,
    },
    {
      name: 'initial sync, Kubernetes objects → maps',
      measured: sps(result.sync.table.servicesPerSecond),
      limit: `≥ ${sps(servicesPerSecond)}`,
      pass: result.sync.table.servicesPerSecond >= servicesPerSecond,
    },
    {
      name: 'EndpointSlice change → map, p50',
      measured: ms(result.change.ours.p50Ms),
      limit: `< ${ms(changeMs)}`,
      pass: result.change.ours.p50Ms < changeMs,
    },
    {
      name: 'EndpointSlice change → map, p99',
      measured: ms(result.change.ours.p99Ms),
      limit: `< ${ms(changeMs)}`,
      pass: result.change.ours.p99Ms < changeMs,
    },
    {
      name: 'RSS with 10,000 Services loaded',
      measured: `${judgedRss(result).mb.toFixed(0)} MB (${judgedRss(result).what})`,
      limit: `≤ ${rssMb} MB`,
      pass: judgedRss(result).mb <= rssMb,
    },
  ];
}

export async function runLbMapsBench(
  log: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<LbMapsResult> {
  const began = Date.now();
  const settings = LB_MAPS_SETTINGS;
  const shape: FixtureShape = {
    services: settings.services,
    endpointsPerService: settings.endpointsPerService,
  };
  const dir = makeTempDir('tn-lbmaps-');
  try {
    const runtime = await prepareRuntime(dir);
    const version = await iptablesVersion();

    log(
      `initial sync, ${shape.services} Services × ${shape.endpointsPerService} backends, fresh process per run`,
    );
    const runs: Record<'reconciler' | 'table', SyncFigures[]> = { reconciler: [], table: [] };
    for (let run = 1; run <= settings.syncRuns; run++) {
      for (const mode of ['reconciler', 'table'] as const) {
        const sync = await offlineSync(mode, runtime, shape);
        runs[mode].push(sync);
        log(
          `  run ${run} ${mode.padEnd(10)} ${ms(sync.wallMs)} (map pass ${ms(sync.passes.reduce((s, p) => s + p.durationMs, 0))}; ${sync.minorFaults} page faults, ${(sync.usPerFault ?? Number.NaN).toFixed(1)} µs each)`,
        );
      }
    }

    log(`cluster path: apiserver → informers → maps; ${settings.changes} EndpointSlice changes`);
    const cluster = await clusterRun(runtime, shape, settings.changes, log);
    log(`  informer sync ${ms(cluster.sync.wallMs)}, RSS ${cluster.memory.rssMb.toFixed(0)} MB`);
    const empty = await clusterRun(runtime, { ...shape, services: 0 }, 0, log);
    log(`  same process with 0 Services: RSS ${empty.memory.rssMb.toFixed(0)} MB`);

    const { result: daemon, skipped: daemonSkipped } = await labPhase(
      'real terwayd: a lab node, Services through its services file',
      () => daemonMemory(shape, log),
      log,
    );
    const { result: clusterDaemon, skipped: clusterDaemonSkipped } = await labPhase(
      'real terwayd: a lab node in cluster mode, Services from the apiserver',
      () => clusterDaemonMemory(shape, log),
      log,
    );

    log(`baseline: ${version}, kube-proxy's rules in a scratch netns`);
    const ipt = await iptablesBaseline(shape, log);

    const reconciler = summarizeSync(runs.reconciler, shape.services);
    const table = summarizeSync(runs.table, shape.services);
    const informerSps = shape.services / (cluster.sync.wallMs / 1000);
    const iptMedian = median(ipt.runsMs);
    const iptSps = shape.services / (iptMedian / 1000);
    const ours = summarize(cluster.latenciesMs);
    const iptChange = summarize(ipt.changeMs);
    const iptKubeProxy = summarize(ipt.changeKubeProxyMs);
    const partial: Omit<LbMapsResult, 'targets'> = {
      settings,
      workers: RUNTIME === 'compiled' ? 'dist' : 'esbuild bundle',
      iptablesVersion: version,
      sync: { reconciler, table, informer: cluster.sync },
      iptables: {
        runsMs: ipt.runsMs,
        medianMs: iptMedian,
        servicesPerSecond: iptSps,
        rules: ipt.rules,
        chains: ipt.chains,
        bytes: ipt.bytes,
      },
      change: {
        ours,
        oursPass: summarize(cluster.passMs),
        iptables: iptChange,
        iptablesKubeProxy: iptKubeProxy,
      },
      memory: {
        loaded: cluster.memory,
        empty: empty.memory,
        deltaMb: cluster.memory.rssMb - empty.memory.rssMb,
        daemon,
        daemonSkipped,
        clusterDaemon,
        clusterDaemonSkipped,
      },
      checks: {
        reconciler: runs.reconciler.map((r) => r.check),
        table: runs.table.map((r) => r.check),
        informer: cluster.sync.check,
        afterChanges: cluster.afterChanges,
      },
      ratios: {
        reconcilerOverIptables: reconciler.servicesPerSecond / iptSps,
        tableOverIptables: table.servicesPerSecond / iptSps,
        informerOverIptables: informerSps / iptSps,
        changeP50: ours.p50Ms / iptChange.p50Ms,
        changeP99: ours.p99Ms / iptChange.p99Ms,
        changeP50KubeProxy: ours.p50Ms / iptKubeProxy.p50Ms,
        rss:
          daemon === undefined
            ? cluster.memory.rssMb / empty.memory.rssMb
            : daemon.rssAfterMb / daemon.rssBeforeMb,
        clusterRss:
          clusterDaemon === undefined
            ? undefined
            : clusterDaemon.rssAfterMb / clusterDaemon.rssBeforeMb,
      },
      durationSeconds: (Date.now() - began) / 1000,
    };
    return { ...partial, targets: targetsOf(partial) };
  } finally {
    removeDir(dir);
  }
}

const passFail = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** A ratio far below 1 (latency, ours ÷ iptables) keeps two significant digits. */
export function fineRatio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 0.1 ? ratio(value) : `${value.toPrecision(2)}×`;
}

export function printLbMaps(r: LbMapsResult): void {
  const sps = (value: number) => rate(value, 'svc/s');
  const target = (name: string): string => {
    const t = r.targets.find((candidate) => candidate.name === name);
    return t === undefined ? '—' : `${t.limit} ${passFail(t.pass)}`;
  };
  const table = new Table({
    head: ['Figure', 'Ours', 'Baseline (iptables)', 'Ratio', 'Target'],
    style: { head: [], border: [] },
  });
  const n = r.settings.services;
  table.push(
    [
      `Initial sync ${n} svc, reconciler alone`,
      `${sps(r.sync.reconciler.servicesPerSecond)} (${ms(r.sync.reconciler.wallMs)})`,
      `${sps(r.iptables.servicesPerSecond)} (${ms(r.iptables.medianMs)})`,
      ratio(r.ratios.reconcilerOverIptables),
      target('initial sync, reconciler alone'),
    ],
    [
      'Initial sync, objects → maps',
      `${sps(r.sync.table.servicesPerSecond)} (${ms(r.sync.table.wallMs)})`,
      'same',
      ratio(r.ratios.tableOverIptables),
      target('initial sync, Kubernetes objects → maps'),
    ],
    [
      'Initial sync, apiserver → maps (1 run)',
      `${sps(n / (r.sync.informer.wallMs / 1000))} (${ms(r.sync.informer.wallMs)})`,
      'same',
      ratio(r.ratios.informerOverIptables),
      '—',
    ],
    [
      'EndpointSlice change → map, p50',
      ms(r.change.ours.p50Ms),
      `${ms(r.change.iptables.p50Ms)} (svc chains)`,
      fineRatio(r.ratios.changeP50),
      target('EndpointSlice change → map, p50'),
    ],
    [
      'EndpointSlice change → map, p99',
      ms(r.change.ours.p99Ms),
      `${ms(r.change.iptables.p99Ms)} (svc chains)`,
      fineRatio(r.ratios.changeP99),
      target('EndpointSlice change → map, p99'),
    ],
    [
      'change, vs kube-proxy partial sync p50',
      ms(r.change.ours.p50Ms),
      `${ms(r.change.iptablesKubeProxy.p50Ms)} (+KUBE-SERVICES)`,
      fineRatio(r.ratios.changeP50KubeProxy),
      '—',
    ],
  );
  const daemon = r.memory.daemon;
  const clusterDaemon = r.memory.clusterDaemon;
  const judged = judgedRss(r).what;
  if (clusterDaemon !== undefined) {
    table.push([
      `RSS, terwayd cluster mode, ${n} svc`,
      `${clusterDaemon.rssAfterMb.toFixed(0)} MB`,
      `0 svc: ${clusterDaemon.rssBeforeMb.toFixed(0)} MB`,
      ratio(r.ratios.clusterRss ?? Number.NaN),
      target('RSS with 10,000 Services loaded'),
    ]);
  }
  if (daemon !== undefined) {
    table.push([
      `RSS, terwayd standalone, ${n} svc`,
      `${daemon.rssAfterMb.toFixed(0)} MB`,
      `0 svc: ${daemon.rssBeforeMb.toFixed(0)} MB`,
      ratio(r.ratios.rss),
      judged === 'terwayd, standalone' ? target('RSS with 10,000 Services loaded') : '—',
    ]);
  }
  for (const [mode, measured] of [
    ['cluster mode', clusterDaemon],
    ['standalone', daemon],
  ] as const) {
    if (measured === undefined) continue;
    table.push([
      `Peak RSS while loading, ${mode}`,
      `${measured.peakMb.toFixed(0)} MB`,
      `before: ${measured.rssBeforeMb.toFixed(0)} MB`,
      ratio(measured.peakMb / measured.rssBeforeMb),
      '—',
    ]);
  }
  table.push([
    `RSS, Service-path worker, ${n} svc`,
    `${r.memory.loaded.rssMb.toFixed(0)} MB`,
    `0 svc: ${r.memory.empty.rssMb.toFixed(0)} MB`,
    ratio(r.memory.loaded.rssMb / r.memory.empty.rssMb),
    judged === 'worker' ? target('RSS with 10,000 Services loaded') : '—',
  ]);
  const mem = r.memory.loaded;
  const lines = [
    table.toString(),
    `sync medians over ${r.settings.syncRuns} fresh processes each; map pass alone: reconciler ` +
      `${ms(r.sync.reconciler.passMs)}, objects → maps ${ms(r.sync.table.passMs)} (translation ` +
      `${ms(r.sync.table.handOverMs)}); every run checked: ${n} frontends, all backends right`,
    `page faults in the window: reconciler ${r.sync.reconciler.minorFaults} (about ` +
      `${ms(r.sync.reconciler.faultMs)}), objects → maps ${r.sync.table.minorFaults} (about ` +
      `${ms(r.sync.table.faultMs)}), at ${r.sync.reconciler.usPerFault.toFixed(1)} µs per first ` +
      `touch of a fresh page (measured in each run's process)`,
    `change latency over ${r.change.ours.count} changes (max ${ms(r.change.ours.maxMs)}); the ` +
      `reconciler's pass alone p50 ${ms(r.change.oursPass.p50Ms)}, p99 ${ms(r.change.oursPass.p99Ms)}; ` +
      `iptables-restore --noflush p50/p99 ${ms(r.change.iptables.p50Ms)}/${ms(r.change.iptables.p99Ms)} ` +
      `(one Service's chains, ${r.change.iptables.count} runs), ${ms(r.change.iptablesKubeProxy.p50Ms)}/` +
      `${ms(r.change.iptablesKubeProxy.p99Ms)} with KUBE-SERVICES rewritten (${r.change.iptablesKubeProxy.count} runs)`,
    `memory (informer worker from ${r.workers}, after GC): RSS ${mem.rssMb.toFixed(0)} MB (anon ` +
      `${mem.rssAnonMb.toFixed(0)}, file ${mem.rssFileMb.toFixed(0)}, shmem ${mem.rssShmemMb.toFixed(0)}), ` +
      `V8 heap ${mem.heapUsedMb.toFixed(0)} MB; 0 Services: RSS ${r.memory.empty.rssMb.toFixed(0)} MB, ` +
      `heap ${r.memory.empty.heapUsedMb.toFixed(0)} MB; delta ${r.memory.deltaMb.toFixed(0)} MB`,
    daemon === undefined
      ? `terwayd itself not measured: ${r.memory.daemonSkipped ?? 'skipped'}`
      : `terwayd (lab node, standalone): services file (${((daemon.inputBytes ?? 0) / 2 ** 20).toFixed(1)} MiB ` +
        `JSON) → ${n} frontends in its maps in ${ms(daemon.loadMs)}, all backends right; RSS ` +
        `${daemon.rssBeforeMb.toFixed(0)} → ${daemon.rssAfterMb.toFixed(0)} MB (anon ` +
        `${daemon.before.anonMb.toFixed(0)} → ${daemon.after.anonMb.toFixed(0)}, file ` +
        `${daemon.before.fileMb.toFixed(0)} → ${daemon.after.fileMb.toFixed(0)}, shmem ` +
        `${daemon.before.shmemMb.toFixed(0)} → ${daemon.after.shmemMb.toFixed(0)}), no forced GC`,
    clusterDaemon === undefined
      ? `terwayd in cluster mode not measured: ${r.memory.clusterDaemonSkipped ?? 'skipped'}`
      : `terwayd (lab node, --kubeconfig): apiserver → ${n} frontends in its maps in ` +
        `${ms(clusterDaemon.loadMs)}, all backends right; RSS ${clusterDaemon.rssBeforeMb.toFixed(0)} → ` +
        `${clusterDaemon.rssAfterMb.toFixed(0)} MB (anon ${clusterDaemon.before.anonMb.toFixed(0)} → ` +
        `${clusterDaemon.after.anonMb.toFixed(0)}, file ${clusterDaemon.before.fileMb.toFixed(0)} → ` +
        `${clusterDaemon.after.fileMb.toFixed(0)}), no forced GC`,
    `iptables: ${r.iptablesVersion}, ${r.iptables.rules.toLocaleString('en-US')} rules in ` +
      `${r.iptables.chains.toLocaleString('en-US')} chains (${(r.iptables.bytes / 2 ** 20).toFixed(1)} MiB ` +
      `of restore input), runs ${r.iptables.runsMs.map((v) => ms(v)).join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---- for bench/run-all.ts: its BENCHMARKS.md section and summary rows ----------------------------

export function lbMapsSection(result: LbMapsResult | undefined, error: string | undefined): string {
  const title = '## 7. Service LB: programming the eBPF maps (10,000 Services × 10 backends)';
  if (result === undefined) return notCompleted(title, error);
  const r = result;
  const s = r.settings;
  const sps = (value: number) => rate(value, 'services/s');
  const clusterDaemon = r.memory.clusterDaemon;
  const daemon = r.memory.daemon;
  const figures = mdTable(
    ['Figure', 'Ours', 'Baseline: iptables, kube-proxy rules', 'Ratio'],
    [
      [
        'Initial sync, reconciler alone',
        `**${sps(r.sync.reconciler.servicesPerSecond)}** (${ms(r.sync.reconciler.wallMs)})`,
        `${sps(r.iptables.servicesPerSecond)} (${ms(r.iptables.medianMs)})`,
        `**${ratio(r.ratios.reconcilerOverIptables)}**`,
      ],
      [
        'Initial sync, Service/EndpointSlice objects → maps',
        `**${sps(r.sync.table.servicesPerSecond)}** (${ms(r.sync.table.wallMs)})`,
        'same',
        `**${ratio(r.ratios.tableOverIptables)}**`,
      ],
      [
        'Initial sync, apiserver list over HTTP → maps (one run)',
        `${sps(s.services / (r.sync.informer.wallMs / 1000))} (${ms(r.sync.informer.wallMs)})`,
        'same',
        ratio(r.ratios.informerOverIptables),
      ],
      [
        'EndpointSlice change → map, p50',
        `**${ms(r.change.ours.p50Ms)}**`,
        `${ms(r.change.iptables.p50Ms)} (that Service's chains)`,
        `**${fineRatio(r.ratios.changeP50)}**`,
      ],
      [
        'EndpointSlice change → map, p99',
        `**${ms(r.change.ours.p99Ms)}**`,
        `${ms(r.change.iptables.p99Ms)}`,
        fineRatio(r.ratios.changeP99),
      ],
      [
        'EndpointSlice change, vs kube-proxy partial sync (p50)',
        ms(r.change.ours.p50Ms),
        `${ms(r.change.iptablesKubeProxy.p50Ms)} (KUBE-SERVICES rewritten too)`,
        fineRatio(r.ratios.changeP50KubeProxy),
      ],
      ...(clusterDaemon === undefined
        ? []
        : [
            [
              'RSS of terwayd (lab node) in cluster mode, Services from the apiserver',
              `**${clusterDaemon.rssAfterMb.toFixed(0)} MB**`,
              `same terwayd, 0 Services: ${clusterDaemon.rssBeforeMb.toFixed(0)} MB`,
              ratio(r.ratios.clusterRss ?? Number.NaN),
            ],
          ]),
      ...(daemon === undefined
        ? []
        : [
            [
              'RSS of terwayd (lab node) standalone, Services from its file',
              `**${daemon.rssAfterMb.toFixed(0)} MB**`,
              `same terwayd, 0 Services: ${daemon.rssBeforeMb.toFixed(0)} MB`,
              ratio(r.ratios.rss),
            ],
          ]),
      ...peakRows(clusterDaemon, 'cluster mode'),
      ...peakRows(daemon, 'standalone'),
      [
        'RSS of the Service path alone (worker, after GC)',
        `${r.memory.loaded.rssMb.toFixed(0)} MB`,
        `0 Services: ${r.memory.empty.rssMb.toFixed(0)} MB`,
        ratio(r.memory.loaded.rssMb / r.memory.empty.rssMb),
      ],
    ],
  );
  const targets = mdTable(
    ['Target', 'Measured', 'Limit', 'Result'],
    r.targets.map((t) => [t.name, t.measured, t.limit, `**${passFail(t.pass)}**`]),
  );
  const runs = mdTable(
    [
      'Run',
      'reconciler alone',
      'its map pass',
      'page faults',
      'objects → maps',
      'its translation',
      'its map pass',
      'page faults',
    ],
    r.sync.reconciler.runs.map((run, i) => {
      const table = r.sync.table.runs[i];
      const passOf = (f: SyncFigures | undefined) =>
        f === undefined ? Number.NaN : f.passes.reduce((sum, p) => sum + p.durationMs, 0);
      return [
        String(i + 1),
        ms(run.wallMs),
        ms(passOf(run)),
        faultsOf(run),
        ms(table?.wallMs ?? Number.NaN),
        ms(table?.handOverMs ?? Number.NaN),
        ms(passOf(table)),
        faultsOf(table),
      ];
    }),
  );
  const mem = r.memory.loaded;
  return [
    title,
    '',
    `${s.services.toLocaleString('en-US')} ClusterIP Services, one TCP port each, one ` +
      `EndpointSlice of ${s.endpointsPerService} ready endpoints each (distinct backend IPs), ` +
      `loaded into real kernel maps: the LB object (\`dist/bpf/lb.o\`) loaded into a fresh ` +
      `bpffs pin dir per run. Each sync runs in a fresh process (\`bench/lb-maps/worker.ts\`, ` +
      `${r.workers === 'dist' ? 'built' : 'bundled by esbuild'}, with terwayd's runtime settings: ` +
      `\`${TERWAYD_NODE_FLAGS.join(' ')}\`, ${Object.entries(TERWAYD_ENV)
        .map(([name, value]) => `${name}=${value}`)
        .join(' ')}), ${s.syncRuns} runs per kind, medians; the clock starts after a forced GC ` +
      `(the reconciler run has dropped the Service objects by then: a daemon holds only the ` +
      `frontends); afterwards every frontend's slots are ` +
      `read back from the maps and compared with its Service. *Reconciler alone*: the desired ` +
      `frontends, built before the clock, handed to \`LbReconciler\` until it is idle. ` +
      `*Objects → maps*: Service and EndpointSlice objects through \`ServiceTable\` ` +
      `(\`replaceAll\`, the services-file path: translation, then the map ` +
      `pass). *Apiserver → maps*: client-node informers listing the in-repo test apiserver over ` +
      `loopback HTTP. Baseline: the nat table kube-proxy (iptables mode) writes for the same ` +
      `Services (KUBE-SERVICES → KUBE-SVC-* with \`statistic random\` → KUBE-SEP-* DNAT, masquerade ` +
      `rules and comments: ${r.iptables.rules.toLocaleString('en-US')} rules in ` +
      `${r.iptables.chains.toLocaleString('en-US')} chains), one \`iptables-restore\` ` +
      `(${r.iptablesVersion.replace(/^iptables-restore /, '')}) into an empty scratch netns, ${s.iptablesRuns} runs, median. It ` +
      `replaces the table rather than using kube-proxy's \`--noflush\`, which with iptables-nft ` +
      `grows quadratically with the chain count: the baseline is the fastest iptables load, not ` +
      `kube-proxy's.`,
    '',
    `Change latency: with the Services loaded through the apiserver → informers → ` +
      `\`LbReconciler\` → maps path (apiserver in the benchmark process, the rest in a worker), ` +
      `${s.changes} EndpointSlice updates ${s.changeSpacingMs} ms apart, each replacing one ` +
      `endpoint's IP of a different Service; the time runs from the apiserver write to the worker ` +
      `reading the new backend (and not the old) back from the map right after the reconciler's ` +
      `pass (both stamp CLOCK_MONOTONIC). The reconciler's pass itself: p50 ` +
      `${ms(r.change.oursPass.p50Ms)}, p99 ${ms(r.change.oursPass.p99Ms)}. Baseline: ` +
      `\`iptables-restore --noflush\` of that Service's KUBE-SVC chain, its new KUBE-SEP chain ` +
      `and the stale one deleted, against the loaded ruleset (${s.iptablesChanges} changes); ` +
      `kube-proxy ≥ 1.27's partial sync also rewrites all of KUBE-SERVICES every time ` +
      `(${s.iptablesKubeProxyChanges} changes), and waits out its 1 s min-sync-period first ` +
      `(not counted).`,
    '',
    `Memory: ${
      daemon === undefined
        ? `the real terwayd was not measured (${r.memory.daemonSkipped ?? 'skipped'}). `
        : `the real terwayd of a 1-node \`lab\` (pool, gRPC, datapath, Service LB), standalone ` +
          `mode: its services file replaced (rename) by the same Services and slices as one JSON ` +
          `List (${((daemon.inputBytes ?? 0) / 2 ** 20).toFixed(1)} MiB); its maps held all ` +
          `${s.services.toLocaleString('en-US')} frontends, every backend right, ` +
          `${ms(daemon.loadMs)} after the rename. RSS from /proc (median of ` +
          `${s.daemonRssSamples} samples) before and ${s.daemonSettleMs / 1000} s after, no forced ` +
          `GC: anon ${daemon.before.anonMb.toFixed(0)} → ${daemon.after.anonMb.toFixed(0)} MB, ` +
          `file ${daemon.before.fileMb.toFixed(0)} → ${daemon.after.fileMb.toFixed(0)} MB. The ` +
          `peak rows give the kernel's peak RSS (VmHWM, reset through /proc/<pid>/clear_refs just ` +
          `before the load) from the load to the after-sample: what a memory limit on the daemon ` +
          `must leave room for. `
    }${
      clusterDaemon === undefined
        ? `terwayd in cluster mode was not measured (${r.memory.clusterDaemonSkipped ?? 'skipped'}). `
        : `In cluster mode, the way terwayd runs in a Kubernetes cluster: the lab node's daemon ` +
          `restarted with the same arguments and runtime settings but \`--kubeconfig\` (the ` +
          `benchmark's test apiserver) instead of \`--services\`; sampled once it had synced the ` +
          `empty apiserver, then after the same Services and slices were created there (each ` +
          `stored with the managedFields entry a real apiserver adds) and its maps held them all, ` +
          `every backend right (${ms(clusterDaemon.loadMs)} after the first create), same settle ` +
          `time: anon ${clusterDaemon.before.anonMb.toFixed(0)} → ` +
          `${clusterDaemon.after.anonMb.toFixed(0)} MB, file ${clusterDaemon.before.fileMb.toFixed(0)} → ` +
          `${clusterDaemon.after.fileMb.toFixed(0)} MB. The target is judged on this one: it is the ` +
          `mode a cluster runs. `
    }The worker row is the cluster-mode Service path alone (informers + ServiceTable + ` +
      `reconciler + maps) after two forced GCs: V8 heap ${mem.heapUsedMb.toFixed(0)} MB ` +
      `(${r.memory.empty.heapUsedMb.toFixed(0)} MB with 0 Services), anon ` +
      `${mem.rssAnonMb.toFixed(0)} MB, file ${mem.rssFileMb.toFixed(0)} MB.`,
    '',
    pageFaultNote(r),
    '',
    figures,
    '',
    targets,
    '',
    'Initial sync runs (each a fresh process):',
    '',
    runs,
  ].join('\n');
}

/** What a run's faults cost at its own process's price of one (ms); NaN when it has no price. */
function faultMsOf(run: SyncFigures): number {
  return (run.minorFaults * (run.usPerFault ?? Number.NaN)) / 1000;
}

/** A run's faults, and what they cost at its process's price of one. */
function faultsOf(run: SyncFigures | undefined): string {
  if (run === undefined) return '—';
  const faultMs = faultMsOf(run);
  const cost = Number.isNaN(faultMs) ? '' : ` (${ms(faultMs)})`;
  return `${run.minorFaults.toLocaleString('en-US')}${cost}`;
}

/** What fresh memory costs the syncs here: each window's faults at its own process's price. */
function pageFaultNote(r: LbMapsResult): string {
  const { reconciler, table } = r.sync;
  if (!Number.isFinite(reconciler.usPerFault) || !Number.isFinite(table.usPerFault)) {
    return (
      `Fresh memory: the windows took a median ${reconciler.minorFaults} (reconciler) and ` +
      `${table.minorFaults} (objects) minor page faults; the first-touch probe got memory ` +
      `already touched, so what one costs was not measured.`
    );
  }
  const share = (summary: SyncSummary) =>
    `${summary.minorFaults.toLocaleString('en-US')} minor page faults, about ` +
    `${ms(summary.faultMs)} of its ${ms(summary.wallMs)} (${((100 * summary.faultMs) / summary.wallMs).toFixed(0)}%)`;
  return (
    `Fresh memory: each sync's window takes minor page faults, one per first touch of a fresh ` +
    `page (the heap growing, arrays written for the first time). After its sync each worker ` +
    `writes a fresh 34 MiB buffer a byte per page and times it: a fault costs ` +
    `${reconciler.usPerFault.toFixed(1)} µs on this host (median over the reconciler runs; ` +
    `${table.usPerFault.toFixed(1)} µs over the others). Medians: the reconciler alone took ${share(reconciler)}; objects → maps took ` +
    `${share(table)}. The runs table gives each run's count and its cost at that run's price.`
  );
}

/** The BENCHMARKS.md row of a daemon's peak RSS while it loaded the Services. */
function peakRows(measured: DaemonMemory | undefined, mode: string): string[][] {
  if (measured === undefined) return [];
  return [
    [
      `Peak RSS of terwayd (lab node) ${mode}, while loading`,
      `${measured.peakMb.toFixed(0)} MB`,
      `before loading: ${measured.rssBeforeMb.toFixed(0)} MB`,
      ratio(measured.peakMb / measured.rssBeforeMb),
    ],
  ];
}

/** Rows for run-all's summary table: Benchmark, Measured, Baseline, Ratio, Target. */
export function lbMapsSummaryRows(r: LbMapsResult | undefined): string[][] {
  if (r === undefined) return [['LB map programming', 'FAILED', '', '', '']];
  const target = (name: string): string => {
    const t = r.targets.find((candidate) => candidate.name === name);
    return t === undefined ? '—' : `${t.limit} ${passFail(t.pass)}`;
  };
  return [
    [
      `LB sync ${r.settings.services} svc (objects → maps)`,
      rate(r.sync.table.servicesPerSecond, 'svc/s'),
      `iptables ${rate(r.iptables.servicesPerSecond, 'svc/s')}`,
      ratio(r.ratios.tableOverIptables),
      target('initial sync, Kubernetes objects → maps'),
    ],
    [
      'LB EndpointSlice change p99',
      ms(r.change.ours.p99Ms),
      `iptables ${ms(r.change.iptables.p99Ms)}`,
      fineRatio(r.ratios.changeP99),
      target('EndpointSlice change → map, p99'),
    ],
    [
      `RSS with ${r.settings.services} svc (${judgedRss(r).what})`,
      `${judgedRss(r).mb.toFixed(0)} MB`,
      `0 svc ${(
        r.memory.clusterDaemon?.rssBeforeMb ??
        r.memory.daemon?.rssBeforeMb ??
        r.memory.empty.rssMb
      ).toFixed(0)} MB`,
      ratio(r.ratios.clusterRss ?? r.ratios.rss),
      target('RSS with 10,000 Services loaded'),
    ],
  ];
}

// Standalone: npx tsx bench/lb-maps/run.ts, or node dist/bench/lb-maps/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printLbMaps(await runLbMapsBench());
}
