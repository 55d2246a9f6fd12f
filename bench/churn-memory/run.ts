// Benchmark 10: terwayd's memory under sustained CNI churn (AllocateIP + ReleaseIP, as §1 loads it),
// with the V8 heap ceiling it ships with (runtime-settings.ts, NODE_OPTIONS) against the same
// daemon with the ceiling V8 derives from this host's RAM, in the same run. Each runs in a fresh
// daemon; the two alternate for a few rounds.
import { getHeapStatistics } from 'node:v8';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { BackendClient } from '../../src/rpc/generated/terway/v1/Backend.js';
import { terwayProto } from '../../src/rpc/proto.js';
import { TERWAYD_ENV, TERWAYD_HEAP_LIMIT_MIB } from '../../src/daemon/runtime-settings.js';
import {
  ALLOCATE_SETTINGS,
  allocateReleaseIteration,
  cpuProbe,
  primePool,
  requireClean,
  step,
} from '../allocate/run.js';
import { runLoad } from '../allocate/load.js';
import { BenchDaemon, memoryCloudConfig } from '../support/daemon.js';
import { mdTable, notCompleted } from '../support/markdown.js';
import { peakRssMb, resetPeakRss, rssOf } from '../support/process-memory.js';
import { median, medianRatio, rate, ratio } from '../support/stats.js';

export const CHURN_SETTINGS = {
  concurrency: ALLOCATE_SETTINGS.concurrency,
  minPoolSize: ALLOCATE_SETTINGS.minPoolSize,
  maxPoolSize: ALLOCATE_SETTINGS.maxPoolSize,
  /** Long enough for the old generation to fill to V8's first full collection. */
  warmupMs: 10_000,
  measureMs: 40_000,
  sampleEveryMs: 500,
  rounds: 3,
} as const;

export type HeapCeiling = 'shipped' | 'host';

export interface ChurnFigures {
  ceiling: HeapCeiling;
  /** RSS samples over the window, MiB. */
  rssMedianMb: number;
  rssMinMb: number;
  rssMaxMb: number;
  anonMedianMb: number;
  /** The kernel's peak RSS (VmHWM) over the window. */
  peakMb: number;
  allocationsPerSecond: number;
  /** terwayd's CPU over the window, % of one core. */
  cpuPct: number;
}

export interface ChurnMemoryResult {
  settings: typeof CHURN_SETTINGS;
  /** V8's heap ceiling terwayd ships with, and the one V8 gives itself on this host, MiB. */
  shippedCeilingMb: number;
  hostCeilingMb: number;
  rounds: { shipped: ChurnFigures; host: ChurnFigures }[];
  shipped: ChurnFigures;
  host: ChurnFigures;
  /** shipped / host, medians of the per-round ratios. */
  ratios: { rssMedian: number; peak: number; allocations: number; cpu: number };
}

async function churn(ceiling: HeapCeiling, round: number): Promise<ChurnFigures> {
  const { minPoolSize, maxPoolSize } = CHURN_SETTINGS;
  // The host's ceiling: terwayd's settings without NODE_OPTIONS, so V8 sizes its heap from RAM.
  const daemon = await BenchDaemon.start(
    memoryCloudConfig(minPoolSize, maxPoolSize),
    minPoolSize,
    [],
    ceiling === 'host' ? { NODE_OPTIONS: null } : {},
  );
  let backend: BackendClient | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const pid = daemon.pid;
    if (pid === undefined) throw new Error('terwayd has no pid');
    backend = new (terwayProto().terway.v1.Backend)(
      `unix://${daemon.socket}`,
      grpc.credentials.createInsecure(),
    );
    const run = `churn-${ceiling}-${round}-${Date.now().toString(36)}`;
    await primePool(daemon, backend, run);
    const samples: { rssMb: number; anonMb: number }[] = [];
    const probe = cpuProbe(pid);
    const result = await runLoad({
      concurrency: CHURN_SETTINGS.concurrency,
      warmupMs: CHURN_SETTINGS.warmupMs,
      measureMs: CHURN_SETTINGS.measureMs,
      maxIterationsPerWorker: 1_000_000,
      maxErrors: 50,
      iteration: allocateReleaseIteration(backend, run),
      onWindowStart: () => {
        resetPeakRss(pid);
        probe.hooks.onWindowStart?.();
        sampler = setInterval(() => samples.push(rssOf(pid)), CHURN_SETTINGS.sampleEveryMs);
      },
      onWindowEnd: () => {
        clearInterval(sampler);
        probe.hooks.onWindowEnd?.();
      },
    });
    requireClean(result, `churn (${ceiling} ceiling)`);
    const peakMb = peakRssMb(pid);
    const rss = samples.map((sample) => sample.rssMb);
    return {
      ceiling,
      rssMedianMb: median(rss),
      rssMinMb: Math.min(...rss),
      rssMaxMb: Math.max(...rss),
      anonMedianMb: median(samples.map((sample) => sample.anonMb)),
      peakMb,
      allocationsPerSecond: step(result, 'allocate').perSecond,
      cpuPct: probe.share(result.windowMs).serverPct,
    };
  } finally {
    clearInterval(sampler);
    backend?.close();
    await daemon.stop();
  }
}

function medianFigures(figures: readonly ChurnFigures[]): ChurnFigures {
  const of = (pick: (f: ChurnFigures) => number) => median(figures.map(pick));
  return {
    ceiling: figures[0]!.ceiling,
    rssMedianMb: of((f) => f.rssMedianMb),
    rssMinMb: of((f) => f.rssMinMb),
    rssMaxMb: of((f) => f.rssMaxMb),
    anonMedianMb: of((f) => f.anonMedianMb),
    peakMb: of((f) => f.peakMb),
    allocationsPerSecond: of((f) => f.allocationsPerSecond),
    cpuPct: of((f) => f.cpuPct),
  };
}

export async function runChurnMemoryBench(
  progress: (line: string) => void = () => undefined,
): Promise<ChurnMemoryResult> {
  const rounds: ChurnMemoryResult['rounds'] = [];
  for (let round = 0; round < CHURN_SETTINGS.rounds; round++) {
    // Alternating which goes first, so a slow spell on the machine hits both.
    const order: HeapCeiling[] = round % 2 === 0 ? ['shipped', 'host'] : ['host', 'shipped'];
    const figures: Partial<Record<HeapCeiling, ChurnFigures>> = {};
    for (const ceiling of order) {
      figures[ceiling] = await churn(ceiling, round);
      progress(describe(figures[ceiling]!, `round ${round + 1}`));
    }
    rounds.push({ shipped: figures.shipped!, host: figures.host! });
  }
  const perRound = (pick: (f: ChurnFigures) => number) =>
    medianRatio(
      rounds.map(({ shipped }) => pick(shipped)),
      rounds.map(({ host }) => pick(host)),
    );
  return {
    settings: CHURN_SETTINGS,
    shippedCeilingMb: TERWAYD_HEAP_LIMIT_MIB,
    // This process runs without a heap flag: V8's own ceiling for this host's RAM.
    hostCeilingMb: getHeapStatistics().heap_size_limit / 2 ** 20,
    rounds,
    shipped: medianFigures(rounds.map((r) => r.shipped)),
    host: medianFigures(rounds.map((r) => r.host)),
    ratios: {
      rssMedian: perRound((f) => f.rssMedianMb),
      peak: perRound((f) => f.peakMb),
      allocations: perRound((f) => f.allocationsPerSecond),
      cpu: perRound((f) => f.cpuPct),
    },
  };
}

function mb(value: number): string {
  return `${value.toFixed(0)} MB`;
}

function describe(f: ChurnFigures, label: string): string {
  return (
    `${label}, ${f.ceiling} ceiling: RSS median ${mb(f.rssMedianMb)} (${mb(f.rssMinMb)}-` +
    `${mb(f.rssMaxMb)}), peak ${mb(f.peakMb)}, ${rate(f.allocationsPerSecond, 'allocations/s')}, ` +
    `CPU ${f.cpuPct.toFixed(0)}%`
  );
}

export function printChurnMemory(r: ChurnMemoryResult): void {
  process.stdout.write(
    `${describe(r.shipped, 'median')}\n${describe(r.host, 'median')}\n` +
      `ratios shipped/host: RSS ${ratio(r.ratios.rssMedian)}, peak ${ratio(r.ratios.peak)}, ` +
      `allocations/s ${ratio(r.ratios.allocations)}, CPU ${ratio(r.ratios.cpu)}\n`,
  );
}

export function churnMemorySection(
  result: ChurnMemoryResult | undefined,
  error: string | undefined,
): string {
  const title = '## 10. terwayd memory under CNI churn: its V8 heap ceiling vs the host-sized one';
  if (result === undefined) return notCompleted(title, error);
  const r = result;
  const s = r.settings;
  const row = (label: string, pick: (f: ChurnFigures) => string, ratioOf?: number) => [
    label,
    pick(r.shipped),
    pick(r.host),
    ratioOf === undefined ? '' : ratio(ratioOf),
  ];
  return [
    title,
    '',
    `${s.concurrency} workers loop AllocateIP then ReleaseIP (fresh pods, as in §1) against terwayd ` +
      `on the simulated cloud (pool ${s.minPoolSize}-${s.maxPoolSize}); ${s.warmupMs / 1000} s of ` +
      `warm-up, then ${s.measureMs / 1000} s measured: RSS from /proc every ${s.sampleEveryMs} ms, ` +
      'the peak from the kernel (VmHWM, reset at the start of the window). **Ours**: terwayd as ' +
      `it ships (\`${TERWAYD_ENV['NODE_OPTIONS']}\` in its environment, runtime-settings.ts). ` +
      '**Baseline**: the same daemon, same flags, without it: V8 sizes its heap from the ' +
      `host's RAM (${mb(r.hostCeilingMb)} ceiling here) and lets its old generation grow to ` +
      'four times what a full collection kept, where under a ceiling of 256 MB or less it ' +
      `grows 1.3 times. ${s.rounds} rounds, each a fresh daemon per side, in alternating order; ` +
      'figures are medians over the rounds and ratios medians of the per-round ratios.',
    '',
    mdTable(
      ['Figure', `Ours: ${mb(r.shippedCeilingMb)} ceiling`, 'Baseline: host-sized heap', 'Ratio'],
      [
        row('RSS, median', (f) => mb(f.rssMedianMb), r.ratios.rssMedian),
        row('RSS, lowest and highest sample', (f) => `${mb(f.rssMinMb)}-${mb(f.rssMaxMb)}`),
        row('Peak RSS (VmHWM)', (f) => mb(f.peakMb), r.ratios.peak),
        row('Anonymous RSS, median', (f) => mb(f.anonMedianMb)),
        row(
          'Allocations/s',
          (f) => rate(f.allocationsPerSecond, 'allocations/s'),
          r.ratios.allocations,
        ),
        row('terwayd CPU', (f) => `${f.cpuPct.toFixed(0)}%`, r.ratios.cpu),
      ],
    ),
    '',
    'Per round:',
    '',
    mdTable(
      [
        'Round',
        'ours: RSS median / peak',
        'baseline: RSS median / peak',
        'ours / baseline allocations/s',
      ],
      r.rounds.map(({ shipped, host }, index) => [
        String(index + 1),
        `${mb(shipped.rssMedianMb)} / ${mb(shipped.peakMb)}`,
        `${mb(host.rssMedianMb)} / ${mb(host.peakMb)}`,
        `${rate(shipped.allocationsPerSecond, '/s')} / ${rate(host.allocationsPerSecond, '/s')}`,
      ]),
    ),
  ].join('\n');
}

export function churnMemorySummaryRows(r: ChurnMemoryResult | undefined): string[][] {
  if (r === undefined) return [['terwayd RSS under CNI churn', 'FAILED', '', '', '']];
  return [
    [
      'terwayd RSS under CNI churn (median / peak)',
      `${mb(r.shipped.rssMedianMb)} / ${mb(r.shipped.peakMb)}`,
      `host-sized heap ${mb(r.host.rssMedianMb)} / ${mb(r.host.peakMb)}`,
      `${ratio(r.ratios.rssMedian)} / ${ratio(r.ratios.peak)}`,
      '—',
    ],
  ];
}

// Standalone: node dist/bench/churn-memory/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printChurnMemory(await runChurnMemoryBench((line) => process.stdout.write(`${line}\n`)));
}
