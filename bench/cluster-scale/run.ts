// Cluster scale: 200 nodes' pool managers in ONE process (no daemons), 30 pods each, against ONE
// emulated account whose throttle (50 calls/s for every API together) all nodes share. Each node
// is wired as terwayd wires it: metadata → credentials → connectAliyunCloud → restorePool → start.
// Baseline: the throttle floor, i.e. the fewest API calls any client needs for these pods
// (lower-bound.ts, clusterCallFloor) at 50 calls/s.
import { pathToFileURL } from 'node:url';

import pino from 'pino';

import { connectAliyunCloud } from '../../src/cloud/aliyun/connect.js';
import { resolveCredentialProvider } from '../../src/cloud/aliyun/credentials.js';
import { MetadataClient } from '../../src/cloud/aliyun/metadata-client.js';
import { lookupInstanceType } from '../../src/cloud/instance-types.js';
import { MAX_IPS_PER_CLOUD_CALL } from '../../src/cloud/provider.js';
import type { DaemonConfig } from '../../src/config/eni-conf.js';
import { DEFAULT_CONFIG } from '../../src/config/eni-conf.js';
import { restorePool } from '../../src/daemon/restore.js';
import type { IpPool } from '../../src/pool/ip-pool.js';
import { MemoryPodStore } from '../../src/store/memory-pod-store.js';
import { systemClock } from '../../src/util/clock.js';
import type { ClusterCallFloor } from '../burst/lower-bound.js';
import { clusterCallFloor } from '../burst/lower-bound.js';
import {
  BENCH_ACCESS_KEY,
  BENCH_REGION,
  countsSince,
  EmulatorProcess,
  formatCounts,
  total,
} from '../support/emulator-process.js';
import { median, percentile, ratio } from '../support/stats.js';

export const CLUSTER_SETTINGS = {
  nodes: 200,
  podsPerNode: 30,
  /** 3 secondary ENIs × 15 IPs: 30 pods fit in two ENIs (each a create of 10 + an assign of 5). */
  instanceType: 'ecs.g7.xlarge',
  /** One bucket for every API of the account: 50 calls/s, burst 50. */
  account: { ratePerSecond: 50, burst: 50 },
  /** Response latency per API, ms: short, so the account's throttle is what limits. */
  latency: {
    CreateNetworkInterface: 100,
    AssignPrivateIpAddresses: 100,
    DescribeNetworkInterfaces: 50,
  },
  /** Attaching → InUse. */
  attachMs: 500,
  minPoolSize: 0,
  maxPoolSize: 5,
  /**
   * "No node starves": the slowest node within this multiple of the 90th-percentile node. When
   * the account serves nodes roughly one after another, completion times spread evenly and the
   * slowest is about 1.1x the p90 (and 2x the median, which is why the median is no yardstick);
   * a node left behind after the rest are done shows as a gap well above that.
   */
  starvationLimit: 1.5,
  /** The whole allocation phase gives up after this long. */
  allocateDeadlineMs: 240_000,
} as const;

export interface Distribution {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ClusterTarget {
  name: string;
  measured: string;
  limit: string;
  pass: boolean;
}

export interface ClusterBenchResult {
  settings: typeof CLUSTER_SETTINGS;
  /** All nodes' pool managers connected and restored (not part of the convergence time). */
  startup: { seconds: number; calls: Record<string, number>; throttled: Record<string, number> };
  /** From issuing the 6,000 allocations to the last one served. */
  convergeSeconds: number;
  /** Each node's time to its 30th IP, seconds from the same start. */
  perNodeSeconds: Distribution;
  slowestToMedian: number;
  slowestToP90: number;
  /** Emulator counts during the allocation phase, by API: every request, and those throttled. */
  calls: Record<string, number>;
  throttled: Record<string, number>;
  /** Calls the account served (not throttled) in the allocation phase. */
  servedCalls: number;
  floor: ClusterCallFloor;
  floorSeconds: number;
  /** convergeSeconds / floorSeconds. */
  ratio: number;
  /** servedCalls / floor.total: what our calls cost beyond the minimum. */
  callsOverFloor: number;
  /** Secondary ENIs in the account at the end (the floor needs ⌈pods / IPs per ENI⌉ per node). */
  enis: number;
  targets: ClusterTarget[];
}

function emulatorArgs(): string[] {
  const { latency, attachMs, account } = CLUSTER_SETTINGS;
  return [
    '--vswitch',
    'vsw-cluster=10.64.0.0/14',
    ...Object.entries(latency).flatMap(([api, value]) => ['--latency', `${api}=${value}`]),
    '--attach-ms',
    String(attachMs),
    '--throttle',
    `all=${account.ratePerSecond}/${account.burst}`,
  ];
}

/** One node's pool manager, wired as terwayd wires it, minus gRPC and the store file. */
async function startNode(
  emulator: EmulatorProcess,
  config: DaemonConfig,
  opened: Array<() => Promise<void>>,
): Promise<IpPool> {
  const log = pino({ level: 'silent' });
  const { metadataUrl } = await emulator.addInstance(CLUSTER_SETTINGS.instanceType);
  const metadata = new MetadataClient({ baseUrl: metadataUrl, clock: systemClock, log });
  const credentials = resolveCredentialProvider({
    credentials: { accessKey: BENCH_ACCESS_KEY.id, accessSecret: BENCH_ACCESS_KEY.secret },
    env: {},
    clock: systemClock,
    log,
  });
  if (credentials === undefined) throw new Error('no credentials');
  const { cloud } = await connectAliyunCloud({
    config,
    metadata,
    credentials,
    endpoints: { ecs: emulator.endpoint, vpc: emulator.endpoint, protocol: 'http' },
    clock: systemClock,
    log,
  });
  // Registered before restorePool, so a node that fails half-way is still closed.
  const held: { pool?: IpPool } = {};
  opened.push(async () => {
    await held.pool?.stop();
    cloud.close();
  });
  const pool = await restorePool({
    cloud,
    store: new MemoryPodStore(),
    options: config,
    clock: systemClock,
    log,
  });
  held.pool = pool;
  pool.start();
  return pool;
}

export function clusterFloor(): ClusterCallFloor {
  const { instanceType, nodes, podsPerNode } = CLUSTER_SETTINGS;
  const limits = lookupInstanceType(instanceType);
  if (limits === undefined) throw new Error(`unknown instance type ${instanceType}`);
  return clusterCallFloor({
    nodes,
    podsPerNode,
    ipsPerEni: limits.ipsPerEni,
    maxEnis: limits.eniQuantity - 1,
    maxIpsPerCall: MAX_IPS_PER_CLOUD_CALL,
  });
}

async function countSecondaryEnis(emulator: EmulatorProcess): Promise<number> {
  return (await emulator.enis()).filter((eni) => eni.type === 'Secondary').length;
}

const seconds = (sinceMs: number): number => (performance.now() - sinceMs) / 1000;

export async function runClusterBench(
  progress: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<ClusterBenchResult> {
  const settings = CLUSTER_SETTINGS;
  const floor = clusterFloor();
  const opened: Array<() => Promise<void>> = [];
  let emulator: EmulatorProcess | undefined;
  try {
    emulator = await EmulatorProcess.start(emulatorArgs());
    const config: DaemonConfig = {
      ...DEFAULT_CONFIG,
      regionId: BENCH_REGION,
      minPoolSize: settings.minPoolSize,
      maxPoolSize: settings.maxPoolSize,
    };

    // Phase 1, not timed as convergence: every node's pool manager connects and restores.
    const startupBegan = performance.now();
    const account = emulator;
    const nodes = await Promise.all(
      Array.from({ length: settings.nodes }, () => startNode(account, config, opened)),
    );
    const startupSeconds = seconds(startupBegan);
    const startupStats = await emulator.stats();
    progress(
      `${settings.nodes} pool managers started in ${startupSeconds.toFixed(1)} s ` +
        `(${total(startupStats.calls)} API calls, ${total(startupStats.throttled)} throttled)`,
    );
    // Let the account's bucket refill, so start-up does not eat into the allocation phase.
    await new Promise((resolve) =>
      setTimeout(resolve, (settings.account.burst / settings.account.ratePerSecond) * 1000 + 200),
    );

    // Phase 2: 30 allocations on every node at once.
    const before = await emulator.stats();
    const began = performance.now();
    const deadline = Date.now() + settings.allocateDeadlineMs;
    let done = 0;
    const perNode = await Promise.all(
      nodes.map(async (pool, index) => {
        await Promise.all(
          Array.from({ length: settings.podsPerNode }, (_, pod) =>
            pool.allocate(`bench/node${index}-pod${pod}`, deadline),
          ),
        );
        done++;
        if (done % 50 === 0)
          progress(`  ${done} nodes served after ${seconds(began).toFixed(1)} s`);
        return seconds(began);
      }),
    );
    const convergeSeconds = seconds(began);
    const after = await emulator.stats();
    const calls = countsSince(after.calls, before.calls);
    const throttled = countsSince(after.throttled, before.throttled);
    const servedCalls = total(calls) - total(throttled);
    const floorSeconds = floor.total / settings.account.ratePerSecond;
    const p50 = median(perNode);
    const p90 = percentile(perNode, 90);
    const max = Math.max(...perNode);
    const measuredRatio = convergeSeconds / floorSeconds;
    return {
      settings,
      startup: {
        seconds: startupSeconds,
        calls: countsSince(startupStats.calls, {}),
        throttled: countsSince(startupStats.throttled, {}),
      },
      convergeSeconds,
      perNodeSeconds: {
        min: Math.min(...perNode),
        p50,
        p90,
        p99: percentile(perNode, 99),
        max,
      },
      slowestToMedian: max / p50,
      slowestToP90: max / p90,
      calls,
      throttled,
      servedCalls,
      floor,
      floorSeconds,
      ratio: measuredRatio,
      callsOverFloor: servedCalls / floor.total,
      enis: await countSecondaryEnis(emulator),
      targets: [
        {
          name: 'no node starves: slowest node / p90 node',
          measured: ratio(max / p90),
          limit: `≤ ${ratio(settings.starvationLimit)}`,
          pass: max / p90 <= settings.starvationLimit,
        },
      ],
    };
  } finally {
    await Promise.allSettled(opened.map((close) => close()));
    await emulator?.stop();
  }
}

export function printCluster(result: ClusterBenchResult): void {
  const { settings, perNodeSeconds: node, floor } = result;
  const s = (value: number): string => `${value.toFixed(1)} s`;
  const lines = [
    `settings: ${settings.nodes} nodes × ${settings.podsPerNode} pods, ${settings.instanceType}, ` +
      `account throttle ${settings.account.ratePerSecond} calls/s burst ${settings.account.burst}` +
      `, latencies ${formatCounts(settings.latency)} ms, attach ${settings.attachMs} ms`,
    `start-up (not in convergence): ${s(result.startup.seconds)}, ` +
      `${total(result.startup.calls)} calls, ${total(result.startup.throttled)} throttled`,
    `converged: all ${settings.nodes * settings.podsPerNode} pods hold IPs after ` +
      `${s(result.convergeSeconds)}`,
    `per node: min ${s(node.min)}, p50 ${s(node.p50)}, p90 ${s(node.p90)}, p99 ${s(node.p99)}, max ${s(node.max)}` +
      ` (slowest / median ${ratio(result.slowestToMedian)})`,
    `throttle floor: ${floor.total} calls (${floor.perNodeTotal} per node) ÷ ` +
      `${settings.account.ratePerSecond}/s = ${s(result.floorSeconds)}; ratio ${ratio(result.ratio)}`,
    `calls: ${total(result.calls)} (${result.servedCalls} served, ` +
      `${ratio(result.callsOverFloor)} the floor's count), throttled ${total(result.throttled)}`,
    `secondary ENIs: ${result.enis} (floor ${floor.perNode.creates * settings.nodes})`,
    `calls by API: ${formatCounts(result.calls)}`,
    `throttled by API: ${formatCounts(result.throttled)}`,
    ...result.targets.map(
      (t) => `target ${t.name}: ${t.measured} (${t.limit}) ${t.pass ? 'PASS' : 'FAIL'}`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Standalone: node dist/bench/cluster-scale/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printCluster(await runClusterBench());
}
