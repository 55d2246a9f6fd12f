import type { EniInfo } from '../cloud/provider.js';
import type { EniState, IpLease, IpState } from './ip-state.js';

export interface IpSlot {
  address: string;
  state: IpState;
  /** Pod key while in_use (and for invalid IPs that still have a record). */
  owner: string | undefined;
  isEniPrimary: boolean;
  sinceMs: number;
}

/**
 * One secondary ENI and the IPs on it. Idle IPs are kept in release order, so the IP handed out
 * next is the one released longest ago: a reused pod IP has had the most time to drain from
 * Service backends and conntrack elsewhere.
 */
export class EniSlot {
  readonly id: string;
  readonly mac: string;
  readonly primaryIp: string;
  readonly vswitchId: string;
  readonly vswitchCidr: string;
  readonly gateway: string;
  readonly prefixLength: number;
  state: EniState = 'in_use';
  /** IPs requested from the cloud for this ENI that have not arrived yet. */
  pendingIps = 0;
  /** A cloud call on this ENI is in flight; one at a time per ENI, as ECS serialises them. */
  busy = false;
  /** The cloud refused more IPs on this ENI until this time (MaxEniPrivateIpsCountExceeded). */
  fullUntilMs = 0;
  /**
   * Its IPs are not handed out until this time, e.g. while the node has no link for it: a pod
   * given one could not be wired. Its IPs stay where they are.
   */
  heldUntilMs = 0;
  private readonly ips = new Map<string, IpSlot>();
  private readonly idle = new Set<string>();
  private inUse = 0;

  constructor(info: EniInfo) {
    this.id = info.id;
    this.mac = info.mac;
    this.primaryIp = info.primaryIp;
    this.vswitchId = info.vswitchId;
    this.vswitchCidr = info.vswitchCidr;
    this.gateway = info.gateway;
    this.prefixLength = Number(info.vswitchCidr.split('/')[1] ?? '32');
  }

  /** Adds IPs the cloud reports on this ENI; ones already known keep their state. */
  addIdle(addresses: readonly string[], nowMs: number): string[] {
    const added: string[] = [];
    for (const address of addresses) {
      if (this.ips.has(address)) continue;
      this.ips.set(address, {
        address,
        state: 'idle',
        owner: undefined,
        isEniPrimary: address === this.primaryIp,
        sinceMs: nowMs,
      });
      this.idle.add(address);
      added.push(address);
    }
    return added;
  }

  get(address: string): IpSlot | undefined {
    return this.ips.get(address);
  }

  all(): IterableIterator<IpSlot> {
    return this.ips.values();
  }

  size(): number {
    return this.ips.size;
  }

  /** Whether its IPs may go to pods now: attached and in use, and not held back. */
  servesPods(nowMs: number): boolean {
    return this.state === 'in_use' && this.heldUntilMs <= nowMs;
  }

  idleCount(): number {
    return this.idle.size;
  }

  inUseCount(): number {
    return this.inUse;
  }

  /** Slots the cloud would still accept on this ENI, counting requests in flight. */
  freeSlots(ipsPerEni: number): number {
    return Math.max(0, ipsPerEni - this.ips.size - this.pendingIps);
  }

  /** Idle addresses, longest idle first. */
  idleAddresses(): IterableIterator<string> {
    return this.idle.values();
  }

  setState(address: string, state: IpState, owner: string | undefined, nowMs: number): void {
    const slot = this.ips.get(address);
    if (slot === undefined) throw new Error(`IP ${address} is not on ${this.id}`);
    if (slot.state === 'in_use') this.inUse--;
    if (state === 'in_use') this.inUse++;
    slot.state = state;
    slot.owner = owner;
    slot.sinceMs = nowMs;
    // Re-inserting moves the address to the back of the idle order.
    this.idle.delete(address);
    if (state === 'idle') this.idle.add(address);
  }

  /** Records an IP that a pod owns but the cloud no longer has on this ENI. */
  addInvalid(address: string, owner: string, nowMs: number): void {
    this.ips.set(address, {
      address,
      state: 'invalid',
      owner,
      isEniPrimary: address === this.primaryIp,
      sinceMs: nowMs,
    });
  }

  remove(address: string): void {
    const slot = this.ips.get(address);
    if (slot === undefined) return;
    if (slot.state === 'in_use') this.inUse--;
    this.idle.delete(address);
    this.ips.delete(address);
  }

  lease(address: string): IpLease {
    return {
      ip: address,
      eniId: this.id,
      eniMac: this.mac,
      vswitchId: this.vswitchId,
      vswitchCidr: this.vswitchCidr,
      prefixLength: this.prefixLength,
      gateway: this.gateway,
    };
  }

  /** True when no pod uses any IP here and nothing is in flight: the ENI could go. */
  isUnused(): boolean {
    if (this.busy || this.state !== 'in_use') return false;
    for (const slot of this.ips.values()) {
      if (slot.state !== 'idle') return false;
    }
    return true;
  }
}
