/**
 * The conntrack collector on a nearly full flow table (src/lb/flow-collector.ts): how long a pass
 * takes terwayd, and how long it holds the event loop (what a pod ADD arriving meanwhile waits).
 *
 * The LB object is loaded as terwayd loads it (its clock constants, a fresh pin dir), and the
 * flow table is filled with FLOWS flows, ENDED_SHARE of them ended (TCP closing 20 s ago, UDP
 * silent 90 s) and the rest live, each with its reverse entry. Per round, on a fresh fill each:
 * - the collector's pass (dump off the loop, scan, tw_lb_collect run on batches of 64 keys);
 * - baseline: the dump alone, the floor under any collector that reads the table from user space;
 * - what `terway-cli show flows` costs the daemon on that table (selectFlows, the 1,000 most
 *   recent, its default), read in pages like the pass, against the same dump: the whole table at
 *   once, as the selection read it before.
 * - baseline: the same deletes made by the daemon itself, one system call each (the flow looked up
 *   again, deleted, its reverse entry looked up and deleted): the collector without the program,
 *   whose check and delete are system calls apart. Paused as often as the pass pauses.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { rmSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import pino from 'pino';

import { ensureBpffs } from '../../src/dataplane/bpf/bpffs.js';
import { planLbLoad, SYSTEM_LB_OBJECT_PROBES } from '../../src/dataplane/bpf/lb-object.js';
import { loadObject, NativeBpfMap, NativeBpfProgram } from '../../src/dataplane/bpf/native-bpf.js';
import { ProgramEndedFlowReaper } from '../../src/lb/ended-flow-reaper.js';
import { FlowCollector } from '../../src/lb/flow-collector.js';
import { MapCallsEndedFlowReaper } from '../../src/lb/map-calls-ended-flow-reaper.js';
import { selectFlows } from '../../src/lb/flow-records.js';
import { DUMP_PAGE_ENTRIES } from '../../src/dataplane/bpf/bpf-maps.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import {
  FLOW,
  FLOW_KEY,
  FLOW_STATES,
  IPPROTO_TCP,
  IPPROTO_UDP,
  REVERSE_KEY,
} from '../../src/lb/maps/lb-layouts.js';
import { encodeInto } from '../../src/lb/maps/struct-codec.js';
import {
  DEFAULT_FLOW_TABLE_SIZE,
  parseFlowTableSize,
  planFlowTableSize,
} from '../../src/lb/flow-table-size.js';
import { onCleanup } from '../support/cleanup.js';
import { peakRssMb, resetPeakRss, rssOf } from '../support/process-memory.js';
import { mdTable, notCompleted } from '../support/markdown.js';
import { REPO_ROOT } from '../support/paths.js';
import { median, medianRatio, ms, rate, ratio } from '../support/stats.js';

/**
 * The flow table's size (terwayd --lb-flow-table-size): the default's, unless
 * CONNTRACK_COLLECT_TABLE_SIZE asks for another; it is filled to the same share either way
 * (250,000 of the default 262,144).
 */
const TABLE_SIZE = parseFlowTableSize(
  process.env['CONNTRACK_COLLECT_TABLE_SIZE'] ?? String(DEFAULT_FLOW_TABLE_SIZE),
  'CONNTRACK_COLLECT_TABLE_SIZE',
);
const FLOWS = Math.round((TABLE_SIZE * 250_000) / DEFAULT_FLOW_TABLE_SIZE);
const ENDED_SHARE = 0.75;
const ROUNDS = Number(process.env['CONNTRACK_COLLECT_ROUNDS'] ?? 5);
const S = 1_000_000_000n;

export interface CollectRound {
  passMs: number;
  passStallMs: number;
  /** The kernel's peak RSS during the pass, less the RSS before it (MiB). */
  passRssMb: number;
  dumpMs: number;
  dumpStallMs: number;
  /** Peak RSS added while the whole table was dumped at once (MiB). */
  dumpRssMb: number;
  selectMs: number;
  selectStallMs: number;
  selectRssMb: number;
  syscallsMs: number;
  syscallsStallMs: number;
  collected: number;
}

export interface ConntrackCollectResult {
  flows: number;
  ended: number;
  capacity: number;
  rounds: CollectRound[];
  medians: {
    pass: number;
    passStall: number;
    passRss: number;
    dump: number;
    dumpRss: number;
    select: number;
    selectStall: number;
    selectRss: number;
    syscalls: number;
    syscallsStall: number;
  };
  ratios: { passOverDump: number; passOverSyscalls: number; selectOverDump: number };
  checks: string[];
  seconds: number;
}

/** The loop's longest stall while `work` runs, from a 1 ms-resolution delay histogram. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; stallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  histogram.disable();
  return { ms: elapsed, stallMs: histogram.max / 1e6 };
}

/** What `work` adds to the process's peak RSS (MiB), from a collected heap. */
async function peakRssAdded(work: () => Promise<unknown>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = rssOf(process.pid).rssMb;
  resetPeakRss(process.pid);
  await work();
  return Math.max(0, peakRssMb(process.pid) - before);
}

/** The default limit of `terway-cli show flows`. */
const SHOWN_FLOWS = 1_000;

/**
 * FLOWS flows and their reverse entries, written in two batches; returns how many are ended, and
 * when the live ones were last seen.
 */
function fill(maps: LbMaps): { ended: number; liveSeenNs: bigint } {
  const now = process.hrtime.bigint();
  const keys = Buffer.alloc(FLOWS * FLOW_KEY.size);
  const values = Buffer.alloc(FLOWS * maps.flow.valueStride);
  const reverseKeys = Buffer.alloc(FLOWS * REVERSE_KEY.size);
  let ended = 0;
  for (let index = 0; index < FLOWS; index++) {
    const udp = index % 2 === 1;
    const isEnded = index < FLOWS * ENDED_SHARE;
    if (isEnded) ended++;
    const clientAddr = 0x0a800000 + (index >>> 14);
    const clientPort = 1024 + (index & 0x3fff);
    const proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
    encodeInto(
      FLOW_KEY,
      {
        clientAddr,
        frontendAddr: 0x0a60000a,
        clientPort,
        frontendPort: udp ? 53 : 80,
        proto,
      },
      keys,
      index * FLOW_KEY.size,
    );
    const idle = isEnded ? (udp ? 90n : 20n) * S : 0n;
    encodeInto(
      FLOW,
      {
        firstSeenNs: now - idle - S,
        lastSeenNs: now - idle,
        packets: 4n,
        bytes: 240n,
        nextHop: 0n,
        frontendId: 1,
        backendId: 1,
        backendAddr: 0x0a000014,
        backendPort: 8080,
        state: FLOW_STATES.indexOf(isEnded && !udp ? 'closing' : 'established'),
        flags: 0,
      },
      values,
      index * maps.flow.valueStride,
    );
    encodeInto(
      REVERSE_KEY,
      {
        clientAddr,
        backendAddr: 0x0a000014,
        clientPort,
        backendPort: 8080,
        proto,
      },
      reverseKeys,
      index * REVERSE_KEY.size,
    );
  }
  maps.flow.updateBatch(keys, values, FLOWS);
  maps.reverse.updateBatch(reverseKeys, keys, FLOWS);
  return { ended, liveSeenNs: now };
}

function empty(maps: LbMaps): void {
  for (const map of [maps.flow, maps.reverse]) {
    const dump = map.dump();
    if (dump.count > 0) map.deleteBatch(dump.keys, dump.count);
  }
}

export async function runConntrackCollectBench(
  progress: (line: string) => void = () => undefined,
): Promise<ConntrackCollectResult> {
  const started = Date.now();
  const pinDir = `/sys/fs/bpf/terway-bench-${process.pid}-collect`;
  const unregister = onCleanup(() => rmSync(pinDir, { recursive: true, force: true }));
  const plan = planLbLoad(join(REPO_ROOT, 'dist/bpf/lb.o'), SYSTEM_LB_OBJECT_PROBES);
  ensureBpffs(pinDir);
  const loaded = loadObject(
    plan.object,
    pinDir,
    plan.constants,
    planFlowTableSize(TABLE_SIZE, () => undefined).mapSizes,
  );
  const program = loaded.programs['tw_lb_collect'];
  if (program === undefined) throw new Error(`${plan.object} has no tw_lb_collect`);
  const maps = openLbMaps(pinDir, (path) => NativeBpfMap.openPinned(path));
  const collect = NativeBpfProgram.openPinned(program);
  const collector = new FlowCollector({
    flows: maps.flow,
    reaper: new ProgramEndedFlowReaper((frame) => collect.testRun(frame)),
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
  });
  // The same collector without its program: the daemon's own lookups and deletes, one call each.
  const bySyscallsCollector = new FlowCollector({
    flows: maps.flow,
    reaper: new MapCallsEndedFlowReaper(maps, process.hrtime.bigint, false),
    logger: pino({ level: 'silent' }),
    intervalMs: 0,
  });
  const rounds: CollectRound[] = [];
  const checks: string[] = [];
  let ended = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const filled = fill(maps);
      ended = filled.ended;
      let dump = { ms: 0, stallMs: 0 };
      const dumpRssMb = await peakRssAdded(async () => {
        dump = await timed(() => maps.flow.dumpAsync());
      });
      let select = { ms: 0, stallMs: 0 };
      let shown: { matched: number; total: number; records: number; newest: bigint } | undefined;
      const selectRssMb = await peakRssAdded(async () => {
        select = await timed(async () => {
          const selection = await selectFlows(maps.flow, { limit: SHOWN_FLOWS }, () => nextTurn());
          const records = [...selection.batches(100)].flat();
          shown = { ...selection, records: records.length, newest: records[0]!.lastSeenNs };
        });
      });
      if (
        shown?.matched !== FLOWS ||
        shown.records !== SHOWN_FLOWS ||
        shown.newest !== filled.liveSeenNs
      ) {
        throw new Error(
          `round ${round + 1}: the selection matched ${shown?.matched} flows and showed ` +
            `${shown?.records}, the first last seen at ${shown?.newest}, not ${filled.liveSeenNs}`,
        );
      }
      if (round === 0) {
        checks.push(
          `the selection matched ${shown.matched} of ${shown.total} flows and showed ` +
            `${shown.records}, the most recent first`,
        );
      }
      let collected = 0;
      let pass = { ms: 0, stallMs: 0 };
      const passRssMb = await peakRssAdded(async () => {
        pass = await timed(async () => {
          collected = (await collector.collect()).collected.flows;
        });
      });
      const left = { flows: maps.flow.dump().count, reverse: maps.reverse.dump().count };
      if (round === 0) {
        checks.push(
          `the pass deleted ${collected} of ${ended} ended flows and left ${left.flows} flows, ` +
            `${left.reverse} reverse entries (live: ${FLOWS - ended})`,
        );
      }
      if (collected !== ended || left.flows !== FLOWS - ended || left.reverse !== FLOWS - ended) {
        throw new Error(
          `round ${round + 1}: collected ${collected} of ${ended}, left ${left.flows}`,
        );
      }
      empty(maps);
      fill(maps);
      let bySyscalls = 0;
      const syscalls = await timed(async () => {
        bySyscalls = (await bySyscallsCollector.collect()).collected.flows;
      });
      if (bySyscalls !== ended)
        throw new Error(`round ${round + 1}: syscalls deleted ${bySyscalls}`);
      empty(maps);
      rounds.push({
        passMs: pass.ms,
        passStallMs: pass.stallMs,
        passRssMb,
        dumpMs: dump.ms,
        dumpStallMs: dump.stallMs,
        dumpRssMb,
        selectMs: select.ms,
        selectStallMs: select.stallMs,
        selectRssMb,
        syscallsMs: syscalls.ms,
        syscallsStallMs: syscalls.stallMs,
        collected,
      });
      progress(
        `round ${round + 1}: pass ${ms(pass.ms)} (loop held ≤ ${ms(pass.stallMs)}), dump ${ms(dump.ms)}, ` +
          `show flows ${ms(select.ms)} (+${selectRssMb.toFixed(0)} MB), ` +
          `per-key syscalls ${ms(syscalls.ms)} (≤ ${ms(syscalls.stallMs)})`,
      );
    }
  } finally {
    collect.close();
    closeLbMaps(maps);
    rmSync(pinDir, { recursive: true, force: true });
    unregister();
  }
  const pick = (field: keyof CollectRound): number[] => rounds.map((round) => round[field]);
  return {
    flows: FLOWS,
    ended,
    capacity: maps.flow.maxEntries,
    rounds,
    medians: {
      pass: median(pick('passMs')),
      passStall: median(pick('passStallMs')),
      passRss: median(pick('passRssMb')),
      dump: median(pick('dumpMs')),
      dumpRss: median(pick('dumpRssMb')),
      select: median(pick('selectMs')),
      selectStall: median(pick('selectStallMs')),
      selectRss: median(pick('selectRssMb')),
      syscalls: median(pick('syscallsMs')),
      syscallsStall: median(pick('syscallsStallMs')),
    },
    ratios: {
      passOverDump: medianRatio(pick('passMs'), pick('dumpMs')),
      passOverSyscalls: medianRatio(pick('passMs'), pick('syscallsMs')),
      selectOverDump: medianRatio(pick('selectMs'), pick('dumpMs')),
    },
    checks,
    seconds: (Date.now() - started) / 1000,
  };
}

const TITLE = '## 11. Service LB: the conntrack collector on a nearly full flow table';

export function conntrackCollectSection(
  r: ConntrackCollectResult | undefined,
  error: string | undefined,
): string {
  if (r === undefined) return notCompleted(TITLE, error);
  const perSecond = (count: number, elapsedMs: number): string =>
    rate((count / elapsedMs) * 1000, 'flows/s');
  const figures = mdTable(
    [
      '',
      'time (median)',
      'longest event-loop stall',
      'peak RSS added',
      'ended flows deleted',
      'ratio',
    ],
    [
      [
        '**collector pass** (dump, scan, `tw_lb_collect` on batches of 64)',
        `**${ms(r.medians.pass)}**`,
        ms(r.medians.passStall),
        `${r.medians.passRss.toFixed(0)} MB`,
        perSecond(r.ended, r.medians.pass),
        '',
      ],
      [
        'Baseline: the dump alone (the whole table at once)',
        ms(r.medians.dump),
        '',
        `${r.medians.dumpRss.toFixed(0)} MB`,
        '',
        `pass / dump **${ratio(r.ratios.passOverDump)}**`,
      ],
      [
        `\`terway-cli show flows\`, the daemon's side: the ${SHOWN_FLOWS.toLocaleString('en-US')} ` +
          `most recent flows selected in pages, as records`,
        ms(r.medians.select),
        ms(r.medians.selectStall),
        `${r.medians.selectRss.toFixed(0)} MB`,
        '',
        `selection / dump ${ratio(r.ratios.selectOverDump)}`,
      ],
      [
        'Baseline: the same deletes by the daemon, one system call each',
        ms(r.medians.syscalls),
        ms(r.medians.syscallsStall),
        '',
        perSecond(r.ended, r.medians.syscalls),
        `pass / syscalls **${ratio(r.ratios.passOverSyscalls)}**`,
      ],
    ],
  );
  const perRound = mdTable(
    [
      'Round',
      'pass',
      'its stall',
      'its peak RSS added',
      'dump',
      'its peak RSS added',
      'show flows',
      'its peak RSS added',
      'syscalls',
      'their stall',
    ],
    r.rounds.map((round, index) => [
      String(index + 1),
      ms(round.passMs),
      ms(round.passStallMs),
      `${round.passRssMb.toFixed(0)} MB`,
      ms(round.dumpMs),
      `${round.dumpRssMb.toFixed(0)} MB`,
      ms(round.selectMs),
      `${round.selectRssMb.toFixed(0)} MB`,
      ms(round.syscallsMs),
      ms(round.syscallsStallMs),
    ]),
  );
  return [
    TITLE,
    '',
    `The LB object loaded as terwayd loads it, into a fresh pin dir; its flow table (capacity ` +
      `${r.capacity.toLocaleString('en-US')}) filled with ${r.flows.toLocaleString('en-US')} flows, ` +
      `${r.ended.toLocaleString('en-US')} of them ended (TCP closing 20 s ago, UDP silent 90 s) and ` +
      `the rest live, each with its reverse entry; a fresh fill for each measurement. ` +
      `\`FlowCollector.collect()\` as terwayd runs it every \`--lb-collect-interval\`: the table ` +
      `read off the event loop in pages of ${DUMP_PAGE_ENTRIES.toLocaleString('en-US')} flows, ` +
      `each page scanned in slices and its ended keys handed to \`tw_lb_collect\` ` +
      `(\`BPF_PROG_TEST_RUN\`), which checks each again and deletes it with its reverse entry. ` +
      `Baselines in the same run: the whole table dumped at once, the floor under any collector ` +
      `that reads the table from user space; and the same collector with the program's rules ` +
      `carried out by the daemon itself (\`MapCallsEndedFlowReaper\`: the flow looked up again, ` +
      `deleted, its reverse entry looked up and deleted, four system calls per flow), paused as ` +
      `often. And what \`terway-cli show flows\` costs the daemon on the same table: ` +
      `\`selectFlows\` with its default limit, the table read in pages and only the most recent ` +
      `flows kept, then made records, against the dump above (how it read the table before). ` +
      `The stall is the longest gap of a 1 ms ` +
      `event-loop delay histogram during the work: what a pod ADD arriving then would wait. The ` +
      `peak RSS added is the kernel's peak resident set during the pass (VmHWM, reset just before) ` +
      `less the RSS before it: what a memory limit must leave room for. ` +
      `${r.rounds.length} rounds, medians; the benchmark took ${r.seconds.toFixed(0)} s.`,
    '',
    figures,
    '',
    `Checked: ${r.checks.join('; ')}; every round deleted exactly the ended flows, both ways.`,
    '',
    'Per round:',
    '',
    perRound,
  ].join('\n');
}

export function conntrackCollectSummaryRows(r: ConntrackCollectResult | undefined): string[][] {
  if (r === undefined) return [['conntrack collector pass', 'FAILED', '', '', '']];
  return [
    [
      `conntrack pass, ${r.ended.toLocaleString('en-US')} ended flows`,
      ms(r.medians.pass),
      `per-key syscalls ${ms(r.medians.syscalls)}`,
      ratio(r.ratios.passOverSyscalls),
      '—',
    ],
  ];
}

export function printConntrackCollect(r: ConntrackCollectResult): void {
  process.stdout.write(
    `conntrack collector: pass ${ms(r.medians.pass)} (stall ${ms(r.medians.passStall)}, ` +
      `+${r.medians.passRss.toFixed(0)} MB RSS), ` +
      `dump ${ms(r.medians.dump)} (${ratio(r.ratios.passOverDump)}, ` +
      `+${r.medians.dumpRss.toFixed(0)} MB RSS), show flows ${ms(r.medians.select)} ` +
      `(+${r.medians.selectRss.toFixed(0)} MB RSS), per-key syscalls ` +
      `${ms(r.medians.syscalls)} (${ratio(r.ratios.passOverSyscalls)})\n`,
  );
}

// Standalone: node dist/bench/conntrack-collect/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printConntrackCollect(
    await runConntrackCollectBench((line) => process.stdout.write(`${line}\n`)),
  );
}
