/**
 * Which vSwitch the next ENI is created in. Candidates are eni_conf `vswitches[zone]` (or the
 * node's own vSwitch when none are listed), restricted to the node's zone because ECS refuses
 * to attach an ENI from another zone. DescribeVSwitches answers are cached briefly so a pool
 * refill does not cost one describe per ENI; a vSwitch that answered IpNotEnough is inhibited
 * for a while, as Terway does, so every create does not hit the same empty subnet.
 */
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { CloudError } from '../cloud-error.js';
import { CloudErrorCodes } from '../provider.js';

/** DescribeVSwitches' AvailableIpAddressCount moves with every pod; a minute is fresh enough. */
export const DEFAULT_VSWITCH_CACHE_TTL_MS = 60_000;
/** Terway's inhibit after InvalidVSwitchId.IpNotEnough. */
export const DEFAULT_VSWITCH_INHIBIT_MS = 10 * 60_000;

export interface VSwitchInfo {
  vswitchId: string;
  zoneId: string;
  cidr: string;
  availableIpCount: number;
}

export type VSwitchPolicy = 'random' | 'ordered';

export interface VSwitchSelectorOptions {
  zoneId: string;
  /** eni_conf `vswitches[zone]`; empty means the node's own vSwitch. */
  vswitchIds: string[];
  fallbackVSwitchId: string;
  policy: VSwitchPolicy;
  /** DescribeVSwitches for these ids (through the ApiCaller). */
  describe: (ids: string[]) => Promise<VSwitchInfo[]>;
  clock: Clock;
  log: Logger;
  random?: () => number;
  cacheTtlMs?: number;
  inhibitMs?: number;
}

export interface VSwitchStatus {
  vswitchId: string;
  /** Empty until DescribeVSwitches has answered for it. */
  zoneId: string;
  /** As last described (0 while inhibited); undefined when never described. */
  availableIpCount: number | undefined;
  inhibitedUntil?: number;
  reason?: string;
  /** Why it is never picked: another zone, or DescribeVSwitches does not know it. */
  excluded?: string;
}

interface Inhibit {
  until: number;
  reason: string;
}

export class VSwitchSelector {
  private readonly candidates: string[];
  private readonly random: () => number;
  private readonly cacheTtlMs: number;
  private readonly inhibitMs: number;
  private cache = new Map<string, VSwitchInfo>();
  private cachedAt: number | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly inhibits = new Map<string, Inhibit>();
  private readonly warned = new Set<string>();

  constructor(private readonly options: VSwitchSelectorOptions) {
    const listed = [...new Set(options.vswitchIds)];
    this.candidates = listed.length > 0 ? listed : [options.fallbackVSwitchId];
    this.random = options.random ?? Math.random;
    this.cacheTtlMs = options.cacheTtlMs ?? DEFAULT_VSWITCH_CACHE_TTL_MS;
    this.inhibitMs = options.inhibitMs ?? DEFAULT_VSWITCH_INHIBIT_MS;
  }

  async pick(): Promise<VSwitchInfo> {
    await this.ensureFresh();
    const usable: VSwitchInfo[] = [];
    for (const id of this.candidates) {
      const info = this.cache.get(id);
      if (info === undefined || this.exclusion(id) !== undefined) continue;
      if (this.activeInhibit(id) !== undefined || info.availableIpCount <= 0) continue;
      usable.push(info);
    }
    if (usable.length === 0) throw this.exhaustedError();
    if (this.options.policy === 'ordered') {
      // Stable sort: equal counts keep the configured order.
      return { ...[...usable].sort((a, b) => b.availableIpCount - a.availableIpCount)[0]! };
    }
    const index = Math.min(usable.length - 1, Math.floor(this.random() * usable.length));
    return { ...usable[index]! };
  }

  markExhausted(vswitchId: string, reason: string): void {
    const until = this.options.clock.now() + this.inhibitMs;
    this.inhibits.set(vswitchId, { until, reason });
    const cached = this.cache.get(vswitchId);
    if (cached !== undefined) this.cache.set(vswitchId, { ...cached, availableIpCount: 0 });
    this.options.log.warn(
      { vswitchId, reason, inhibitedUntil: new Date(until).toISOString() },
      'vSwitch has no free IPs; skipping it for new ENIs',
    );
  }

  /** Why a vSwitch is skipped right now (an IpNotEnough within the inhibit window), if it is. */
  inhibitedReason(vswitchId: string): string | undefined {
    return this.activeInhibit(vswitchId)?.reason;
  }

  status(): VSwitchStatus[] {
    return this.candidates.map((vswitchId) => {
      const info = this.cache.get(vswitchId);
      const inhibit = this.activeInhibit(vswitchId);
      const excluded = this.exclusion(vswitchId);
      return {
        vswitchId,
        zoneId: info?.zoneId ?? '',
        availableIpCount: info?.availableIpCount,
        ...(inhibit === undefined ? {} : { inhibitedUntil: inhibit.until, reason: inhibit.reason }),
        ...(excluded === undefined ? {} : { excluded }),
      };
    });
  }

  /** Drops the cache, e.g. after an operator added IPs to a vSwitch; inhibits stay. */
  invalidate(): void {
    this.cachedAt = undefined;
  }

  private activeInhibit(vswitchId: string): Inhibit | undefined {
    const inhibit = this.inhibits.get(vswitchId);
    if (inhibit === undefined) return undefined;
    if (inhibit.until > this.options.clock.now()) return inhibit;
    this.inhibits.delete(vswitchId);
    return undefined;
  }

  /** Undefined when the vSwitch may be picked; otherwise why not. Only known after a describe. */
  private exclusion(vswitchId: string): string | undefined {
    if (this.cachedAt === undefined && this.cache.size === 0) return undefined;
    const info = this.cache.get(vswitchId);
    if (info === undefined) return 'not found by DescribeVSwitches';
    if (info.zoneId !== this.options.zoneId) {
      return `in zone ${info.zoneId}, not the node's zone ${this.options.zoneId}`;
    }
    return undefined;
  }

  private async ensureFresh(): Promise<void> {
    const now = this.options.clock.now();
    if (this.cachedAt !== undefined && now - this.cachedAt < this.cacheTtlMs) return;
    // Concurrent picks share one describe.
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    await this.refreshing;
  }

  private async refresh(): Promise<void> {
    let described: VSwitchInfo[];
    try {
      described = await this.options.describe([...this.candidates]);
    } catch (error) {
      // A stale count beats failing every allocation on one describe hiccup.
      if (this.cache.size === 0) throw error;
      this.options.log.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'DescribeVSwitches failed; using the previous answer',
      );
      return;
    }
    const next = new Map<string, VSwitchInfo>();
    for (const info of described) {
      if (!this.candidates.includes(info.vswitchId)) continue;
      // The count lags behind ECS's own IpNotEnough; an inhibited vSwitch stays at 0.
      const inhibited = this.activeInhibit(info.vswitchId) !== undefined;
      next.set(info.vswitchId, inhibited ? { ...info, availableIpCount: 0 } : { ...info });
    }
    this.cache = next;
    this.cachedAt = this.options.clock.now();
    this.warnExclusionsOnce();
  }

  private warnExclusionsOnce(): void {
    for (const vswitchId of this.candidates) {
      const excluded = this.exclusion(vswitchId);
      if (excluded === undefined || this.warned.has(vswitchId)) continue;
      this.warned.add(vswitchId);
      this.options.log.warn(
        { vswitchId, zoneId: this.options.zoneId },
        `vSwitch ignored: ${excluded}`,
      );
    }
  }

  private exhaustedError(): CloudError {
    const now = this.options.clock.now();
    const reasons = this.candidates.map((id) => {
      const excluded = this.exclusion(id);
      if (excluded !== undefined) return `${id} (${excluded})`;
      const inhibit = this.activeInhibit(id);
      if (inhibit !== undefined) {
        const minutes = Math.ceil((inhibit.until - now) / 60_000);
        return `${id} (skipped for ${minutes} more min after ${inhibit.reason})`;
      }
      return `${id} (0 available IPs)`;
    });
    return new CloudError(
      CloudErrorCodes.VSwitchIpNotEnough,
      `no vSwitch in zone ${this.options.zoneId} can take a new ENI: ${reasons.join(', ')}`,
      { operation: 'SelectVSwitch' },
    );
  }
}
