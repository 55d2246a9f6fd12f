import type { InstanceLimits } from './provider.js';

/**
 * What ECS DescribeInstanceTypes says about one type: the ENI limits the pool needs plus the
 * fields the emulator serves on the wire (ECS-API.md §3).
 */
export interface InstanceTypeSpec extends InstanceLimits {
  family: string;
  cpuCoreCount: number;
  /** GiB, as DescribeInstanceTypes `MemorySize` reports it. */
  memorySizeGiB: number;
  /** IPv6 addresses per ENI (`EniIpv6AddressQuantity`). */
  eniIpv6AddressQuantity: number;
  /** ENIs of every kind, trunk members included (`EniTotalQuantity`). */
  eniTotalQuantity: number;
  eniTrunkSupported: boolean;
  maximumQueueNumberPerEni: number;
}

/**
 * ENI limits of a few real ECS instance types (ECS DescribeInstanceTypes `EniQuantity` and
 * `EniPrivateIpAddressQuantity`), so the in-memory cloud and the emulator enforce the limits a
 * real node would hit. Sources: the official DescribeInstanceTypes example (g6.large), a captured
 * response (g7.xlarge) and spec dumps; ecs.g7.2xlarge comes from an old terway mock fixture and
 * is the least certain entry. Queue numbers not in ECS-API.md are plausible guesses.
 */
const INSTANCE_TYPES: readonly InstanceTypeSpec[] = [
  // Official DescribeInstanceTypes example.
  {
    instanceType: 'ecs.g6.large',
    eniQuantity: 2,
    ipsPerEni: 6,
    family: 'ecs.g6',
    cpuCoreCount: 2,
    memorySizeGiB: 8,
    eniIpv6AddressQuantity: 1,
    eniTotalQuantity: 2,
    eniTrunkSupported: false,
    maximumQueueNumberPerEni: 2,
  },
  {
    instanceType: 'ecs.g7.xlarge',
    eniQuantity: 4,
    ipsPerEni: 15,
    family: 'ecs.g7',
    cpuCoreCount: 4,
    memorySizeGiB: 16,
    eniIpv6AddressQuantity: 15,
    eniTotalQuantity: 20,
    eniTrunkSupported: true,
    maximumQueueNumberPerEni: 4,
  },
  {
    instanceType: 'ecs.g7.2xlarge',
    eniQuantity: 4,
    ipsPerEni: 15,
    family: 'ecs.g7',
    cpuCoreCount: 8,
    memorySizeGiB: 32,
    eniIpv6AddressQuantity: 15,
    eniTotalQuantity: 10,
    eniTrunkSupported: true,
    maximumQueueNumberPerEni: 8,
  },
  {
    instanceType: 'ecs.ic5.large',
    eniQuantity: 2,
    ipsPerEni: 6,
    family: 'ecs.ic5',
    cpuCoreCount: 2,
    memorySizeGiB: 2,
    eniIpv6AddressQuantity: 0,
    eniTotalQuantity: 2,
    eniTrunkSupported: false,
    maximumQueueNumberPerEni: 2,
  },
  // Bare metal: many ENIs, few IPs each — the opposite trade-off to g7, useful in tests.
  {
    instanceType: 'ecs.ebmg5.24xlarge',
    eniQuantity: 32,
    ipsPerEni: 10,
    family: 'ecs.ebmg5',
    cpuCoreCount: 96,
    memorySizeGiB: 384,
    eniIpv6AddressQuantity: 0,
    eniTotalQuantity: 32,
    eniTrunkSupported: false,
    maximumQueueNumberPerEni: 32,
  },
];

const BY_NAME: ReadonlyMap<string, InstanceTypeSpec> = new Map(
  INSTANCE_TYPES.map((spec) => [spec.instanceType, spec]),
);

/** The limits of a known instance type, as a fresh object; undefined when not in the table. */
export function lookupInstanceType(name: string): InstanceLimits | undefined {
  const spec = BY_NAME.get(name);
  if (spec === undefined) return undefined;
  return {
    instanceType: spec.instanceType,
    eniQuantity: spec.eniQuantity,
    ipsPerEni: spec.ipsPerEni,
  };
}

/** The full DescribeInstanceTypes view of a known type, as a fresh object. */
export function lookupInstanceTypeSpec(name: string): InstanceTypeSpec | undefined {
  const spec = BY_NAME.get(name);
  return spec === undefined ? undefined : { ...spec };
}

/** Every type in the table, in table order. */
export function instanceTypeSpecs(): InstanceTypeSpec[] {
  return INSTANCE_TYPES.map((spec) => ({ ...spec }));
}

/** Every instance type in the table, for error messages and `--help` text. */
export function knownInstanceTypes(): string[] {
  return INSTANCE_TYPES.map((limits) => limits.instanceType);
}
