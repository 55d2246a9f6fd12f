/**
 * The conntrack collector: every pass, the ended flows of tw_flow are deleted, with their reverse
 * and moved-port entries (ended-flow-reaper.ts).
 *
 * Why: the flow, reverse and moved-port tables are LRU maps, which nothing empties of ended
 * entries. Once full (262,144 flows node-wide: a node whose pods ask DNS 2,000 times a second gets
 * there in about two minutes), each new flow evicts the entry touched least recently, ended or
 * not: a live connection that sits idle longer than the table takes to turn over (a database
 * pool's, a watch's) loses its entry, and its next packet is balanced afresh, to any backend,
 * which answers it with a reset. With the ended entries collected, the tables hold the live flows
 * and those ended since the last pass, and evict only when those outgrow them.
 *
 * A pass reads the table off the event loop in pages (dumpPageAsync), and in each page picks the
 * flows ended by the programs' rule (flow-liveness.ts) and hands them to the reaper in batches,
 * pausing between slices so pod ADDs are not held up. One page at a time: a full table read whole
 * would hold 19 MB until the pass ends. The reaper judges each one again before deleting it. Passes
 * come every interval, or sooner when the programs have made enough new flows since the last one
 * to fill the table before then (collect-pacing.ts).
 */
import type { BpfMap, BpfMapDump } from '../dataplane/bpf/bpf-maps.js';
import { DUMP_PAGE_ENTRIES, dumpPages } from '../dataplane/bpf/bpf-maps.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_FILL_CHECK_MS, tableFillingUp } from './collect-pacing.js';
import type { EndedFlowReaper, ReapedEntries } from './ended-flow-reaper.js';
import { dumpedFlowAlive, splitNs } from './flow-liveness.js';
import { FLOW_KEY } from './maps/lb-layouts.js';

/**
 * Between passes at most: the shortest lifetime is 10 s (a closing TCP flow), UDP's 30 s and 60 s.
 * New flows arriving fast bring the next pass sooner (collect-pacing.ts).
 */
export const DEFAULT_FLOW_COLLECT_INTERVAL_MS = 30_000;

/** Live flows above this share of the table get a warning: evictions of live flows are near. */
export const FLOW_TABLE_WARN_SHARE = 0.8;

/** Reaper calls between two pauses of a pass on the event loop. */
const REAP_CALLS_PER_SLICE = 32;

export interface FlowCollectionReport {
  /** Entries the dump held. */
  readonly scanned: number;
  /** Of those, alive at the dump. */
  readonly live: number;
  /** Deleted by the reaper (an ended flow that came back since the dump is kept). */
  readonly collected: ReapedEntries;
  /** The flow table's size. */
  readonly capacity: number;
  readonly durationMs: number;
  /**
   * What started it: the interval, the new flows made since the last pass (collect-pacing.ts),
   * or a caller (collect()).
   */
  readonly trigger: CollectTrigger;
}

export type CollectTrigger = 'interval' | 'filling' | 'manual';

export interface FlowCollectorOptions {
  /** tw_flow. */
  readonly flows: BpfMap;
  readonly reaper: EndedFlowReaper;
  /** CLOCK_MONOTONIC in ns: the programs' clock. */
  readonly monotonicNs?: () => bigint;
  /** The longest delay between passes; DEFAULT_FLOW_COLLECT_INTERVAL_MS when not given; 0: start()
   *  runs no pass. */
  readonly intervalMs?: number | undefined;
  /**
   * How many flow entries the programs have added so far (their node counters: a running total).
   * When given, it is read every fillCheckMs, and a pass runs early once the flows made since the
   * last one would fill the table (collect-pacing.ts); without it, passes run at the interval.
   */
  readonly flowsMade?: (() => number) | undefined;
  /** DEFAULT_FILL_CHECK_MS (or intervalMs, if less) when not given. */
  readonly fillCheckMs?: number | undefined;
  readonly logger: Logger;
  /** Flows read per page; DUMP_PAGE_ENTRIES unless a test gives its own. */
  readonly pageEntries?: number | undefined;
  /** Yields the event loop between slices of a pass; setImmediate unless a test gives its own. */
  readonly pause?: () => Promise<unknown>;
  /** Called after each pass the timer runs (metrics). */
  readonly onPass?: ((report: FlowCollectionReport) => void) | undefined;
}

export class FlowCollector {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<FlowCollectionReport> | undefined;
  private readonly monotonicNs: () => bigint;
  private readonly intervalMs: number;
  private readonly fillCheckMs: number;
  private readonly pause: () => Promise<unknown>;
  private warnedFull = false;
  /** When the last pass ended (or the collector started), performance.now(). */
  private lastPassAt = 0;
  /**
   * The entries the last pass left, and flowsMade() when it began; before the first, an empty
   * table and flowsMade() at start().
   */
  private lastPass: { remaining: number; made: number | undefined } | undefined;
  /** What started the last pass the timer ran, for the log when the pace changes. */
  private lastTrigger: CollectTrigger = 'interval';
  private warnedCounters = false;

  constructor(private readonly options: FlowCollectorOptions) {
    this.monotonicNs = options.monotonicNs ?? process.hrtime.bigint;
    this.intervalMs = options.intervalMs ?? DEFAULT_FLOW_COLLECT_INTERVAL_MS;
    this.fillCheckMs =
      options.flowsMade === undefined
        ? this.intervalMs
        : Math.min(options.fillCheckMs ?? DEFAULT_FILL_CHECK_MS, this.intervalMs);
    this.pause = options.pause ?? (() => new Promise((resolve) => setImmediate(resolve)));
  }

  /**
   * Runs passes until stop(): one an interval after the last, or sooner when the table is filling
   * up (see flowsMade); an interval of 0 runs none.
   */
  start(): void {
    if (!this.stopped || this.intervalMs === 0) return;
    this.stopped = false;
    this.lastPassAt = performance.now();
    // Before the first pass the table's fill is unknown: taken as empty, so a burst from the start
    // brings the first pass once it has made half a table's worth of flows.
    this.lastPass ??= { remaining: 0, made: this.flowsMadeNow() };
    this.arm();
  }

  /** No pass starts after this; one under way finishes (the caller may await whenIdle). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves once no pass is under way. */
  async whenIdle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** One pass now (a pass under way is joined, not doubled). */
  collect(trigger: CollectTrigger = 'manual'): Promise<FlowCollectionReport> {
    this.running ??= this.pass(trigger).finally(() => {
      this.running = undefined;
      this.lastPassAt = performance.now();
    });
    return this.running;
  }

  private arm(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const trigger = this.due();
      if (trigger === undefined) {
        this.arm();
        return;
      }
      this.notePace(trigger);
      this.collect(trigger)
        .then((report) => this.options.onPass?.(report))
        .catch((error: unknown) => {
          // The next pass tries again; the datapath works on meanwhile, only with fuller tables.
          this.options.logger.warn({ err: error }, 'conntrack collection failed');
        })
        .finally(() => this.arm());
    }, this.fillCheckMs);
    // Nothing is lost when the daemon exits between passes: the next start collects.
    this.timer.unref();
  }

  /**
   * What a pass is due for now: the interval since the last one, or the flows the programs made
   * since it (collect-pacing.ts); undefined: none yet.
   */
  private due(): CollectTrigger | undefined {
    if (performance.now() - this.lastPassAt >= this.intervalMs) return 'interval';
    const last = this.lastPass;
    if (last?.made === undefined) return undefined;
    const made = this.flowsMadeNow();
    if (made === undefined) return undefined;
    const { maxEntries } = this.options.flows;
    return tableFillingUp(maxEntries, last.remaining, made - last.made) ? 'filling' : undefined;
  }

  /** flowsMade(), or undefined when it is not given or cannot be read (warned once). */
  private flowsMadeNow(): number | undefined {
    const { flowsMade } = this.options;
    if (flowsMade === undefined) return undefined;
    try {
      const made = flowsMade();
      this.warnedCounters = false;
      return made;
    } catch (error) {
      if (!this.warnedCounters) {
        this.options.logger.warn(
          { err: error },
          "conntrack collector: cannot read the programs' flow counters; passes come at the interval only",
        );
      }
      this.warnedCounters = true;
      return undefined;
    }
  }

  private async pass(trigger: CollectTrigger): Promise<FlowCollectionReport> {
    const started = performance.now();
    const { flows, reaper, logger } = this.options;
    // Read before the walk: flows made during it count towards the next pass.
    const made = this.flowsMadeNow();
    let scanned = 0;
    let endedCount = 0;
    let collected: ReapedEntries = { flows: 0, reverse: 0, moved: 0 };
    let calls = 0;
    for await (const page of dumpPages(flows, this.options.pageEntries ?? DUMP_PAGE_ENTRIES)) {
      // Each page judged when it was read: a pass over a full table lasts about half a second.
      const ended = await endedFlowKeys(page, flows.valueStride, this.monotonicNs(), this.pause);
      scanned += page.count;
      endedCount += ended.count;
      for (let from = 0; from < ended.count; from += reaper.batch, calls++) {
        if (calls > 0 && calls % REAP_CALLS_PER_SLICE === 0) await this.pause();
        const count = Math.min(reaper.batch, ended.count - from);
        const keys = ended.keys.subarray(from * FLOW_KEY.size, (from + count) * FLOW_KEY.size);
        collected = addReaped(collected, reaper.reap(keys, count));
      }
    }
    this.lastPass = { remaining: scanned - collected.flows, made };
    const report: FlowCollectionReport = {
      scanned,
      live: scanned - endedCount,
      collected,
      capacity: flows.maxEntries,
      durationMs: performance.now() - started,
      trigger,
    };
    logger.debug({ ...report }, 'conntrack collected');
    this.warnWhenNearlyFull(report);
    return report;
  }

  /** Logged when passes start coming early, and when they come at the interval again. */
  private notePace(trigger: CollectTrigger): void {
    if (trigger === this.lastTrigger) return;
    this.lastTrigger = trigger;
    this.options.logger.info(
      { intervalMs: this.intervalMs, remainingAfterLastPass: this.lastPass?.remaining },
      trigger === 'filling'
        ? 'conntrack collector: new flows would fill the table before the interval is up; collecting sooner'
        : 'conntrack collector: back to its interval',
    );
  }

  /** Once per crossing: a table this full of live flows evicts live ones at the next burst. */
  private warnWhenNearlyFull(report: FlowCollectionReport): void {
    const full = report.live >= report.capacity * FLOW_TABLE_WARN_SHARE;
    if (full && !this.warnedFull) {
      this.options.logger.warn(
        { live: report.live, capacity: report.capacity },
        'the conntrack table is over 80% live flows: new flows will soon evict live ones',
      );
    }
    this.warnedFull = full;
  }
}

/** Flows judged between two pauses of a pass's scan: a few ms, even before the JIT has warmed up. */
const SCAN_SLICE = 4_096;

/** The keys of the dump's flows that are ended at `nowNs`, packed FLOW_KEY.size bytes each. */
export async function endedFlowKeys(
  dump: BpfMapDump,
  valueStride: number,
  nowNs: bigint,
  pause: () => Promise<unknown>,
): Promise<{ keys: Buffer; count: number }> {
  const keys = Buffer.alloc(dump.count * FLOW_KEY.size);
  let count = 0;
  const now = splitNs(nowNs);
  for (let index = 0; index < dump.count; index++) {
    if (index > 0 && index % SCAN_SLICE === 0) await pause();
    if (dumpedFlowAlive(dump, valueStride, index, now)) continue;
    dump.keys.copy(keys, count * FLOW_KEY.size, index * FLOW_KEY.size, (index + 1) * FLOW_KEY.size);
    count++;
  }
  return { keys, count };
}

function addReaped(a: ReapedEntries, b: ReapedEntries): ReapedEntries {
  return { flows: a.flows + b.flows, reverse: a.reverse + b.reverse, moved: a.moved + b.moved };
}
