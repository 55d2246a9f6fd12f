// Benchmark 1: AllocateIP + ReleaseIP over gRPC on terwayd's unix socket, 32 workers at once,
// against a trivial echo service driven by the same harness in the same run. The two alternate
// for a few rounds so a slow spell on the machine hits both sides, not just one.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { AllocateIPReply__Output } from '../../src/rpc/generated/terway/v1/AllocateIPReply.js';
import type { BackendClient } from '../../src/rpc/generated/terway/v1/Backend.js';
import type { ReleaseIPReply__Output } from '../../src/rpc/generated/terway/v1/ReleaseIPReply.js';
import { terwayProto } from '../../src/rpc/proto.js';
import { makeTempDir, removeDir, stopChild, trackChild } from '../support/cleanup.js';
import { processCpuMs, selfCpuMs } from '../support/cpu.js';
import { BenchDaemon, memoryCloudConfig } from '../support/daemon.js';
import { BUILT, requireFile } from '../support/paths.js';
import type { LatencySummary } from '../support/stats.js';
import { median, ms, rate, ratio } from '../support/stats.js';
import type { Target } from '../support/stats.js';
import type { EchoClient, EchoMessage } from './echo-proto.js';
import { echoProto } from './echo-proto.js';
import type { LoadOptions, LoadResult } from './load.js';
import { runLoad } from './load.js';

export const ALLOCATE_SETTINGS = {
  concurrency: 32,
  /** Each round measures echo, then terwayd; figures are medians over the rounds. */
  rounds: 3,
  warmupMs: 1_000,
  measureMs: 5_000,
  minPoolSize: 64,
  maxPoolSize: 128,
  callDeadlineMs: 10_000,
} as const;

export const TARGETS = {
  /** allocate p50 may be at most this many times the echo p50. */
  p50Ratio: 2,
  allocationsPerSecond: 2_000,
} as const;

export interface CpuShare {
  /** Server process CPU in the window, % of one core. */
  serverPct: number;
  /** Load-generator (this process) CPU in the window, % of one core. */
  clientPct: number;
}

export interface EchoFigures {
  call: LatencySummary;
  callsPerSecond: number;
  pairsPerSecond: number;
  cpu: CpuShare;
}

export interface TerwayFigures {
  allocate: LatencySummary;
  release: LatencySummary;
  allocationsPerSecond: number;
  rpcsPerSecond: number;
  cpu: CpuShare;
}

export interface Ratios {
  /** allocate p50 / echo p50. */
  p50: number;
  /** allocate p99 / echo p99. */
  p99: number;
  /** allocations/s / echo pairs/s (both: iterations of two calls). */
  pairThroughput: number;
  /** (AllocateIP + ReleaseIP)/s / echo calls/s. */
  rpcThroughput: number;
}

export interface Round {
  echo: EchoFigures;
  terway: TerwayFigures;
  ratios: Ratios;
}

export interface AllocateBenchResult {
  settings: typeof ALLOCATE_SETTINGS;
  rounds: Round[];
  /** Medians over the rounds, figure by figure. */
  echo: EchoFigures;
  terway: TerwayFigures;
  /** Medians of the per-round ratios (each round's echo and terwayd ran back to back). */
  ratios: Ratios;
  targets: Target[];
  /** After the run: every allocation was released again. */
  inUseAfter: number;
  recordsAfter: number;
}

const LOAD_LIMITS = { maxIterationsPerWorker: 50_000, maxErrors: 50 } as const;

/** Measures this process's and the server's CPU over the load's measurement window. */
export function cpuProbe(serverPid: number | undefined): {
  hooks: Pick<LoadOptions, 'onWindowStart' | 'onWindowEnd'>;
  share: (windowMs: number) => CpuShare;
} {
  const at = { server0: Number.NaN, self0: Number.NaN, server1: Number.NaN, self1: Number.NaN };
  return {
    hooks: {
      onWindowStart: () => {
        at.server0 = processCpuMs(serverPid);
        at.self0 = selfCpuMs();
      },
      onWindowEnd: () => {
        at.server1 = processCpuMs(serverPid);
        at.self1 = selfCpuMs();
      },
    },
    share: (windowMs) => ({
      serverPct: ((at.server1 - at.server0) * 100) / windowMs,
      clientPct: ((at.self1 - at.self0) * 100) / windowMs,
    }),
  };
}

export function requireClean(result: LoadResult, what: string): void {
  if (result.errors > 0) {
    throw new Error(`${what}: ${result.errors} iterations failed, first: ${result.firstError}`);
  }
}

export function step(result: LoadResult, name: string): LoadResult['steps'][string] {
  const figures = result.steps[name];
  if (figures === undefined) throw new Error(`no ${name} calls were measured`);
  return figures;
}

function unary<Reply>(
  start: (options: grpc.CallOptions, callback: grpc.requestCallback<Reply>) => void,
): Promise<Reply> {
  return new Promise((resolve, reject) =>
    start({ deadline: Date.now() + ALLOCATE_SETTINGS.callDeadlineMs }, (error, reply) =>
      error !== null || reply === undefined
        ? reject(error ?? new Error('empty reply'))
        : resolve(reply),
    ),
  );
}

async function startEchoServer(socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [requireFile(BUILT.echoServer), socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  trackChild(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server not ready in 10 s')), 10_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited (${code}) before it was ready`));
    });
  });
  return child;
}

/** Baseline: the same harness, two echo calls per iteration (the shape of allocate + release). */
async function loadEcho(echo: EchoClient, serverPid: number | undefined): Promise<EchoFigures> {
  const probe = cpuProbe(serverPid);
  const call = (message: EchoMessage): Promise<EchoMessage> =>
    unary<EchoMessage>((options, callback) => echo.Echo(message, options, callback));
  const result = await runLoad({
    ...ALLOCATE_SETTINGS,
    ...LOAD_LIMITS,
    ...probe.hooks,
    iteration: async (worker, n, timed) => {
      const message = { namespace: 'bench', name: `bench-w${worker}-${n}`, containerId: `c${n}` };
      await timed('echo', () => call(message));
      await timed('echo', () => call(message));
    },
  });
  requireClean(result, 'echo');
  const figures = step(result, 'echo');
  return {
    call: figures.latency,
    callsPerSecond: figures.perSecond,
    pairsPerSecond: figures.perSecond / 2,
    cpu: probe.share(result.windowMs),
  };
}

/**
 * One load iteration against terwayd: AllocateIP for a fresh pod sandbox (`run` keeps sandboxes
 * of separate loads apart), then ReleaseIP of it, each timed; a reply that did not do its job
 * fails the iteration.
 */
export function allocateReleaseIteration(
  backend: BackendClient,
  run: string,
): LoadOptions['iteration'] {
  return async (worker, n, timed) => {
    const name = `bench-w${worker}-${n}`;
    const pod = { namespace: 'bench', name, containerId: `${run}-w${worker}-${n}` };
    const allocated = await timed('allocate', () =>
      unary<AllocateIPReply__Output>((options, callback) =>
        backend.AllocateIP(
          { pod, netns: `/var/run/netns/cni-${pod.containerId}`, ifname: 'eth0' },
          options,
          callback,
        ),
      ),
    );
    if (allocated.network === null || allocated.network.ip === '' || allocated.reused) {
      throw new Error(`AllocateIP for ${name} returned no fresh IP`);
    }
    const released = await timed('release', () =>
      unary<ReleaseIPReply__Output>((options, callback) =>
        backend.ReleaseIP({ pod, ifname: 'eth0' }, options, callback),
      ),
    );
    if (!released.released) throw new Error(`ReleaseIP for ${name} released nothing`);
  };
}

/** Each iteration: AllocateIP for a fresh pod sandbox, then ReleaseIP of it. */
async function loadTerway(
  backend: BackendClient,
  daemonPid: number | undefined,
  run: string,
): Promise<TerwayFigures> {
  const probe = cpuProbe(daemonPid);
  const result = await runLoad({
    ...ALLOCATE_SETTINGS,
    ...LOAD_LIMITS,
    ...probe.hooks,
    iteration: allocateReleaseIteration(backend, run),
  });
  requireClean(result, 'terway');
  const allocate = step(result, 'allocate');
  const release = step(result, 'release');
  return {
    allocate: allocate.latency,
    release: release.latency,
    allocationsPerSecond: allocate.perSecond,
    rpcsPerSecond: allocate.perSecond + release.perSecond,
    cpu: probe.share(result.windowMs),
  };
}

/**
 * Holds `concurrency` IPs once and waits for the pool to refill to min_pool_size, so the pool
 * has grown to its steady size before the clock starts: no cloud call falls in the window.
 */
export async function primePool(
  daemon: BenchDaemon,
  backend: BackendClient,
  run: string,
): Promise<void> {
  const pods = Array.from({ length: ALLOCATE_SETTINGS.concurrency }, (_, i) => ({
    namespace: 'bench',
    name: `bench-prime-${i}`,
    containerId: `${run}-prime-${i}`,
  }));
  await Promise.all(
    pods.map((pod) =>
      unary<AllocateIPReply__Output>((options, callback) =>
        backend.AllocateIP(
          { pod, netns: '/var/run/netns/prime', ifname: 'eth0' },
          options,
          callback,
        ),
      ),
    ),
  );
  await daemon.waitForPool(
    (pool) => pool.idle >= ALLOCATE_SETTINGS.minPoolSize && pool.creating === 0,
    'refilled after priming',
  );
  await Promise.all(
    pods.map((pod) =>
      unary<ReleaseIPReply__Output>((options, callback) =>
        backend.ReleaseIP({ pod, ifname: 'eth0' }, options, callback),
      ),
    ),
  );
}

function ratiosOf(echo: EchoFigures, terway: TerwayFigures): Ratios {
  return {
    p50: terway.allocate.p50Ms / echo.call.p50Ms,
    p99: terway.allocate.p99Ms / echo.call.p99Ms,
    pairThroughput: terway.allocationsPerSecond / echo.pairsPerSecond,
    rpcThroughput: terway.rpcsPerSecond / echo.callsPerSecond,
  };
}

/** Figure-by-figure median over the rounds. */
function medianOf<T>(rounds: readonly T[], pick: (round: T) => number): number {
  return median(rounds.map(pick));
}

function latencyMedian<T>(
  rounds: readonly T[],
  pick: (round: T) => LatencySummary,
): LatencySummary {
  return {
    count: medianOf(rounds, (r) => pick(r).count),
    p50Ms: medianOf(rounds, (r) => pick(r).p50Ms),
    p99Ms: medianOf(rounds, (r) => pick(r).p99Ms),
    maxMs: medianOf(rounds, (r) => pick(r).maxMs),
  };
}

function cpuMedian<T>(rounds: readonly T[], pick: (round: T) => CpuShare): CpuShare {
  return {
    serverPct: medianOf(rounds, (r) => pick(r).serverPct),
    clientPct: medianOf(rounds, (r) => pick(r).clientPct),
  };
}

function aggregate(rounds: Round[]): Pick<AllocateBenchResult, 'echo' | 'terway' | 'ratios'> {
  return {
    echo: {
      call: latencyMedian(rounds, (r) => r.echo.call),
      callsPerSecond: medianOf(rounds, (r) => r.echo.callsPerSecond),
      pairsPerSecond: medianOf(rounds, (r) => r.echo.pairsPerSecond),
      cpu: cpuMedian(rounds, (r) => r.echo.cpu),
    },
    terway: {
      allocate: latencyMedian(rounds, (r) => r.terway.allocate),
      release: latencyMedian(rounds, (r) => r.terway.release),
      allocationsPerSecond: medianOf(rounds, (r) => r.terway.allocationsPerSecond),
      rpcsPerSecond: medianOf(rounds, (r) => r.terway.rpcsPerSecond),
      cpu: cpuMedian(rounds, (r) => r.terway.cpu),
    },
    ratios: {
      p50: medianOf(rounds, (r) => r.ratios.p50),
      p99: medianOf(rounds, (r) => r.ratios.p99),
      pairThroughput: medianOf(rounds, (r) => r.ratios.pairThroughput),
      rpcThroughput: medianOf(rounds, (r) => r.ratios.rpcThroughput),
    },
  };
}

function targetsOf(terway: TerwayFigures, ratios: Ratios): Target[] {
  return [
    {
      name: 'allocate p50 vs echo p50',
      measured: ratio(ratios.p50),
      limit: `≤ ${ratio(TARGETS.p50Ratio)}`,
      pass: ratios.p50 <= TARGETS.p50Ratio,
    },
    {
      name: `allocations/s at ${ALLOCATE_SETTINGS.concurrency} concurrent`,
      measured: rate(terway.allocationsPerSecond, '/s'),
      limit: `≥ ${rate(TARGETS.allocationsPerSecond, '/s')}`,
      pass: terway.allocationsPerSecond >= TARGETS.allocationsPerSecond,
    },
  ];
}

export async function runAllocateBench(
  onRound: (round: Round, index: number) => void = () => undefined,
): Promise<AllocateBenchResult> {
  const { minPoolSize, maxPoolSize } = ALLOCATE_SETTINGS;
  const dir = makeTempDir('tn-echo-');
  let echoServer: ChildProcess | undefined;
  let echo: EchoClient | undefined;
  let daemon: BenchDaemon | undefined;
  let backend: BackendClient | undefined;
  try {
    const echoSocket = join(dir, 'echo.sock');
    echoServer = await startEchoServer(echoSocket);
    echo = new (echoProto().Echo)(`unix://${echoSocket}`, grpc.credentials.createInsecure());
    daemon = await BenchDaemon.start(memoryCloudConfig(minPoolSize, maxPoolSize), minPoolSize);
    backend = new (terwayProto().terway.v1.Backend)(
      `unix://${daemon.socket}`,
      grpc.credentials.createInsecure(),
    );
    const run = Date.now().toString(36);
    await primePool(daemon, backend, run);

    const rounds: Round[] = [];
    for (let i = 0; i < ALLOCATE_SETTINGS.rounds; i++) {
      const echoFigures = await loadEcho(echo, echoServer.pid);
      const terwayFigures = await loadTerway(backend, daemon.pid, `${run}-r${i}`);
      const round = {
        echo: echoFigures,
        terway: terwayFigures,
        ratios: ratiosOf(echoFigures, terwayFigures),
      };
      rounds.push(round);
      onRound(round, i);
    }

    const factory = await daemon.showFactory();
    const mappings = await daemon.listMappings();
    const inUseAfter = factory.pool?.inUse ?? Number.NaN;
    const recordsAfter = mappings.mappings.length;
    if (inUseAfter !== 0 || recordsAfter !== 0) {
      throw new Error(
        `after the run terwayd still had ${inUseAfter} IPs in use and ${recordsAfter} records`,
      );
    }
    const medians = aggregate(rounds);
    return {
      settings: ALLOCATE_SETTINGS,
      rounds,
      ...medians,
      targets: targetsOf(medians.terway, medians.ratios),
      inUseAfter,
      recordsAfter,
    };
  } finally {
    echo?.close();
    backend?.close();
    if (echoServer !== undefined) await stopChild(echoServer);
    await daemon?.stop();
    removeDir(dir);
  }
}

export function printRound(round: Round, index: number): void {
  const { echo, terway, ratios } = round;
  process.stdout.write(
    `round ${index + 1}: echo p50 ${ms(echo.call.p50Ms)} ${rate(echo.pairsPerSecond, 'pairs/s')}` +
      ` | allocate p50 ${ms(terway.allocate.p50Ms)} ${rate(terway.allocationsPerSecond, 'allocations/s')}` +
      ` | ratios p50 ${ratio(ratios.p50)}, throughput ${ratio(ratios.pairThroughput)}\n`,
  );
}

export function printAllocate(result: AllocateBenchResult): void {
  const { echo, terway, ratios } = result;
  const lines = [
    `medians over ${result.rounds.length} rounds:`,
    `echo      p50 ${ms(echo.call.p50Ms)}  p99 ${ms(echo.call.p99Ms)}  ${rate(echo.callsPerSecond, 'calls/s')}` +
      `  (server CPU ${echo.cpu.serverPct.toFixed(0)}%, load generator ${echo.cpu.clientPct.toFixed(0)}%)`,
    `allocate  p50 ${ms(terway.allocate.p50Ms)}  p99 ${ms(terway.allocate.p99Ms)}  ${rate(terway.allocationsPerSecond, 'allocations/s')}` +
      `  (terwayd CPU ${terway.cpu.serverPct.toFixed(0)}%, load generator ${terway.cpu.clientPct.toFixed(0)}%)`,
    `release   p50 ${ms(terway.release.p50Ms)}  p99 ${ms(terway.release.p99Ms)}`,
    `ratios    p50 ${ratio(ratios.p50)}  p99 ${ratio(ratios.p99)}  pairs/s ${ratio(ratios.pairThroughput)}  RPC/s ${ratio(ratios.rpcThroughput)}`,
    ...result.targets.map(
      (t) => `target    ${t.name}: ${t.measured} (${t.limit}) ${t.pass ? 'PASS' : 'FAIL'}`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Standalone: node dist/bench/allocate/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printAllocate(await runAllocateBench(printRound));
}
