// The eBPF Service load balancer's datapath: what a ClusterIP costs a pod, in the same run, against
// the pod dialling the backend directly (the limit) and against kube-proxy's way (an iptables DNAT
// rule in the namespace that routes the pod's traffic), in a veth topology and in an L2
// (macvlan-over-ENI) topology. Figures: TCP and UDP request/response round trip, TCP
// connections/s, HTTP keep-alive requests/s, one-stream TCP throughput; each as a ratio to direct.
//
// The LB is the product's: bpf/lb.c (dist/bpf/lb.o) loaded with loadObject into a pin dir of this
// run, the Service programmed through the real LbReconciler, the programs attached by the real
// TcLbAttacher (tw_lb_egress_gw + tw_lb_ingress on a veth pod, tw_lb_egress + tw_lb_ingress on an
// L2 pod). Each path has its own copy of the topology (topology.ts says why). Paths are
// interleaved within every round, in a rotating order, so drift hits them alike; every figure is
// a median over the rounds and every ratio a median of the per-round ratios.
//
// Afterwards, per topology, the programs' own cost: BPF run-time statistics (run_time_ns /
// run_cnt, BPF_ENABLE_STATS held only meanwhile) over a TCP ping-pong to the ClusterIP, one to the
// backend's pod IP (traffic that is not for a Service) and a connections/s load.
//
// Standalone: npx tsx bench/lb-datapath/run.ts. Settings from the environment (or the options of
// runLbDatapathBench): LB_DATAPATH_ROUNDS (10), LB_DATAPATH_SECONDS per figure, path and round (2),
// LB_DATAPATH_TURN_MS (50: each path's turn in netload's turn-about figures),
// LB_DATAPATH_TOPOLOGIES (veth,l2), LB_DATAPATH_FIGURES (tcpRr,udpRr,connRate,httpRate,stream),
// LB_DATAPATH_PROGRAM_COST_SECONDS (2; 0 skips it), LB_DATAPATH_IPTABLES_SERVICES (0; e.g. 10000
// adds a fourth path: iptables with kube-proxy's ruleset for that many other Services),
// LB_DATAPATH_CPUS ("client,server" CPUs every client tool and server is bound to, on every path
// alike; "none" leaves them to the scheduler; by default both on the last CPU), LB_DATAPATH_HOOK
// (clsact, terwayd's default; tcx as with terwayd --lb-hook tcx), LB_DATAPATH_CONTROLS (paths
// measured beside the three: directTwin, a second direct path whose ratio to the first is the
// run's noise floor; lbTcx, the LB on tcx; lbPodIp, the LB attached and the pod IP dialed; and
// hookFloor, programs that do nothing on the LB's hook (pass.bpf.c); all by default, "none" for
// none).
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { availableParallelism, release } from 'node:os';
import { pathToFileURL } from 'node:url';

import Table from 'cli-table3';

import {
  TcLbAttacher,
  type LbPrograms,
  type PinnedProgram,
} from '../../src/dataplane/bpf/lb-attacher.js';
import {
  compatObjectPath,
  planLbLoad,
  SYSTEM_LB_OBJECT_PROBES,
  type LbLoadPlan,
} from '../../src/dataplane/bpf/lb-object.js';
import type { DriverName } from '../../src/dataplane/pod-attachment.js';
import {
  ADDON_ENV,
  DEFAULT_TC_HOOK,
  loadObject,
  nativeBpfAvailable,
  NativeBpfMap,
  TC_HOOK_CHOICES,
  tcQuery,
  type TcHookChoice,
} from '../../src/dataplane/bpf/native-bpf.js';
import { ensureBpffs } from '../../src/dataplane/bpf/bpffs.js';
import {
  backendKeyOf,
  type DesiredFrontend,
  type LbProtocol,
} from '../../src/lb/desired-frontend.js';
import { readFlowRecords } from '../../src/lb/flow-records.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { createLogger } from '../../src/log/logger.js';
import { collectOutput, makeTempDir, onCleanup, removeDir } from '../support/cleanup.js';
import { ScratchNetns, waitListening } from '../support/netns.js';
import { compileBpf } from '../support/bpf-build.js';
import { median, medianRatio, ratio } from '../support/stats.js';
import type { Target } from '../support/stats.js';
import { REPO_ROOT } from '../support/paths.js';
import {
  ADDR,
  BASE_PATHS,
  PORTS,
  TOPOLOGIES,
  buildWorlds,
  deleteWorlds,
  iptablesPackets,
  installIptables,
  netnsPath,
  worldOf,
  type BasePath,
  type ExtraPath,
  type PathName,
  type Topology,
  type World,
  type Worlds,
} from './topology.js';
import {
  buildNetload,
  netload,
  probe,
  progStats,
  roundTrips,
  serveIn,
  stopAll,
  streams,
  withBpfStats,
  type Turns,
} from './tools.js';
import { firstLine } from '../support/commands.js';
import { mdTable, notCompleted } from '../support/markdown.js';

// ---- settings --------------------------------------------------------------------------------

export type FigureName = 'tcpRr' | 'udpRr' | 'connRate' | 'httpRate' | 'stream';
export const FIGURE_NAMES: readonly FigureName[] = [
  'tcpRr',
  'udpRr',
  'connRate',
  'httpRate',
  'stream',
];

export interface LbDatapathSettings {
  rounds: number;
  /** Measured seconds per figure, per path, per round. */
  secondsPerFigure: number;
  /** netload's warm-up, every path taking turns, before the measured turns. */
  warmupSeconds: number;
  /** Round-trip message size, bytes. */
  messageBytes: number;
  /**
   * Every figure measures every path in one netload process, turn about (tools.ts): how long one
   * path's turn lasts. Short, so that every path
   * meets the machine's states alike; long enough that changing turns costs next to nothing.
   */
  turnMs: number;
  /** Keep-alive connections, one request in flight on each. */
  httpConnections: number;
  /** Connections being opened at once for connections/s. */
  connRateConnections: number;
  topologies: Topology[];
  /** The figures to measure (all by default). */
  figures: FigureName[];
  /** TCP ping-pong through the LB with BPF run-time statistics on; 0 skips it. */
  programCostSeconds: number;
  /**
   * > 0 adds a fourth path: iptables DNAT with kube-proxy's whole ruleset for this many other
   * Services loaded (the benchmark Service in the middle of KUBE-SERVICES). 0: not measured.
   */
  iptablesServices: number;
  /**
   * CPUs the client tools and the servers are bound to (taskset), the same on every path; null
   * leaves placement to the scheduler. Unbound, the scheduler sometimes runs client and server
   * on one CPU and sometimes on two, and a round trip differs by several µs between the two
   * (the bimodal rounds of earlier runs), whichever path happens to get which.
   */
  cpus: CpuPlacement | null;
  /** The hook the LB programs go on, as terwayd's --lb-hook: clsact (its default) or tcx. */
  hook: TcHookChoice;
  /**
   * Paths measured beside the three (topology.ts): `directTwin`, a second direct path whose ratio
   * to the first is the run's noise floor; `lbTcx`, the LB on tcx beside the LB on `hook` (left
   * out when `hook` is tcx already); `lbPodIp`, the LB's programs attached, the client dialing the
   * pod IP; `hookFloor`, programs that do nothing on the same hook, the client dialing the pod IP.
   * Empty: none.
   */
  controls: ControlPath[];
}

export type ControlPath = Extract<ExtraPath, 'directTwin' | 'lbTcx' | 'lbPodIp' | 'hookFloor'>;
export const CONTROL_PATHS: readonly ControlPath[] = [
  'directTwin',
  'lbTcx',
  'lbPodIp',
  'hookFloor',
];

export interface CpuPlacement {
  client: number;
  server: number;
}

/**
 * Client and server on one CPU, the last (CPU 0 takes most device interrupts), when there are
 * several. One CPU rather than one each: a round trip then has no cross-CPU wake-up, whose cost
 * in a VM swings by tens of µs with whatever else the other CPU runs (measured here: client and
 * server on CPUs 0 and 1 of a 2-vCPU machine with another load running gave p99s of 2-3 ms and
 * p50s spread over 31-60 µs; both on one CPU, p50s within 28-31 µs). Everything a packet costs is
 * then on the round trip's path, the LB programs included.
 */
function defaultCpus(): CpuPlacement | null {
  const cpus = availableParallelism();
  return cpus >= 2 ? { client: cpus - 1, server: cpus - 1 } : null;
}

/** LB_DATAPATH_CPUS: "client,server" (e.g. "0,1"), or "none" to leave placement to the scheduler. */
function cpusFromEnv(raw: string | undefined): CpuPlacement | null | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (raw.trim() === 'none') return null;
  const [client, server, ...rest] = raw.split(',').map((t) => Number(t.trim()));
  if (
    rest.length > 0 ||
    client === undefined ||
    server === undefined ||
    !Number.isInteger(client) ||
    !Number.isInteger(server) ||
    client < 0 ||
    server < 0
  )
    throw new Error(`LB_DATAPATH_CPUS=${raw}: "client,server" CPU numbers, or "none"`);
  return { client, server };
}

export const LB_DATAPATH_DEFAULTS: LbDatapathSettings = {
  // Many short rounds: what moves a figure here is the machine's state from one window to the
  // next, not the samples within a window. With 5 × 3 s, two identical direct paths still came
  // out up to 12% apart (5-round medians of the control path); with 12 × 2 s, within 2%. 10 × 2 s
  // keeps make bench near half an hour.
  rounds: 10,
  secondsPerFigure: 2,
  warmupSeconds: 0.5,
  messageBytes: 64,
  turnMs: 50,
  httpConnections: 16,
  connRateConnections: 8,
  topologies: [...TOPOLOGIES],
  figures: [...FIGURE_NAMES],
  programCostSeconds: 2,
  iptablesServices: 0,
  cpus: defaultCpus(),
  hook: DEFAULT_TC_HOOK,
  controls: [...CONTROL_PATHS],
};

export interface LbDatapathOptions extends Partial<LbDatapathSettings> {
  progress?: (line: string) => void;
}

/** Defaults, then LB_DATAPATH_* from the environment, then the options. */
export function lbDatapathSettings(options: Partial<LbDatapathSettings> = {}): LbDatapathSettings {
  const env = (name: string): number | undefined => {
    const raw = process.env[`LB_DATAPATH_${name}`];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`LB_DATAPATH_${name}=${raw}`);
    return value;
  };
  const list = <T extends string>(name: string, allowed: readonly T[]): T[] | undefined => {
    const items = process.env[`LB_DATAPATH_${name}`]
      ?.split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    if (items === undefined || items.length === 0) return undefined;
    for (const item of items) {
      if (!allowed.includes(item as T))
        throw new Error(`LB_DATAPATH_${name}: ${item}? (one of ${allowed.join(', ')})`);
    }
    return items as T[];
  };
  const topologies = list('TOPOLOGIES', TOPOLOGIES);
  const controlsRaw = process.env.LB_DATAPATH_CONTROLS?.trim();
  const controls = controlsRaw === 'none' ? [] : list('CONTROLS', CONTROL_PATHS);
  const figures = list('FIGURES', FIGURE_NAMES);
  const envCpus = cpusFromEnv(process.env.LB_DATAPATH_CPUS);
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<LbDatapathSettings>;
  const settings: LbDatapathSettings = {
    ...LB_DATAPATH_DEFAULTS,
    rounds: env('ROUNDS') ?? LB_DATAPATH_DEFAULTS.rounds,
    secondsPerFigure: env('SECONDS') ?? LB_DATAPATH_DEFAULTS.secondsPerFigure,
    turnMs: env('TURN_MS') ?? LB_DATAPATH_DEFAULTS.turnMs,
    programCostSeconds: env('PROGRAM_COST_SECONDS') ?? LB_DATAPATH_DEFAULTS.programCostSeconds,
    iptablesServices: env('IPTABLES_SERVICES') ?? LB_DATAPATH_DEFAULTS.iptablesServices,
    cpus: envCpus === undefined ? LB_DATAPATH_DEFAULTS.cpus : envCpus,
    hook: hookFromEnv(process.env.LB_DATAPATH_HOOK) ?? LB_DATAPATH_DEFAULTS.hook,
    ...(topologies === undefined ? {} : { topologies }),
    ...(figures === undefined ? {} : { figures }),
    ...(controls === undefined ? {} : { controls }),
    ...defined,
  };
  if (settings.rounds < 1 || !Number.isInteger(settings.rounds))
    throw new Error('rounds: a positive integer');
  if (!(settings.secondsPerFigure > 0)) throw new Error('secondsPerFigure: > 0');
  if (!(settings.turnMs > 0)) throw new Error('turnMs: > 0');
  return settings;
}

/** The paths measured beside the three base ones, in the order they are reported. */
export function extraPathsOf(s: LbDatapathSettings): ExtraPath[] {
  return [
    ...(s.iptablesServices > 0 ? (['iptablesMany'] as const) : []),
    ...s.controls.filter((path) => path !== 'lbTcx' || s.hook !== 'tcx'),
  ];
}

function hookFromEnv(raw: string | undefined): TcHookChoice | undefined {
  if (raw === undefined || raw === '') return undefined;
  const hook = TC_HOOK_CHOICES.find((choice) => choice === raw);
  if (hook === undefined)
    throw new Error(`LB_DATAPATH_HOOK=${raw}: ${TC_HOOK_CHOICES.join(' or ')}`);
  return hook;
}

// ---- figures and targets ---------------------------------------------------------------------

interface FigureSpec {
  label: string;
  short: string;
  unit: string;
  lowerIsBetter: boolean;
  /** LB / direct must be ≤ (lower is better) or ≥ this. */
  target?: number;
}

export const FIGURES: Record<FigureName, FigureSpec> = {
  tcpRr: {
    label: 'TCP request/response round trip, p50',
    short: 'TCP RR p50',
    unit: 'µs',
    lowerIsBetter: true,
    target: 1.03,
  },
  udpRr: {
    label: 'UDP request/response round trip, p50',
    short: 'UDP RR p50',
    unit: 'µs',
    lowerIsBetter: true,
    target: 1.03,
  },
  connRate: {
    label: 'TCP connections/s (connect, 1 request, close)',
    short: 'connections/s',
    unit: 'conn/s',
    lowerIsBetter: false,
    target: 0.95,
  },
  httpRate: {
    label: 'HTTP keep-alive requests/s',
    short: 'HTTP keep-alive req/s',
    unit: 'req/s',
    lowerIsBetter: false,
  },
  stream: {
    label: 'TCP stream, one connection',
    short: 'stream',
    unit: 'Gbit/s',
    lowerIsBetter: false,
    target: 0.98,
  },
};

export interface Sample {
  value: number;
  /** Latency figures: the round's p99, µs. Rates: netload's per-operation p50, µs. */
  p99Us?: number;
  /** Failed connects/requests, lost round trips, or the stream's retransmits. */
  problems: number;
  note?: string;
}

export interface PathResult {
  /** Median over the rounds. */
  value: number;
  p99Us?: number;
  rounds: Sample[];
}

export interface FigureResult {
  name: FigureName;
  paths: Record<BasePath, PathResult> & Partial<Record<ExtraPath, PathResult>>;
  /** Medians of the per-round ratios. */
  ratios: {
    lbOverDirect: number;
    iptablesOverDirect: number;
    lbOverIptables: number;
    iptablesManyOverDirect?: number;
    lbOverIptablesMany?: number;
    /** The control: two identical direct paths. */
    directTwinOverDirect?: number;
    lbTcxOverDirect?: number;
    /** The LB attached, the client dialing the pod IP: the floor under lbOverDirect. */
    lbPodIpOverDirect?: number;
    /** Empty programs on the same hook, to the pod IP: the hook's own cost, under lbPodIp. */
    hookFloorOverDirect?: number;
    /** The LB over empty programs on its hook: what the LB's own code costs above the hook. */
    lbOverHookFloor?: number;
  };
}

export interface ProgramRuns {
  name: string;
  runs: number;
  nsPerRun: number;
}

/** BPF run-time statistics over one load from the eBPF path's client. */
export interface ProgramTraffic {
  egress: ProgramRuns;
  ingress: ProgramRuns;
  /** Round trips or connections (netload; no warm-up, so every one the programs ran for). */
  operations: number;
  /** (egress + ingress run time) / operations, ns. */
  nsPerOperation: number;
  /** Round trips: that over this run's direct TCP round trip p50. */
  shareOfDirect?: number;
}

export interface ProgramCost {
  seconds: number;
  /** TCP ping-pong to the ClusterIP: translated both ways. */
  service: ProgramTraffic;
  /** UDP ping-pong to the ClusterIP, the same for datagrams. */
  udpService: ProgramTraffic;
  /**
   * TCP ping-pong from the same client straight to the backend's pod IP (another port, so no
   * 4-tuple is shared with the ClusterIP flows): what every packet not for a Service pays.
   */
  nonService: ProgramTraffic;
  /** netload crr to the ClusterIP: what one short connection costs (a new flow each). */
  connections: ProgramTraffic;
}

export interface TopologyResult {
  topology: Topology;
  figures: FigureResult[];
  targets: Target[];
  /** What was checked before measuring, one sentence each. */
  checks: string[];
  programCost?: ProgramCost;
}

export interface LbDatapathResult {
  settings: LbDatapathSettings;
  tools: { netload: string; iptables: string; kernel: string };
  /** The LB build loaded (lb.o or lb-compat.o) and why, and the programs' clock. */
  lbBuild: string;
  topologies: TopologyResult[];
  durationSeconds: number;
}

function targetsOf(figures: FigureResult[]): Target[] {
  const targets: Target[] = [];
  for (const f of figures) {
    const spec = FIGURES[f.name];
    if (spec.target === undefined) continue;
    const value = f.ratios.lbOverDirect;
    targets.push({
      name: `${spec.short}: LB / direct`,
      measured: ratio(value),
      limit: `${spec.lowerIsBetter ? '≤' : '≥'} ${ratio(spec.target)}`,
      pass: spec.lowerIsBetter ? value <= spec.target : value >= spec.target,
    });
  }
  for (const f of figures) {
    const spec = FIGURES[f.name];
    const value = f.ratios.lbOverIptables;
    targets.push({
      name: `${spec.short}: LB ahead of iptables DNAT (LB / iptables)`,
      measured: ratio(value),
      limit: spec.lowerIsBetter ? '< 1.00×' : '> 1.00×',
      pass: spec.lowerIsBetter ? value < 1 : value > 1,
    });
  }
  return targets;
}

// ---- the run ---------------------------------------------------------------------------------

const SERVICE = 'default/bench';

/** The benchmark Service: one frontend per figure's port, the one backend. */
function benchFrontends(): DesiredFrontend[] {
  const frontend = (protocol: LbProtocol, port: number, portName: string): DesiredFrontend => {
    return {
      address: { ip: ADDR.vip, port, protocol },
      service: { namespace: 'default', name: 'bench', portName },
      external: false,
      affinityTimeoutSeconds: 0,
      ready: [backendKeyOf({ ip: ADDR.backend, port })],
      draining: [],
    };
  };
  return [
    frontend('TCP', PORTS.tcpRr, 'tcp-rr'),
    frontend('UDP', PORTS.udpRr, 'udp-rr'),
    frontend('TCP', PORTS.http, 'http'),
    frontend('TCP', PORTS.connRate, 'conn-rate'),
    frontend('TCP', PORTS.stream, 'stream'),
  ];
}

interface Lb {
  pinDir: string;
  /** The build loaded and its clock, as terwayd would choose them here. */
  loadPlan: LbLoadPlan;
  programs: LbPrograms;
  maps: LbMaps;
  reconciler: LbReconciler;
  attacher: TcLbAttacher;
}

const PROGRAMS = {
  egress: 'tw_lb_egress',
  egressGateway: 'tw_lb_egress_gw',
  ingress: 'tw_lb_ingress',
} as const;

/** Private copies of lb.o (both builds) and of the addon: a concurrent `npm run build` empties dist/. */
async function prepareRuntime(dir: string): Promise<{ objectPath: string }> {
  const root = REPO_ROOT;
  const built = join(root, 'dist/bpf/lb.o');
  if (!existsSync(built) || !existsSync(compatObjectPath(built))) {
    const { code, stderr } = await collectOutput(
      spawn(join(root, 'scripts/build-bpf.sh'), [], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    if (code !== 0 || !existsSync(built)) throw new Error(`scripts/build-bpf.sh failed: ${stderr}`);
  }
  const objectPath = join(dir, 'lb.o');
  copyFileSync(built, objectPath);
  copyFileSync(compatObjectPath(built), compatObjectPath(objectPath));
  const addon = [
    join(root, 'dist/native/terway_bpf.node'),
    join(root, 'native/build/Release/terway_bpf.node'),
  ].find((candidate) => existsSync(candidate));
  if (addon === undefined)
    throw new Error('the terway_bpf addon is not built: run scripts/build-native.sh');
  const addonCopy = join(dir, 'terway_bpf.node');
  copyFileSync(addon, addonCopy);
  // The addon is loaded once per process, on first use: load it now, from the copy.
  const previous = process.env[ADDON_ENV];
  process.env[ADDON_ENV] = previous ?? addonCopy;
  try {
    if (!nativeBpfAvailable()) throw new Error(`cannot load the terway_bpf addon ${addonCopy}`);
  } finally {
    if (previous === undefined) delete process.env[ADDON_ENV];
    else process.env[ADDON_ENV] = previous;
  }
  return { objectPath };
}

/**
 * The LBs of a run: the one on the settings' hook, and the tcx control's, with maps of its own;
 * and the hook floor's programs that do nothing, on the settings' hook.
 */
interface Lbs {
  lb: Lb;
  lbTcx?: Lb;
  /** pass.bpf.c's programs, put where the LB's go. */
  hookFloor?: TcLbAttacher;
}

const PASS_PROGRAMS = { egress: 'tw_pass_egress', ingress: 'tw_pass_ingress' } as const;

const passPinDir = (): string => `/sys/fs/bpf/terway-bench-${process.pid}-lbdp-pass`;

/** pass.bpf.c compiled and loaded into a pin dir of its own; an attacher for its programs. */
function startPassPrograms(dir: string, hook: TcHookChoice): TcLbAttacher {
  const object = join(dir, 'pass.o');
  compileBpf(join(REPO_ROOT, 'bench/lb-datapath/pass.bpf.c'), object);
  const pinDir = passPinDir();
  ensureBpffs(pinDir);
  const loaded = loadObject(object, pinDir);
  const pinned = (name: string): PinnedProgram => {
    const path = loaded.programs[name];
    if (path === undefined) throw new Error(`pass.bpf.c has no program ${name}`);
    return { name, path };
  };
  const egress = pinned(PASS_PROGRAMS.egress);
  const programs: LbPrograms = {
    egress,
    egressGateway: egress,
    ingress: pinned(PASS_PROGRAMS.ingress),
  };
  return new TcLbAttacher(programs, hook);
}

const pinDirOf = (hook: TcHookChoice): string =>
  `/sys/fs/bpf/terway-bench-${process.pid}-lbdp-${hook}`;

async function startLb(objectPath: string, hook: TcHookChoice): Promise<Lb> {
  const pinDir = pinDirOf(hook);
  // The build and constants terwayd would load here (src/daemon/service-lb.ts): the programs
  // measured are the ones the daemon runs.
  const plan = planLbLoad(objectPath, SYSTEM_LB_OBJECT_PROBES);
  ensureBpffs(pinDir); // as terwayd does: a fresh host may have none mounted
  const loaded = loadObject(plan.object, pinDir, plan.constants);
  const pinned = (role: keyof typeof PROGRAMS) => {
    const name = PROGRAMS[role];
    const path = loaded.programs[name];
    if (path === undefined) throw new Error(`${objectPath} has no program ${name}`);
    return { name, path };
  };
  const programs: LbPrograms = {
    egress: pinned('egress'),
    egressGateway: pinned('egressGateway'),
    ingress: pinned('ingress'),
  };
  const maps = openLbMaps(pinDir, (path) => NativeBpfMap.openPinned(path));
  const reconciler = new LbReconciler({
    maps,
    logger: createLogger({ level: 'silent', name: 'bench-lb-datapath' }),
  });
  reconciler.replaceService(SERVICE, benchFrontends());
  reconciler.markSynced();
  await reconciler.whenIdle();
  const programmed = maps.frontend.dump().count;
  if (programmed !== benchFrontends().length)
    throw new Error(
      `the reconciler programmed ${programmed} frontends, not ${benchFrontends().length}`,
    );
  return {
    pinDir,
    loadPlan: plan,
    programs,
    maps,
    reconciler,
    attacher: new TcLbAttacher(programs, hook),
  };
}

function stopLb(lb: Lb): void {
  lb.reconciler.stop();
  closeLbMaps(lb.maps);
  rmSync(lb.pinDir, { recursive: true, force: true });
}

const driverOf = (topology: Topology): DriverName => (topology === 'veth' ? 'veth' : 'ipvlan');

function startServers(world: World, netloadBinary: string, cpu?: number): ChildProcess[] {
  const ns = world.backend;
  const ip = ADDR.backend;
  const serve = (command: string, args: string[]) => serveIn(ns, command, args, cpu);
  return [
    serve(netloadBinary, ['echo', 'tcp', ip, String(PORTS.tcpRr)]),
    serve(netloadBinary, ['echo', 'tcp', ip, String(PORTS.tcpRrPlain)]),
    serve(netloadBinary, ['echo', 'udp', ip, String(PORTS.udpRr)]),
    serve(netloadBinary, ['serve', ip, String(PORTS.http)]),
    serve(netloadBinary, ['serve', ip, String(PORTS.connRate)]),
    serve(netloadBinary, ['sink', ip, String(PORTS.stream)]),
  ];
}

async function waitServers(world: World): Promise<void> {
  const backend = netnsPath(world.backend);
  for (const port of [PORTS.tcpRr, PORTS.tcpRrPlain, PORTS.http, PORTS.connRate, PORTS.stream]) {
    await waitListening(backend, port);
  }
  await waitListening(backend, PORTS.udpRr, true);
}

/**
 * Before measuring: every path reaches the backend, and through the translation it claims. The
 * ClusterIP must be unreachable before the LB is attached (resp. the rules installed), reachable
 * after, with a new flow in the LB's conntrack (resp. the DNAT rules' packet counters moving).
 */
async function wireAndVerify(
  worlds: Worlds,
  lbs: Lbs,
  netloadBinary: string,
  iptablesServices: number,
): Promise<string[]> {
  const checks: string[] = [];
  const port = PORTS.http;
  for (const path of ['direct', 'directTwin'] as const) {
    const w = worlds[path];
    if (w === undefined) continue;
    const direct = await probe(netloadBinary, w.client, ADDR.backend, port);
    if (!direct.ok) throw new Error(`${path}: the backend did not answer: ${direct.output}`);
    checks.push(`${path}: ${ADDR.backend}:${port} answered "${direct.output}"`);
  }
  checks.push(await attachAndVerifyLb(worlds.lb, lbs.lb, 'eBPF LB', netloadBinary));
  if (worlds.lbTcx !== undefined && lbs.lbTcx !== undefined)
    checks.push(await attachAndVerifyLb(worlds.lbTcx, lbs.lbTcx, 'eBPF LB on tcx', netloadBinary));
  if (worlds.lbPodIp !== undefined)
    checks.push(await attachAndVerifyPassThrough(worlds.lbPodIp, lbs.lb, netloadBinary));
  if (worlds.hookFloor !== undefined && lbs.hookFloor !== undefined)
    checks.push(await attachAndVerifyHookFloor(worlds.hookFloor, lbs.hookFloor, netloadBinary));

  for (const path of ['iptables', 'iptablesMany'] as const) {
    const t = worlds[path];
    if (t === undefined) continue;
    const others = path === 'iptablesMany' ? iptablesServices : 0;
    const label = others > 0 ? `iptables with ${others} other Services` : 'iptables';
    const unruled = await probe(netloadBinary, t.client, ADDR.vip, port, 500);
    if (unruled.ok) throw new Error(`${label}: the ClusterIP answered before the DNAT rules`);
    const restoreMs = installIptables(t, others);
    const counted = iptablesPackets(t);
    const ruled = await probe(netloadBinary, t.client, ADDR.vip, port);
    const countedAfter = iptablesPackets(t);
    if (!ruled.ok) throw new Error(`${label}: the ClusterIP did not answer: ${ruled.output}`);
    if (!(countedAfter.dnat > counted.dnat))
      throw new Error(`${label}: the DNAT rules counted no packet for the request`);
    checks.push(
      `${label}: ${ADDR.vip}:${port} failed before the rules (${unruled.output}); after them ` +
        (others > 0 ? `(iptables-restore took ${Math.round(restoreMs)} ms) ` : '') +
        `it answered "${ruled.output}" and the DNAT rules counted ` +
        `${countedAfter.dnat - counted.dnat} packet(s)` +
        (t.topology === 'l2'
          ? `, the masquerade rule ${countedAfter.masquerade - counted.masquerade}`
          : ''),
    );
  }
  return checks;
}

/** Each flow to the ClusterIP in the LB's flow map (client address and port, protocol), with when it started. */
function flowStarts(lb: Lb): Map<string, bigint> {
  return new Map(
    readFlowRecords(lb.maps.flow)
      .filter((flow) => flow.frontend.ip === ADDR.vip)
      .map((flow) => [`${flow.client.ip}:${flow.client.port}/${flow.protocol}`, flow.firstSeenNs]),
  );
}

/** An attacher's programs on the client's eth0, as terwayd attaches them and checked; the hook used. */
function attachChecked(w: World, attacher: TcLbAttacher, label: string): string {
  const client = { kind: 'path', path: netnsPath(w.client) } as const;
  attacher.attach(client, 'eth0', driverOf(w.topology));
  const problems = attacher.check(client, 'eth0', driverOf(w.topology));
  if (problems.length > 0) throw new Error(`${label}: ${problems.join('; ')}`);
  return tcQuery(netnsPath(w.client), 'eth0', 'egress')?.hook ?? 'none';
}

/**
 * The ClusterIP must not answer before the programs are attached, and must answer after, leaving
 * a new flow in the LB's conntrack. The check line names the hook the programs went on.
 */
async function attachAndVerifyLb(
  w: World,
  lb: Lb,
  label: string,
  netloadBinary: string,
): Promise<string> {
  const port = PORTS.http;
  const before = await probe(netloadBinary, w.client, ADDR.vip, port, 500);
  if (before.ok) throw new Error(`${label}: the ClusterIP answered before the LB was attached`);
  const hook = attachChecked(w, lb.attacher, label);
  const flowsBefore = flowStarts(lb);
  const after = await probe(netloadBinary, w.client, ADDR.vip, port);
  const flowsAfter = flowStarts(lb);
  if (!after.ok) throw new Error(`${label}: the ClusterIP did not answer: ${after.output}`);
  // New, or restarted in place: the maps outlive a topology, and the probe's client port may be
  // one an earlier flow of the same client address used.
  const started = [...flowsAfter].filter(([flow, at]) => flowsBefore.get(flow) !== at).length;
  if (started === 0) throw new Error(`${label}: the request started no flow in the LB's conntrack`);
  const egress = w.topology === 'veth' ? PROGRAMS.egressGateway : PROGRAMS.egress;
  return (
    `${label}: ${ADDR.vip}:${port} failed before the attach (${before.output}); after ` +
    `${egress} + ${PROGRAMS.ingress} on the client's eth0 (hook: ${hook}) it answered ` +
    `"${after.output}" and started ${started} flow(s) in the flow map (${flowsAfter.size} in all)`
  );
}

/**
 * The lbPodIp path: the LB's programs on the client's eth0, as on the lb path, and the pod IP
 * answering through them with no flow added: every packet went through both programs untouched.
 */
async function attachAndVerifyPassThrough(
  w: World,
  lb: Lb,
  netloadBinary: string,
): Promise<string> {
  const label = 'eBPF LB attached, to the pod IP';
  const hook = attachChecked(w, lb.attacher, label);
  const flowsBefore = lb.maps.flow.dump().count;
  const answer = await probe(netloadBinary, w.client, ADDR.backend, PORTS.http);
  const flowsAfter = lb.maps.flow.dump().count;
  if (!answer.ok) throw new Error(`${label}: the backend did not answer: ${answer.output}`);
  if (flowsAfter !== flowsBefore)
    throw new Error(
      `${label}: a request to the pod IP added a flow (${flowsBefore} → ${flowsAfter})`,
    );
  return (
    `${label}: with the programs on the client's eth0 (hook: ${hook}), ${ADDR.backend}:` +
    `${PORTS.http} answered "${answer.output}" and the flow map stayed at ${flowsAfter} entries`
  );
}

/** The hookFloor path: the programs that do nothing on the client's eth0, and the pod IP answering. */
async function attachAndVerifyHookFloor(
  w: World,
  floor: TcLbAttacher,
  netloadBinary: string,
): Promise<string> {
  const label = 'empty tc programs, to the pod IP';
  const hook = attachChecked(w, floor, label);
  const answer = await probe(netloadBinary, w.client, ADDR.backend, PORTS.http);
  if (!answer.ok) throw new Error(`${label}: the backend did not answer: ${answer.output}`);
  return (
    `${label}: with ${PASS_PROGRAMS.egress} + ${PASS_PROGRAMS.ingress} (each returns at once) on ` +
    `the client's eth0 (hook: ${hook}), ${ADDR.backend}:${PORTS.http} answered "${answer.output}"`
  );
}

/** netload's schedule for `seconds` per path after `warmupSeconds`, on the client's CPU. */
function turnsOf(s: LbDatapathSettings, seconds: number, warmupSeconds: number): Turns {
  const cpu = s.cpus?.client;
  return { seconds, warmupSeconds, turnMs: s.turnMs, ...(cpu === undefined ? {} : { cpu }) };
}

/**
 * One round of a netload figure: every path in one netload process, turn about (tools.ts), so
 * that the round's ratios compare paths measured in the same milliseconds. Samples in `worlds`'
 * order.
 */
async function measureTurnAbout(
  figure: FigureName,
  worlds: readonly World[],
  s: LbDatapathSettings,
  netloadBinary: string,
): Promise<Sample[]> {
  const turns = turnsOf(s, s.secondsPerFigure, s.warmupSeconds);
  const targetsOn = (port: number) => worlds.map((w) => ({ netns: w.client, ip: w.target, port }));
  if (figure === 'tcpRr' || figure === 'udpRr') {
    const tcp = figure === 'tcpRr';
    const port = tcp ? PORTS.tcpRr : PORTS.udpRr;
    const results = await roundTrips(netloadBinary, targetsOn(port), tcp, s.messageBytes, turns);
    return results.map((r) => ({ value: r.p50Us, p99Us: r.p99Us, problems: r.lost }));
  }
  if (figure === 'stream') {
    const results = await streams(netloadBinary, targetsOn(PORTS.stream), turns);
    return results.map((r) => ({ value: r.gbps, problems: r.retransmits }));
  }
  const crr = figure === 'connRate';
  const results = await netload(
    netloadBinary,
    crr ? 'crr' : 'http',
    targetsOn(crr ? PORTS.connRate : PORTS.http),
    crr ? s.connRateConnections : s.httpConnections,
    turns,
  );
  return results.map((r) => ({
    value: r.rate,
    p99Us: r.p99Us,
    problems: r.errors,
    ...(r.errors > 0 ? { note: r.firstError } : {}),
  }));
}

async function programCost(
  world: World,
  lb: Lb,
  s: LbDatapathSettings,
  netloadBinary: string,
  directRttUs: { tcp: number; udp: number },
): Promise<ProgramCost> {
  const egress = world.topology === 'veth' ? lb.programs.egressGateway : lb.programs.egress;
  const ingress = lb.programs.ingress;
  const seconds = s.programCostSeconds;
  const traffic = async (load: () => Promise<number>, rttUs?: number): Promise<ProgramTraffic> => {
    const before = [progStats(egress.path), progStats(ingress.path)];
    const operations = await load();
    const after = [progStats(egress.path), progStats(ingress.path)];
    const delta = (i: number, name: string): ProgramRuns & { ns: number } => {
      const runs = (after[i]?.runCount ?? 0) - (before[i]?.runCount ?? 0);
      const ns = (after[i]?.runTimeNs ?? 0) - (before[i]?.runTimeNs ?? 0);
      return { name, runs, ns, nsPerRun: runs > 0 ? ns / runs : Number.NaN };
    };
    const { ns: egressNs, ...e } = delta(0, egress.name);
    const { ns: ingressNs, ...i } = delta(1, ingress.name);
    const nsPerOperation = operations > 0 ? (egressNs + ingressNs) / operations : Number.NaN;
    return {
      egress: e,
      ingress: i,
      operations,
      nsPerOperation,
      ...(rttUs === undefined ? {} : { shareOfDirect: nsPerOperation / 1000 / rttUs }),
    };
  };
  // No warm-up: every round trip or connection the programs run for is counted.
  const pingPongTo =
    (target: string, port: number, tcp = true) =>
    async (): Promise<number> => {
      const [r] = await roundTrips(
        netloadBinary,
        [{ netns: world.client, ip: target, port }],
        tcp,
        s.messageBytes,
        turnsOf(s, seconds, 0),
      );
      return (r?.count ?? 0) + (r?.lost ?? 0);
    };
  return await withBpfStats(netloadBinary, async () => ({
    seconds,
    service: await traffic(pingPongTo(ADDR.vip, PORTS.tcpRr), directRttUs.tcp),
    udpService: await traffic(pingPongTo(ADDR.vip, PORTS.udpRr, false), directRttUs.udp),
    nonService: await traffic(pingPongTo(ADDR.backend, PORTS.tcpRrPlain), directRttUs.tcp),
    connections: await traffic(async () => {
      const [r] = await netload(
        netloadBinary,
        'crr',
        [{ netns: world.client, ip: ADDR.vip, port: PORTS.connRate }],
        s.connRateConnections,
        turnsOf(s, seconds, 0),
      );
      return r?.done ?? 0;
    }),
  }));
}

function summarizeFigure(
  name: FigureName,
  samples: Partial<Record<PathName, Sample[]>>,
): FigureResult {
  const of = (p: PathName): Sample[] => samples[p] ?? [];
  const values = (p: PathName): number[] => of(p).map((sample) => sample.value);
  const path = (p: PathName): PathResult => {
    const rounds = of(p);
    const p99 = rounds.map((r) => r.p99Us).filter((v): v is number => v !== undefined);
    return {
      value: median(values(p)),
      ...(p99.length > 0 && FIGURES[name].lowerIsBetter ? { p99Us: median(p99) } : {}),
      rounds,
    };
  };
  const perRound = (a: PathName, b: PathName) => medianRatio(values(a), values(b));
  const has = (p: ExtraPath): boolean => samples[p] !== undefined;
  const extras = (['iptablesMany', 'directTwin', 'lbTcx', 'lbPodIp', 'hookFloor'] as const).filter(
    has,
  );
  return {
    name,
    paths: {
      direct: path('direct'),
      lb: path('lb'),
      iptables: path('iptables'),
      ...Object.fromEntries(extras.map((p) => [p, path(p)])),
    },
    ratios: {
      lbOverDirect: perRound('lb', 'direct'),
      iptablesOverDirect: perRound('iptables', 'direct'),
      lbOverIptables: perRound('lb', 'iptables'),
      ...(has('iptablesMany')
        ? {
            iptablesManyOverDirect: perRound('iptablesMany', 'direct'),
            lbOverIptablesMany: perRound('lb', 'iptablesMany'),
          }
        : {}),
      ...(has('directTwin') ? { directTwinOverDirect: perRound('directTwin', 'direct') } : {}),
      ...(has('lbTcx') ? { lbTcxOverDirect: perRound('lbTcx', 'direct') } : {}),
      ...(has('lbPodIp') ? { lbPodIpOverDirect: perRound('lbPodIp', 'direct') } : {}),
      ...(has('hookFloor')
        ? {
            hookFloorOverDirect: perRound('hookFloor', 'direct'),
            lbOverHookFloor: perRound('lb', 'hookFloor'),
          }
        : {}),
    },
  };
}

const formatValue = (name: FigureName, value: number): string => {
  if (!Number.isFinite(value)) return 'n/a';
  const unit = FIGURES[name].unit;
  if (unit === 'µs') return `${value.toFixed(1)} µs`;
  if (unit === 'Gbit/s') return `${value.toFixed(2)} Gbit/s`;
  return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
};

async function runTopology(
  topology: Topology,
  scratch: ScratchNetns,
  lbs: Lbs,
  s: LbDatapathSettings,
  netloadBinary: string,
  progress: (line: string) => void,
): Promise<TopologyResult> {
  progress(`${topology}: building one copy of the topology per path`);
  const extras = extraPathsOf(s);
  const paths: PathName[] = [...BASE_PATHS, ...extras];
  const worlds = buildWorlds(scratch, topology, extras);
  const servers: ChildProcess[] = [];
  try {
    for (const path of paths)
      servers.push(...startServers(worldOf(worlds, path), netloadBinary, s.cpus?.server));
    for (const path of paths) await waitServers(worldOf(worlds, path));
    const checks = await wireAndVerify(worlds, lbs, netloadBinary, s.iptablesServices);
    const figureNames = FIGURE_NAMES.filter((f) => s.figures.includes(f));
    for (const check of checks) progress(`  ${check}`);

    const samples = Object.fromEntries(
      figureNames.map((f) => [f, Object.fromEntries(paths.map((p) => [p, []]))]),
    ) as unknown as Record<FigureName, Record<PathName, Sample[]>>;
    for (let round = 0; round < s.rounds; round++) {
      for (const [index, figure] of figureNames.entries()) {
        // A rotating order: over the rounds, each path goes first, second, ... equally often.
        const shift = (round + index) % paths.length;
        const order = [...paths.slice(shift), ...paths.slice(0, shift)];
        const line: string[] = [];
        const measured = await measureTurnAbout(
          figure,
          order.map((path) => worldOf(worlds, path)),
          s,
          netloadBinary,
        );
        for (const [i, path] of order.entries()) {
          const sample = measured[i];
          if (sample === undefined) throw new Error(`${figure}: no sample for ${path}`);
          samples[figure][path].push(sample);
          line.push(
            `${path} ${formatValue(figure, sample.value)}` +
              (sample.p99Us !== undefined ? ` (p99 ${sample.p99Us.toFixed(0)} µs)` : '') +
              (sample.problems > 0
                ? ` (${sample.problems} ${figure === 'stream' ? 'retransmits' : 'errors/drops'})`
                : ''),
          );
        }
        progress(`  ${topology} round ${round + 1} ${FIGURES[figure].short}: ${line.join(', ')}`);
      }
    }
    const figures = figureNames.map((f) => summarizeFigure(f, samples[f]));
    const result: TopologyResult = { topology, figures, targets: targetsOf(figures), checks };
    if (s.programCostSeconds > 0) {
      const directOf = (name: FigureName) =>
        figures.find((f) => f.name === name)?.paths.direct.value ?? Number.NaN;
      const directRtt = { tcp: directOf('tcpRr'), udp: directOf('udpRr') };
      result.programCost = await programCost(worlds.lb, lbs.lb, s, netloadBinary, directRtt);
    }
    return result;
  } finally {
    await stopAll(servers);
    deleteWorlds(worlds);
  }
}

export async function runLbDatapathBench(
  options: LbDatapathOptions = {},
): Promise<LbDatapathResult> {
  const began = Date.now();
  const { progress = () => undefined, ...rest } = options;
  const settings = lbDatapathSettings(rest);
  const iptables = firstLine('iptables', ['--version']);
  if (iptables === undefined)
    throw new Error('iptables is not installed (apt-get install iptables)');

  const dir = makeTempDir('tn-lb-datapath-');
  const scratch = new ScratchNetns('ld');
  const started: Lb[] = [];
  const unregister = onCleanup(() => {
    for (const hook of TC_HOOK_CHOICES) rmSync(pinDirOf(hook), { recursive: true, force: true });
    rmSync(passPinDir(), { recursive: true, force: true });
  });
  try {
    const netloadBuild = buildNetload(dir);
    const netloadBinary = netloadBuild.binary;
    const { objectPath } = await prepareRuntime(dir);
    progress('loading the LB object and programming the Service through the reconciler');
    const lb = await startLb(objectPath, settings.hook);
    started.push(lb);
    const lbs: Lbs = { lb };
    if (extraPathsOf(settings).includes('lbTcx')) {
      // Maps of its own: the two LB paths' clients have the same addresses and port spaces.
      lbs.lbTcx = await startLb(objectPath, 'tcx');
      started.push(lbs.lbTcx);
    }
    if (extraPathsOf(settings).includes('hookFloor'))
      lbs.hookFloor = startPassPrograms(dir, settings.hook);
    const topologies: TopologyResult[] = [];
    for (const topology of settings.topologies) {
      topologies.push(await runTopology(topology, scratch, lbs, settings, netloadBinary, progress));
    }
    return {
      settings,
      tools: {
        netload: `bench/lb-datapath/netload.c, built with ${netloadBuild.compiler}`,
        iptables,
        kernel: release(),
      },
      lbBuild:
        `${basename(lb.loadPlan.object)} (${lb.loadPlan.buildReason}), ` +
        `clock: ${lb.loadPlan.clock}`,
      topologies,
      durationSeconds: (Date.now() - began) / 1000,
    };
  } finally {
    for (const lb of started) stopLb(lb);
    rmSync(passPinDir(), { recursive: true, force: true });
    scratch.dispose();
    unregister();
    removeDir(dir);
  }
}

// ---- output ----------------------------------------------------------------------------------

const passFail = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** "≤ 1.03× PASS": a figure's LB / direct target and whether this ratio meets it; "—" if none. */
function targetCell(spec: FigureSpec, lbOverDirect: number): string {
  if (spec.target === undefined) return '—';
  const pass = spec.lowerIsBetter ? lbOverDirect <= spec.target : lbOverDirect >= spec.target;
  return `${spec.lowerIsBetter ? '≤' : '≥'} ${ratio(spec.target)} ${passFail(pass)}`;
}
const TOPOLOGY_LABEL: Record<Topology, string> = {
  veth: "veth (the product's veth mode)",
  l2: 'L2 (macvlan over an ENI)',
};

function pathLabel(path: PathName, s: LbDatapathSettings): string {
  switch (path) {
    case 'direct':
      return 'direct';
    case 'lb':
      return s.hook === 'tcx' ? 'eBPF LB (tcx)' : 'eBPF LB';
    case 'iptables':
      return 'iptables DNAT';
    case 'iptablesMany':
      return `iptables, ${s.iptablesServices} other Services`;
    case 'directTwin':
      return 'direct again (control)';
    case 'lbTcx':
      return 'eBPF LB on tcx';
    case 'lbPodIp':
      return 'eBPF LB attached, to the pod IP';
    case 'hookFloor':
      return 'empty tc programs, to the pod IP';
  }
}

/** The figure table's columns: a value per path, then the ratios (one more per extra path). */
function header(s: LbDatapathSettings): string[] {
  const extras = extraPathsOf(s);
  return [
    'Figure',
    ...[...BASE_PATHS, ...extras].map((p) => pathLabel(p, s)),
    'LB / direct',
    'iptables / direct',
    ...(extras.includes('iptablesMany') ? [`iptables ${s.iptablesServices} / direct`] : []),
    ...(extras.includes('lbTcx') ? ['LB on tcx / direct'] : []),
    ...(extras.includes('lbPodIp') ? ['LB attached, pod IP / direct'] : []),
    ...(extras.includes('hookFloor')
      ? ['empty programs, pod IP / direct', 'LB / empty programs (the LB above the hook)']
      : []),
    ...(extras.includes('directTwin') ? ['control: direct again / direct'] : []),
    'LB / iptables (ahead?)',
    'target LB / direct',
  ];
}

function figureRows(t: TopologyResult, s: LbDatapathSettings): string[][] {
  const extras = extraPathsOf(s);
  return t.figures.map((f) => {
    const spec = FIGURES[f.name];
    const cell = (result: PathResult | undefined) =>
      result === undefined
        ? 'n/a'
        : formatValue(f.name, result.value) +
          (result.p99Us !== undefined ? ` (p99 ${result.p99Us.toFixed(0)})` : '');
    const target = targetCell(spec, f.ratios.lbOverDirect);
    const ahead = spec.lowerIsBetter ? f.ratios.lbOverIptables < 1 : f.ratios.lbOverIptables > 1;
    return [
      spec.label,
      ...[...BASE_PATHS, ...extras].map((p) => cell(f.paths[p])),
      ratio(f.ratios.lbOverDirect),
      ratio(f.ratios.iptablesOverDirect),
      ...(extras.includes('iptablesMany')
        ? [ratio(f.ratios.iptablesManyOverDirect ?? Number.NaN)]
        : []),
      ...(extras.includes('lbTcx') ? [ratio(f.ratios.lbTcxOverDirect ?? Number.NaN)] : []),
      ...(extras.includes('lbPodIp') ? [ratio(f.ratios.lbPodIpOverDirect ?? Number.NaN)] : []),
      ...(extras.includes('hookFloor')
        ? [
            ratio(f.ratios.hookFloorOverDirect ?? Number.NaN),
            ratio(f.ratios.lbOverHookFloor ?? Number.NaN),
          ]
        : []),
      ...(extras.includes('directTwin')
        ? [ratio(f.ratios.directTwinOverDirect ?? Number.NaN)]
        : []),
      `${ratio(f.ratios.lbOverIptables)} ${passFail(ahead)}`,
      target,
    ];
  });
}

function costSentence(c: ProgramCost, topology: Topology): string {
  const runs = (t: ProgramTraffic) =>
    `${t.egress.name} ${t.egress.nsPerRun.toFixed(0)} ns/run (${t.egress.runs} runs), ` +
    `${t.ingress.name} ${t.ingress.nsPerRun.toFixed(0)} ns/run (${t.ingress.runs} runs)`;
  const rr = (label: string, t: ProgramTraffic) =>
    `${label}: ${runs(t)}, ${t.nsPerOperation.toFixed(0)} ns per round trip` +
    (t.shareOfDirect === undefined || !Number.isFinite(t.shareOfDirect)
      ? ' (no direct round trip measured to compare with)'
      : ` = ${(t.shareOfDirect * 100).toFixed(1)}% of the direct round trip`);
  return (
    `Program cost (\`BPF_ENABLE_STATS\` held; ${c.seconds} s of each load from the eBPF path's ` +
    `client): ${rr('TCP ping-pong to the ClusterIP', c.service)}; ` +
    `${rr('UDP ping-pong to the ClusterIP', c.udpService)}; ` +
    `${rr('to the backend pod IP (not a Service)', c.nonService)}; connections to the ClusterIP ` +
    `(connect, 1 request, close): ${runs(c.connections)}, ` +
    `${c.connections.nsPerOperation.toFixed(0)} ns per connection ` +
    `(${c.connections.operations} connections)` +
    (topology === 'l2'
      ? `. On L2 a flow's packets before the backend's first reply take \`bpf_redirect_neigh\`, ` +
        `which runs the egress program a second time (that pass returns at once); later ones are ` +
        `addressed to the MAC the replies came from and run it once: a connection's SYN costs one ` +
        `extra run`
      : '')
  );
}

export function printLbDatapath(r: LbDatapathResult): void {
  const lines: string[] = [];
  for (const t of r.topologies) {
    const table = new Table({ head: header(r.settings), style: { head: [], border: [] } });
    table.push(...figureRows(t, r.settings));
    lines.push(`${TOPOLOGY_LABEL[t.topology]}:`, table.toString());
    if (t.programCost !== undefined) lines.push(costSentence(t.programCost, t.topology));
  }
  lines.push(
    `${r.settings.rounds} round(s) × ${r.settings.secondsPerFigure} s per figure and path; ` +
      `medians; ratios are medians of per-round ratios; ` +
      (r.settings.cpus === null
        ? 'processes not bound to CPUs; '
        : `client on CPU ${r.settings.cpus.client}, server on CPU ${r.settings.cpus.server}; `) +
      `took ${Math.round(r.durationSeconds)} s`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---- for bench/run-all.ts: its BENCHMARKS.md section and summary rows ----------------------------

/** How the client and server processes were placed: the same for every path. */
function placementSentence(cpus: CpuPlacement | null): string {
  if (cpus === null)
    return 'Client and server processes were left to the scheduler (LB_DATAPATH_CPUS=none).';
  const where =
    cpus.client === cpus.server
      ? `both bound to CPU ${cpus.client}`
      : `bound to CPU ${cpus.client} (client) and CPU ${cpus.server} (server)`;
  return (
    `On every path alike, the client (netload) and the servers were ` +
    `${where} with \`taskset\`` +
    (cpus.client === cpus.server
      ? ': a round trip then has no cross-CPU wake-up, whose cost in a VM swings with whatever ' +
        'the other CPU runs and made earlier rounds bimodal; the kernel work of both ends and ' +
        "the LB programs run on that CPU too, so all of it is on the round trip's path. "
      : '. ') +
    `Softirq processing is not bound: it runs where the kernel puts it, for every path the same.`
  );
}

export function lbDatapathSection(
  result: LbDatapathResult | undefined,
  error: string | undefined,
): string {
  const title =
    '## 8. Service LB datapath: ClusterIP through the eBPF LB vs direct and iptables DNAT';
  if (result === undefined) return notCompleted(title, error);
  const r = result;
  const s = r.settings;
  const parts: string[] = [
    title,
    '',
    `Three paths from a client pod to one backend pod, measured in the same run: **direct** (the ` +
      `backend's pod IP, no program: the limit), **eBPF LB** (the ClusterIP through the product's ` +
      `tc programs, the build of \`dist/bpf/lb.o\` terwayd picks for this kernel, loaded into a pin dir of this run, the Service programmed ` +
      `through the real \`LbReconciler\` and the programs attached by the real \`TcLbAttacher\`), ` +
      `and **iptables DNAT** (the ClusterIP through kube-proxy's kind of rule, ` +
      `\`-t nat -A PREROUTING -d <ClusterIP> -p <proto> --dport <port> -j DNAT\`, in the ` +
      `namespace that routes the pod's traffic). Each path has its own copy of the topology, with ` +
      `the same addresses: no path shares a client port space, a backend's TIME_WAIT sockets or a ` +
      `conntrack table with another (EBPF.md trap 5), only the iptables copy runs conntrack, and ` +
      `only the eBPF copies' clients carry the programs. ${s.rounds} round(s). In each, every ` +
      `figure is measured on every path at once, turn about: one client process (netload) holds ` +
      `sockets in every path's client namespace and gives each path a turn of ${s.turnMs} ms in ` +
      `an order that rotates every pass, until each has had ${s.secondsPerFigure} s, so every ` +
      `path meets the machine's states alike (measured one after another, in windows of seconds, ` +
      `two copies of one path came out up to 25% apart when the VM's state moved between the ` +
      `windows). Figures are medians over the rounds and ratios are medians of the per-round ` +
      `ratios. ` +
      placementSentence(s.cpus) +
      (s.iptablesServices > 0
        ? ` A fourth path, **iptables with ${s.iptablesServices} other Services**, is the ` +
          `iptables path with kube-proxy's whole ruleset for that many more Services loaded ` +
          `(PREROUTING → KUBE-SERVICES, one rule per Service port in a linear list → KUBE-SVC-* → ` +
          `KUBE-SEP-*), the benchmark Service in the middle of KUBE-SERVICES; only a connection's ` +
          `first packet walks it.`
        : '') +
      (extraPathsOf(s).includes('directTwin')
        ? ` A control path, **direct again**, is a second copy of the direct path, measured like ` +
          `the others: its ratio to direct is what two identical paths differ by in this run, ` +
          `the noise under every other ratio.`
        : '') +
      (extraPathsOf(s).includes('lbTcx')
        ? ` **eBPF LB on tcx** is the eBPF LB path once more, with the programs on tcx (as ` +
          `terwayd --lb-hook tcx attaches them) and maps of its own.`
        : '') +
      (extraPathsOf(s).includes('lbPodIp')
        ? ` **eBPF LB attached, to the pod IP** has the eBPF LB's programs on its client's eth0 ` +
          `as the eBPF LB path has them (the same maps), and dials the backend's pod IP like ` +
          `direct: its ratio to direct is what the LB costs a pod's traffic that is not to a ` +
          `Service, and the floor under the eBPF LB's ratios (both hooks run, and the programs ` +
          `leave every packet alone after a gate read).`
        : '') +
      (extraPathsOf(s).includes('hookFloor')
        ? ` **Empty tc programs, to the pod IP** has two programs that return at once ` +
          `(\`bench/lb-datapath/pass.bpf.c\`) on its client's eth0, on the same hook and in the same ` +
          `directions as the LB's, and dials the pod IP: its ratio to direct is what the hook ` +
          `costs by itself, whatever program runs there, and so the floor under any tc program ` +
          `on a pod's eth0; the eBPF LB's own cost is what lies above it (LB / empty programs).`
        : ''),
    '',
    `- **veth** (the product's veth mode): pods have eth0 with a /32 and the default route via ` +
      `169.254.1.1, a permanent neighbour (the host veth); a node netns routes each pod's /32 to ` +
      `its host veth. LB: \`tw_lb_egress_gw\` + \`tw_lb_ingress\` on the client's eth0 (on ` +
      `${s.hook === 'tcx' ? 'tcx where the kernel has it, as terwayd --lb-hook tcx attaches them' : "a clsact qdisc, terwayd's default hook"}; ` +
      `the check line names the hook). iptables: ` +
      `the DNAT rules in the node netns, nothing else.`,
    `- **L2** (macvlan over an ENI, like the ipvlan mode): the node's "ENI" is a veth whose peer ` +
      `is the VPC gateway (own netns, .1, forwarding on, ICMP redirects off); pods are macvlan ` +
      `(bridge) children of the ENI with a /24 on-link and the default route via the gateway. LB: ` +
      `\`tw_lb_egress\` (DNAT, then \`bpf_redirect_neigh\` to the on-link backend) + ` +
      `\`tw_lb_ingress\`. iptables: the pod sends ClusterIP traffic to the gateway, so the DNAT ` +
      `rules are there; the backend answers the client on-link, around the gateway, so the gateway ` +
      `also masquerades DNATed flows it sends back out where they came from (kube-proxy's hairpin ` +
      `masquerade). That costs the iptables path a hairpin through the gateway each way and hides ` +
      `the client's address from the backend; the eBPF path goes pod → pod.`,
    '',
    `Tools: ${r.tools.netload}, the same on every path: TCP and UDP round trip, ` +
      `${s.messageBytes}-byte messages, one in flight, to an echo server in the backend, p50 per ` +
      `round (p99 in brackets, µs: mostly scheduling noise on 2 shared cores); connections/s and ` +
      `HTTP keep-alive requests/s, a single-threaded epoll HTTP/1.1 server in the backend and ` +
      `load generator in the client (${s.connRateConnections} connections opened at once, each: ` +
      `connect, one request, the answer, the server closes; ${s.httpConnections} keep-alive ` +
      `connections per path, one request in flight each during the path's turns; ` +
      `${s.warmupSeconds} s warm-up, every path taking turns); stream, one TCP connection per ` +
      `path written to as fast as it takes during the path's turns, each turn lasting until the ` +
      `receiver (a sink in the backend) has acknowledged all of its bytes, so each turn's bytes ` +
      `count in its own time. ${s.secondsPerFigure} s per figure, path and round. ${r.tools.iptables}; kernel ${r.tools.kernel}. LB object: ${r.lbBuild}. The ` +
      `benchmark took ${Math.round(r.durationSeconds)} s.`,
  ];
  for (const t of r.topologies) {
    parts.push(
      '',
      `### ${TOPOLOGY_LABEL[t.topology]}`,
      '',
      mdTable(header(s), figureRows(t, s)),
      '',
      mdTable(
        ['Target', 'Measured', 'Limit', 'Result'],
        t.targets.map((x) => [x.name, x.measured, x.limit, `**${passFail(x.pass)}**`]),
      ),
      '',
      'Checked before measuring: ' + t.checks.join('; ') + '.',
    );
    if (t.programCost !== undefined) {
      parts.push('', `${costSentence(t.programCost, t.topology)}.`);
    }
    const shown: PathName[] = [...BASE_PATHS, ...extraPathsOf(s)];
    const rows = t.figures.flatMap((f) =>
      f.paths.direct.rounds.map((_, i) => [
        FIGURES[f.name].short,
        String(i + 1),
        ...shown.map((p) => {
          const sample = f.paths[p]?.rounds[i];
          if (sample === undefined) return 'n/a';
          return (
            formatValue(f.name, sample.value) +
            (sample.problems > 0
              ? ` (${sample.problems} ${f.name === 'stream' ? 'retr.' : 'err.'}${sample.note ? `: ${sample.note}` : ''})`
              : '')
          );
        }),
      ]),
    );
    parts.push(
      '',
      'Per round:',
      '',
      mdTable(['Figure', 'Round', ...shown.map((p) => pathLabel(p, s))], rows),
    );
  }
  return parts.join('\n');
}

/** Rows for run-all's summary table: Benchmark, Measured, Baseline, Ratio, Target. */
export function lbDatapathSummaryRows(r: LbDatapathResult | undefined): string[][] {
  if (r === undefined) return [['LB datapath', 'FAILED', '', '', '']];
  const rows: string[][] = [];
  for (const t of r.topologies) {
    for (const f of t.figures) {
      const spec = FIGURES[f.name];
      const target = targetCell(spec, f.ratios.lbOverDirect);
      rows.push([
        `LB ${t.topology}: ${spec.short}`,
        `${formatValue(f.name, f.paths.lb.value)} (iptables ${formatValue(f.name, f.paths.iptables.value)})`,
        `direct ${formatValue(f.name, f.paths.direct.value)}`,
        `${ratio(f.ratios.lbOverDirect)} (iptables ${ratio(f.ratios.iptablesOverDirect)}` +
          (f.ratios.iptablesManyOverDirect === undefined
            ? ''
            : `, with ${r.settings.iptablesServices} Services ${ratio(f.ratios.iptablesManyOverDirect)}`) +
          (f.ratios.lbTcxOverDirect === undefined
            ? ''
            : `; LB on tcx ${ratio(f.ratios.lbTcxOverDirect)}`) +
          (f.ratios.lbPodIpOverDirect === undefined
            ? ''
            : `; LB attached, to the pod IP ${ratio(f.ratios.lbPodIpOverDirect)}`) +
          (f.ratios.hookFloorOverDirect === undefined
            ? ''
            : `; empty tc programs ${ratio(f.ratios.hookFloorOverDirect)}, ` +
              `LB / empty programs ${ratio(f.ratios.lbOverHookFloor ?? Number.NaN)}`) +
          (f.ratios.directTwinOverDirect === undefined
            ? ')'
            : `; control ${ratio(f.ratios.directTwinOverDirect)})`),
        target,
      ]);
    }
    const ahead = t.targets.filter((x) => x.name.includes('ahead of iptables'));
    rows.push([
      `LB ${t.topology}: ahead of iptables DNAT`,
      `${ahead.filter((x) => x.pass).length}/${ahead.length} figures`,
      '',
      '',
      `all ${passFail(ahead.every((x) => x.pass))}`,
    ]);
  }
  return rows;
}

// Standalone: npx tsx bench/lb-datapath/run.ts, or node dist/bench/lb-datapath/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printLbDatapath(
    await runLbDatapathBench({ progress: (line) => process.stdout.write(`${line}\n`) }),
  );
}
