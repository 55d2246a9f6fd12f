/**
 * The only writer of the load balancer's maps. Sources hand it whole Services (DesiredStateSink);
 * it remembers which frontends changed and, on the next turn of the event loop, writes just those
 * in one batch per map. A failed pass is retried with backoff after rebuilding its view from the
 * live maps, and a daemon restart starts from the live maps too, so established flows survive.
 */
import type { Logger } from '../log/logger.js';
import { toTerwayError } from '../errors/terway-error.js';
import {
  frontendKey,
  serviceKey,
  type DesiredFrontend,
  type DesiredStateSink,
} from './desired-frontend.js';
import type { BpfMap } from '../dataplane/bpf/bpf-maps.js';
import type { IdAllocator } from './id-allocator.js';
import type { LbMaps } from './lb-maps.js';
import type { LbIntent } from './lb-inspection.js';
import { LbWritePlan, type PlanSummary } from './lb-write-plan.js';
import { resetCounters, writeIdHighWater } from './maps/counter-resets.js';
import { readNodeFlowTotals, type NodeFlowTotals } from './maps/node-counters.js';
import {
  PARKED_CHECK_MS,
  ParkedIdRelease,
  settleUnusedFrontendIds,
} from './parked-frontend-ids.js';
import { frontendCodeOf, ProgrammedState, type FrontendCode } from './programmed-state.js';

export interface LbReconcilerOptions {
  readonly maps: LbMaps;
  readonly logger: Logger;
  /** First retry delay after a failed pass; doubles up to maxRetryMs. */
  readonly initialRetryMs?: number;
  readonly maxRetryMs?: number;
  /** How often parked frontend ids are checked against the live flows (parked-frontend-ids.ts). */
  readonly parkedCheckMs?: number;
  /** CLOCK_MONOTONIC in ns, the programs' clock: tests give their own. */
  readonly monotonicNs?: () => bigint;
}

export interface LbPassReport extends PlanSummary {
  frontends: number;
  durationMs: number;
}

/** A desired frontend the maps have no room for, as an operator would look it up. */
export interface BlockedFrontend {
  /** `10.96.0.10:80/TCP` */
  frontend: string;
  /** `namespace/name` */
  service: string;
  reason: string;
}

/** How many blocked frontends one log line names; the line counts them all. */
const BLOCKED_LOGGED = 10;

export class LbReconciler implements DesiredStateSink {
  private readonly maps: LbMaps;
  private readonly logger: Logger;
  private readonly initialRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly monotonicNs: () => bigint;
  private readonly parkedRelease: ParkedIdRelease;

  private readonly desired = new Map<FrontendCode, DesiredFrontend>();
  /**
   * Each Service's frontends as handed over (the caller's array, kept rather than a list of codes
   * per Service: sources compare against it, see DesiredStateSink.heldFrontends).
   */
  private readonly frontendsOfService = new Map<string, readonly DesiredFrontend[]>();
  /**
   * The frontends the next pass writes, each with what `desired` holds for it (undefined: delete
   * it). Every change to `desired` sets the code here too (but for additions while
   * planEveryDesired is set), and every code added here is read from `desired`, so the two agree,
   * and a pass does not look each frontend up again.
   */
  private dirty = new Map<FrontendCode, DesiredFrontend | undefined>();
  /**
   * Set until the first pass, and again by a failed one: the next pass plans every desired
   * frontend, so `dirty` need not list them. An initial sync then builds no second Map of its
   * 10,000 frontends beside `desired` (a Map that size costs its growth and its fresh pages:
   * about 5 ms of the sync on 2 vCPUs). `dirty` still lists what is not desired (deletions).
   */
  private planEveryDesired = true;
  /**
   * A failed pass could not rebuild the mirror from the maps either (reading them failed too): the
   * mirror may describe writes that never happened, so the next pass reads the maps again before
   * it plans anything.
   */
  private mirrorStale = false;
  /**
   * Desired frontends the maps have no room for, with the reason. Each keeps what it had (nothing,
   * if new); they are tried again whenever a pass gives room back.
   */
  private readonly blocked = new Map<FrontendCode, string>();
  private state: ProgrammedState;
  private synced = false;
  /** Set by markSynced: the next pass also deletes what nothing desires. */
  private sweepPending = false;

  private scheduled: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The delay before the current retry; 0 after a successful pass. */
  private backoffMs = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Set at the first idle moment after markSynced: the source's complete state is written. */
  private firstStateProgrammed = false;
  private firstStateWaiters: (() => void)[] = [];
  private lastError: Error | undefined;
  private passCount = 0;
  private failedPassCount = 0;
  /** Called after every successful pass (for metrics and benchmarks). */
  onPass: ((report: LbPassReport) => void) | undefined;

  constructor(options: LbReconcilerOptions) {
    this.maps = options.maps;
    this.logger = options.logger;
    this.initialRetryMs = options.initialRetryMs ?? 100;
    this.maxRetryMs = options.maxRetryMs ?? 30_000;
    this.monotonicNs = options.monotonicNs ?? process.hrtime.bigint;
    this.state = restore(this.maps);
    this.logger.info(
      {
        frontends: this.state.frontends.size,
        backends: this.state.backends.size,
        parkedFrontendIds: this.state.parkedFrontendIds.size,
      },
      'load balancer: restored the programmed state from the live maps',
    );
    this.parkedRelease = new ParkedIdRelease({
      maps: this.maps,
      logger: this.logger,
      currentState: () => this.state,
      checkMs: options.parkedCheckMs ?? PARKED_CHECK_MS,
      monotonicNs: this.monotonicNs,
    });
    this.parkedRelease.schedule();
  }

  replaceService(service: string, frontends: readonly DesiredFrontend[]): void {
    // Every address checked before anything changes: a refused Service leaves no trace. Plain
    // loops: this runs once per Service of an initial sync, before the JIT has warmed up.
    const next: FrontendCode[] = [];
    for (let index = 0; index < frontends.length; index++) {
      next.push(frontendCodeOf(frontends[index]!.address));
    }
    const previous = this.frontendsOfService.get(service);
    const listDirty = !this.planEveryDesired;
    for (let index = 0; index < next.length; index++) {
      const held = this.desired.get(next[index]!);
      if (held !== undefined) this.noteClaimedTwice(held, service);
      this.desired.set(next[index]!, frontends[index]!);
      if (listDirty) this.dirty.set(next[index]!, frontends[index]!);
    }
    if (previous !== undefined) {
      const kept = new Set(next);
      for (const frontend of previous) {
        // Accepted before, so its address parses.
        const code = frontendCodeOf(frontend.address);
        if (kept.has(code)) continue;
        // A frontend another Service has claimed since (a ClusterIP reused) is that one's now.
        const held = this.desired.get(code);
        if (held !== undefined && serviceKey(held.service.namespace, held.service.name) !== service)
          continue;
        this.desired.delete(code);
        this.dirty.set(code, undefined);
      }
    }
    if (frontends.length === 0) this.frontendsOfService.delete(service);
    else this.frontendsOfService.set(service, frontends);
    this.schedule();
  }

  /**
   * One address, port and protocol in two Services: the one handed over last is programmed. An
   * apiserver allocates ClusterIPs once, so for those it is a moment's overlap (an IP freed by a
   * deleted Service and reused before the delete arrived); externalIPs are not allocated, and two
   * Services may keep listing the same one, each taking the other's traffic when it changes.
   */
  private noteClaimedTwice(held: DesiredFrontend, service: string): void {
    const holder = serviceKey(held.service.namespace, held.service.name);
    if (holder === service || !this.frontendsOfService.has(holder)) return;
    const { ip, port, protocol } = held.address;
    this.logger.warn(
      { frontend: `${ip}:${port}/${protocol}`, programmed: service, alsoListedBy: holder },
      'load balancer: two Services list the same frontend; the one listed or changed last is programmed',
    );
  }

  deleteService(service: string): void {
    this.replaceService(service, []);
  }

  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.sweepPending = true;
    this.markDirty(this.state.frontends.frontendCodes());
    this.schedule();
  }

  /**
   * Resolves once the source's first complete state (markSynced, and everything handed over
   * before it) is in the maps; a failed pass delays it until its retry succeeds. Also resolves
   * when the reconciler stops, so nothing waits on a daemon that is going away.
   */
  whenFirstStateProgrammed(): Promise<void> {
    if (this.firstStateProgrammed || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.firstStateWaiters.push(resolve));
  }

  /** Resolves once every change handed over so far is in the maps. */
  whenIdle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get heldFrontends(): ReadonlyMap<string, readonly DesiredFrontend[]> {
    return this.frontendsOfService;
  }

  /** The error of the last failed pass, cleared by the next successful one. */
  get failure(): Error | undefined {
    return this.lastError;
  }

  get programmedFrontends(): number {
    return this.state.frontends.size;
  }

  get programmedBackends(): number {
    return this.state.backends.size;
  }

  /** Frontend ids kept from reuse while live flows of a deleted frontend still count under them. */
  get parkedFrontendIds(): number {
    return this.state.parkedFrontendIds.size;
  }

  /**
   * The node's new flows to Services as the programs counted them: read from the maps, which
   * outlive the daemon, so they count on across its restarts.
   */
  nodeFlowTotals(): NodeFlowTotals {
    return readNodeFlowTotals(this.maps.nodeStats);
  }

  /** Passes that wrote their changes, since the daemon started. */
  get passes(): number {
    return this.passCount;
  }

  /** Passes that failed and were retried after a rebuild from the live maps. */
  get failedPasses(): number {
    return this.failedPassCount;
  }

  /** The source has delivered its complete state (markSynced). */
  get isSynced(): boolean {
    return this.synced;
  }

  /** That state, and everything handed over before it, is in the maps (whenFirstStateProgrammed). */
  get hasProgrammedFirstState(): boolean {
    return this.firstStateProgrammed;
  }

  /** What the reconciler was asked for, read-only: for inspection beside the live maps. */
  get intent(): LbIntent {
    return { desired: this.desired, blocked: this.blocked };
  }

  get blockedFrontends(): BlockedFrontend[] {
    return [...this.blocked].map(([code, reason]) => this.describeBlocked(code, reason));
  }

  stop(): void {
    this.stopped = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.scheduled = undefined;
    this.retryTimer = undefined;
    this.parkedRelease.stop();
    this.releaseWaiters();
  }

  private markDirty(codes: Iterable<FrontendCode>): void {
    for (const code of codes) this.dirty.set(code, this.desired.get(code));
  }

  private busy(): boolean {
    return (
      this.dirty.size > 0 || this.sweepPending || (this.planEveryDesired && this.desired.size > 0)
    );
  }

  /**
   * setImmediate, not a timer: a burst of events from one read of a watch stream or one file parse
   * lands in a single pass, and a lone change is written within the same millisecond.
   */
  private schedule(): void {
    if (this.stopped || this.scheduled || this.retryTimer) return;
    this.scheduled = setImmediate(() => this.pass());
  }

  private pass(): void {
    this.scheduled = undefined;
    if (this.stopped) return;
    const started = performance.now();
    if (this.mirrorStale && !this.rebuildMirror()) {
      // Still unreadable: nothing is planned against a mirror that may be wrong, and what is
      // dirty stays so for the next attempt.
      this.retryAfterFailure();
      return;
    }
    // Taken whole: after a failed pass, recover() has the next one plan every desired frontend
    // and everything the maps hold anyway.
    const codes = this.dirty;
    this.dirty = new Map();
    const everyDesired = this.planEveryDesired;
    this.planEveryDesired = false;
    const sweep = this.sweepPending;
    // Upper bounds on what the pass may plan and register (a code may be counted twice, and
    // shared and known backends count too).
    const planned = codes.size + (everyDesired ? this.desired.size : 0);
    const listed = backendsListed(codes) + (everyDesired ? backendsListed(this.desired) : 0);
    // Sized once for all of them instead of growing the lookup on the way.
    this.state.backends.reserve(listed);
    const plan = new LbWritePlan(this.state, this.maps, this.synced, planned);
    try {
      this.raiseIdHighWater(planned, listed);
      const newlyBlocked: FrontendCode[] = [];
      let frontendsPlanned = 0;
      const planOne = (desired: DesiredFrontend | undefined, code: FrontendCode): void => {
        frontendsPlanned++;
        const shortfall = plan.frontend(code, desired);
        if (shortfall === undefined) {
          // Nearly always empty: no lookup per frontend of an initial sync.
          if (this.blocked.size > 0) this.blocked.delete(code);
        } else {
          if (!this.blocked.has(code)) newlyBlocked.push(code);
          this.blocked.set(code, shortfall);
        }
      };
      if (everyDesired) {
        this.desired.forEach(planOne);
        // What dirty lists beside them: a desired code's entry holds that same frontend.
        codes.forEach((desired, code) => {
          if (!this.desired.has(code)) planOne(desired, code);
        });
      } else {
        codes.forEach(planOne);
      }
      if (sweep) plan.sweep();
      const summary = plan.apply();
      if (sweep) this.sweepPending = false;
      if (newlyBlocked.length > 0) this.logBlocked(newlyBlocked);
      const freedRoom =
        summary.frontendsDeleted > 0 || summary.backendsDeleted > 0 || summary.blocksReleased > 0;
      if (freedRoom) this.markDirty(this.blocked.keys());
      this.backoffMs = 0;
      this.lastError = undefined;
      this.passCount++;
      const report = {
        ...summary,
        frontends: frontendsPlanned,
        durationMs: performance.now() - started,
      };
      this.logger.debug(report, 'load balancer: maps updated');
      this.parkedRelease.schedule();
      this.onPass?.(report);
    } catch (error) {
      this.recover(toTerwayError(error, 'BPF_ERROR'));
    }
    if (this.busy()) this.schedule();
    else this.releaseWaiters();
  }

  /**
   * Records, before the pass writes anything, the highest ids it may hand out: `frontends` and
   * `backends` more at most. A daemon that stops in the middle of a later pass then still knows,
   * when it restarts, every id whose counters that pass may have left behind (lb_maps.h).
   */
  private raiseIdHighWater(frontends: number, backends: number): void {
    const { state, maps } = this;
    const raise = (
      kind: 'frontends' | 'backends',
      ids: IdAllocator,
      count: number,
      map: BpfMap,
    ) => {
      const mark = ids.highestAfter(count);
      if (mark <= state.idHighWater[kind]) return;
      writeIdHighWater(map, mark);
      state.idHighWater[kind] = mark;
    };
    raise('frontends', state.frontendIds, frontends, maps.frontendStats);
    raise('backends', state.backends.ids, backends, maps.backendStats);
  }

  private logBlocked(codes: readonly FrontendCode[]): void {
    this.logger.error(
      {
        newlyBlocked: codes.length,
        blocked: this.blocked.size,
        frontends: codes
          .slice(0, BLOCKED_LOGGED)
          .map((code) => this.describeBlocked(code, this.blocked.get(code) ?? '')),
      },
      'load balancer: the maps have no room for these frontends; each keeps what it had ' +
        '(nothing, if new) and is tried again when room frees up',
    );
  }

  private describeBlocked(code: FrontendCode, reason: string): BlockedFrontend {
    const desired = this.desired.get(code);
    return {
      frontend: desired ? frontendKey(desired.address) : String(code),
      service: desired ? serviceKey(desired.service.namespace, desired.service.name) : '',
      reason,
    };
  }

  /**
   * Part of a failed pass may be in the maps. Rather than guess which part, rebuild the mirror from
   * the maps and redo every frontend that differs from the desired state, after a backoff.
   */
  private recover(error: Error): void {
    this.lastError = error;
    this.retryAfterFailure();
    this.logger.error(
      { err: error, retryInMs: this.backoffMs },
      'load balancer: writing the maps failed; will rebuild from the live maps and retry',
    );
    // Whether or not the maps can be read now, the retry redoes every desired frontend: the
    // failed pass took its share of them out of `dirty`.
    this.planEveryDesired = true;
    if (this.synced) this.sweepPending = true;
    this.rebuildMirror();
  }

  /**
   * Replaces the mirror with what the live maps hold, and marks what they hold dirty. False when
   * they cannot be read: the mirror is then stale, and the next pass tries again first.
   */
  private rebuildMirror(): boolean {
    try {
      this.state = restore(this.maps);
    } catch (error) {
      this.mirrorStale = true;
      this.lastError = toTerwayError(error, 'BPF_ERROR');
      this.logger.error(
        { err: error },
        'load balancer: reading the live maps failed too; the retry reads them again first',
      );
      return false;
    }
    this.mirrorStale = false;
    this.markDirty(this.state.frontends.frontendCodes());
    this.parkedRelease.schedule();
    return true;
  }

  /** Counts a failed pass and schedules the next attempt after a doubled backoff. */
  private retryAfterFailure(): void {
    this.failedPassCount++;
    this.backoffMs = Math.min(
      this.maxRetryMs,
      this.backoffMs === 0 ? this.initialRetryMs : this.backoffMs * 2,
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pass();
    }, this.backoffMs);
  }

  private releaseWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
    if (this.synced && !this.busy()) this.firstStateProgrammed = true;
    if (this.firstStateProgrammed || this.stopped) {
      for (const resolve of this.firstStateWaiters.splice(0)) resolve();
    }
  }
}

function backendsListed(frontends: ReadonlyMap<FrontendCode, DesiredFrontend | undefined>): number {
  let listed = 0;
  frontends.forEach((desired) => {
    if (desired) listed += desired.ready.length + desired.draining.length;
  });
  return listed;
}

/**
 * The mirror of the live maps, with the counters of every unused id up to the high-water mark
 * reset: ids are handed out assuming zero counters, and a daemon that stopped between clearing an
 * entry and resetting its counters (or a failed pass) may have left some behind, above the highest
 * live id as well as below it. Ids above the mark were never handed out: resetting all 393,216
 * would cost each start a fifth of a second.
 *
 * An unused frontend id that a live flow still counts under is parked instead (see
 * parked-frontend-ids.ts).
 */
function restore(maps: LbMaps): ProgrammedState {
  const state = ProgrammedState.fromMaps(maps);
  settleUnusedFrontendIds(state, maps);
  resetCounters(maps.backendStats, state.backends.ids.gapIds(state.idHighWater.backends));
  return state;
}
