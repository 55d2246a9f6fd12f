/**
 * Ids of deleted frontends, kept from reuse while live flows still count under them (README: "Ids
 * of deleted frontends are parked"). A flow can outlive its frontend: its backend's replies are
 * still translated, and a re-created address finds the flow again; all the while the program
 * counts its packets under the id the flow was created with. Handed to a new frontend at once, the
 * id would show that old connection as the new frontend's traffic.
 *
 * The write plan parks the ids it deletes (ProgrammedState.parkedFrontendIds); this frees them
 * once the flow map shows no live flow naming them, and finds them again after a restart. Most
 * deleted frontends never had a flow on this node (a cluster's Services, seen from one node): their
 * flows counter says so, and they are freed after a short grace instead of the walk's wait.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { Logger } from '../log/logger.js';
import { dumpPages } from '../dataplane/bpf/bpf-maps.js';
import { liveFrontendIdsPaused } from './flow-liveness.js';
import type { LbMaps } from './lb-maps.js';
import { readFlowCounts, resetCounters } from './maps/counter-resets.js';
import type { ProgrammedState } from './programmed-state.js';

/**
 * Parked ids wait at least this long: a check costs a walk of the flow map (a full one, 262,144
 * flows, is 19 MB of keys and values read off the event loop), and nothing is in a hurry for them:
 * a parked id is missed only once every other id is in use, and then it is taken back anyway.
 */
export const PARKED_CHECK_MS = 30_000;

/**
 * How long a parked id waits before its flows counter is read: a program that looked its frontend
 * up before the delete may still be creating a flow under it (and counting it), for microseconds.
 * An id whose counter still reads 0 after that never had a flow, and is freed without a walk.
 */
export const NEVER_FLOWED_GRACE_MS = 1_000;

/**
 * A check that frees nothing doubles the wait before the next, up to this many times the first:
 * a long-lived connection can hold an id for hours, and walking the flow map every 30 s meanwhile
 * would buy nothing. Newly parked ids bring it back to the first wait, from the check after the one
 * already armed.
 */
const MAX_CHECK_BACKOFF = 10;

/**
 * For a mirror just rebuilt from the maps: each unused frontend id up to the high-water mark that
 * no flow was ever created under gets its counters zeroed; one that had flows is parked, counters
 * kept, for ParkedIdRelease to free once no live flow counts under it (as the daemon before the
 * restart had it: the parked set itself lives only in memory). The flow map is not read here: the
 * rebuild runs on the event loop at start, and a table sized for millions of flows
 * (--lb-flow-table-size) read whole would hold that many flows' bytes at once.
 */
export function settleUnusedFrontendIds(state: ProgrammedState, maps: LbMaps): void {
  const unused = state.frontendIds.gapIds(state.idHighWater.frontends);
  if (unused.length === 0) return;
  const flows = readFlowCounts(maps.frontendStats, unused);
  const zeroed: number[] = [];
  unused.forEach((id, at) => {
    // No entry (undefined) reads as no flow: there is nothing to keep.
    if ((flows[at] ?? 0n) === 0n) {
      zeroed.push(id);
      return;
    }
    state.frontendIds.claim(id);
    state.parkedFrontendIds.add(id);
  });
  resetCounters(maps.frontendStats, zeroed);
}

export interface ParkedIdReleaseOptions {
  readonly maps: LbMaps;
  readonly logger: Logger;
  /** The reconciler's mirror as it is now: a rebuild replaces it. */
  readonly currentState: () => ProgrammedState;
  readonly checkMs: number;
  /** NEVER_FLOWED_GRACE_MS unless a test gives its own. */
  readonly graceMs?: number;
  /** CLOCK_MONOTONIC in ns, the programs' clock. */
  readonly monotonicNs: () => bigint;
}

/** Checks the parked ids against the flow map every `checkMs` while there are any. */
export class ParkedIdRelease {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private waitMs: number;
  /** How many ids were parked after the last check: more since means new ones. */
  private parkedAfterCheck = 0;
  /** Parked ids whose flows counter is yet to be read, and when each was first seen parked. */
  private readonly inGrace = new Map<number, number>();
  /** Parked ids whose counter showed flows: theirs is the walk's to free. */
  private readonly flowed = new Set<number>();
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly graceMs: number;

  constructor(private readonly options: ParkedIdReleaseOptions) {
    this.waitMs = options.checkMs;
    this.graceMs = options.graceMs ?? NEVER_FLOWED_GRACE_MS;
  }

  /** Arms the next check, if some id is parked and none is armed. */
  schedule(): void {
    const parked = this.options.currentState().parkedFrontendIds.size;
    if (parked > this.parkedAfterCheck) this.waitMs = this.options.checkMs;
    if (this.stopped) return;
    this.noteNewlyParked();
    if (this.timer || parked === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, this.waitMs);
    // Nothing to wait for on the way out: a restart finds the parked ids again from the maps.
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  /**
   * Starts the grace of each id parked since the last look, and forgets ids no longer parked (freed,
   * or a frontend's again): parked anew, an id's grace starts afresh.
   */
  private noteNewlyParked(): void {
    const parked = this.options.currentState().parkedFrontendIds;
    for (const id of this.inGrace.keys()) if (!parked.has(id)) this.inGrace.delete(id);
    for (const id of this.flowed) if (!parked.has(id)) this.flowed.delete(id);
    const now = Date.now();
    for (const id of parked) {
      if (!this.inGrace.has(id) && !this.flowed.has(id)) this.inGrace.set(id, now);
    }
    this.armGrace();
  }

  private armGrace(): void {
    if (this.graceTimer || this.inGrace.size === 0) return;
    let first = Infinity;
    for (const since of this.inGrace.values()) first = Math.min(first, since);
    this.graceTimer = setTimeout(
      () => {
        this.graceTimer = undefined;
        this.endGrace();
      },
      Math.max(0, first + this.graceMs - Date.now()),
    );
    this.graceTimer.unref();
  }

  /** Frees, counters zeroed, each id past its grace that no flow was ever created under. */
  private endGrace(): void {
    if (this.stopped) return;
    const { maps, logger, currentState } = this.options;
    const state = currentState();
    const now = Date.now();
    const due: number[] = [];
    for (const [id, since] of this.inGrace) {
      if (since + this.graceMs > now) continue;
      this.inGrace.delete(id);
      if (state.parkedFrontendIds.has(id)) due.push(id);
    }
    const neverFlowed: number[] = [];
    try {
      // Counters are zeroed when an id is handed out, and every flow created counts under its id.
      const flows = readFlowCounts(maps.frontendStats, due);
      due.forEach((id, at) => {
        if (flows[at] === 0n) neverFlowed.push(id);
        else this.flowed.add(id);
      });
      this.free(state, neverFlowed);
    } catch (error) {
      // Left parked: the walk frees them.
      for (const id of due) this.flowed.add(id);
      logger.warn(
        { err: error, ids: due.length },
        'load balancer: could not read or zero the counters of parked frontend ids; the flow walk frees them',
      );
    }
    this.parkedAfterCheck = Math.min(this.parkedAfterCheck, state.parkedFrontendIds.size);
    this.armGrace();
  }

  /** Hands parked ids back for reuse, their counters zeroed first: the next holder starts at 0. */
  private free(state: ProgrammedState, ids: readonly number[]): void {
    resetCounters(this.options.maps.frontendStats, ids);
    for (const id of ids) {
      state.parkedFrontendIds.delete(id);
      state.frontendIds.release(id);
    }
  }

  /**
   * Frees, counters zeroed, the parked ids that no live flow counts under any more; the others
   * wait for the next check. The flow map is walked off the event loop a page at a time, and each
   * page scanned on it in slices.
   */
  private async check(): Promise<void> {
    const { maps, logger, currentState, monotonicNs } = this.options;
    const state = currentState();
    const parkedBefore = [...state.parkedFrontendIds];
    const walkStarted = Date.now();
    try {
      // A page at a time: the whole map read at once would hold 19 MB until the scan ends.
      const live = new Set<number>();
      for await (const page of dumpPages(maps.flow)) {
        await liveFrontendIdsPaused(page, maps.flow.valueStride, monotonicNs(), nextTurn, live);
      }
      // Replaced meanwhile (a rebuild after a failed pass): the new mirror parked what it found.
      if (this.stopped || state !== currentState()) return;
      // Only ids parked before the walk: a flow can be counted under an id until its frontend is
      // deleted. One taken back by a pass meanwhile is a frontend's again, and one freed by its
      // grace, handed out and parked again meanwhile has flows the dump may not show.
      const freed = parkedBefore.filter(
        (id) =>
          state.parkedFrontendIds.has(id) &&
          !live.has(id) &&
          (this.inGrace.get(id) ?? -Infinity) < walkStarted,
      );
      this.free(state, freed);
      this.waitMs =
        freed.length > 0
          ? this.options.checkMs
          : Math.min(this.waitMs * 2, this.options.checkMs * MAX_CHECK_BACKOFF);
      if (freed.length > 0) {
        logger.debug(
          { freed: freed.length, stillParked: state.parkedFrontendIds.size },
          'load balancer: freed frontend ids whose last flows have ended',
        );
      }
    } catch (error) {
      logger.warn(
        { err: error, parked: state.parkedFrontendIds.size },
        'load balancer: could not check parked frontend ids against the flows; will try again',
      );
    }
    this.parkedAfterCheck = this.options.currentState().parkedFrontendIds.size;
    this.schedule();
  }
}
