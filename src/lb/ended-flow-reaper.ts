/**
 * What deletes ended flows for the conntrack collector (flow-collector.ts): the datapath's own
 * program, tw_lb_collect (bpf/lb.c), run once per batch of keys. It judges each flow again with
 * the programs' own liveness rule and clock right before deleting it, and deletes the flow's
 * moved-port entry and its reverse entry (when that still leads to it) with it. The daemon's part
 * is only to name candidates: a flow may come back to life between its dump and the delete (a SYN
 * restarts an ended flow's entry in place), and the daemon's lookup and delete would be two system
 * calls apart where the program's are instructions apart.
 */
import { COLLECT_FRAME, FLOW_KEY } from './maps/lb-layouts.js';

/** What one call deleted. */
export interface ReapedEntries {
  readonly flows: number;
  readonly reverse: number;
  readonly moved: number;
}

export interface EndedFlowReaper {
  /** Most keys one call takes. */
  readonly batch: number;
  /**
   * Deletes those of the `count` flow keys in `keys` (FLOW_KEY.size bytes each, at most `batch`)
   * whose flows are ended when it looks, with their moved-port and reverse entries.
   */
  reap(keys: Buffer, count: number): ReapedEntries;
}

/** Runs the pinned tw_lb_collect once on a frame and returns its return value. */
export type CollectProgramRun = (frame: Buffer) => number;

/** The kernel's reaper: tw_lb_collect through BPF_PROG_TEST_RUN (`run`). */
export class ProgramEndedFlowReaper implements EndedFlowReaper {
  readonly batch = COLLECT_FRAME.batch;
  /** Reused for every call: the frame is copied into the kernel and never kept. */
  private readonly frame = Buffer.alloc(COLLECT_FRAME.header + COLLECT_FRAME.batch * FLOW_KEY.size);

  constructor(private readonly run: CollectProgramRun) {}

  reap(keys: Buffer, count: number): ReapedEntries {
    if (!Number.isInteger(count) || count < 1 || count > this.batch) {
      throw new RangeError(`reap takes 1 to ${this.batch} keys, got ${count}`);
    }
    const length = count * FLOW_KEY.size;
    keys.copy(this.frame, COLLECT_FRAME.header, 0, length);
    const packed = this.run(this.frame.subarray(0, COLLECT_FRAME.header + length));
    return unpackReaped(packed);
  }
}

/** tw_lb_collect's return value: flows in bits 0-7, reverse entries 8-15, moved ports 16-23. */
export function unpackReaped(packed: number): ReapedEntries {
  return { flows: packed & 0xff, reverse: (packed >>> 8) & 0xff, moved: (packed >>> 16) & 0xff };
}
