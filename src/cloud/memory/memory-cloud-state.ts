import { formatCidr, gatewayOf, ipToInt } from '../../util/ipv4.js';
import type { Cidr } from '../../util/ipv4.js';
import { CloudError, INVALID_PARAMETER } from '../cloud-error.js';
import { CloudErrorCodes, MAX_IPS_PER_CLOUD_CALL } from '../provider.js';
import type { CloudEniStatus, EniInfo, InstanceLimits } from '../provider.js';
import { IpAllocator } from './ip-allocator.js';
import type { PersistedCloudState } from './state-file.js';

/** Statuses in which ECS accepts Assign/UnassignPrivateIpAddresses (ECS-API §2.2). */
const IP_CHANGE_STATUSES: ReadonlySet<CloudEniStatus> = new Set<CloudEniStatus>([
  'Available',
  'InUse',
]);

export interface VSwitchInfo {
  id: string;
  cidr: Cidr;
  zoneId: string;
}

/**
 * The memory cloud's data and its ECS rules, with no time and no I/O. Every mutation either
 * applies completely or throws a CloudError having changed nothing, because checks run before
 * the first write and IP allocation is all-or-nothing.
 */
export class MemoryCloudState {
  private readonly gateway: string;

  constructor(
    readonly limits: InstanceLimits,
    readonly vswitch: VSwitchInfo,
    private readonly enis: Map<string, EniInfo> = new Map(),
    private readonly allocator: IpAllocator = new IpAllocator(vswitch.cidr),
  ) {
    this.gateway = gatewayOf(vswitch.cidr);
  }

  /** Secondary ENIs only: the primary ENI exists but is never part of the model. */
  maxSecondaryEnis(): number {
    return this.limits.eniQuantity - 1;
  }

  hasEni(id: string): boolean {
    return this.enis.has(id);
  }

  hasMac(mac: string): boolean {
    for (const eni of this.enis.values()) if (eni.mac === mac) return true;
    return false;
  }

  freeAddresses(): number {
    return this.allocator.available();
  }

  list(): EniInfo[] {
    return [...this.enis.values()].map(copyEni);
  }

  /** Creates an ENI already on its way to the instance (`Attaching`). */
  createEni(secondaryIpCount: number, id: string, mac: string): EniInfo {
    checkCount(secondaryIpCount, 0, 'SecondaryPrivateIpAddressCount');
    if (this.enis.size >= this.maxSecondaryEnis()) {
      throw new CloudError(
        CloudErrorCodes.EniPerInstanceLimitExceeded,
        `${this.limits.instanceType} takes ${this.limits.eniQuantity} ENIs including the primary; ` +
          `${this.enis.size} secondary ENIs are already attached`,
      );
    }
    if (1 + secondaryIpCount > this.limits.ipsPerEni) {
      throw this.ipsPerEniExceeded(1 + secondaryIpCount, `a new ENI`);
    }
    const ips = this.allocator.allocate(1 + secondaryIpCount);
    const eni: EniInfo = {
      id,
      mac,
      primaryIp: ips[0] ?? '',
      privateIps: ips,
      vswitchId: this.vswitch.id,
      vswitchCidr: formatCidr(this.vswitch.cidr),
      gateway: this.gateway,
      status: 'Attaching',
    };
    this.enis.set(id, eni);
    return copyEni(eni);
  }

  /** The attach finished: the ENI is usable. */
  completeAttach(eniId: string): EniInfo {
    const eni = this.require(eniId);
    eni.status = 'InUse';
    return copyEni(eni);
  }

  assignPrivateIps(eniId: string, count: number): string[] {
    checkCount(count, 1, 'SecondaryPrivateIpAddressCount');
    const eni = this.requireChangeable(eniId);
    if (eni.privateIps.length + count > this.limits.ipsPerEni) {
      throw this.ipsPerEniExceeded(eni.privateIps.length + count, eniId);
    }
    const ips = this.allocator.allocate(count);
    eni.privateIps.push(...ips);
    return [...ips];
  }

  unassignPrivateIps(eniId: string, ips: readonly string[]): void {
    const eni = this.requireChangeable(eniId);
    if (ips.includes(eni.primaryIp)) {
      throw new CloudError(
        INVALID_PARAMETER,
        `${eni.primaryIp} is the primary IP of ${eniId}; it leaves only with the ENI`,
      );
    }
    const drop = new Set(ips);
    const removed = eni.privateIps.filter((ip) => drop.has(ip));
    eni.privateIps = eni.privateIps.filter((ip) => !drop.has(ip));
    this.allocator.release(removed);
  }

  /** Resolves false when the ENI is already gone, which the caller treats as success. */
  deleteEni(eniId: string): boolean {
    const eni = this.enis.get(eniId);
    if (eni === undefined) return false;
    if (eni.status === 'Attaching') {
      throw new CloudError(
        CloudErrorCodes.InvalidEniState,
        `${eniId} is still attaching; delete it once it is InUse`,
      );
    }
    this.enis.delete(eniId);
    this.allocator.release(eni.privateIps);
    return true;
  }

  clone(): MemoryCloudState {
    const enis = new Map([...this.enis].map(([id, eni]) => [id, copyEni(eni)]));
    return new MemoryCloudState(this.limits, this.vswitch, enis, this.allocator.clone());
  }

  toPersisted(): PersistedCloudState {
    return {
      version: 1,
      instanceType: this.limits.instanceType,
      vswitchId: this.vswitch.id,
      vswitchCidr: formatCidr(this.vswitch.cidr),
      zoneId: this.vswitch.zoneId,
      enis: this.list(),
      allocator: this.allocator.snapshot(),
    };
  }

  private require(eniId: string): EniInfo {
    const eni = this.enis.get(eniId);
    if (eni === undefined) {
      throw new CloudError(CloudErrorCodes.EniNotFound, `no ENI ${eniId} on this instance`);
    }
    return eni;
  }

  private requireChangeable(eniId: string): EniInfo {
    const eni = this.require(eniId);
    if (!IP_CHANGE_STATUSES.has(eni.status)) {
      throw new CloudError(
        CloudErrorCodes.InvalidEniState,
        `${eniId} is ${eni.status}; IPs change only on an Available or InUse ENI`,
      );
    }
    return eni;
  }

  private ipsPerEniExceeded(wanted: number, what: string): CloudError {
    return new CloudError(
      CloudErrorCodes.MaxEniPrivateIpsCountExceeded,
      `${what} would hold ${wanted} private IPs; ${this.limits.instanceType} allows ` +
        `${this.limits.ipsPerEni} per ENI, the primary IP included`,
    );
  }
}

function checkCount(count: number, min: number, name: string): void {
  if (!Number.isInteger(count) || count < min || count > MAX_IPS_PER_CLOUD_CALL) {
    throw new CloudError(
      INVALID_PARAMETER,
      `${name} must be an integer in [${min}, ${MAX_IPS_PER_CLOUD_CALL}], got ${count}`,
    );
  }
}

export function copyEni(eni: EniInfo): EniInfo {
  return { ...eni, privateIps: [...eni.privateIps] };
}

/**
 * Rebuilds the model from a state file, checking every invariant the live model keeps
 * (limits, unique ids, MACs and IPs, addresses inside the vSwitch). Throws a plain Error
 * describing the first violation; the caller names the file.
 */
export function restoreState(
  persisted: PersistedCloudState,
  limits: InstanceLimits,
  vswitch: VSwitchInfo,
): MemoryCloudState {
  const expect = (what: string, found: string, wanted: string): void => {
    if (found !== wanted) throw new Error(`${what} is ${found}, this node has ${wanted}`);
  };
  expect('instanceType', persisted.instanceType, limits.instanceType);
  expect('vswitchId', persisted.vswitchId, vswitch.id);
  expect('vswitchCidr', persisted.vswitchCidr, formatCidr(vswitch.cidr));

  const allocator = new IpAllocator(vswitch.cidr, persisted.allocator);
  const cursor = ipToInt(persisted.allocator.nextFreshIp);
  const taken = new Set(persisted.allocator.recycledIps);
  const macs = new Set<string>();
  const enis = new Map<string, EniInfo>();
  const gateway = gatewayOf(vswitch.cidr);
  if (persisted.enis.length > limits.eniQuantity - 1) {
    throw new Error(`${persisted.enis.length} ENIs exceed the ${limits.instanceType} limit`);
  }
  for (const eni of persisted.enis) {
    if (enis.has(eni.id) || macs.has(eni.mac)) throw new Error(`ENI ${eni.id} is repeated`);
    expect(`${eni.id} vswitchId`, eni.vswitchId, vswitch.id);
    expect(`${eni.id} vswitchCidr`, eni.vswitchCidr, formatCidr(vswitch.cidr));
    expect(`${eni.id} gateway`, eni.gateway, gateway);
    expect(`${eni.id} primaryIp`, eni.primaryIp, eni.privateIps[0] ?? '');
    if (eni.privateIps.length > limits.ipsPerEni) throw new Error(`${eni.id} holds too many IPs`);
    for (const ip of eni.privateIps) {
      if (!allocator.isUsable(ip) || ipToInt(ip) >= cursor || taken.has(ip)) {
        throw new Error(`${eni.id} IP ${ip} is outside the vSwitch, repeated or marked free`);
      }
      taken.add(ip);
    }
    macs.add(eni.mac);
    // The attach ran on in the cloud while the daemon was down; it has finished by now.
    enis.set(eni.id, {
      ...copyEni(eni),
      status: eni.status === 'Attaching' ? 'InUse' : eni.status,
    });
  }
  return new MemoryCloudState(limits, vswitch, enis, allocator);
}
