import type { EniInfo } from '../cloud/provider.js';
import { EniSlot } from './eni-slot.js';
import type { EniSelectionPolicy, IpLease, IpState } from './ip-state.js';
import type { EniView } from './pool-snapshot.js';
import { eniView } from './pool-snapshot.js';

/** A pod's recorded claim on an IP, replayed into the pool on restart. */
export interface IpClaim {
  ip: string;
  eniId: string;
  owner: string;
}

export interface IpCounts {
  idle: number;
  inUse: number;
  releasing: number;
  invalid: number;
}

/** What a cloud listing changed in the ledger, for the pool to log. */
export interface Drift {
  lostPodIps: Array<{ ip: string; owner: string }>;
  lostEnis: string[];
}

/**
 * The pool's books: which ENIs it holds, which IPs sit on each and in what state. No timers,
 * no cloud calls; IpPool decides, the ledger records.
 */
export class PoolLedger {
  readonly enis = new Map<string, EniSlot>();
  /** ENIs the cloud no longer reports but whose IPs are still recorded for pods. */
  private readonly missingEnis = new Map<string, EniSlot>();
  private readonly byAddress = new Map<string, EniSlot>();

  /** Rebinds recorded claims; returns claims colliding with an earlier one on the same IP. */
  restoreClaims(claims: readonly IpClaim[], nowMs: number): IpClaim[] {
    const conflicts: IpClaim[] = [];
    for (const claim of claims) {
      const slot = this.byAddress.get(claim.ip);
      const ip = slot?.get(claim.ip);
      if (slot !== undefined && ip !== undefined) {
        if (ip.state === 'in_use' || ip.state === 'invalid') conflicts.push(claim);
        else slot.setState(claim.ip, 'in_use', claim.owner, nowMs);
        continue;
      }
      const holder = this.enis.get(claim.eniId) ?? this.missingEni(claim.eniId);
      holder.addInvalid(claim.ip, claim.owner, nowMs);
      this.byAddress.set(claim.ip, holder);
    }
    return conflicts;
  }

  /** Adds or refreshes an ENI from the cloud's description; its new IPs join as idle. */
  adoptEni(info: EniInfo, nowMs: number): EniSlot {
    let slot = this.enis.get(info.id);
    if (slot === undefined) {
      slot = new EniSlot(info);
      this.enis.set(info.id, slot);
    }
    this.addIps(slot, info.privateIps, nowMs);
    return slot;
  }

  addIps(slot: EniSlot, ips: readonly string[], nowMs: number): void {
    for (const ip of slot.addIdle(ips, nowMs)) this.byAddress.set(ip, slot);
  }

  forget(slot: EniSlot, ip: string): void {
    slot.remove(ip);
    this.byAddress.delete(ip);
  }

  removeEni(slot: EniSlot): void {
    for (const ip of [...slot.all()]) this.byAddress.delete(ip.address);
    this.enis.delete(slot.id);
  }

  leaseOf(ip: string): IpLease | undefined {
    return this.byAddress.get(ip)?.lease(ip);
  }

  stateOf(ip: string): IpState | undefined {
    return this.byAddress.get(ip)?.get(ip)?.state;
  }

  ownerOf(ip: string): string | undefined {
    return this.byAddress.get(ip)?.get(ip)?.owner;
  }

  /**
   * Marks an in-use IP idle again; an invalid one simply disappears (the cloud has it no more).
   * Returns what happened, or undefined for an unknown or not-in-use IP.
   */
  release(ip: string, nowMs: number): 'idle' | 'dropped' | undefined {
    const slot = this.byAddress.get(ip);
    const entry = slot?.get(ip);
    if (slot === undefined || entry === undefined) return undefined;
    if (entry.state === 'invalid') {
      this.forget(slot, ip);
      if (slot.size() === 0) this.missingEnis.delete(slot.id);
      return 'dropped';
    }
    if (entry.state !== 'in_use') return undefined;
    slot.setState(ip, 'idle', undefined, nowMs);
    return 'idle';
  }

  /**
   * Hands the longest-idle IP of the preferred ENI to `owner`. most_ips packs pods onto the
   * busiest ENI so others can empty; least_ips spreads them.
   */
  takeIdle(owner: string, policy: EniSelectionPolicy, nowMs: number): IpLease | undefined {
    let best: EniSlot | undefined;
    for (const slot of this.enis.values()) {
      if (!slot.servesPods(nowMs) || slot.idleCount() === 0) continue;
      const diff = best === undefined ? 0 : slot.inUseCount() - best.inUseCount();
      if (best === undefined || (policy === 'most_ips' ? diff > 0 : diff < 0)) best = slot;
    }
    if (best === undefined) return undefined;
    const address = best.idleAddresses().next().value as string;
    best.setState(address, 'in_use', owner, nowMs);
    return best.lease(address);
  }

  /** Whether takeIdle would find an IP now (held ENIs' idle IPs do not count). */
  hasIdle(nowMs: number): boolean {
    for (const slot of this.enis.values()) {
      if (slot.servesPods(nowMs) && slot.idleCount() > 0) return true;
    }
    return false;
  }

  /** Idle IPs takeIdle could hand out now. */
  usableIdle(nowMs: number): number {
    let count = 0;
    for (const slot of this.enis.values()) if (slot.servesPods(nowMs)) count += slot.idleCount();
    return count;
  }

  /**
   * Applies a cloud listing: IPs added out of band become idle; idle IPs the cloud dropped are
   * forgotten; in-use IPs it dropped turn invalid, and so do those of ENIs it no longer reports.
   */
  reconcile(listing: readonly EniInfo[], nowMs: number): Drift {
    const drift: Drift = { lostPodIps: [], lostEnis: [] };
    const seen = new Set<string>();
    for (const info of listing) {
      seen.add(info.id);
      const slot = this.adoptEni(info, nowMs);
      const cloudIps = new Set(info.privateIps);
      for (const ip of [...slot.all()]) {
        if (cloudIps.has(ip.address)) continue;
        if (ip.state === 'in_use' && ip.owner !== undefined) {
          slot.setState(ip.address, 'invalid', ip.owner, nowMs);
          drift.lostPodIps.push({ ip: ip.address, owner: ip.owner });
        } else if (ip.state === 'idle') {
          this.forget(slot, ip.address);
        }
      }
    }
    for (const slot of [...this.enis.values()]) {
      if (seen.has(slot.id) || slot.state !== 'in_use') continue;
      this.enis.delete(slot.id);
      for (const ip of [...slot.all()]) {
        if (ip.owner === undefined) this.forget(slot, ip.address);
        else slot.setState(ip.address, 'invalid', ip.owner, nowMs);
      }
      if (slot.size() > 0) this.missingEnis.set(slot.id, slot);
      drift.lostEnis.push(slot.id);
    }
    return drift;
  }

  counts(): IpCounts {
    const counts = { idle: 0, inUse: 0, releasing: 0, invalid: 0 };
    for (const slot of [...this.enis.values(), ...this.missingEnis.values()]) {
      for (const ip of slot.all()) {
        if (ip.state === 'idle') counts.idle++;
        else if (ip.state === 'in_use') counts.inUse++;
        else if (ip.state === 'releasing') counts.releasing++;
        else counts.invalid++;
      }
    }
    return counts;
  }

  /** IPs on attached ENIs, in any state: what counts against the instance's capacity. */
  totalIps(): number {
    let total = 0;
    for (const slot of this.enis.values()) total += slot.size();
    return total;
  }

  /** IPs requested through assign calls and not yet returned. */
  pendingIps(): number {
    let pending = 0;
    for (const slot of this.enis.values()) pending += slot.pendingIps;
    return pending;
  }

  /** Stale idle IPs (idle since before the cutoff). */
  idleSince(cutoffMs: number): number {
    let stale = 0;
    for (const slot of this.enis.values()) {
      for (const ip of slot.all()) if (ip.state === 'idle' && ip.sinceMs <= cutoffMs) stale++;
    }
    return stale;
  }

  views(): EniView[] {
    return [
      ...[...this.enis.values()].map((slot) => eniView(slot, slot.state)),
      ...[...this.missingEnis.values()].map((slot) => eniView(slot, 'missing')),
    ];
  }

  private missingEni(eniId: string): EniSlot {
    let slot = this.missingEnis.get(eniId);
    if (slot === undefined) {
      slot = new EniSlot({
        id: eniId,
        mac: '',
        primaryIp: '',
        privateIps: [],
        vswitchId: '',
        vswitchCidr: '',
        gateway: '',
        status: 'Deleting',
      });
      this.missingEnis.set(eniId, slot);
    }
    return slot;
  }
}
