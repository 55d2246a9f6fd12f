import { TerwayError } from '../../errors/terway-error.js';
import { formatCidr, intToIp, ipToInt } from '../../util/ipv4.js';
import type { Cidr } from '../../util/ipv4.js';
import { CloudError } from '../cloud-error.js';
import { CloudErrorCodes } from '../provider.js';

/**
 * Addresses after the network address kept for the node itself: its primary ENI's IP
 * (network + 1) and two spares. The primary ENI is never listed, so without this reservation
 * the memory cloud would hand a pod the node's own address.
 */
export const NODE_RESERVED_ADDRESSES = 3;
/** Alibaba Cloud reserves the last three addresses of a vSwitch: gateway, one spare, broadcast. */
export const VSWITCH_RESERVED_TAIL = 3;
/** Smallest vSwitch that still has a usable address after both reservations (ECS allows /29). */
export const MAX_VSWITCH_PREFIX_LENGTH = 29;

export interface AllocatorSnapshot {
  /** The lowest address never handed out yet (one past the last usable when exhausted). */
  nextFreshIp: string;
  /** Released addresses, oldest release first. */
  recycledIps: string[];
}

/**
 * Hands out vSwitch addresses: never-used ones first, in ascending order, then released ones,
 * oldest release first. Delaying reuse means a test (or a stale ARP entry on a real network)
 * never mistakes a new pod for the one that just left.
 *
 * Usable addresses are one contiguous range, [network + 1 + NODE_RESERVED_ADDRESSES,
 * broadcast − VSWITCH_RESERVED_TAIL], so "never used" is simply "at or above the cursor".
 */
export class IpAllocator {
  readonly firstUsable: number;
  readonly lastUsable: number;
  private nextFresh: number;
  private recycled: number[];

  constructor(
    readonly cidr: Cidr,
    snapshot?: AllocatorSnapshot,
  ) {
    if (cidr.prefixLength > MAX_VSWITCH_PREFIX_LENGTH) {
      throw new TerwayError(
        'INVALID_CONFIG',
        `vSwitch CIDR ${formatCidr(cidr)} is too small: /${MAX_VSWITCH_PREFIX_LENGTH} is the smallest vSwitch`,
      );
    }
    this.firstUsable = cidr.network + 1 + NODE_RESERVED_ADDRESSES;
    this.lastUsable = cidr.broadcast - VSWITCH_RESERVED_TAIL;
    this.nextFresh = this.firstUsable;
    this.recycled = [];
    if (snapshot !== undefined) this.restore(snapshot);
  }

  /** Addresses still available, fresh and recycled. */
  available(): number {
    return this.lastUsable - this.nextFresh + 1 + this.recycled.length;
  }

  /** Every address this allocator could ever hand out. */
  capacity(): number {
    return this.lastUsable - this.firstUsable + 1;
  }

  isUsable(ip: string): boolean {
    const value = ipToInt(ip);
    return value >= this.firstUsable && value <= this.lastUsable;
  }

  /** All-or-nothing: either `count` addresses or IpNotEnough with nothing taken. */
  allocate(count: number): string[] {
    if (this.available() < count) {
      throw new CloudError(
        CloudErrorCodes.VSwitchIpNotEnough,
        `vSwitch ${formatCidr(this.cidr)} has ${this.available()} free addresses, ${count} requested`,
      );
    }
    const out: string[] = [];
    while (out.length < count && this.nextFresh <= this.lastUsable) {
      out.push(intToIp(this.nextFresh++));
    }
    while (out.length < count) {
      const value = this.recycled.shift();
      if (value === undefined) break;
      out.push(intToIp(value));
    }
    return out;
  }

  /** Returns addresses to the pool; callers only release addresses they were given. */
  release(ips: readonly string[]): void {
    for (const ip of ips) this.recycled.push(ipToInt(ip));
  }

  clone(): IpAllocator {
    return new IpAllocator(this.cidr, this.snapshot());
  }

  snapshot(): AllocatorSnapshot {
    return { nextFreshIp: intToIp(this.nextFresh), recycledIps: this.recycled.map(intToIp) };
  }

  private restore(snapshot: AllocatorSnapshot): void {
    const next = ipToInt(snapshot.nextFreshIp);
    if (next < this.firstUsable || next > this.lastUsable + 1) {
      throw new Error(`allocator cursor ${snapshot.nextFreshIp} is outside the usable range`);
    }
    const recycled = snapshot.recycledIps.map(ipToInt);
    const seen = new Set<number>();
    for (const value of recycled) {
      if (value < this.firstUsable || value >= next || seen.has(value)) {
        throw new Error(`recycled address ${intToIp(value)} is out of range or repeated`);
      }
      seen.add(value);
    }
    this.nextFresh = next;
    this.recycled = recycled;
  }
}
