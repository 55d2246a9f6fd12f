import type { InstanceLimits } from './provider.js';

/**
 * ENI limits of a few real ECS instance types (ECS DescribeInstanceTypes `EniQuantity` and
 * `EniPrivateIpAddressQuantity`), so the in-memory cloud and the emulator enforce the limits a
 * real node would hit. Sources: the official DescribeInstanceTypes example (g6.large), a captured
 * response (g7.xlarge) and spec dumps; ecs.g7.2xlarge comes from an old terway mock fixture and
 * is the least certain entry.
 */
const INSTANCE_TYPES: readonly InstanceLimits[] = [
  // Official DescribeInstanceTypes example.
  { instanceType: 'ecs.g6.large', eniQuantity: 2, ipsPerEni: 6 },
  { instanceType: 'ecs.g7.xlarge', eniQuantity: 4, ipsPerEni: 15 },
  { instanceType: 'ecs.g7.2xlarge', eniQuantity: 4, ipsPerEni: 15 },
  { instanceType: 'ecs.ic5.large', eniQuantity: 2, ipsPerEni: 6 },
  // Bare metal: many ENIs, few IPs each — the opposite trade-off to g7, useful in tests.
  { instanceType: 'ecs.ebmg5.24xlarge', eniQuantity: 32, ipsPerEni: 10 },
];

const BY_NAME: ReadonlyMap<string, InstanceLimits> = new Map(
  INSTANCE_TYPES.map((limits) => [limits.instanceType, limits]),
);

/** The limits of a known instance type, as a fresh object; undefined when not in the table. */
export function lookupInstanceType(name: string): InstanceLimits | undefined {
  const limits = BY_NAME.get(name);
  return limits === undefined ? undefined : { ...limits };
}

/** Every instance type in the table, for error messages and `--help` text. */
export function knownInstanceTypes(): string[] {
  return INSTANCE_TYPES.map((limits) => limits.instanceType);
}
