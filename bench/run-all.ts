// `make bench`: runs every benchmark (each with its baseline, in this same run), prints a summary
// and rewrites BENCHMARKS.md. Built into dist/bench/run-all.js by `npm run build`.
import { writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import type { AllocateBenchResult } from './allocate/run.js';
import { printAllocate, printRound, runAllocateBench } from './allocate/run.js';
import type { BurstBenchResult } from './burst/run.js';
import { printBurst, runBurstBench } from './burst/run.js';
import type { ChurnMemoryResult } from './churn-memory/run.js';
import {
  churnMemorySection,
  churnMemorySummaryRows,
  printChurnMemory,
  runChurnMemoryBench,
} from './churn-memory/run.js';
import type { CniAddDelResult } from './cni-add-del/run.js';
import type { ConntrackCollectResult } from './conntrack-collect/run.js';
import {
  conntrackCollectSection,
  conntrackCollectSummaryRows,
  printConntrackCollect,
  runConntrackCollectBench,
} from './conntrack-collect/run.js';
import { printCniAddDel, runCniAddDelBench } from './cni-add-del/run.js';
import type { ClusterBenchResult } from './cluster-scale/run.js';
import { printCluster, runClusterBench } from './cluster-scale/run.js';
import type { LbDatapathResult } from './lb-datapath/run.js';
import {
  lbDatapathSection,
  lbDatapathSummaryRows,
  printLbDatapath,
  runLbDatapathBench,
} from './lb-datapath/run.js';
import type { LbMapsResult } from './lb-maps/run.js';
import type { LbProgramResult } from './lb-program/run.js';
import {
  lbProgramSection,
  lbProgramSummaryRows,
  printLbProgram,
  runLbProgramBench,
} from './lb-program/run.js';
import { lbMapsSection, lbMapsSummaryRows, printLbMaps, runLbMapsBench } from './lb-maps/run.js';
import type { PodToPodResult } from './pod-to-pod/run.js';
import { printPodToPod, runPodToPodBench } from './pod-to-pod/run.js';
import type { ShimBenchResult } from './shim-startup/run.js';
import { printShim, runShimStartupBench } from './shim-startup/run.js';
import { builtSnapshot } from './support/build-snapshot.js';
import { cleanupAllSync } from './support/cleanup.js';
import { commandOutput } from './support/commands.js';
import { formatCounts } from './support/emulator-process.js';
import { REPO_ROOT } from './support/paths.js';
import { ms, rate, ratio } from './support/stats.js';
import { mdTable, notCompleted } from './support/markdown.js';

const COMMAND = 'make bench';

interface Outcome<T> {
  result?: T;
  error?: string;
  seconds: number;
}

async function attempt<T>(name: string, run: () => Promise<T>): Promise<Outcome<T>> {
  process.stdout.write(`\n== ${name}\n`);
  const started = Date.now();
  try {
    const result = await run();
    return { result, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`${name} failed: ${message}\n`);
    return { error: message, seconds: (Date.now() - started) / 1000 };
  }
}

/** What the report's header names; empty when it cannot be told (no git, not a checkout). */
function quiet(command: string, args: string[]): string {
  try {
    return commandOutput(command, args, REPO_ROOT).trim();
  } catch {
    return '';
  }
}

function machine(): Array<[string, string]> {
  const cores = cpus();
  const commit = quiet('git', ['rev-parse', '--short', 'HEAD']);
  // The report this run is about to rewrite does not count as a change to what is measured.
  const dirty = quiet('git', ['status', '--porcelain', '--', '.', ':!BENCHMARKS.md']) !== '';
  return [
    ['CPU', `${cores.length} cores, ${cores[0]?.model.trim() ?? 'unknown model'}`],
    ['Memory', `${Math.round(totalmem() / 2 ** 30)} GiB`],
    ['Kernel', `${type()} ${release()}`],
    ['Node.js', process.version],
    ['hyperfine', quiet('hyperfine', ['--version']) || 'not installed'],
    [
      'containernetworking-plugins',
      quiet('dpkg-query', ['-W', '-f', '${Version}', 'containernetworking-plugins']) || 'unknown',
    ],
    [
      'Commit',
      commit === '' ? 'unknown' : `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
    ],
  ];
}

const passFail = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');
const pct = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(0)}%` : 'n/a');

function allocateSection(outcome: Outcome<AllocateBenchResult>): string {
  const title = '## 1. AllocateIP + ReleaseIP over gRPC, 32 concurrent';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const { echo, terway, ratios, settings } = r;
  const figures = mdTable(
    ['', 'p50', 'p99', 'throughput', 'server CPU', 'load-generator CPU'],
    [
      [
        'terwayd AllocateIP',
        ms(terway.allocate.p50Ms),
        ms(terway.allocate.p99Ms),
        rate(terway.allocationsPerSecond, 'allocations/s'),
        pct(terway.cpu.serverPct),
        pct(terway.cpu.clientPct),
      ],
      [
        'terwayd ReleaseIP',
        ms(terway.release.p50Ms),
        ms(terway.release.p99Ms),
        rate(terway.rpcsPerSecond, 'RPC/s (both)'),
        '',
        '',
      ],
      [
        'Baseline: echo (one unary call)',
        ms(echo.call.p50Ms),
        ms(echo.call.p99Ms),
        `${rate(echo.callsPerSecond, 'calls/s')} (${rate(echo.pairsPerSecond, 'pairs/s')})`,
        pct(echo.cpu.serverPct),
        pct(echo.cpu.clientPct),
      ],
      [
        '**Ratio** terwayd / echo',
        `**${ratio(ratios.p50)}**`,
        ratio(ratios.p99),
        `**${ratio(ratios.pairThroughput)}** (allocations/s ÷ echo pairs/s); RPC/s ${ratio(ratios.rpcThroughput)}`,
        '',
        '',
      ],
    ],
  );
  const rounds = mdTable(
    [
      'Round',
      'echo p50',
      'allocate p50',
      'p50 ratio',
      'echo pairs/s',
      'allocations/s',
      'throughput ratio',
    ],
    r.rounds.map((round, i) => [
      String(i + 1),
      ms(round.echo.call.p50Ms),
      ms(round.terway.allocate.p50Ms),
      ratio(round.ratios.p50),
      rate(round.echo.pairsPerSecond, ''),
      rate(round.terway.allocationsPerSecond, ''),
      ratio(round.ratios.pairThroughput),
    ]),
  );
  const targets = mdTable(
    ['Target', 'Measured', 'Limit', 'Result'],
    r.targets.map((t) => [t.name, t.measured, t.limit, `**${passFail(t.pass)}**`]),
  );
  return [
    title,
    '',
    `${settings.concurrency} workers in one load-generator process share one gRPC channel; each loops ` +
      `AllocateIP then ReleaseIP for a fresh pod (\`bench-w<worker>-<n>\`, unique container id). ` +
      `${settings.rounds} rounds, each echo then terwayd, each load with a ${settings.warmupMs / 1000} s ` +
      `warm-up and ${settings.measureMs / 1000} s measured (median ` +
      `${rate(terway.allocate.count, 'allocations')} per window). Figures are medians over the ` +
      `rounds; ratios are medians of the per-round ratios. Pool: min_pool_size ` +
      `${settings.minPoolSize}, max_pool_size ${settings.maxPoolSize}, simulated cloud.`,
    '',
    figures,
    '',
    targets,
    '',
    'Per round:',
    '',
    rounds,
  ].join('\n');
}

function shimSection(outcome: Outcome<ShimBenchResult>): string {
  const title = '## 2. CNI shim start-up (exec → result printed)';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const row = (label: string, f: ShimBenchResult['version']): string[] => [
    label,
    `**${ms(f.medianMs)}**`,
    ms(f.meanMs),
    ms(f.minMs),
    ms(f.maxMs),
    String(f.runs),
  ];
  const table = mdTable(
    ['Command', 'median', 'mean', 'min', 'max', 'runs'],
    [
      row('`terway` VERSION', r.version),
      row('Baseline: `node -e 0`', r.nodeFloor),
      row('`terway` ADD + DEL (warm daemon)', r.terwayAddDel),
      row('Baseline: `host-local` ADD + DEL', r.hostLocalAddDel),
    ],
  );
  const ratios = mdTable(
    ['Ratio (medians)', 'Value', 'Target'],
    [
      ['terway VERSION / node -e 0', `**${ratio(r.ratios.versionOverNode)}**`, 'none set'],
      [
        'terway ADD+DEL / host-local ADD+DEL',
        `**${ratio(r.ratios.addDelOverHostLocal)}**`,
        'none set',
      ],
      ['terway ADD+DEL − 2 × node -e 0', ms(r.addDelBeyondNodeMs), 'none set'],
    ],
  );
  return [
    title,
    '',
    `${r.hyperfineVersion}, \`--warmup ${r.settings.warmup} --runs ${r.settings.runs}\`. ADD+DEL ` +
      'runs `bench/shim-startup/terway-add-del.sh` / `host-local-add-del.sh`: a fresh pod name and ' +
      'container id per run, so every ADD is a real allocation and every DEL a real release.',
    '',
    table,
    '',
    ratios,
  ].join('\n');
}

function burstSection(outcome: Outcome<BurstBenchResult>): string {
  const title = '## 3. Burst: 100 pods at once on an empty node (ECS emulator)';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const { settings, bound, model } = r;
  const seconds = (value: number): string => ms(value * 1000);
  const figures = mdTable(
    ['', `Time until all ${settings.pods} hold IPs`, 'pod p50', 'API calls', 'throttled'],
    [
      ...r.rounds.map((round, i) => [
        `Round ${i + 1}`,
        seconds(round.seconds),
        seconds(round.podP50Seconds),
        String(Object.values(round.calls).reduce((a, b) => a + b, 0)),
        String(Object.values(round.throttled).reduce((a, b) => a + b, 0)),
      ]),
      [
        `**terwayd, median of ${r.rounds.length}**`,
        `**${seconds(r.medianSeconds)}**`,
        seconds(r.medianPodP50Seconds),
        '',
        '',
      ],
      [
        'Baseline: lower bound for any client',
        ms(bound.ms),
        '',
        String(bound.creates + bound.attaches + bound.assigns + 1),
        '0',
      ],
      ['**Ratio** terwayd / bound', `**${ratio(r.ratio)}**`, '', '', ''],
    ],
  );
  const targets = mdTable(
    ['Target', 'Measured', 'Limit', 'Result'],
    [
      [
        `time to ${settings.pods} IPs / lower bound`,
        ratio(r.ratio),
        `≤ ${ratio(settings.targetRatio)}`,
        `**${passFail(r.pass)}**`,
      ],
    ],
  );
  const boundCalls: Record<string, number> = {
    CreateNetworkInterface: bound.creates,
    AttachNetworkInterface: bound.attaches,
    AssignPrivateIpAddresses: bound.assigns,
    DescribeNetworkInterfaces: 1,
  };
  const apis = [...new Set([...Object.keys(r.calls), ...Object.keys(boundCalls)])].sort();
  const calls = mdTable(
    ['API', 'calls (median)', 'throttled (median)', 'lower bound'],
    apis.map((api) => [
      api,
      String(r.calls[api] ?? 0),
      String(r.throttled[api] ?? 0),
      String(boundCalls[api] ?? 0),
    ]),
  );
  const sorted = [...r.rounds].sort((a, b) => a.seconds - b.seconds);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  const where =
    mid === undefined
      ? ''
      : `Where the time went in the median round (from terwayd's log, ms from the first ` +
        `request): first CreateNetworkInterface sent at ${ms(mid.profile.firstCreateSentMs)}, ` +
        `last attach answered at ${ms(mid.profile.lastAttachDoneMs)}, the ` +
        `${mid.profile.eniReadyAtMs.length} ENIs usable in the pool (InUse seen and in ` +
        `metadata) from ${ms(mid.profile.eniReadyAtMs[0] ?? Number.NaN)} to ` +
        `${ms(mid.profile.eniReadyAtMs.at(-1) ?? Number.NaN)}, the last reply at ` +
        `${seconds(mid.seconds)}. The bound's chain is create ${ms(model.createMs)} → attach ` +
        `${ms(model.attachMs)} → one Describe ${ms(model.describeMs)}` +
        `${bound.assigns > 0 ? ` → assign ${ms(model.assignMs)}` : ''}.`;
  return [
    title,
    '',
    `terwayd (\`dist/cmd/terwayd.js\`, own process, min_pool_size ${settings.minPoolSize}, ` +
      `max_pool_size ${settings.maxPoolSize}) in ECS mode against the ECS emulator ` +
      `(\`dist/cmd/ecs-emulator.js\`, own process) on \`${settings.instanceType}\`: 31 secondary ` +
      `ENIs × 10 IPs, so the node can hold ${settings.pods} pods at all. Emulated latencies: ` +
      `${formatCounts(settings.latency)} ms; AttachNetworkInterface answers at once and the ENI ` +
      `is InUse ${settings.attachMs} ms later. Account throttle on the mutating ENI calls: ` +
      `${settings.mutating.ratePerSecond} calls/s, burst ${settings.mutating.burst}. Each round ` +
      `starts a fresh emulator and a fresh daemon with no ENI, then sends ${settings.pods} ` +
      `AllocateIP calls at once, each on its own gRPC connection as the CNI shim makes them; ` +
      `the time runs to the last reply. ${r.rounds.length} rounds, median. The lower bound ` +
      `(\`bench/burst/lower-bound.ts\`) is the earliest any client could have all IPs usable ` +
      `under the same latencies and bucket: ⌈${settings.pods} / ${model.ipsPerEni}⌉ = ` +
      `${bound.enis} ENIs, each created with up to ${model.maxIpsPerCall} IPs (its primary ` +
      `included), attached once created, InUse seen by one Describe, IPs beyond the create's ` +
      `added by assigns, every mutating call taking a token.`,
    '',
    figures,
    '',
    targets,
    '',
    'API calls by name during the burst:',
    '',
    calls,
    '',
    where,
  ].join('\n');
}

function clusterSection(outcome: Outcome<ClusterBenchResult>): string {
  const title = '## 4. Cluster scale: 200 nodes × 30 pods against one throttled account';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const { settings, floor, perNodeSeconds: node } = r;
  const s = (value: number): string => `${value.toFixed(1)} s`;
  const figures = mdTable(
    ['', 'Value'],
    [
      [
        `**Converged** (all ${settings.nodes * settings.podsPerNode} pods hold IPs)`,
        `**${s(r.convergeSeconds)}**`,
      ],
      [
        'Per node, time to its 30th IP: min / p50 / p90 / p99 / max',
        `${s(node.min)} / ${s(node.p50)} / ${s(node.p90)} / ${s(node.p99)} / ${s(node.max)}`,
      ],
      ['Slowest node / p90 node (a straggler would stand out)', ratio(r.slowestToP90)],
      ['Slowest node / median node (≈ 2× when nodes are served in turn)', ratio(r.slowestToMedian)],
      [
        `Baseline: throttle floor (${floor.total} calls ÷ ${settings.account.ratePerSecond}/s)`,
        s(r.floorSeconds),
      ],
      ['**Ratio** converged / floor', `**${ratio(r.ratio)}** (target: none set)`],
      [
        'API calls: all / served / throttled',
        `${Object.values(r.calls).reduce((a, b) => a + b, 0)} / ${r.servedCalls} / ` +
          `${Object.values(r.throttled).reduce((a, b) => a + b, 0)}`,
      ],
      [
        'Calls the account served per second while converging',
        `${(r.servedCalls / r.convergeSeconds).toFixed(1)} (its limit: ${settings.account.ratePerSecond})`,
      ],
      ['Served calls / floor calls', ratio(r.callsOverFloor)],
      ['Secondary ENIs created / floor', `${r.enis} / ${floor.perNode.creates * settings.nodes}`],
      [
        'Start-up of the 200 pool managers (before the clock)',
        `${s(r.startup.seconds)}, ${Object.values(r.startup.calls).reduce((a, b) => a + b, 0)} ` +
          `calls, ${Object.values(r.startup.throttled).reduce((a, b) => a + b, 0)} throttled`,
      ],
    ],
  );
  const targets = mdTable(
    ['Target', 'Measured', 'Limit', 'Result'],
    r.targets.map((t) => [t.name, t.measured, t.limit, `**${passFail(t.pass)}**`]),
  );
  const floorCalls: Record<string, number> = {
    CreateNetworkInterface: floor.perNode.creates * settings.nodes,
    AttachNetworkInterface: floor.perNode.attaches * settings.nodes,
    AssignPrivateIpAddresses: floor.perNode.assigns * settings.nodes,
    DescribeNetworkInterfaces: floor.perNode.describes * settings.nodes,
  };
  const apis = [...new Set([...Object.keys(r.calls), ...Object.keys(floorCalls)])].sort();
  const calls = mdTable(
    ['API', 'calls', 'throttled', 'served', 'floor'],
    apis.map((api) => [
      api,
      String(r.calls[api] ?? 0),
      String(r.throttled[api] ?? 0),
      String((r.calls[api] ?? 0) - (r.throttled[api] ?? 0)),
      String(floorCalls[api] ?? 0),
    ]),
  );
  return [
    title,
    '',
    `${settings.nodes} pool managers in one Node process (no daemons, logs silenced), each ` +
      `wired as terwayd wires it: its own \`MetadataClient\` on the emulator's metadata for its ` +
      `instance (\`${settings.instanceType}\`: 3 secondary ENIs × 15 IPs), static credentials, ` +
      `\`connectAliyunCloud\`, \`restorePool\` with an in-memory pod store (min_pool_size ` +
      `${settings.minPoolSize}, max_pool_size ${settings.maxPoolSize}, otherwise the defaults). ` +
      `One emulated account (its own process) throttles every API together at ` +
      `${settings.account.ratePerSecond} calls/s, burst ${settings.account.burst}; latencies ` +
      `${formatCounts(settings.latency)} ms, attach ${settings.attachMs} ms. All managers start ` +
      `first (not timed); then every node asks for ${settings.podsPerNode} IPs at once and the ` +
      `clock runs until the last of the ${settings.nodes * settings.podsPerNode} is served. The ` +
      `floor (\`clusterCallFloor\` in \`bench/burst/lower-bound.ts\`) is the fewest calls any ` +
      `client needs: per node ${floor.perNode.creates} creates, ${floor.perNode.attaches} ` +
      `attaches, ${floor.perNode.assigns} assigns and one Describe (start-up reads left out; a ` +
      `third ENI instead of the assigns costs as many calls), at the account's rate.`,
    '',
    figures,
    '',
    targets,
    '',
    'API calls by name during the allocation phase (throttled ones answered Throttling and cost ' +
      'the account nothing):',
    '',
    calls,
  ].join('\n');
}

function cniSection(outcome: Outcome<CniAddDelResult>): string {
  const title = '## 5. CNI ADD and DEL through the real shim on a lab node (veth datapath)';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const { settings } = r;
  const row = (label: string, s: CniAddDelResult['nodeStart'], vs?: number): string[] => [
    label,
    `**${ms(s.p50Ms)}**`,
    ms(s.p99Ms),
    vs === undefined ? '' : ratio(vs),
  ];
  const figures = mdTable(
    ['', 'p50', `p99 (max of ${settings.pods})`, 'p50 ratio to the reference'],
    [
      row('terway ADD', r.terway.add, r.ratios.addOverMacvlan),
      row('terway DEL', r.terway.del, r.ratios.delOverMacvlan),
      row('terway ADD + DEL (per pod)', r.terway.pair, r.ratios.pairOverMacvlan),
      row('Baseline (a): `macvlan` + `host-local` ADD', r.macvlan.add),
      row('Baseline (a): `macvlan` + `host-local` DEL', r.macvlan.del),
      row('Baseline (a): `macvlan` + `host-local` ADD + DEL', r.macvlan.pair),
      row('Baseline (b): `node -e 0`', r.nodeStart),
      row('`terway` VERSION (shim start-up, same exec path)', r.terway.version),
    ],
  );
  const targets = mdTable(
    ['Target', 'Measured', 'Limit', 'Result'],
    [
      [
        `terway ADD p50 ≤ ${settings.targetFactor} × (node -e 0 p50 + reference ADD p50)`,
        ms(r.target.measuredMs),
        `≤ ${ms(r.target.limitMs)} (${settings.targetFactor} × (${ms(r.nodeStart.p50Ms)} + ${ms(r.macvlan.add.p50Ms)}))`,
        `**${passFail(r.target.pass)}**`,
      ],
    ],
  );
  const a = r.breakdown.add;
  const d = r.breakdown.del;
  const shimBeyondNode = r.terway.version.p50Ms - r.nodeStart.p50Ms;
  const parts = mdTable(
    ["Where terway's time goes (medians)", 'ADD', 'DEL', 'How it is measured'],
    [
      [
        '1. Node start-up',
        ms(r.nodeStart.p50Ms),
        ms(r.nodeStart.p50Ms),
        "`node -e 0` p50, exec'd by the same harness",
      ],
      [
        '2. Shim start-up beyond Node',
        ms(shimBeyondNode),
        ms(shimBeyondNode),
        '`terway` VERSION p50 − (1): nsenter, `#!/usr/bin/env node`, launcher, bundle with its code cache',
      ],
      [
        '3. gRPC client: connect, HTTP/2 frames, call, reply, exit',
        ms(a.clientRpcMs),
        ms(d.clientRpcMs),
        'per call: shim time − terwayd handler time − VERSION p50',
      ],
      [
        '4. terwayd handler, kernel excluded: IPAM, durable LMDB write, logging',
        ms(a.daemonOtherMs),
        ms(d.daemonOtherMs),
        'probe: handler time − row 5',
      ],
      [
        `5. Kernel programming: ${a.batches} / ${d.batches} plans to the node's long-lived \`ip\` + ${a.netlinkPlans} / ${d.netlinkPlans} pod plans over route netlink + ${a.spawns} / ${d.spawns} spawned \`ip\` per call`,
        ms(a.kernelMs),
        ms(d.kernelMs),
        'probe: write → last line reported of every node-side plan, socket open → last ack of every pod plan applied over netlink, and spawn → close of any child spawned inside the handler (less its wait for input)',
      ],
      ['**Measured call (p50)**', `**${ms(a.totalMs)}**`, `**${ms(d.totalMs)}**`, 'client side'],
    ],
  );
  const context = mdTable(
    ['Figure quoted in the issue', 'Issue', 'Measured here'],
    [
      ['Bare Node start (`node -e 0`)', '≈ 58 ms', ms(r.nodeStart.p50Ms)],
      [
        "Bundled one-shot gRPC client (shim ADD − terwayd handler; now HTTP/2 framed by hand over the shim's blocking unix-socket addon)",
        '≈ 124 ms',
        ms(a.totalMs - a.daemonMs),
      ],
      ['Reference plugin ADD + DEL pair', '≈ 29 ms', ms(r.macvlan.pair.p50Ms)],
      [
        `\`ip -batch\` per pod ADD (here: ${r.ipBatch.nodeCount} plan to the node netns's long-lived ip + ${r.ipBatch.podNetlinkCount > 0 ? `${r.ipBatch.podNetlinkCount} pod plan over netlink` : `${r.ipBatch.podCount} spawned ip in the pod's`})`,
        '≈ 12 ms',
        `${ms(a.kernelMs)} (node ${ms(r.ipBatch.nodeMs)}, pod ${ms(r.ipBatch.podNetlinkCount > 0 ? r.ipBatch.podNetlinkMs : r.ipBatch.podMs)})`,
      ],
    ],
  );
  return [
    title,
    '',
    `A 1-node \`lab\` (\`dist/cmd/lab.js up --nodes 1 --driver veth\`): the real terwayd with the ` +
      `veth policy-routing datapath and a warm pool (min_eni 2, min_pool_size 2, max_pool_size 10) ` +
      `against the lab's ECS emulator. ${settings.pods} pods, each ADD then DEL, one at a time, ` +
      `through the real shim exec'd as a kubelet/containerd does: \`nsenter --net=<node netns> -- ` +
      `<cni-bin>/terway\` with CNI_* in the environment and the conflist's plugin config on stdin, ` +
      `into a fresh pod netns made beforehand (not timed); a call is timed from spawn to exit by the ` +
      `benchmark process. ${settings.warmupPods} warm-up pods first (the shim's V8 code cache, ` +
      `every ENI's first pod). Interleaved pod by pod in the same loop: baseline (a), Debian's Go ` +
      `\`macvlan\` (bridge mode, master = eth0 of a scratch "node" netns, one end of a veth pair) ` +
      `with \`host-local\` IPAM (temp dataDir), exec'd the same way into its own fresh pod netns; ` +
      `baseline (b), a bare \`node -e 0\`. Cloud API calls terwayd logged during the window: ` +
      `${formatCounts(r.cloudCallsInWindow)}; the measured pods went to ` +
      `${r.enisUsed} ENI(s) (one pod at a time: least_ips keeps picking the emptiest). Afterwards ` +
      `no terway record, host veth or host-local IP may be left. The breakdown comes from a probe ` +
      `preloaded into the lab's terwayd (\`NODE_OPTIONS=--import\`, ` +
      `\`bench/support/daemon-probe.ts\`) that times its gRPC handlers and every child it spawns. ` +
      `The benchmark took ${Math.round(r.durationSeconds)} s, lab up and down included.`,
    '',
    figures,
    '',
    targets,
    '',
    parts,
    '',
    'Rows 1–5 are medians of per-call values, so they add up to the measured median only ' +
      'roughly.' +
      ' The node side of a pod goes to one long-lived `ip -force -batch -` in the node netns ' +
      '(src/dataplane/kernel/ip-batch-session.ts): no fork, exec or dynamic link per pod, only ' +
      'the netlink work.' +
      (r.ipBatch.podNetlinkCount > 0
        ? ' The pod side is applied by terwayd itself over a route netlink socket opened in the ' +
          "pod's netns (src/dataplane/kernel/pod-netlink-kernel.ts, through the daemon's addon): " +
          `no process at all (${ms(r.ipBatch.podNetlinkMs)} per pod plan, median).`
        : ' The pod side is one spawned `ip -n <pod netns>` (the addon is not built), started ' +
          'when the ADD arrives so that the IP allocation and the node side hide its start-up ' +
          `(it waited ${ms(r.ipBatch.podWaitMs)} for its plan, median).`) +
      (r.ipBatch.failedPerAdd > 0
        ? ` ${r.ipBatch.failedPerAdd} of the ${r.ipBatch.podCount} spawned ` +
          `\`ip -batch\` children per ADD exited non-zero (median ${ms(r.ipBatch.failedMs)}): a ` +
          `plan's first line removes what a previous attempt may have left, which on a fresh pod ` +
          `is not there; \`ip -force\` runs the rest anyway and terwayd counts that failure as ` +
          `harmless.`
        : '') +
      ` The slowest ADD took ${ms(r.slowest.add.totalMs)}, of which the terwayd handler ` +
      `${ms(r.slowest.add.daemonMs)} (kernel ${ms(r.slowest.add.kernelMs)}); the slowest DEL ` +
      `${ms(r.slowest.del.totalMs)}, handler ${ms(r.slowest.del.daemonMs)} (kernel ` +
      `${ms(r.slowest.del.kernelMs)}).` +
      ' For context, the figures the issue quoted:',
    '',
    context,
  ].join('\n');
}

function podToPodSection(outcome: Outcome<PodToPodResult>): string {
  const title = '## 6. Pod → pod across ENIs: TCP latency and throughput';
  const r = outcome.result;
  if (r === undefined) return notCompleted(title, outcome.error);
  const { settings, pod, veth, ratios } = r;
  const gbps = (value: number): string => `${value.toFixed(2)} Gbit/s`;
  const us = (value: number): string => `${value.toFixed(1)} µs`;
  const figures = mdTable(
    ['Path', 'Throughput, 1 TCP stream', 'TCP RTT p50', 'TCP RTT p99'],
    [
      [
        `pod A (${r.pods.a.node}, ${r.pods.a.eniId}) → pod B (${r.pods.b.node}, ${r.pods.b.eniId})`,
        `**${gbps(pod.gbps)}**`,
        `**${us(pod.rttP50Us)}**`,
        us(pod.rttP99Us),
      ],
      [
        'Baseline: bare veth pair between two namespaces',
        gbps(veth.gbps),
        us(veth.rttP50Us),
        us(veth.rttP99Us),
      ],
      [
        '**Ratio** pod → pod / veth',
        `**${ratio(ratios.throughput)}**`,
        `**${ratio(ratios.rttP50)}**`,
        ratio(ratios.rttP99),
      ],
    ],
  );
  const rounds = mdTable(
    ['Round', 'pod Gbit/s', 'veth Gbit/s', 'pod RTT p50 / p99 µs', 'veth RTT p50 / p99 µs'],
    pod.gbpsRounds.map((value, i) => [
      String(i + 1),
      value.toFixed(2),
      (veth.gbpsRounds[i] ?? Number.NaN).toFixed(2),
      `${pod.rttRounds[i]?.p50.toFixed(1)} / ${pod.rttRounds[i]?.p99.toFixed(1)}`,
      `${veth.rttRounds[i]?.p50.toFixed(1)} / ${veth.rttRounds[i]?.p99.toFixed(1)}`,
    ]),
  );
  return [
    title,
    '',
    `A 2-node \`lab\` (veth datapath); pod A on node-1 and pod B on node-2, both added with ` +
      `\`lab pod add\` through the real shim, so A → B leaves A's veth, is policy-routed out of ` +
      `node-1's ENI (${r.pods.a.eniLink}), crosses the lab VPC namespace (which routes each private ` +
      `IP to its ENI) and enters node-2's ENI (${r.pods.b.eniLink}) to B's veth. node-1's ENI ` +
      `sent ${ratio(r.eniBytesOverIperf)} the bytes iperf3 counted (≥ 1: the stream crossed it; ` +
      `the omitted first second is on the ENI but not in iperf3's count). Baseline: a bare veth ` +
      `pair between two namespaces made here, the floor for any namespace-to-namespace path on ` +
      `this kernel. Throughput: ${r.iperfVersion}, one TCP stream, \`-t ${settings.iperfSeconds} ` +
      `-O ${settings.iperfOmitSeconds}\`, received rate. Latency: ${r.rrTool}, ` +
      `${settings.rrMessageBytes}-byte messages, ${settings.rrSeconds} s per round, round-trip ` +
      `percentiles. ${settings.rounds} rounds alternating which path goes first; figures are ` +
      `medians over the rounds. Client and server share the 2 cores with everything else, so p99 ` +
      `mostly measures scheduling noise. The benchmark took ${Math.round(r.durationSeconds)} s, lab up ` +
      `and down included.`,
    '',
    figures,
    '',
    'Per round:',
    '',
    rounds,
  ].join('\n');
}

const METHOD = `## Method

- Every figure comes with a baseline measured in the same run, on the same machine, and the ratio
  beside it. The machine is small and noisy, so the table quotes medians (p50) and ratios; compare
  ratios between runs rather than absolute numbers.
- **Medians and percentiles.** Latency percentiles (p50, p99) of a load's samples are nearest-rank:
  each is a latency some call had. A median over rounds is the middle round, or the mean of the
  two middle rounds of an even count (the nearest-rank p50 would take the lower of the two, the
  favourable side of every figure where lower passes). A ratio over rounds is the median of each
  round's ratio to the baseline measured in that round; a round missing either side makes it n/a.
- **Allocate.** terwayd is the built \`dist/cmd/terwayd.js\` in its own process, on the built-in
  simulated cloud (\`ecs.ebmg5.24xlarge\`, 5 ms API latency, 20 ms attach latency), with its state in
  LMDB under a temp dir and its log in a file. Measurement starts only once the pool is warm: it
  waits for 64 idle IPs, then holds 32 IPs once and waits for the pool to refill, so no cloud call
  falls inside the window. Each AllocateIP includes the durable pod-record write (committed and
  flushed before the reply); each ReleaseIP includes the durable delete. Latency is client-side
  (call start to reply), for calls started inside the window; throughput counts calls completed
  inside it. Afterwards the daemon must report no IP in use and no record left.
- **Echo baseline.** A separate Node process serving one unary gRPC method that returns its
  request (three strings, like a PodRef), on a unix socket, built the same way as terwayd's server.
  The same harness drives it: 32 workers, two calls per iteration (the shape of allocate +
  release), so "pairs/s" is the like-for-like figure for allocations/s.
- **One shared channel.** All 32 workers share one grpc-js channel, i.e. one HTTP/2 connection: the
  realistic case for a long-lived client. The real CNI shim instead starts one process and one
  connection per CNI call; benchmark 2 measures that cost.
- **CPU columns** are each process's user + system CPU over the window in % of one core, read from
  /proc. The load generator shares the 2 cores with the server, so it is part of what is measured.
- **Shim start-up.** hyperfine runs each command through \`sh -c\` and subtracts the shell's own
  start-up; the ADD+DEL wrappers add one \`sh\` start (about 1 ms) to both terway and host-local.
  \`node\` is the same binary that runs the benchmark; the shim is \`dist/bundle/terway.cjs\`,
  run as \`node terway.cjs\` with the netconf on stdin: the launcher that runs the bundled
  \`terway-main.cjs\` with its V8 code cache, which hyperfine's warm-up runs create, as the first
  pods on a node would. host-local
  is the Go reference IPAM plugin from /usr/lib/cni with a minimal netconf and a temp dataDir; it
  writes plain files (no fsync), while terway's ADD also crosses gRPC to the daemon and waits for a
  durable LMDB write.
- **Lab benchmarks (5, 6).** Each brings up its own \`lab\` (\`dist/cmd/lab.js\`: network-namespace
  nodes, each with the real terwayd and the veth datapath, against the lab's ECS emulator) and
  takes it down with \`lab down\`; scratch namespaces (pod netns made before the clock, the
  macvlan "node", the veth baseline) carry a per-run prefix. Benchmark 5 exec's every plugin as a
  container runtime does (\`nsenter --net=<node netns>\`, CNI_* environment, config on stdin) and
  times it from the benchmark process, spawn to exit; benchmark 6 runs iperf3 and the ping-pong
  client/server inside the pod namespaces with \`nsenter\`.
- RPC traffic is on unix sockets; all loops are bounded by time and by count; temp dirs,
  processes, labs and namespaces are removed on success, on failure and on Ctrl-C.`;

/** Every benchmark's outcome, in the order they run and BENCHMARKS.md lists them. */
interface Outcomes {
  allocate: Outcome<AllocateBenchResult>;
  shim: Outcome<ShimBenchResult>;
  burst: Outcome<BurstBenchResult>;
  cluster: Outcome<ClusterBenchResult>;
  cni: Outcome<CniAddDelResult>;
  podToPod: Outcome<PodToPodResult>;
  lbMaps: Outcome<LbMapsResult>;
  lbDatapath: Outcome<LbDatapathResult>;
  lbProgram: Outcome<LbProgramResult>;
  churnMemory: Outcome<ChurnMemoryResult>;
  conntrackCollect: Outcome<ConntrackCollectResult>;
}

function markdown(outcomes: Outcomes, startedAt: Date, seconds: number): string {
  const { allocate, shim, burst, cluster, cni, podToPod, lbMaps } = outcomes;
  const { lbDatapath, lbProgram, churnMemory, conntrackCollect } = outcomes;
  const header = [
    '# Benchmarks',
    '',
    `Produced by \`${COMMAND}\` on ${startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} ` +
      `(took ${Math.round(seconds)} s). This file is rewritten on every run; do not edit it by hand.`,
    '',
    mdTable(['Machine', ''], machine()),
  ].join('\n');
  const sections = [
    header,
    allocateSection(allocate),
    shimSection(shim),
    burstSection(burst),
    clusterSection(cluster),
    cniSection(cni),
    podToPodSection(podToPod),
    lbMapsSection(lbMaps.result, lbMaps.error),
    lbDatapathSection(lbDatapath.result, lbDatapath.error),
    lbProgramSection(lbProgram.result, lbProgram.error),
    churnMemorySection(churnMemory.result, churnMemory.error),
    conntrackCollectSection(conntrackCollect.result, conntrackCollect.error),
    METHOD,
  ];
  return `${sections.join('\n\n')}\n`;
}

function summary(outcomes: Outcomes): string {
  const { allocate, shim, burst, cluster, cni, podToPod, lbMaps } = outcomes;
  const { lbDatapath, lbProgram, churnMemory, conntrackCollect } = outcomes;
  const table = new Table({
    head: ['Benchmark', 'Measured', 'Baseline', 'Ratio', 'Target'],
    style: { head: [], border: [] },
  });
  const a = allocate.result;
  if (a === undefined) table.push(['allocate', 'FAILED', '', '', '']);
  else {
    const [latency, throughput] = a.targets;
    table.push(
      [
        'AllocateIP p50 (32 conc.)',
        ms(a.terway.allocate.p50Ms),
        `echo ${ms(a.echo.call.p50Ms)}`,
        ratio(a.ratios.p50),
        latency ? `${latency.limit} ${passFail(latency.pass)}` : '',
      ],
      [
        'Allocations/s (32 conc.)',
        rate(a.terway.allocationsPerSecond, '/s'),
        `echo ${rate(a.echo.pairsPerSecond, 'pairs/s')}`,
        ratio(a.ratios.pairThroughput),
        throughput ? `${throughput.limit} ${passFail(throughput.pass)}` : '',
      ],
    );
  }
  const s = shim.result;
  if (s === undefined) table.push(['shim start-up', 'FAILED', '', '', '']);
  else {
    table.push(
      [
        'terway VERSION',
        ms(s.version.medianMs),
        `node -e 0 ${ms(s.nodeFloor.medianMs)}`,
        ratio(s.ratios.versionOverNode),
        '—',
      ],
      [
        'terway ADD+DEL',
        ms(s.terwayAddDel.medianMs),
        `host-local ${ms(s.hostLocalAddDel.medianMs)}`,
        ratio(s.ratios.addDelOverHostLocal),
        '—',
      ],
    );
  }
  const b = burst.result;
  if (b === undefined) table.push(['burst', 'FAILED', '', '', '']);
  else {
    table.push([
      `${b.settings.pods} pods at once, empty node`,
      ms(b.medianSeconds * 1000),
      `bound ${ms(b.bound.ms)}`,
      ratio(b.ratio),
      `≤ ${ratio(b.settings.targetRatio)} ${passFail(b.pass)}`,
    ]);
  }
  const c = cluster.result;
  if (c === undefined) table.push(['cluster scale', 'FAILED', '', '', '']);
  else {
    const [starvation] = c.targets;
    table.push(
      [
        `${c.settings.nodes} nodes × ${c.settings.podsPerNode} pods converge`,
        `${c.convergeSeconds.toFixed(1)} s`,
        `floor ${c.floorSeconds.toFixed(1)} s`,
        ratio(c.ratio),
        '—',
      ],
      [
        'slowest node / p90 node',
        `${c.perNodeSeconds.max.toFixed(1)} s`,
        `p90 ${c.perNodeSeconds.p90.toFixed(1)} s`,
        ratio(c.slowestToP90),
        starvation ? `${starvation.limit} ${passFail(starvation.pass)}` : '',
      ],
    );
  }
  const n = cni.result;
  if (n === undefined) table.push(['CNI ADD/DEL in a lab node', 'FAILED', '', '', '']);
  else {
    table.push(
      [
        `terway ADD p50 (${n.settings.pods} pods)`,
        ms(n.terway.add.p50Ms),
        `macvlan ${ms(n.macvlan.add.p50Ms)}`,
        ratio(n.ratios.addOverMacvlan),
        `≤ ${ms(n.target.limitMs)} ${passFail(n.target.pass)}`,
      ],
      [
        'terway DEL p50',
        ms(n.terway.del.p50Ms),
        `macvlan ${ms(n.macvlan.del.p50Ms)}`,
        ratio(n.ratios.delOverMacvlan),
        '—',
      ],
    );
  }
  const p = podToPod.result;
  if (p === undefined) table.push(['pod → pod', 'FAILED', '', '', '']);
  else {
    table.push(
      [
        'pod → pod throughput',
        `${p.pod.gbps.toFixed(2)} Gbit/s`,
        `veth ${p.veth.gbps.toFixed(2)} Gbit/s`,
        ratio(p.ratios.throughput),
        '—',
      ],
      [
        'pod → pod TCP RTT p50',
        `${p.pod.rttP50Us.toFixed(1)} µs`,
        `veth ${p.veth.rttP50Us.toFixed(1)} µs`,
        ratio(p.ratios.rttP50),
        '—',
      ],
    );
  }
  table.push(...lbMapsSummaryRows(lbMaps.result));
  table.push(...lbDatapathSummaryRows(lbDatapath.result));
  table.push(...lbProgramSummaryRows(lbProgram.result));
  table.push(...churnMemorySummaryRows(churnMemory.result));
  table.push(...conntrackCollectSummaryRows(conntrackCollect.result));
  return table.toString();
}

/** The repo's prettier style (`make lint` checks every Markdown file), when prettier is there. */
async function formatted(path: string, text: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(path)) ?? {};
    return await prettier.format(text, { ...options, filepath: path });
  } catch {
    return text;
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  // The lab benchmarks run last; they run this build even if dist/ is rebuilt meanwhile.
  await builtSnapshot().catch(() => undefined);
  const allocate = await attempt('allocate: AllocateIP + ReleaseIP vs echo', () =>
    runAllocateBench(printRound),
  );
  if (allocate.result !== undefined) printAllocate(allocate.result);
  const shim = await attempt(
    'shim start-up: terway vs node -e 0 and host-local',
    runShimStartupBench,
  );
  if (shim.result !== undefined) printShim(shim.result);
  const burst = await attempt('burst: 100 pods at once vs the lower bound', () => runBurstBench());
  if (burst.result !== undefined) printBurst(burst.result);
  const cluster = await attempt('cluster scale: 200 nodes × 30 pods vs the throttle floor', () =>
    runClusterBench(),
  );
  if (cluster.result !== undefined) printCluster(cluster.result);
  const cni = await attempt('CNI ADD/DEL: terway shim in a lab node vs macvlan and node -e 0', () =>
    runCniAddDelBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (cni.result !== undefined) printCniAddDel(cni.result);
  const podToPod = await attempt('pod → pod across ENIs vs a bare veth pair', () =>
    runPodToPodBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (podToPod.result !== undefined) printPodToPod(podToPod.result);
  const lbMaps = await attempt(
    'LB maps: 10,000 Services into the eBPF maps vs iptables-restore',
    () => runLbMapsBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (lbMaps.result !== undefined) printLbMaps(lbMaps.result);
  const lbDatapath = await attempt(
    'LB datapath: ClusterIP through the eBPF LB vs direct and iptables DNAT',
    () => runLbDatapathBench({ progress: (line) => process.stdout.write(`${line}\n`) }),
  );
  if (lbDatapath.result !== undefined) printLbDatapath(lbDatapath.result);
  const lbProgram = await attempt(
    'LB programs: each path under BPF_PROG_TEST_RUN vs a restore-only program',
    () => runLbProgramBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (lbProgram.result !== undefined) printLbProgram(lbProgram.result);
  const churnMemory = await attempt(
    'memory under CNI churn: terwayd as shipped vs a host-sized V8 heap',
    () => runChurnMemoryBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (churnMemory.result !== undefined) printChurnMemory(churnMemory.result);
  const conntrackCollect = await attempt(
    'conntrack collector: a pass over a nearly full flow table vs the dump and per-key syscalls',
    () => runConntrackCollectBench((line) => process.stdout.write(`${line}\n`)),
  );
  if (conntrackCollect.result !== undefined) printConntrackCollect(conntrackCollect.result);

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const outcomes: Outcomes = {
    allocate,
    shim,
    burst,
    cluster,
    cni,
    podToPod,
    lbMaps,
    lbDatapath,
    lbProgram,
    churnMemory,
    conntrackCollect,
  };
  const out = join(REPO_ROOT, 'BENCHMARKS.md');
  writeFileSync(out, await formatted(out, markdown(outcomes, startedAt, seconds)));
  process.stdout.write(`\n${summary(outcomes)}\nwrote ${out} (${Math.round(seconds)} s)\n`);
  const failed = Object.values(outcomes).some((outcome) => outcome.error !== undefined);
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} finally {
  cleanupAllSync();
}
