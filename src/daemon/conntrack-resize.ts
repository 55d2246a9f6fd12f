/**
 * The daemon's side of a conntrack table resize (src/lb/flow-table-resize.ts): before the load it
 * moves the old tables aside, after the load it merges their entries into the new ones, and once
 * the running pods have been moved to the new programs (PodNetwork.resync) it merges again and
 * unpins the old tables. Each step says in the log what it did.
 */
import { existsSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Logger } from 'pino';

import { dumpPages } from '../dataplane/bpf/bpf-maps.js';
import { NativeBpfMap } from '../dataplane/bpf/native-bpf.js';
import { pinnedMapSize } from '../dataplane/bpf/program-reuse.js';
import { toTerwayError } from '../errors/terway-error.js';
import { DAEMON_MEMORY_RESERVE_BYTES, mib } from './lb-map-memory.js';
import { dumpedFlowAlive, splitNs } from '../lb/flow-liveness.js';
import {
  mergeFlowTables,
  type FlowTableMergeOptions,
  type FlowTableMergeReport,
  type FlowTables,
  type OldFlowTables,
} from '../lb/flow-table-merge.js';
import {
  oldFlowTablePins,
  RESIZE_FILL_LIMIT,
  retireOldFlowTables,
  startFlowTableResize,
  takesEntries,
  type FlowTableResizeStart,
  type PinnedTableReader,
} from '../lb/flow-table-resize.js';

const PINNED_TABLES: PinnedTableReader = {
  sizeOf: pinnedMapSize,
  flowsOf: async (path) => {
    const map = NativeBpfMap.openPinned(path);
    try {
      const now = splitNs(process.hrtime.bigint());
      // In pages: a whole dump of a large table at once would hold all of it in memory.
      let entries = 0;
      let live = 0;
      for await (const page of dumpPages(map)) {
        entries += page.count;
        for (let index = 0; index < page.count; index++) {
          if (dumpedFlowAlive(page, map.valueStride, index, now)) live++;
        }
      }
      return { entries, live };
    } finally {
      map.close();
    }
  },
};

export class ConntrackResize {
  private old: OldFlowTables | undefined;
  private into: FlowTables | undefined;
  /** CLOCK_MONOTONIC when the first merge began: the second reads only what changed since. */
  private firstMergeNs: bigint | undefined;
  /** The new tables cannot take the ended flows too: only the live ones are merged. */
  private liveOnly = false;

  private constructor(
    readonly start: FlowTableResizeStart,
    private readonly pinDir: string,
    private readonly log: Logger,
  ) {}

  /**
   * Before the load: moves the pinned tables aside when their size is not `requested`, unless new
   * tables of that size need more kernel memory than `memoryAllowedBytes` (when limited).
   */
  static async prepare(
    pinDir: string,
    requested: number,
    log: Logger,
    memoryAllowedBytes?: number,
  ): Promise<ConntrackResize> {
    const start = await startFlowTableResize(pinDir, requested, PINNED_TABLES, memoryAllowedBytes);
    switch (start.kind) {
      case 'started':
        log.info(
          {
            pinDir,
            flowTableSize: start.from,
            requested,
            entries: start.entries,
            live: start.live,
          },
          takesEntries(requested, start.entries)
            ? 'resizing the conntrack tables: new ones of the size asked for take their entries, ' +
                'and running pods move to programs that use them'
            : 'resizing the conntrack tables: new ones of the size asked for take their live ' +
                'flows (the ended ones, which the new size has no room for, are left behind), and ' +
                'running pods move to programs that use them',
        );
        break;
      case 'resumed':
        log.info(
          { pinDir, flowTableSize: start.from },
          'a conntrack table resize was under way: its old tables are merged again and then retired',
        );
        break;
      case 'refused':
        if (start.reason === 'memory') {
          log.warn(
            {
              pinDir,
              flowTableSize: start.size,
              requested,
              needMiB: mib(start.needBytes),
              allowedMiB: mib(start.allowedBytes),
            },
            `the conntrack tables keep their size and their flows: new tables of the size ` +
              `--lb-flow-table-size asks for need ${mib(start.needBytes)} MiB of kernel memory, ` +
              `and terwayd may take ${mib(start.allowedBytes)} MiB (what its memory limit, which ` +
              `the kernel charges BPF maps to, and the node's memory leave, less ` +
              `${mib(DAEMON_MEMORY_RESERVE_BYTES)} MiB kept for terwayd itself); raise the limit ` +
              `(the chart's resources.limits.memory) with the size`,
          );
          break;
        }
        log.warn(
          {
            pinDir,
            flowTableSize: start.size,
            requested,
            entries: start.entries,
            live: start.live,
          },
          `the conntrack tables keep their size and their flows: they hold more live flows than ` +
            `${RESIZE_FILL_LIMIT * 100}% of what --lb-flow-table-size asks for, and a table that ` +
            `small would evict some of them`,
        );
        break;
      case 'none':
        break;
    }
    return new ConntrackResize(start, pinDir, log);
  }

  /** Whether the pinned size stands because this start refused to resize (already logged). */
  get refused(): boolean {
    return this.start.kind === 'refused';
  }

  /** After the load: the old tables' entries into `into`, before any program uses it. */
  async afterLoad(into: FlowTables): Promise<void> {
    if (this.start.kind !== 'started' && this.start.kind !== 'resumed') return;
    const pins = oldFlowTablePins(this.pinDir);
    this.old = {
      flow: NativeBpfMap.openPinned(pins.flow),
      reverse: existsSync(pins.reverse) ? NativeBpfMap.openPinned(pins.reverse) : undefined,
    };
    this.into = into;
    // A resumed resize counts again: its first start's count is gone with that process.
    const entries =
      this.start.kind === 'started'
        ? this.start.entries
        : (await PINNED_TABLES.flowsOf(pins.flow)).entries;
    this.liveOnly = !takesEntries(into.flow.maxEntries, entries);
    this.firstMergeNs = process.hrtime.bigint();
    await this.merge('conntrack entries merged into the new tables', this.liveFilter({}));
  }

  /**
   * Once the running pods were offered this daemon's programs: merges what the old programs did
   * meanwhile, and unpins the old tables unless `podsOnOldTables` still use them (a pod whose
   * programs could not be swapped); those keep them until a later start moves them.
   */
  async finish(podsOnOldTables: readonly string[]): Promise<void> {
    if (this.old === undefined) return;
    try {
      await this.merge(
        'conntrack entries the old programs made meanwhile merged into the new tables',
        this.liveFilter({ changedSince: this.firstMergeNs! }),
      );
    } catch (error) {
      this.log.error(
        { pinDir: this.pinDir, err: toTerwayError(error, 'BPF_ERROR') },
        'could not finish the conntrack table resize: its old tables stay pinned, and the next ' +
          'start takes it up',
      );
      return;
    } finally {
      this.close();
    }
    if (podsOnOldTables.length > 0) {
      this.log.warn(
        { pinDir: this.pinDir, pods: podsOnOldTables },
        'pods still run programs on the old conntrack tables: they stay pinned, and the next ' +
          'start merges them again and retires them',
      );
      return;
    }
    try {
      retireOldFlowTables(this.pinDir);
    } catch (error) {
      this.log.error(
        { pinDir: this.pinDir, err: toTerwayError(error, 'BPF_ERROR') },
        'could not unpin the old conntrack tables: the next start merges them again and retires them',
      );
      return;
    }
    this.log.info(
      { pinDir: this.pinDir, flowTableSize: this.into?.flow.maxEntries },
      'conntrack tables resized: the old ones are unpinned, and the kernel frees them',
    );
  }

  close(): void {
    const old = this.old;
    this.old = undefined;
    old?.flow.close();
    old?.reverse?.close();
  }

  /** `options`, limited to the flows alive now when the new tables cannot take the ended ones. */
  private liveFilter(options: FlowTableMergeOptions): FlowTableMergeOptions {
    return this.liveOnly ? { ...options, liveAt: process.hrtime.bigint() } : options;
  }

  private async merge(
    message: string,
    options: FlowTableMergeOptions,
  ): Promise<FlowTableMergeReport> {
    const started = performance.now();
    const report = await mergeFlowTables(this.old!, this.into!, nextTurn, options);
    const fields = {
      pinDir: this.pinDir,
      from: this.old!.flow.maxEntries,
      flowTableSize: this.into!.flow.maxEntries,
      ...report,
      ms: Math.round(performance.now() - started),
    };
    if (report.dropped > 0) {
      this.log.warn(fields, `${message}; the new tables were full, and some entries were dropped`);
    } else {
      this.log.info(fields, message);
    }
    return report;
  }
}
