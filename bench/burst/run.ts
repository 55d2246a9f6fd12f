// Burst: 100 pods at once on an empty node. A real terwayd (the built dist/cmd/terwayd.js) in
// ECS mode against the ECS emulator (its own process), with realistic API latencies and an
// account-wide throttle on mutating calls. Baseline: the lower bound for ANY client under the
// same latencies and limits (lower-bound.ts), computed in the same run from the same settings.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { invokeBackend } from '../../src/cni/backend-client.js';
import { lookupInstanceType } from '../../src/cloud/instance-types.js';
import { MAX_IPS_PER_CLOUD_CALL } from '../../src/cloud/provider.js';
import { BenchDaemon } from '../support/daemon.js';
import { countsSince, EmulatorProcess, formatCounts, total } from '../support/emulator-process.js';
import { median, ms, percentile, ratio } from '../support/stats.js';
import type { BurstBound, BurstModel } from './lower-bound.js';
import { burstLowerBound } from './lower-bound.js';

export const BURST_SETTINGS = {
  pods: 100,
  /** Each round: a fresh emulator and a fresh daemon. Figures are medians over the rounds. */
  rounds: 3,
  /** 31 secondary ENIs × 10 IPs: a node that can hold 100 pods at all (10 ENIs' worth). */
  instanceType: 'ecs.ebmg5.24xlarge',
  minPoolSize: 0,
  maxPoolSize: 10,
  /** Response latency per API, ms; AttachNetworkInterface answers at once. */
  latency: {
    CreateNetworkInterface: 300,
    AssignPrivateIpAddresses: 300,
    DescribeNetworkInterfaces: 100,
  },
  /** Attaching → InUse. */
  attachMs: 2_000,
  /**
   * The account's bucket for mutating ENI calls (create/attach/assign/...): 20/s with a burst of
   * 5, so the burst's 20 mutating calls cannot all go at once and the throttle really bites.
   */
  mutating: { ratePerSecond: 20, burst: 5 },
  /** Measured time to all IPs at most this multiple of the lower bound. */
  targetRatio: 1.3,
  allocateTimeoutMs: 120_000,
} as const;

/** Where a round's time went, from the daemon's own log (timestamps from the burst's start). */
export interface BurstProfile {
  /** The first CreateNetworkInterface sent (its answer's time minus its latency). */
  firstCreateSentMs: number;
  /** The last AttachNetworkInterface answered. */
  lastAttachDoneMs: number;
  /** Each created ENI usable in the pool (InUse seen, metadata shows it), ascending. */
  eniReadyAtMs: number[];
}

export interface BurstRound {
  /** From sending the 100 AllocateIP calls to the last reply. */
  seconds: number;
  /** Each pod's own AllocateIP latency. */
  podP50Seconds: number;
  podMaxSeconds: number;
  /** Emulator counts during the burst, by API: every request, and those throttled. */
  calls: Record<string, number>;
  throttled: Record<string, number>;
  profile: BurstProfile;
}

export interface BurstBenchResult {
  settings: typeof BURST_SETTINGS;
  model: BurstModel;
  bound: BurstBound;
  rounds: BurstRound[];
  medianSeconds: number;
  medianPodP50Seconds: number;
  /** Per-API medians over the rounds. */
  calls: Record<string, number>;
  throttled: Record<string, number>;
  /** Median measured time / lower bound. */
  ratio: number;
  pass: boolean;
}

export function burstModel(): BurstModel {
  const { instanceType, pods, latency, attachMs, mutating } = BURST_SETTINGS;
  const limits = lookupInstanceType(instanceType);
  if (limits === undefined) throw new Error(`unknown instance type ${instanceType}`);
  return {
    pods,
    ipsPerEni: limits.ipsPerEni,
    maxEnis: limits.eniQuantity - 1,
    maxIpsPerCall: MAX_IPS_PER_CLOUD_CALL,
    createMs: latency.CreateNetworkInterface,
    attachCallMs: 0,
    attachMs,
    assignMs: latency.AssignPrivateIpAddresses,
    describeMs: latency.DescribeNetworkInterfaces,
    mutating,
  };
}

function emulatorArgs(): string[] {
  const { latency, attachMs, mutating } = BURST_SETTINGS;
  return [
    ...Object.entries(latency).flatMap(([api, value]) => ['--latency', `${api}=${value}`]),
    '--attach-ms',
    String(attachMs),
    '--throttle',
    `mutating=${mutating.ratePerSecond}/${mutating.burst}`,
  ];
}

/** Reads the daemon's log (pino JSON lines) for the burst's cloud calls and created ENIs. */
function profileFromLog(logPath: string, startedAtMs: number): BurstProfile {
  const profile: BurstProfile = {
    firstCreateSentMs: Number.NaN,
    lastAttachDoneMs: Number.NaN,
    eniReadyAtMs: [],
  };
  let text = '';
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return profile;
  }
  const creates: number[] = [];
  const attaches: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { time?: string | number; msg?: string; api?: string; latencyMs?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const at =
      (typeof entry.time === 'number' ? entry.time : Date.parse(entry.time ?? '')) - startedAtMs;
    if (!Number.isFinite(at) || at < 0) continue;
    if (entry.msg === 'created and attached secondary ENI') profile.eniReadyAtMs.push(at);
    if (entry.msg === 'cloud api call ok' && entry.api === 'CreateNetworkInterface') {
      creates.push(at - (entry.latencyMs ?? 0));
    }
    if (entry.msg === 'cloud api call ok' && entry.api === 'AttachNetworkInterface') {
      attaches.push(at);
    }
  }
  profile.eniReadyAtMs.sort((a, b) => a - b);
  if (creates.length > 0) profile.firstCreateSentMs = Math.min(...creates);
  if (attaches.length > 0) profile.lastAttachDoneMs = Math.max(...attaches);
  return profile;
}

async function oneRound(round: number): Promise<BurstRound> {
  const { pods, minPoolSize, maxPoolSize, allocateTimeoutMs } = BURST_SETTINGS;
  let emulator: EmulatorProcess | undefined;
  let daemon: BenchDaemon | undefined;
  try {
    emulator = await EmulatorProcess.start(emulatorArgs());
    const { metadataUrl } = await emulator.addInstance(BURST_SETTINGS.instanceType);
    daemon = await BenchDaemon.start(
      {
        ...emulator.daemonConfig(metadataUrl),
        // IPAM only: the burst measures the pool against the cloud, and its pods have no netns
        // (ECS mode would otherwise wire them, and refuses a netns that does not exist).
        datapath: 'none',
        min_pool_size: minPoolSize,
        max_pool_size: maxPoolSize,
      },
      0,
    );
    const socket = daemon.socket;
    const before = await emulator.stats();
    const startedAtMs = Date.now();
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: pods }, async (_, i) => {
        const name = `burst-${round}-${i}`;
        const reply = await invokeBackend(
          { socketPath: socket, timeoutMs: allocateTimeoutMs },
          'AllocateIP',
          {
            pod: { namespace: 'bench', name, containerId: `ctr-${round}-${i}` },
            netns: `/var/run/netns/${name}`,
            ifname: 'eth0',
          },
          name,
        );
        return { ip: reply.network?.ip ?? '', seconds: (performance.now() - started) / 1000 };
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = await emulator.stats();
    const ips = new Set(replies.map((reply) => reply.ip).filter((ip) => ip !== ''));
    if (ips.size !== pods) {
      throw new Error(`${pods} AllocateIP calls returned ${ips.size} distinct IPs`);
    }
    const podSeconds = replies.map((reply) => reply.seconds);
    return {
      seconds,
      podP50Seconds: median(podSeconds),
      podMaxSeconds: percentile(podSeconds, 100),
      calls: countsSince(after.calls, before.calls),
      throttled: countsSince(after.throttled, before.throttled),
      profile: profileFromLog(daemon.logPath, startedAtMs),
    };
  } finally {
    await daemon?.stop();
    await emulator?.stop();
  }
}

/** Per-key median over the rounds (a key missing from a round counts as 0 there). */
function medianCounts(rounds: readonly Record<string, number>[]): Record<string, number> {
  const keys = [...new Set(rounds.flatMap((counts) => Object.keys(counts)))].sort();
  return Object.fromEntries(keys.map((key) => [key, median(rounds.map((c) => c[key] ?? 0))]));
}

export async function runBurstBench(
  onRound: (round: BurstRound, index: number) => void = printBurstRound,
): Promise<BurstBenchResult> {
  const model = burstModel();
  const bound = burstLowerBound(model);
  const rounds: BurstRound[] = [];
  for (let i = 0; i < BURST_SETTINGS.rounds; i++) {
    const round = await oneRound(i);
    rounds.push(round);
    onRound(round, i);
  }
  const medianSeconds = median(rounds.map((round) => round.seconds));
  const measuredRatio = (medianSeconds * 1000) / bound.ms;
  return {
    settings: BURST_SETTINGS,
    model,
    bound,
    rounds,
    medianSeconds,
    medianPodP50Seconds: median(rounds.map((round) => round.podP50Seconds)),
    calls: medianCounts(rounds.map((round) => round.calls)),
    throttled: medianCounts(rounds.map((round) => round.throttled)),
    ratio: measuredRatio,
    pass: measuredRatio <= BURST_SETTINGS.targetRatio,
  };
}

export function printBurstRound(round: BurstRound, index: number): void {
  const { profile } = round;
  process.stdout.write(
    `round ${index + 1}: ${BURST_SETTINGS.pods} pods hold IPs after ${ms(round.seconds * 1000)}` +
      ` (pod p50 ${ms(round.podP50Seconds * 1000)}); ${total(round.calls)} API calls, ` +
      `${total(round.throttled)} throttled; first create sent at ` +
      `${ms(profile.firstCreateSentMs)}, last attach answered at ${ms(profile.lastAttachDoneMs)}, ` +
      `${profile.eniReadyAtMs.length} ENIs usable at ${ms(profile.eniReadyAtMs[0] ?? Number.NaN)}` +
      `–${ms(profile.eniReadyAtMs.at(-1) ?? Number.NaN)}\n`,
  );
}

export function printBurst(result: BurstBenchResult): void {
  const { settings, bound } = result;
  const lines = [
    `settings: ${settings.instanceType}, ${settings.pods} AllocateIP at once, latencies ` +
      `${formatCounts(settings.latency)} ms, attach ${settings.attachMs} ms, mutating throttle ` +
      `${settings.mutating.ratePerSecond}/s burst ${settings.mutating.burst}`,
    `median over ${result.rounds.length} rounds: all ${settings.pods} hold IPs after ` +
      `${ms(result.medianSeconds * 1000)} (pod p50 ${ms(result.medianPodP50Seconds * 1000)})`,
    `lower bound ${ms(bound.ms)} (${bound.enis} ENIs: ${bound.creates} creates, ` +
      `${bound.attaches} attaches, ${bound.assigns} assigns)`,
    `ratio ${ratio(result.ratio)} (target ≤ ${ratio(settings.targetRatio)}: ` +
      `${result.pass ? 'PASS' : 'FAIL'})`,
    `calls (median): ${formatCounts(result.calls)}`,
    `throttled (median): ${formatCounts(result.throttled)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Standalone: node dist/bench/burst/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printBurst(await runBurstBench());
}
