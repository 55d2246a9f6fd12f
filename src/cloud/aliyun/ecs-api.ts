/**
 * The ECS and VPC operations the ENI provider needs, in plain domain types. A narrow boundary:
 * `SdkEcsApi` speaks to ECS through the official SDK; tests can put a fake behind it instead.
 */

/** An ENI as DescribeNetworkInterfaces reports it. */
export interface CloudEni {
  id: string;
  /** Available | Attaching | InUse | Detaching | Deleting. */
  status: string;
  /** Primary | Secondary | Trunk | Member. */
  type: string;
  /** The instance it is attached to, when attached (or attaching/detaching). */
  instanceId: string | undefined;
  /** Lower-case, colon-separated. */
  mac: string;
  primaryIp: string;
  /** Every private IPv4 on the ENI, primary first. */
  privateIps: string[];
  vswitchId: string;
  vpcId: string;
  zoneId: string;
  securityGroupIds: string[];
  tags: Record<string, string>;
  /** ISO time; used to age ENIs a crashed daemon left behind. */
  creationTime: string | undefined;
}

export interface InstanceTypeLimits {
  instanceType: string;
  /** ENIs per instance, the primary included. */
  eniQuantity: number;
  /** Private IPv4 addresses per ENI, its primary included. */
  ipsPerEni: number;
}

export interface CloudInstance {
  instanceId: string;
  instanceType: string;
  zoneId: string;
  vpcId: string;
  vswitchId: string;
  securityGroupIds: string[];
}

export interface CloudVSwitch {
  vswitchId: string;
  zoneId: string;
  cidr: string;
  availableIpCount: number;
}

export interface CreateEniRequest {
  vswitchId: string;
  securityGroupIds: string[];
  secondaryIpCount: number;
  tags: Record<string, string>;
  description: string;
  resourceGroupId?: string;
}

export interface EniFilter {
  eniIds?: string[];
  instanceId?: string;
  status?: string;
  type?: string;
  tags?: Record<string, string>;
}

export interface EcsApi {
  createNetworkInterface(request: CreateEniRequest): Promise<CloudEni>;
  attachNetworkInterface(eniId: string, instanceId: string): Promise<void>;
  detachNetworkInterface(eniId: string, instanceId: string): Promise<void>;
  deleteNetworkInterface(eniId: string): Promise<void>;
  /** Every page: the caller sees one list. */
  describeNetworkInterfaces(filter: EniFilter): Promise<CloudEni[]>;
  /** Returns the IPs ECS assigned. */
  assignPrivateIpAddresses(eniId: string, count: number): Promise<string[]>;
  unassignPrivateIpAddresses(eniId: string, ips: readonly string[]): Promise<void>;
  describeInstanceType(instanceType: string): Promise<InstanceTypeLimits>;
  describeInstance(instanceId: string): Promise<CloudInstance>;
  describeVSwitches(vswitchIds: readonly string[]): Promise<CloudVSwitch[]>;
}

/** One ENI by id; undefined when ECS no longer has it. */
export async function describeEni(api: EcsApi, eniId: string): Promise<CloudEni | undefined> {
  const [eni] = await api.describeNetworkInterfaces({ eniIds: [eniId] });
  return eni;
}
