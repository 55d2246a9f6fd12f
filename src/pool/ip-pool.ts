import type { Logger } from 'pino';
import type { CloudProvider, EniInfo } from '../cloud/provider.js';
import { CloudErrorCodes } from '../cloud/provider.js';
import { TerwayError, toTerwayError } from '../errors/terway-error.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { EniSlot } from './eni-slot.js';
import type { GrowAction } from './grow-plan.js';
import { planGrowth } from './grow-plan.js';
import type { IpLease, IpState, PoolOptions } from './ip-state.js';
import type { PoolLimits } from './pool-limits.js';
import type { PoolSnapshot } from './pool-snapshot.js';
import type { IpClaim } from './pool-ledger.js';
import { PoolLedger } from './pool-ledger.js';
import type { ShrinkAction } from './shrink-plan.js';
import { planShrink } from './shrink-plan.js';
import { WaiterQueue } from './waiter-queue.js';

/** First retry delay after a failed cloud call; doubles per failure up to the cap. */
const GROW_BACKOFF_INITIAL_MS = 500;
const GROW_BACKOFF_MAX_MS = 30_000;
/**
 * After a retryable failure (Throttling, 5xx) the cloud-call wrapper has already backed off and
 * paces this node's calls; a long pool backoff on top only makes unlucky nodes starve while the
 * account serves the others.
 */
const GROW_BACKOFF_RETRYABLE_MAX_MS = 4_000;
/** Terway stops creating ENIs for a minute after EniPerInstanceLimitExceeded. */
const ENI_LIMIT_COOLDOWN_MS = 60_000;
/** An ENI the cloud called full gets no assign calls for this long. */
const ENI_FULL_COOLDOWN_MS = 60_000;
/** Idle IPs above max_pool_size are kept this long after a release, so churn costs no calls. */
const RECLAIM_DELAY_MS = 5_000;

export type { IpClaim } from './pool-ledger.js';

export interface PoolDeps {
  cloud: CloudProvider;
  clock: Clock;
  log: Logger;
  options: PoolOptions;
  limits: PoolLimits;
}

/**
 * The warm pool of secondary ENIs and IPs. Cloud-neutral: it sees only CloudProvider.
 *
 * Demand (waiting allocations plus the min_pool_size watermark) is coalesced for
 * `ipBatchWindowMs` and turned into batched cloud calls by planGrowth; idle IPs above
 * max_pool_size (or idle too long) go back through planShrink. Allocations never fail fast on
 * an empty pool: they wait for a refill until their deadline.
 */
export class IpPool {
  private readonly ledger = new PoolLedger();
  private readonly waiters: WaiterQueue<IpLease>;
  private readonly inflight = new Set<Promise<void>>();
  private creatingEnis = 0;
  /** Grow and shrink calls in flight; a cloud listing taken meanwhile would look like drift. */
  private activeCloudCalls = 0;
  private creatingIps = 0;
  private warmUpRemaining: number;
  /** Ends of ENI holds (holdEni), cleared on stop. */
  private readonly holdTimers = new Set<TimerHandle>();
  private growTimer: TimerHandle | undefined;
  private shrinkTimer: TimerHandle | undefined;
  private syncTimer: TimerHandle | undefined;
  private reclaimTimer: TimerHandle | undefined;
  private growBackoffMs = 0;
  private growBlockedUntil = 0;
  private eniCreateBlockedUntil = 0;
  private lastError: string | undefined;
  private stopped = false;

  constructor(private readonly deps: PoolDeps) {
    this.waiters = new WaiterQueue<IpLease>(deps.clock);
    this.warmUpRemaining = deps.options.ipWarmUpSize;
  }

  /**
   * Rebuilds the pool's view from the cloud's ENIs and the durable claims. Claims whose IP the
   * cloud no longer has stay visible as `invalid`, so no record is silently dropped.
   * Returns claims that collide with an earlier claim on the same IP.
   */
  restore(enis: readonly EniInfo[], claims: readonly IpClaim[]): IpClaim[] {
    const now = this.deps.clock.now();
    for (const info of enis) this.ledger.adoptEni(info, now);
    const conflicts = this.ledger.restoreClaims(claims, now);
    this.warmUpRemaining = Math.max(0, this.warmUpRemaining - this.ledger.totalIps());
    return conflicts;
  }

  /** Starts the timers and the first refill towards min_pool_size / min_eni / warm-up. */
  start(): void {
    this.scheduleGrow();
    this.scheduleShrink(RECLAIM_DELAY_MS);
    this.scheduleSync();
    this.scheduleIdleReclaim();
  }

  /** Stops timers, fails waiting allocations, and waits for cloud calls already in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [
      this.growTimer,
      this.shrinkTimer,
      this.syncTimer,
      this.reclaimTimer,
      ...this.holdTimers,
    ]) {
      if (timer !== undefined) this.deps.clock.clearTimeout(timer);
    }
    this.waiters.rejectAll(new TerwayError('NOT_READY', 'terwayd is shutting down'));
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /**
   * Hands an idle IP to `owner`, or waits for one until `deadlineMs` (then POOL_EXHAUSTED).
   * Waiters are served in arrival order.
   */
  allocate(owner: string, deadlineMs: number, signal?: AbortSignal): Promise<IpLease> {
    if (this.stopped) {
      return Promise.reject(new TerwayError('NOT_READY', 'terwayd is shutting down'));
    }
    if (this.waiters.length === 0) {
      const lease = this.takeIdle(owner);
      if (lease !== undefined) {
        this.scheduleGrow();
        return Promise.resolve(lease);
      }
    }
    const waiting = this.waiters.enqueue(owner, deadlineMs, () => this.exhaustedError(), signal);
    this.scheduleGrow();
    return waiting;
  }

  /**
   * Keeps an ENI's IPs from new pods for a while (its link is missing on the node, say): other
   * ENIs serve, and grow as if its idle IPs were not there. It serves again when the hold ends.
   */
  holdEni(eniId: string, durationMs: number, reason: string): void {
    const slot = this.ledger.enis.get(eniId);
    if (slot === undefined) return;
    const until = this.deps.clock.now() + durationMs;
    if (slot.heldUntilMs >= until) return;
    slot.heldUntilMs = until;
    this.deps.log.warn({ eniId, mac: slot.mac, durationMs, reason }, 'ENI held back from new pods');
    const timer = this.deps.clock.setTimeout(() => {
      this.holdTimers.delete(timer);
      this.serveWaiters();
      this.scheduleGrow();
    }, durationMs);
    this.holdTimers.add(timer);
    this.scheduleGrow();
  }

  /** Returns an IP to the pool. Invalid IPs simply disappear. Unknown IPs are ignored. */
  release(ip: string): boolean {
    const outcome = this.ledger.release(ip, this.deps.clock.now());
    if (outcome === 'idle') {
      this.serveWaiters();
      this.scheduleShrink(RECLAIM_DELAY_MS);
    }
    return outcome !== undefined;
  }

  leaseOf(ip: string): IpLease | undefined {
    return this.ledger.leaseOf(ip);
  }

  stateOf(ip: string): IpState | undefined {
    return this.ledger.stateOf(ip);
  }

  ownerOf(ip: string): string | undefined {
    return this.ledger.ownerOf(ip);
  }

  /** Whether an allocation made now could be satisfied (idle IP, or room to grow). */
  canAllocate(): boolean {
    return this.ledger.hasIdle(this.deps.clock.now()) || !this.atCapacity();
  }

  /** Whether a cloud call is in flight (tests drive fake time until it is not). */
  busy(): boolean {
    return this.inflight.size > 0;
  }

  snapshot(): PoolSnapshot {
    const creating = Array.from({ length: this.creatingEnis }, () => ({
      id: '',
      mac: '',
      state: 'creating' as const,
      primaryIp: '',
      vswitchId: '',
      vswitchCidr: '',
      gateway: '',
      pendingIps: 0,
      ips: [],
    }));
    const enis = [...this.ledger.views(), ...creating];
    const counts = this.ledger.counts();
    return {
      enis,
      pool: {
        ...counts,
        creating: this.inflightIps(),
        waiting: this.waiters.length,
        minPoolSize: this.deps.options.minPoolSize,
        maxPoolSize: this.deps.options.maxPoolSize,
        limits: this.deps.limits,
        lastError: this.lastError,
      },
    };
  }

  // ---- allocation -------------------------------------------------------------------------

  private takeIdle(owner: string): IpLease | undefined {
    const { eniSelectionPolicy } = this.deps.options;
    return this.ledger.takeIdle(owner, eniSelectionPolicy, this.deps.clock.now());
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.ledger.hasIdle(this.deps.clock.now())) {
      const waiter = this.waiters.shift();
      const lease = waiter === undefined ? undefined : this.takeIdle(waiter.owner);
      if (waiter !== undefined && lease !== undefined) waiter.resolve(lease);
    }
  }

  /** IP slots the node could still fill, counting IPs already requested. */
  private room(): number {
    return this.deps.limits.capacity - this.ledger.totalIps() - this.inflightIps();
  }

  private atCapacity(): boolean {
    return this.room() <= 0;
  }

  private exhaustedError(): TerwayError {
    const { capacity } = this.deps.limits;
    const atCapacity = this.atCapacity();
    const why = atCapacity
      ? `all ${capacity} IP slots of this node are in use`
      : (this.lastError ?? 'the cloud has not returned IPs yet');
    return new TerwayError(
      atCapacity ? 'POOL_AT_CAPACITY' : 'POOL_EXHAUSTED',
      `no idle IP before the deadline: ${why}`,
      { retryable: true },
    );
  }

  // ---- growth -----------------------------------------------------------------------------

  private scheduleGrow(): void {
    if (this.stopped || this.growTimer !== undefined) return;
    if (this.growDeficit() <= 0) return;
    const now = this.deps.clock.now();
    const delay = Math.max(this.deps.options.ipBatchWindowMs, this.growBlockedUntil - now);
    this.growTimer = this.deps.clock.setTimeout(() => {
      this.growTimer = undefined;
      this.grow();
    }, delay);
  }

  /** IPs wanted beyond what is idle or already on its way. */
  private growDeficit(): number {
    const idle = this.ledger.usableIdle(this.deps.clock.now());
    const target = Math.max(this.deps.options.minPoolSize, this.warmUpRemaining);
    const wanted = this.waiters.length + target - idle - this.inflightIps();
    const forMinEni = this.ledger.enis.size + this.creatingEnis < this.deps.options.minEni ? 1 : 0;
    return Math.max(forMinEni, Math.min(wanted, this.room()));
  }

  /**
   * How many IPs beyond `wanted` may be requested and still leave no more than max_pool_size idle
   * once the waiting allocations are served (and no more than the node holds).
   */
  private idleHeadroom(now: number, wanted: number): number {
    // `wanted` is growDeficit's, never negative.
    const idleAfter =
      this.ledger.usableIdle(now) + this.inflightIps() + wanted - this.waiters.length;
    return Math.max(0, Math.min(this.deps.options.maxPoolSize - idleAfter, this.room() - wanted));
  }

  private grow(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const wanted = this.growDeficit();
    const actions = planGrowth({
      wanted,
      idleHeadroom: this.idleHeadroom(now, wanted),
      enis: [...this.ledger.enis.values()].map((slot) => ({
        id: slot.id,
        size: slot.size(),
        inUse: slot.inUseCount(),
        assignable: slot.servesPods(now) && !slot.busy && slot.fullUntilMs <= now,
        freeSlots: slot.freeSlots(this.deps.limits.ipsPerEni),
      })),
      creatingEnis: this.creatingEnis,
      creatingFreeSlots: this.creatingEnis * this.deps.limits.ipsPerEni - this.creatingIps,
      busyFreeSlots: [...this.ledger.enis.values()]
        .filter((slot) => slot.state === 'in_use' && slot.busy && slot.fullUntilMs <= now)
        .reduce((sum, slot) => sum + slot.freeSlots(this.deps.limits.ipsPerEni), 0),
      limits: this.deps.limits,
      canCreateEni: this.eniCreateBlockedUntil <= now,
      policy: this.deps.options.eniSelectionPolicy,
      enisBelowMin: Math.max(
        0,
        this.deps.options.minEni - this.ledger.enis.size - this.creatingEnis,
      ),
    });
    for (const action of actions) this.track(this.runGrowAction(action));
    if (actions.length === 0) this.retryWhenUnblocked(now);
  }

  /**
   * Nothing could be asked for now because the cloud told us to hold off (ENI limit, full ENI).
   * Without a wake-up the waiters would sit until some unrelated event, so set one.
   */
  private retryWhenUnblocked(now: number): void {
    const unblockAt = [
      this.eniCreateBlockedUntil,
      ...[...this.ledger.enis.values()].map((s) => s.fullUntilMs),
    ]
      .filter((at) => at > now)
      .sort((a, b) => a - b)[0];
    if (unblockAt === undefined) return;
    this.growBlockedUntil = Math.max(this.growBlockedUntil, unblockAt);
    this.scheduleGrow();
  }

  private async runGrowAction(action: GrowAction): Promise<void> {
    const { cloud, clock, log } = this.deps;
    const started = clock.now();
    try {
      if (action.kind === 'assign') {
        const slot = this.ledger.enis.get(action.eniId);
        if (slot === undefined) return;
        slot.pendingIps += action.count;
        slot.busy = true;
        this.activeCloudCalls++;
        try {
          const ips = await cloud.assignPrivateIps(action.eniId, action.count);
          this.addIps(slot, ips);
          log.info(
            { eniId: slot.id, ips, ms: clock.now() - started },
            'assigned secondary IPs to ENI',
          );
        } finally {
          slot.pendingIps -= action.count;
          slot.busy = false;
          this.activeCloudCalls--;
        }
      } else {
        this.creatingEnis++;
        this.creatingIps += action.ipCount;
        this.activeCloudCalls++;
        try {
          const info = await cloud.createEni(action.ipCount - 1);
          this.ledger.adoptEni(info, clock.now());
          this.warmUpRemaining = Math.max(0, this.warmUpRemaining - info.privateIps.length);
          log.info(
            { eniId: info.id, mac: info.mac, ips: info.privateIps, ms: clock.now() - started },
            'created and attached secondary ENI',
          );
          this.serveAfterGrowth();
        } finally {
          this.creatingEnis--;
          this.creatingIps -= action.ipCount;
          this.activeCloudCalls--;
        }
      }
      this.growBackoffMs = 0;
      this.lastError = undefined;
    } catch (error) {
      this.onGrowFailure(action, error);
    } finally {
      this.scheduleGrow();
    }
  }

  private addIps(slot: EniSlot, ips: readonly string[]): void {
    const now = this.deps.clock.now();
    this.ledger.addIps(slot, ips, now);
    this.warmUpRemaining = Math.max(0, this.warmUpRemaining - ips.length);
    this.serveAfterGrowth();
  }

  private serveAfterGrowth(): void {
    this.serveWaiters();
    this.scheduleShrink(RECLAIM_DELAY_MS);
  }

  private onGrowFailure(action: GrowAction, error: unknown): void {
    const failure = toTerwayError(error, 'CLOUD_ERROR');
    const now = this.deps.clock.now();
    const what = action.kind === 'assign' ? `assign IPs to ${action.eniId}` : 'create an ENI';
    this.lastError = `${what} failed: ${failure.cloudCode ?? failure.code}: ${failure.message}`;
    if (failure.cloudCode === CloudErrorCodes.EniPerInstanceLimitExceeded) {
      this.eniCreateBlockedUntil = now + ENI_LIMIT_COOLDOWN_MS;
    }
    if (failure.cloudCode === CloudErrorCodes.MaxEniPrivateIpsCountExceeded) {
      const slot = action.kind === 'assign' ? this.ledger.enis.get(action.eniId) : undefined;
      if (slot !== undefined) slot.fullUntilMs = now + ENI_FULL_COOLDOWN_MS;
    }
    this.growBackoffMs = Math.min(
      failure.retryable ? GROW_BACKOFF_RETRYABLE_MAX_MS : GROW_BACKOFF_MAX_MS,
      Math.max(GROW_BACKOFF_INITIAL_MS, this.growBackoffMs * 2),
    );
    this.growBlockedUntil = now + this.growBackoffMs;
    this.deps.log.warn(
      { err: failure, cloudCode: failure.cloudCode, retryInMs: this.growBackoffMs },
      this.lastError,
    );
  }

  // ---- shrink -----------------------------------------------------------------------------

  private scheduleShrink(delayMs: number): void {
    if (this.stopped || this.shrinkTimer !== undefined) return;
    this.shrinkTimer = this.deps.clock.setTimeout(() => {
      this.shrinkTimer = undefined;
      this.shrink();
    }, delayMs);
  }

  /** How many idle IPs should go back now: the excess over max_pool_size, plus idle reclaim. */
  private releaseCount(): number {
    const { options, clock } = this.deps;
    const { idle } = this.ledger.counts();
    const overMax = idle - options.maxPoolSize;
    const stale =
      options.idleIpReclaimAfterMs === undefined
        ? 0
        : Math.min(
            this.ledger.idleSince(clock.now() - options.idleIpReclaimAfterMs),
            options.idleIpReclaimBatchSize,
          );
    const floor = Math.max(options.minPoolSize, this.warmUpRemaining > 0 ? idle : 0);
    return Math.max(0, Math.min(Math.max(overMax, stale), idle - floor));
  }

  private shrink(): void {
    if (this.stopped || this.waiters.length > 0) return;
    const release = this.releaseCount();
    if (release <= 0) return;
    const actions = planShrink({
      release,
      minEni: this.deps.options.minEni,
      enis: [...this.ledger.enis.values()].map((slot) => ({
        id: slot.id,
        primaryIp: slot.primaryIp,
        size: slot.size(),
        inUse: slot.inUseCount(),
        unused: slot.isUnused(),
        touchable: slot.state === 'in_use' && !slot.busy,
        idle: [...slot.idleAddresses()],
      })),
    });
    for (const action of actions) this.track(this.runShrinkAction(action));
  }

  private async runShrinkAction(action: ShrinkAction): Promise<void> {
    const { cloud, clock, log } = this.deps;
    const slot = this.ledger.enis.get(action.eniId);
    if (slot === undefined) return;
    const now = clock.now();
    const ips = action.kind === 'unassign' ? action.ips : [...slot.all()].map((ip) => ip.address);
    for (const ip of ips) slot.setState(ip, 'releasing', undefined, now);
    if (action.kind === 'delete') slot.state = 'deleting';
    slot.busy = true;
    this.activeCloudCalls++;
    try {
      if (action.kind === 'unassign') {
        await cloud.unassignPrivateIps(action.eniId, action.ips);
        for (const ip of action.ips) this.ledger.forget(slot, ip);
        log.info({ eniId: slot.id, ips: action.ips }, 'returned idle IPs to the cloud');
      } else {
        await cloud.deleteEni(action.eniId);
        this.ledger.removeEni(slot);
        log.info({ eniId: slot.id, mac: slot.mac }, 'detached and deleted unused ENI');
      }
    } catch (error) {
      const failure = toTerwayError(error, 'CLOUD_ERROR');
      this.lastError = `${action.kind} on ${action.eniId} failed: ${failure.cloudCode ?? failure.code}: ${failure.message}`;
      log.warn({ err: failure, cloudCode: failure.cloudCode }, this.lastError);
      const back = clock.now();
      slot.state = 'in_use';
      for (const ip of ips)
        if (slot.get(ip)?.state === 'releasing') slot.setState(ip, 'idle', undefined, back);
      this.serveWaiters();
    } finally {
      slot.busy = false;
      this.activeCloudCalls--;
      this.scheduleShrink(RECLAIM_DELAY_MS);
    }
  }

  // ---- periodic work ------------------------------------------------------------------------

  private scheduleSync(): void {
    if (this.stopped) return;
    const { ipPoolSyncPeriodMs } = this.deps.options;
    this.syncTimer = this.deps.clock.setTimeout(
      () => {
        this.track(this.syncWithCloud());
        this.scheduleSync();
      },
      jittered(ipPoolSyncPeriodMs, 0.1),
    );
  }

  private scheduleIdleReclaim(): void {
    const { idleIpReclaimAfterMs, idleIpReclaimIntervalMs, idleIpReclaimJitterFactor } =
      this.deps.options;
    if (this.stopped || idleIpReclaimAfterMs === undefined) return;
    this.reclaimTimer = this.deps.clock.setTimeout(
      () => {
        this.shrink();
        this.scheduleIdleReclaim();
      },
      jittered(idleIpReclaimIntervalMs, idleIpReclaimJitterFactor),
    );
  }

  /**
   * Reconciles the pool with what the cloud reports: IPs added out of band become idle; idle IPs
   * the cloud dropped are forgotten; in-use IPs it dropped turn invalid. Skipped while our own
   * calls are in flight, since their results would look like drift.
   */
  private async syncWithCloud(): Promise<void> {
    if (this.activeCloudCalls > 0) return;
    try {
      const enis = await this.deps.cloud.listEnis();
      if (this.activeCloudCalls > 0 || this.stopped) return;
      const drift = this.ledger.reconcile(enis, this.deps.clock.now());
      for (const lost of drift.lostPodIps) {
        this.deps.log.warn(lost, 'the cloud no longer has a pod IP; it is now invalid');
      }
      for (const eniId of drift.lostEnis) {
        this.deps.log.warn({ eniId }, 'the cloud no longer reports an ENI');
      }
    } catch (error) {
      this.deps.log.warn({ err: toTerwayError(error) }, 'periodic cloud sync failed');
    }
    this.scheduleGrow();
    this.scheduleShrink(0);
  }

  // ---- bookkeeping --------------------------------------------------------------------------

  /** IPs asked of the cloud and not yet returned, in create and assign calls. */
  private inflightIps(): number {
    return this.creatingIps + this.ledger.pendingIps();
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }
}

function jittered(periodMs: number, factor: number): number {
  return periodMs * (1 + factor * (Math.random() * 2 - 1));
}
