/**
 * ENIs and instances in ECS's response shape: PascalCase keys and the mandatory list wrappers
 * (ECS-API.md §1.6). A bare array where the SDK expects a wrapper is silently dropped by it.
 */
import type { AccountState } from '../state/account-state.js';
import type { EniRecord, InstanceRecord } from '../state/account-types.js';
import type { ResponseBody } from './api-context.js';

export function privateIpSets(eni: EniRecord): ResponseBody {
  return {
    PrivateIpSet: eni.privateIps.map((ip, index) => ({
      PrivateIpAddress: ip,
      Primary: index === 0,
      PrivateDnsName: `${dnsLabel(ip)}`,
    })),
  };
}

export function tagsOf(eni: EniRecord): ResponseBody {
  return { Tag: eni.tags.map((tag) => ({ TagKey: tag.key, TagValue: tag.value })) };
}

/** One NetworkInterfaceSet of DescribeNetworkInterfaces. */
export function describedEni(eni: EniRecord, ownerId: string): ResponseBody {
  return {
    NetworkInterfaceId: eni.id,
    Status: eni.status,
    Type: eni.type,
    InstanceId: eni.instanceId ?? '',
    ...(eni.instanceId === undefined
      ? {}
      : {
          Attachment: {
            InstanceId: eni.instanceId,
            DeviceIndex: eni.deviceIndex ?? 0,
            NetworkCardIndex: 0,
            TrunkNetworkInterfaceId: '',
          },
        }),
    MacAddress: eni.mac,
    PrivateIpAddress: eni.privateIps[0] ?? '',
    PrivateIpSets: privateIpSets(eni),
    Ipv6Sets: { Ipv6Set: [] },
    Ipv4PrefixSets: { Ipv4PrefixSet: [] },
    Ipv6PrefixSets: { Ipv6PrefixSet: [] },
    SecurityGroupIds: { SecurityGroupId: [...eni.securityGroupIds] },
    VSwitchId: eni.vswitchId,
    VpcId: eni.vpcId,
    ZoneId: eni.zoneId,
    CreationTime: eni.creationTime,
    DeleteOnRelease: eni.deleteOnRelease,
    Description: eni.description,
    NetworkInterfaceName: eni.name,
    OwnerId: ownerId,
    ResourceGroupId: '',
    ServiceManaged: false,
    QueueNumber: 1,
    NetworkInterfaceTrafficMode: 'Standard',
    Tags: tagsOf(eni),
  };
}

/** CreateNetworkInterface's answer (without RequestId). */
export function createdEni(eni: EniRecord, ownerId: string): ResponseBody {
  return {
    NetworkInterfaceId: eni.id,
    Status: eni.status,
    Type: eni.type,
    MacAddress: eni.mac,
    PrivateIpAddress: eni.privateIps[0] ?? '',
    PrivateIpSets: {
      PrivateIpSet: eni.privateIps.map((ip, index) => ({
        PrivateIpAddress: ip,
        Primary: index === 0,
      })),
    },
    Ipv6Sets: { Ipv6Set: [] },
    SecurityGroupIds: { SecurityGroupId: [...eni.securityGroupIds] },
    VSwitchId: eni.vswitchId,
    VpcId: eni.vpcId,
    ZoneId: eni.zoneId,
    OwnerId: ownerId,
    ResourceGroupId: '',
    Tags: tagsOf(eni),
    Description: eni.description,
    NetworkInterfaceName: eni.name,
  };
}

/** One Instances.Instance of DescribeInstances. */
export function describedInstance(instance: InstanceRecord, state: AccountState): ResponseBody {
  const spec = state.instanceType(instance);
  const enis = state
    .enisOf(instance.instanceId)
    .sort((a, b) => (a.deviceIndex ?? 0) - (b.deviceIndex ?? 0));
  const primary = state.findEni(instance.primaryEniId);
  return {
    InstanceId: instance.instanceId,
    InstanceName: instance.hostname,
    HostName: instance.hostname,
    InstanceType: instance.instanceType,
    InstanceTypeFamily: spec.family,
    Cpu: spec.cpuCoreCount,
    Memory: spec.memorySizeGiB * 1024,
    Status: 'Running',
    RegionId: state.config.regionId,
    ZoneId: instance.zoneId,
    InstanceNetworkType: 'vpc',
    CreationTime: instance.creationTime,
    VpcAttributes: {
      VpcId: state.config.vpcId,
      VSwitchId: instance.vswitchId,
      NatIpAddress: '',
      PrivateIpAddress: { IpAddress: primary === undefined ? [] : [primary.privateIps[0] ?? ''] },
    },
    SecurityGroupIds: { SecurityGroupId: [...instance.securityGroupIds] },
    NetworkInterfaces: {
      NetworkInterface: enis.map((eni) => ({
        NetworkInterfaceId: eni.id,
        Type: eni.type === 'Primary' ? 'Primary' : 'Secondary',
        MacAddress: eni.mac,
        PrimaryIpAddress: eni.privateIps[0] ?? '',
        PrivateIpSets: {
          PrivateIpSet: eni.privateIps.map((ip, index) => ({
            PrivateIpAddress: ip,
            Primary: index === 0,
          })),
        },
        Ipv6Sets: { Ipv6Set: [] },
      })),
    },
  };
}

/** ECS private DNS names look like `iZbp1...Z`; a dashed address is close enough and unique. */
function dnsLabel(ip: string): string {
  return `ip-${ip.replace(/\./g, '-')}.internal`;
}
