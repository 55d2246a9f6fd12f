/**
 * One vSwitch's address space. Alibaba Cloud VPC reserves the network address and the last
 * three addresses of every vSwitch (the gateway is broadcast − 2, see util/ipv4 `gatewayOf`), so
 * a /24 offers 252 addresses, which is what DescribeVSwitches `AvailableIpAddressCount` reports
 * for an empty one.
 */
import {
  cidrContains,
  formatCidr,
  gatewayOf,
  intToIp,
  ipToInt,
  isIPv4,
  netmaskOf,
  parseCidr,
} from '../../util/ipv4.js';
import type { Cidr } from '../../util/ipv4.js';
import { ApiError } from '../wire/api-error.js';

/** Reserved at the top of the block: gateway (broadcast − 2), one spare, broadcast. */
const RESERVED_TAIL = 3;
/** The smallest vSwitch Alibaba Cloud allows. */
export const MAX_VSWITCH_PREFIX_LENGTH = 29;

export class VSwitchPool {
  readonly cidr: Cidr;
  readonly gateway: string;
  readonly netmask: string;
  private readonly firstUsable: number;
  private readonly lastUsable: number;
  private readonly inUse = new Set<number>();
  /**
   * Next-fit cursor: allocation resumes after the last address handed out, so a released
   * address is reused only after the rest of the range (a fresh pod never gets a stale one).
   */
  private cursor: number;

  constructor(
    readonly vswitchId: string,
    readonly zoneId: string,
    cidrText: string,
  ) {
    this.cidr = parseCidr(cidrText);
    if (this.cidr.prefixLength > MAX_VSWITCH_PREFIX_LENGTH) {
      throw new Error(
        `vSwitch ${vswitchId} ${cidrText} is smaller than /${MAX_VSWITCH_PREFIX_LENGTH}`,
      );
    }
    this.gateway = gatewayOf(this.cidr);
    this.netmask = netmaskOf(this.cidr.prefixLength);
    this.firstUsable = this.cidr.network + 1;
    this.lastUsable = this.cidr.broadcast - RESERVED_TAIL;
    this.cursor = this.firstUsable;
  }

  get cidrText(): string {
    return formatCidr(this.cidr);
  }

  available(): number {
    return this.lastUsable - this.firstUsable + 1 - this.inUse.size;
  }

  /** All-or-nothing: `count` fresh addresses, or IpNotEnough with nothing taken. */
  allocate(count: number): string[] {
    if (count > this.available()) {
      throw new ApiError(
        403,
        'InvalidVSwitchId.IpNotEnough',
        `The specified VSwitch ${this.vswitchId} has not enough IpAddress (${this.available()} free, ${count} requested).`,
      );
    }
    const out: string[] = [];
    let candidate = this.cursor;
    while (out.length < count) {
      if (!this.inUse.has(candidate)) {
        this.inUse.add(candidate);
        out.push(intToIp(candidate));
      }
      candidate = candidate >= this.lastUsable ? this.firstUsable : candidate + 1;
    }
    this.cursor = candidate;
    return out;
  }

  /** Why an explicit address cannot be taken, or undefined when it can. */
  checkExplicit(ip: string): ApiError | undefined {
    if (!isIPv4(ip) || !cidrContains(this.cidr, ip)) {
      return new ApiError(
        403,
        'InvalidVSwitchId.IpInvalid',
        `The specified IP ${ip} does not belong to VSwitch ${this.vswitchId}.`,
      );
    }
    const value = ipToInt(ip);
    if (value < this.firstUsable || value > this.lastUsable) {
      return new ApiError(
        403,
        'InvalidVSwitchId.IpInvalid',
        `The specified IP ${ip} is reserved by VSwitch ${this.vswitchId}.`,
      );
    }
    if (this.inUse.has(value)) {
      return new ApiError(
        400,
        'InvalidPrivateIpAddress.Duplicated',
        `The specified IP ${ip} is already in use.`,
      );
    }
    return undefined;
  }

  /** Explicit addresses must be distinct, inside the vSwitch and free; checked before any write. */
  checkExplicitAll(ips: readonly string[]): void {
    const seen = new Set<string>();
    for (const ip of ips) {
      if (seen.has(ip)) {
        throw new ApiError(
          403,
          'InvalidIp.IpRepeated',
          `The IP ${ip} is specified more than once.`,
        );
      }
      seen.add(ip);
      const problem = this.checkExplicit(ip);
      if (problem !== undefined) throw problem;
    }
  }

  /** Takes explicit addresses; callers check each with `checkExplicit` first. */
  take(ips: readonly string[]): void {
    for (const ip of ips) this.inUse.add(ipToInt(ip));
  }

  release(ips: readonly string[]): void {
    for (const ip of ips) this.inUse.delete(ipToInt(ip));
  }

  cursorIp(): string {
    return intToIp(this.cursor);
  }

  restoreCursor(ip: string): void {
    const value = ipToInt(ip);
    if (value >= this.firstUsable && value <= this.lastUsable) this.cursor = value;
  }
}
