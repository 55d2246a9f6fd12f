// The Service LB's programs alone, one path at a time: how many nanoseconds each kind of packet
// spends in them, resolved far finer than the datapath benchmark's round trips can (a 2% change
// there is noise; 10 ns here is not).
//
// The kernel's BPF_PROG_TEST_RUN runs a program on a frame many times over and reports the average
// (`bpftool prog run ... repeat N`). The programs measured are bpf/lb.c's own code, compiled into
// harness.bpf.c with the flags and the build (kfunc or compat) terwayd would load here, loaded
// with the same clock constants, over maps that the real LbReconciler programmed with a Service.
// Each harness program restores the frame first (the LB rewrites it in place); the baseline in
// the same run is bench_floor, which restores the frame and does nothing else, so "LB code" is a
// path's time minus the floor's, and the ratio is the path's time to the floor's.
//
// Before any timing, every path is run a thousand times and checked: the frame the program wrote
// (translated, or left alone), valid IPv4 and TCP/UDP checksums on a translated one, and the
// frontend's counters (an established packet counts no new flow, a new connection counts one).
//
// Standalone: node dist/bench/lb-program/run.js (root, clang, bpftool). Settings from the
// environment: LB_PROGRAM_ROUNDS (7), LB_PROGRAM_REPEAT (runs per measurement, 2,000,000; new
// connections take a quarter of that), LB_PROGRAM_CPU (the CPU bpftool is bound to; the last one
// by default, "none" to leave it to the scheduler).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import Table from 'cli-table3';

import { planLbLoad, SYSTEM_LB_OBJECT_PROBES } from '../../src/dataplane/bpf/lb-object.js';
import { loadObject, NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import { ensureBpffs } from '../../src/dataplane/bpf/bpffs.js';
import { backendKeyOf, type DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import {
  COUNTERS,
  FLOW_KEY,
  FRONTEND,
  FRONTEND_KEY,
  MOVED_PORT,
} from '../../src/lb/maps/lb-layouts.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { createLogger } from '../../src/log/logger.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { makeTempDir, onCleanup, removeDir } from '../support/cleanup.js';
import { REPO_ROOT } from '../support/paths.js';
import { compileBpf } from '../support/bpf-build.js';
import { commandOutput } from '../support/commands.js';
import { median, medianRatio, ratio } from '../support/stats.js';
import {
  buildFrame,
  checksumsValid,
  frameAddresses,
  TCP_FLAGS,
  type FrameProtocol,
  type FrameSpec,
} from './frames.js';
import { mdTable, notCompleted } from '../support/markdown.js';

export interface LbProgramSettings {
  rounds: number;
  repeat: number;
  /** CPU bpftool runs on; undefined: wherever the scheduler puts it. */
  cpu: number | undefined;
}

function settingsFromEnv(): LbProgramSettings {
  const int = (name: string, fallback: number): number => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${raw}: not a count`);
    return value;
  };
  const cpuRaw = process.env.LB_PROGRAM_CPU;
  let cpu: number | undefined = availableParallelism() - 1;
  if (cpuRaw === 'none') cpu = undefined;
  else if (cpuRaw !== undefined && cpuRaw !== '') cpu = int('LB_PROGRAM_CPU', 0);
  return { rounds: int('LB_PROGRAM_ROUNDS', 7), repeat: int('LB_PROGRAM_REPEAT', 2_000_000), cpu };
}

// ---- the Service and the frames --------------------------------------------------------------

const ADDR = {
  vip: '10.96.0.10',
  /** A second Service with the same backend: a flow to it from the port of one to `vip` is moved. */
  vipAlias: '10.96.0.11',
  client: '10.0.0.10',
  backend: '10.0.0.20',
  /** A pod that is no backend of anything. */
  otherPod: '10.0.0.21',
  /**
   * A third Service, whose only backend is `directBackend`: a direct connection to that backend
   * from the port of a flow to the Service is moved. Apart from `vip`'s backend, so that the
   * direct gate bit it sets leaves the not-a-Service paths (to `backend`) as they were.
   */
  vipDirect: '10.96.0.12',
  directBackend: '10.0.0.22',
} as const;
/** The most common Service shape: port 80 to a container's 8080, so the port is rewritten too. */
const SERVICE_PORT = 80;
const TARGET_PORT = 8080;
const CLIENT_PORT = 40000;
/** The client port of the flow to `vipDirect` and of the direct connection it makes clash. */
const DIRECT_CLIENT_PORT = 40001;
/**
 * The client port of traffic straight to a backend's pod IP: one no flow holds. From CLIENT_PORT a
 * UDP datagram to the backend would clash with the Service flow, and be moved.
 */
const UNHELD_CLIENT_PORT = 40002;

function benchFrontends(
  ip: string,
  name: string,
  backend: string = ADDR.backend,
): DesiredFrontend[] {
  return (['TCP', 'UDP'] as const).map((protocol) => ({
    address: { ip, port: SERVICE_PORT, protocol },
    service: { namespace: 'default', name, portName: protocol.toLowerCase() },
    external: false,
    affinityTimeoutSeconds: 0,
    ready: [backendKeyOf({ ip: backend, port: TARGET_PORT })],
    draining: [],
  }));
}

type Program = 'bench_empty' | 'bench_floor' | 'bench_egress' | 'bench_ingress';
/** bench_frame.vary (harness.bpf.c): 1 a new client port and address per run, 2 a new port. */
type Vary = 0 | 1 | 2;

interface PathSpec {
  id: string;
  label: string;
  program: Program;
  frame: FrameSpec;
  vary: Vary;
  /** Fraction of settings.repeat: a new flow costs ten times an established packet. */
  repeatShare: number;
  /**
   * What the program must have done to the frame, checked before timing. `port-moved`: the
   * source port is `movedPort` and nothing else changed; `port-restored`: the destination port is
   * the client's own (DIRECT_CLIENT_PORT) and nothing else changed.
   */
  expect:
    | 'translated-to-backend'
    | 'translated-to-frontend'
    | 'port-moved'
    | 'port-restored'
    | 'untouched'
    | 'none';
  /** New flows counted on the frontend per run: 0 for an established packet, 1 for a new one. */
  newFlowsPerRun?: 0 | 1;
  /** The frontend the path's flow is to, when not ADDR.vip. */
  vip?: string;
  /** The client port on the wire, when the flow's was moved (struct tw_moved_port). */
  movedPort?: number;
}

/**
 * `moved.flow`: the port on the wire of the flow from CLIENT_PORT to ADDR.vipAlias;
 * `moved.direct`: that of the direct TCP connection from DIRECT_CLIENT_PORT (openFlows).
 */
function pathsFor(protocol: FrameProtocol, moved: MovedPorts): PathSpec[] {
  const movedPort = moved.flow;
  const tcp = protocol === 'TCP';
  const toService = (tcpFlags?: number): FrameSpec => ({
    protocol,
    src: ADDR.client,
    dst: ADDR.vip,
    sport: CLIENT_PORT,
    dport: SERVICE_PORT,
    tcpFlags,
  });
  const fromBackend: FrameSpec = {
    protocol,
    src: ADDR.backend,
    dst: ADDR.client,
    sport: TARGET_PORT,
    dport: CLIENT_PORT,
  };
  const paths: PathSpec[] = [
    {
      id: 'empty',
      label: 'an empty program (the test run alone)',
      program: 'bench_empty',
      frame: toService(),
      vary: 0,
      repeatShare: 1,
      expect: 'none',
    },
    {
      id: 'floor',
      label: 'baseline: the frame restored, nothing else',
      program: 'bench_floor',
      frame: toService(),
      vary: 0,
      repeatShare: 1,
      expect: 'untouched',
    },
    {
      id: 'egressEstablished',
      label: 'egress to the ClusterIP, established flow',
      program: 'bench_egress',
      frame: toService(),
      vary: 0,
      repeatShare: 1,
      expect: 'translated-to-backend',
      newFlowsPerRun: 0,
    },
    {
      id: 'ingressEstablished',
      label: "ingress, the backend's reply",
      program: 'bench_ingress',
      frame: fromBackend,
      vary: 0,
      repeatShare: 1,
      expect: 'translated-to-frontend',
      newFlowsPerRun: 0,
    },
    {
      id: 'egressMoved',
      label: 'egress, established flow whose client port was moved',
      program: 'bench_egress',
      frame: { ...toService(), dst: ADDR.vipAlias },
      vary: 0,
      repeatShare: 1,
      expect: 'translated-to-backend',
      newFlowsPerRun: 0,
      vip: ADDR.vipAlias,
      movedPort,
    },
    {
      id: 'ingressMoved',
      label: "ingress, the backend's reply to a moved port",
      program: 'bench_ingress',
      frame: { ...fromBackend, dport: movedPort },
      vary: 0,
      repeatShare: 1,
      expect: 'translated-to-frontend',
      newFlowsPerRun: 0,
      vip: ADDR.vipAlias,
      movedPort,
    },
    {
      id: 'egressOther',
      label: "egress not to a Service (a backend's pod IP)",
      program: 'bench_egress',
      frame: {
        ...toService(),
        sport: UNHELD_CLIENT_PORT,
        dst: ADDR.backend,
        dport: TARGET_PORT,
      },
      vary: 0,
      repeatShare: 1,
      expect: 'untouched',
    },
    {
      id: 'ingressOther',
      label: 'ingress not from a backend',
      program: 'bench_ingress',
      frame: { ...fromBackend, src: ADDR.otherPod },
      vary: 0,
      repeatShare: 1,
      expect: 'untouched',
    },
    {
      id: 'newFlow',
      label: tcp
        ? 'egress, a new connection (SYN; the flow table fills and evicts)'
        : 'egress, a new flow (the flow table fills and evicts)',
      program: 'bench_egress',
      frame: toService(tcp ? TCP_FLAGS.syn : undefined),
      vary: 1,
      repeatShare: 0.25,
      expect: 'translated-to-backend',
      newFlowsPerRun: 1,
    },
  ];
  if (moved.direct !== undefined) {
    paths.push(
      {
        id: 'egressDirect',
        label: 'egress, direct connection whose client port was moved (not to a Service)',
        program: 'bench_egress',
        frame: {
          ...toService(TCP_FLAGS.ack),
          sport: DIRECT_CLIENT_PORT,
          dst: ADDR.directBackend,
          dport: TARGET_PORT,
        },
        vary: 0,
        repeatShare: 1,
        expect: 'port-moved',
        movedPort: moved.direct,
      },
      {
        id: 'ingressDirect',
        label: "ingress, the backend's reply to a direct connection's moved port",
        program: 'bench_ingress',
        frame: {
          ...fromBackend,
          src: ADDR.directBackend,
          dport: moved.direct,
          tcpFlags: TCP_FLAGS.ack,
        },
        vary: 0,
        repeatShare: 1,
        expect: 'port-restored',
        movedPort: moved.direct,
      },
    );
  }
  if (tcp) {
    // SYN and FIN in one frame: each run leaves its flow closing, as a finished connection's is,
    // for the run that comes back to the port 32,768 runs later. That run restarts the flow in
    // place, the path a busy client reusing ports takes.
    paths.push({
      id: 'reusedPort',
      label: 'egress, a new connection on the port of a closed one',
      program: 'bench_egress',
      frame: toService(TCP_FLAGS.syn | TCP_FLAGS.fin),
      vary: 2,
      repeatShare: 0.25,
      expect: 'translated-to-backend',
      newFlowsPerRun: 1,
    });
  }
  return paths;
}

// ---- the harness -----------------------------------------------------------------------------

const FRAME_SPAN = 64; // BENCH_FRAME_MAX in harness.bpf.c
const FRAME_VALUE_SIZE = FRAME_SPAN + 16;
/** BENCH_PORTS + 1 in harness.bpf.c: the client ports `vary` cycles through. */
const REUSED_PORTS = 0x8000;

interface Harness {
  dir: string;
  pinDir: string;
  programs: Record<Program, string>;
  maps: LbMaps;
  frameMap: NativeBpfMap;
  reconciler: LbReconciler;
  build: string;
  clock: string;
  clang: string;
  bpftool: string;
}

/** harness.bpf.c built as scripts/build-bpf.sh builds lb.c, for the build terwayd picks here. */
function buildHarness(dir: string, kfunc: boolean): string {
  const out = join(dir, 'harness.o');
  compileBpf(join(REPO_ROOT, 'bench/lb-program/harness.bpf.c'), out, [
    `-I${join(REPO_ROOT, 'bpf')}`,
    ...(kfunc ? ['-DTW_KERN_CTX'] : []),
  ]);
  return out;
}

async function startHarness(): Promise<Harness> {
  const dir = makeTempDir('tn-lbprog-');
  const pinDir = `/sys/fs/bpf/terway-bench-${process.pid}-lbprog`;
  const unregister = onCleanup(() => removeDir(pinDir));
  const lbObject = join(REPO_ROOT, 'dist/bpf/lb.o');
  if (!existsSync(lbObject)) throw new Error(`${lbObject} is missing: run npm run build`);
  const plan = planLbLoad(lbObject, SYSTEM_LB_OBJECT_PROBES);
  const object = buildHarness(dir, plan.build === 'kfunc');
  ensureBpffs(pinDir); // as terwayd does: a fresh host may have none mounted
  const loaded = loadObject(object, pinDir, plan.constants);
  const program = (name: Program): string => {
    const path = loaded.programs[name];
    if (path === undefined) throw new Error(`${object} has no program ${name}`);
    return path;
  };
  const maps = openLbMaps(pinDir, (path) => NativeBpfMap.openPinned(path));
  const reconciler = new LbReconciler({
    maps,
    logger: createLogger({ level: 'silent', name: 'bench-lb-program' }),
  });
  reconciler.replaceService('default/bench', benchFrontends(ADDR.vip, 'bench'));
  reconciler.replaceService('default/bench-alias', benchFrontends(ADDR.vipAlias, 'bench-alias'));
  reconciler.replaceService(
    'default/bench-direct',
    benchFrontends(ADDR.vipDirect, 'bench-direct', ADDR.directBackend),
  );
  reconciler.markSynced();
  await reconciler.whenIdle();
  unregister();
  return {
    dir,
    pinDir,
    programs: {
      bench_empty: program('bench_empty'),
      bench_floor: program('bench_floor'),
      bench_egress: program('bench_egress'),
      bench_ingress: program('bench_ingress'),
    },
    maps,
    frameMap: NativeBpfMap.openPinned(join(pinDir, 'bench_frame_v1')),
    reconciler,
    build: `${plan.build === 'kfunc' ? 'lb.o' : 'lb-compat.o'}'s build (${plan.buildReason})`,
    clock: plan.clock,
    clang: commandOutput('clang', ['--version']).split('\n')[0]?.trim() ?? 'clang',
    bpftool: commandOutput('bpftool', ['version']).split('\n')[0]?.trim() ?? 'bpftool',
  };
}

function stopHarness(h: Harness): void {
  h.reconciler.stop();
  closeLbMaps(h.maps);
  h.frameMap.close();
  removeDir(h.pinDir);
  removeDir(h.dir);
}

/** The frame the harness restores; its `counter` is kept, so varied runs never repeat a flow. */
function setFrame(h: Harness, frame: Buffer, vary: Vary): void {
  const key = Buffer.alloc(4);
  const value = h.frameMap.lookup(key) ?? Buffer.alloc(FRAME_VALUE_SIZE);
  frame.copy(value, 0, 0, FRAME_SPAN);
  value.writeUInt32LE(FRAME_SPAN, FRAME_SPAN);
  value.writeUInt32LE(vary, FRAME_SPAN + 4);
  h.frameMap.updateBatch(key, value, 1);
}

interface TestRun {
  retval: number;
  nsPerRun: number;
  out: Buffer;
}

/** `bpftool prog run`: the program `repeat` times over `frame`; the kernel's average per run. */
function testRun(
  h: Harness,
  program: Program,
  frame: Buffer,
  repeat: number,
  cpu?: number,
): TestRun {
  const input = join(h.dir, 'frame.in');
  const output = join(h.dir, 'frame.out');
  writeFileSync(input, frame);
  const args = [
    'prog',
    'run',
    'pinned',
    h.programs[program],
    'data_in',
    input,
    'data_out',
    output,
    'repeat',
    String(repeat),
  ];
  const text =
    cpu === undefined
      ? commandOutput('bpftool', args)
      : commandOutput('taskset', ['-c', String(cpu), 'bpftool', ...args]);
  const match = /Return value: (\d+), duration(?: \(average\))?: (\d+)ns/.exec(text);
  if (match === null) throw new Error(`bpftool prog run printed no duration: ${text}`);
  return { retval: Number(match[1]), nsPerRun: Number(match[2]), out: readFileSync(output) };
}

function frontendCounters(
  h: Harness,
  protocol: FrameProtocol,
  vip: string,
): { packets: bigint; flows: bigint } {
  const key = encode(FRONTEND_KEY, {
    addr: parseIPv4(vip) ?? 0,
    port: SERVICE_PORT,
    proto: protocol === 'TCP' ? 6 : 17,
  });
  const fe = h.maps.frontend.lookup(key);
  if (fe === undefined) throw new Error(`the reconciler did not program ${protocol} ${vip}`);
  const index = Buffer.alloc(4);
  index.writeUInt32LE(decode(FRONTEND, fe).id);
  const raw = h.maps.frontendStats.lookup(index);
  if (raw === undefined) throw new Error('no counters for the frontend');
  const counters = decode(COUNTERS, raw);
  return { packets: counters.packets, flows: counters.flows };
}

/** Runs the path a thousand times and checks what it did; throws when it is not that path. */
function checkPath(h: Harness, spec: PathSpec, frame: Buffer): string {
  const runs = 1000;
  const vip = spec.vip ?? ADDR.vip;
  const before = frontendCounters(h, spec.frame.protocol, vip);
  setFrame(h, frame, spec.vary);
  const run = testRun(h, spec.program, frame, runs);
  const after = frontendCounters(h, spec.frame.protocol, vip);
  const where = `${spec.frame.protocol} ${spec.label}`;
  if (run.retval !== 0) throw new Error(`${where}: returned ${run.retval}, not TC_ACT_OK`);
  const got = frameAddresses(run.out);
  const sent = frameAddresses(frame);
  const translated = (expected: Partial<typeof got>): void => {
    for (const [field, value] of Object.entries(expected)) {
      if (got[field as keyof typeof got] !== value)
        throw new Error(`${where}: ${field} is ${got[field as keyof typeof got]}, not ${value}`);
    }
    // A varied frame's checksums were stale before the LB saw it: the harness changes the client's
    // port and address without them. The fixed frames prove the rewrite's checksums.
    if (spec.vary === 0 && !checksumsValid(run.out))
      throw new Error(`${where}: a checksum does not verify`);
  };
  switch (spec.expect) {
    case 'translated-to-backend':
      translated({
        dst: ADDR.backend,
        dport: TARGET_PORT,
        ...(spec.vary === 0 ? { src: sent.src, sport: spec.movedPort ?? sent.sport } : {}),
      });
      break;
    case 'translated-to-frontend':
      translated({
        src: vip,
        sport: SERVICE_PORT,
        dst: sent.dst,
        dport: spec.movedPort === undefined ? sent.dport : CLIENT_PORT,
      });
      break;
    case 'port-moved':
      translated({ ...sent, sport: spec.movedPort });
      break;
    case 'port-restored':
      translated({ ...sent, dport: DIRECT_CLIENT_PORT });
      break;
    case 'untouched':
      if (!run.out.equals(frame)) throw new Error(`${where}: the frame was changed`);
      break;
    case 'none':
      break;
  }
  if (spec.newFlowsPerRun !== undefined) {
    const flows = after.flows - before.flows;
    const packets = after.packets - before.packets;
    if (
      process.env.NOCHECK === undefined &&
      (flows !== BigInt(spec.newFlowsPerRun * runs) || packets !== BigInt(runs))
    )
      throw new Error(
        `${where}: ${runs} runs counted ${flows} new flows and ${packets} packets on the frontend, ` +
          `not ${spec.newFlowsPerRun * runs} and ${runs}: the program took another path`,
      );
  }
  const rewritten = spec.expect.startsWith('translated') || spec.expect.startsWith('port');
  return `${where}: ${spec.expect === 'none' ? 'ran' : spec.expect}${
    rewritten && spec.vary === 0 ? ', checksums valid' : ''
  }${spec.newFlowsPerRun === undefined ? '' : `, ${spec.newFlowsPerRun * runs} new flows counted`}`;
}

interface MovedPorts {
  flow: number;
  /** TCP only: direct connections are moved only for TCP. */
  direct: number | undefined;
}

/**
 * The flows the established paths run on, each opened by the client and answered by the backend:
 * one from CLIENT_PORT to ADDR.vip, then one from the same port to ADDR.vipAlias, whose port
 * towards the backend the first holds, so the programs move it. For TCP, also one from
 * DIRECT_CLIENT_PORT to ADDR.vipDirect, then a direct connection from that port to its backend,
 * which the programs move the same way. Returns the moved ports.
 */
function openFlows(h: Harness, protocol: FrameProtocol): MovedPorts {
  const tcp = protocol === 'TCP';
  const proto = tcp ? 6 : 17;
  const send = (program: Program, spec: FrameSpec): void => {
    const frame = buildFrame(spec);
    setFrame(h, frame, 0);
    testRun(h, program, frame, 1);
  };
  const open = (dst: string, dport: number, sport = CLIENT_PORT): void =>
    send('bench_egress', {
      protocol,
      src: ADDR.client,
      dst,
      sport,
      dport,
      tcpFlags: tcp ? TCP_FLAGS.syn : undefined,
    });
  const answer = (clientPort: number, backend: string = ADDR.backend): void =>
    send('bench_ingress', {
      protocol,
      src: backend,
      dst: ADDR.client,
      sport: TARGET_PORT,
      dport: clientPort,
      tcpFlags: tcp ? TCP_FLAGS.syn | TCP_FLAGS.ack : undefined,
    });
  const movedPortOf = (frontend: string, frontendPort: number, clientPort: number): number => {
    const key = encode(FLOW_KEY, {
      clientAddr: parseIPv4(ADDR.client) ?? 0,
      frontendAddr: parseIPv4(frontend) ?? 0,
      clientPort,
      frontendPort,
      proto,
    });
    const moved = h.maps.movedPorts.lookup(key);
    if (moved === undefined)
      throw new Error(`${protocol}: the flow to ${frontend} was not moved off its held port`);
    return decode(MOVED_PORT, moved).clientPort;
  };
  open(ADDR.vip, SERVICE_PORT);
  answer(CLIENT_PORT);
  open(ADDR.vipAlias, SERVICE_PORT);
  const flow = movedPortOf(ADDR.vipAlias, SERVICE_PORT, CLIENT_PORT);
  answer(flow);
  if (!tcp) return { flow, direct: undefined };
  open(ADDR.vipDirect, SERVICE_PORT, DIRECT_CLIENT_PORT);
  answer(DIRECT_CLIENT_PORT, ADDR.directBackend);
  open(ADDR.directBackend, TARGET_PORT, DIRECT_CLIENT_PORT);
  const direct = movedPortOf(ADDR.directBackend, TARGET_PORT, DIRECT_CLIENT_PORT);
  answer(direct, ADDR.directBackend);
  return { flow, direct };
}

// ---- the benchmark ---------------------------------------------------------------------------

export interface PathFigures {
  id: string;
  protocol: FrameProtocol;
  label: string;
  /** ns per run, one per round. */
  rounds: number[];
  medianNs: number;
  /** The path's median minus the floor's: the LB's own code. */
  lbNs: number;
  /** Median of the per-round path / floor. */
  overFloor: number;
}

export interface LbProgramResult {
  settings: LbProgramSettings;
  build: string;
  clock: string;
  clang: string;
  bpftool: string;
  kernel: string;
  checks: string[];
  paths: PathFigures[];
  /** LB code of an established round trip (egress + ingress), per protocol. */
  roundTripNs: Record<FrameProtocol, number>;
  /** LB code a packet that is not for a Service pays, both ways, per protocol. */
  otherRoundTripNs: Record<FrameProtocol, number>;
  /** LB code of an established round trip of a flow whose client port was moved. */
  movedRoundTripNs: Record<FrameProtocol, number>;
  /** LB code of an established round trip of a direct TCP connection whose port was moved. */
  directRoundTripNs: number;
  seconds: number;
}

export async function runLbProgramBench(
  log: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  settings: LbProgramSettings = settingsFromEnv(),
): Promise<LbProgramResult> {
  const began = Date.now();
  const h = await startHarness();
  try {
    log(`harness: ${h.build}, clock ${h.clock}`);
    const specs = (['TCP', 'UDP'] as const).flatMap((protocol) => {
      const moved = openFlows(h, protocol);
      return pathsFor(protocol, moved).map((spec) => ({ spec, frame: buildFrame(spec.frame) }));
    });
    const checks = specs.map(({ spec, frame }) => checkPath(h, spec, frame));
    for (const check of checks) log(`  ${check}`);

    // Every port the reused-port path cycles through gets its closed flow first, so that no
    // timed run of it opens a flow the table has never held.
    for (const { spec, frame } of specs) {
      if (spec.vary !== 2) continue;
      setFrame(h, frame, spec.vary);
      testRun(h, spec.program, frame, 2 * REUSED_PORTS);
    }

    const samples = new Map<string, number[]>();
    const keyOf = (spec: PathSpec): string => `${spec.frame.protocol} ${spec.id}`;
    for (let round = 1; round <= settings.rounds; round++) {
      // Rotated each round, so drift on the host hits every path alike.
      const order = specs.map((_, i) => specs[(i + round) % specs.length]);
      for (const entry of order) {
        if (entry === undefined) continue;
        const { spec, frame } = entry;
        setFrame(h, frame, spec.vary);
        const repeat = Math.max(1000, Math.round(settings.repeat * spec.repeatShare));
        const run = testRun(h, spec.program, frame, repeat, settings.cpu);
        const list = samples.get(keyOf(spec)) ?? [];
        list.push(run.nsPerRun);
        samples.set(keyOf(spec), list);
      }
      log(`  round ${round}/${settings.rounds} done`);
    }

    const paths: PathFigures[] = specs.map(({ spec }) => {
      const rounds = samples.get(keyOf(spec)) ?? [];
      const floor = samples.get(`${spec.frame.protocol} floor`) ?? [];
      const medianNs = median(rounds);
      return {
        id: spec.id,
        protocol: spec.frame.protocol,
        label: spec.label,
        rounds,
        medianNs,
        lbNs: medianNs - median(floor),
        overFloor: medianRatio(rounds, floor),
      };
    });
    const lb = (protocol: FrameProtocol, id: string): number =>
      paths.find((p) => p.protocol === protocol && p.id === id)?.lbNs ?? Number.NaN;
    const both = (a: string, b: string): Record<FrameProtocol, number> => ({
      TCP: lb('TCP', a) + lb('TCP', b),
      UDP: lb('UDP', a) + lb('UDP', b),
    });
    return {
      settings,
      build: h.build,
      clock: h.clock,
      clang: h.clang,
      bpftool: h.bpftool,
      kernel: release(),
      checks,
      paths,
      roundTripNs: both('egressEstablished', 'ingressEstablished'),
      otherRoundTripNs: both('egressOther', 'ingressOther'),
      movedRoundTripNs: both('egressMoved', 'ingressMoved'),
      directRoundTripNs: lb('TCP', 'egressDirect') + lb('TCP', 'ingressDirect'),
      seconds: (Date.now() - began) / 1000,
    };
  } finally {
    stopHarness(h);
  }
}

// ---- reports ---------------------------------------------------------------------------------

const ns = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)} ns` : 'n/a');

function pathRows(r: LbProgramResult): string[][] {
  return r.paths.map((p) => [
    `${p.protocol}: ${p.label}`,
    ns(p.medianNs),
    p.id === 'empty' || p.id === 'floor' ? '—' : ns(p.lbNs),
    p.id === 'floor' ? '—' : ratio(p.overFloor),
  ]);
}

const HEADER = ['Path', 'per run (median)', 'LB code (run − baseline)', 'run / baseline'];

export function printLbProgram(r: LbProgramResult): void {
  const table = new Table({ head: HEADER, style: { head: [], border: [] } });
  table.push(...pathRows(r));
  process.stdout.write(`${table.toString()}\n`);
  process.stdout.write(
    `LB code per established round trip: TCP ${ns(r.roundTripNs.TCP)}, UDP ${ns(r.roundTripNs.UDP)}; ` +
      `per round trip not for a Service: TCP ${ns(r.otherRoundTripNs.TCP)}, UDP ${ns(r.otherRoundTripNs.UDP)}; ` +
      `per established round trip of a moved client port: TCP ${ns(r.movedRoundTripNs.TCP)}, UDP ${ns(r.movedRoundTripNs.UDP)}; ` +
      `per round trip of a direct TCP connection moved off a held port: ${ns(r.directRoundTripNs)}\n`,
  );
}

export function lbProgramSection(
  result: LbProgramResult | undefined,
  error: string | undefined,
): string {
  const title = '## 9. Service LB programs, one path at a time (BPF_PROG_TEST_RUN)';
  if (result === undefined) return notCompleted(title, error);
  const r = result;
  const s = r.settings;
  const intro =
    `What each kind of packet costs in the LB's own code, without the rest of the stack: ` +
    `\`bench/lb-program/harness.bpf.c\` includes \`bpf/lb.c\` (${r.build}; ${r.clang}) and wraps ` +
    `its egress and ingress code in programs that first restore the frame (the LB rewrites it in ` +
    `place, and the kernel's test run hands every repetition the same buffer). Loaded with ` +
    `terwayd's clock constants (${r.clock}); the Service (TCP and UDP, ClusterIP port ` +
    `${SERVICE_PORT} → one backend's ${TARGET_PORT}) programmed through the real ` +
    `\`LbReconciler\`, with a second Service (${ADDR.vipAlias}) of the same backend: the flow to it ` +
    `from the client port of the first's is moved (its port towards the backend is held), and the ` +
    `"moved" paths run on it; and a third (${ADDR.vipDirect}) with a backend of its own ` +
    `(${ADDR.directBackend}), from whose flow's client port a direct TCP connection to that ` +
    `backend is made, and moved: the "direct connection" paths run on it. Each figure is the kernel's own average over \`${r.bpftool} prog run ... ` +
    `repeat ${s.repeat.toLocaleString('en-US')}\` (new connections: a quarter of that), ` +
    `${s.cpu === undefined ? 'on any CPU' : `bound to CPU ${s.cpu}`}; ${s.rounds} rounds in ` +
    `rotating order, medians. **Baseline**, in the same run: the same restore with no LB code ` +
    `(\`bench_floor\`); "LB code" is a path's median minus the baseline's, and the ratio is the ` +
    `median of per-round path / baseline. Frames: 64 bytes of payload, valid checksums, checksum ` +
    `state CHECKSUM_NONE (the test run's), so translated packets take the full-checksum rewrite. ` +
    `Kernel ${r.kernel}. The benchmark took ${Math.round(r.seconds)} s.`;
  const summary = mdTable(
    ['Figure', 'LB code', 'Baseline (restore only)', 'Ratio'],
    (['TCP', 'UDP'] as const).map((protocol) => {
      const floor = r.paths.find((p) => p.protocol === protocol && p.id === 'floor');
      const egress = r.paths.find((p) => p.protocol === protocol && p.id === 'egressEstablished');
      const ingress = r.paths.find((p) => p.protocol === protocol && p.id === 'ingressEstablished');
      const floorNs = floor?.medianNs ?? Number.NaN;
      return [
        `${protocol} established round trip (egress + ingress)`,
        `**${ns(r.roundTripNs[protocol])}** (not for a Service: ${ns(r.otherRoundTripNs[protocol])}; ` +
          `a moved client port: ${ns(r.movedRoundTripNs[protocol])}` +
          `${protocol === 'TCP' ? `; a direct connection moved off a held port: ${ns(r.directRoundTripNs)}` : ''})`,
        `${ns(2 * floorNs)} (two runs)`,
        ratio(
          ((egress?.medianNs ?? Number.NaN) + (ingress?.medianNs ?? Number.NaN)) / (2 * floorNs),
        ),
      ];
    }),
  );
  const perRound = mdTable(
    ['Path', ...r.paths[0]!.rounds.map((_, i) => `round ${i + 1}`)],
    r.paths.map((p) => [`${p.protocol}: ${p.label}`, ...p.rounds.map((v) => `${v}`)]),
  );
  return [
    title,
    '',
    intro,
    '',
    summary,
    '',
    mdTable(HEADER, pathRows(r)),
    '',
    `Checked before timing (1,000 runs each): ${r.checks.join('; ')}.`,
    '',
    'Per round (ns per run):',
    '',
    perRound,
  ].join('\n');
}

export function lbProgramSummaryRows(r: LbProgramResult | undefined): string[][] {
  if (r === undefined) return [['LB program per path', 'FAILED', '', '', '']];
  const floor = r.paths.find((p) => p.protocol === 'TCP' && p.id === 'floor')?.medianNs;
  return [
    [
      'LB code, TCP established round trip',
      ns(r.roundTripNs.TCP),
      `restore-only program ${ns(floor ?? Number.NaN)}/run`,
      ratio(r.roundTripNs.TCP / (floor ?? Number.NaN)),
      '—',
    ],
  ];
}

// Standalone: node dist/bench/lb-program/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printLbProgram(await runLbProgramBench());
}
