/**
 * The read APIs: DescribeNetworkInterfaces, DescribeInstances, DescribeInstanceTypes (ECS) and
 * DescribeVSwitches (VPC 2016-04-28). Filters combine with AND; lists page as ECS pages them.
 */
import { instanceTypeSpecs } from '../../cloud/instance-types.js';
import type { InstanceTypeSpec } from '../../cloud/instance-types.js';
import type { EniRecord, EniStatus } from '../state/account-types.js';
import { ApiError, invalidParameter } from '../wire/api-error.js';
import type { Params } from '../wire/params.js';
import { checkRegion } from './api-context.js';
import type { ApiContext, ResponseBody } from './api-context.js';
import { describedEni, describedInstance } from './eni-wire.js';
import { pageByNumber, pageByToken, sequenceKey } from './paging.js';

const ENI_STATUSES: readonly EniStatus[] = [
  'Available',
  'Attaching',
  'InUse',
  'Detaching',
  'Deleting',
];
const ENI_TYPES = ['Primary', 'Secondary', 'Trunk', 'Member'] as const;
const MAX_IDS_PER_CALL = 100;
const MAX_TAG_FILTERS = 20;

export function describeNetworkInterfaces(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const ids = params.list('NetworkInterfaceId', MAX_IDS_PER_CALL);
  const ips = params.list('PrivateIpAddress', MAX_IDS_PER_CALL);
  const tags = params.tags(MAX_TAG_FILTERS);
  const instanceId = params.optional('InstanceId');
  const status = params.oneOf('Status', ENI_STATUSES);
  const type = params.oneOf('Type', ENI_TYPES);
  const vswitchId = params.optional('VSwitchId');
  const vpcId = params.optional('VpcId');
  const securityGroupId = params.optional('SecurityGroupId');
  const primaryIp = params.optional('PrimaryIpAddress');
  const name = params.optional('NetworkInterfaceName');

  const matches = (eni: EniRecord): boolean =>
    (ids.length === 0 || ids.includes(eni.id)) &&
    (ips.length === 0 || eni.privateIps.some((ip) => ips.includes(ip))) &&
    tags.every((tag) =>
      eni.tags.some((t) => t.key === tag.key && (tag.value === '' || t.value === tag.value)),
    ) &&
    (instanceId === undefined || eni.instanceId === instanceId) &&
    (status === undefined || eni.status === status) &&
    (type === undefined || eni.type === type) &&
    (vswitchId === undefined || eni.vswitchId === vswitchId) &&
    (vpcId === undefined || eni.vpcId === vpcId) &&
    (securityGroupId === undefined || eni.securityGroupIds.includes(securityGroupId)) &&
    (primaryIp === undefined || eni.privateIps[0] === primaryIp) &&
    (name === undefined || eni.name === name);
  const found = context.state.allEnis().filter(matches);
  const ownerId = context.state.config.ownerAccountId;

  // The deprecated PageNumber/PageSize form, only when the caller uses it and not NextToken.
  const legacy =
    (params.has('PageNumber') || params.has('PageSize')) &&
    !params.has('MaxResults') &&
    !params.has('NextToken');
  if (legacy) {
    const pageNumber = params.int('PageNumber', 1, Number.MAX_SAFE_INTEGER) ?? 1;
    const pageSize = params.int('PageSize', 1, 1000) ?? 10;
    return {
      TotalCount: found.length,
      PageNumber: pageNumber,
      PageSize: pageSize,
      NetworkInterfaceSets: {
        NetworkInterfaceSet: pageByNumber(found, pageNumber, pageSize).map((eni) =>
          describedEni(eni, ownerId),
        ),
      },
    };
  }
  const maxResults = params.clampedInt('MaxResults', 10, 500, 10);
  const page = pageByToken(
    found,
    (eni) => sequenceKey(eni.seq),
    params.optional('NextToken'),
    maxResults,
  );
  return {
    NextToken: page.nextToken,
    TotalCount: found.length,
    NetworkInterfaceSets: {
      NetworkInterfaceSet: page.items.map((eni) => describedEni(eni, ownerId)),
    },
  };
}

export function describeInstances(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const ids = jsonList(params, 'InstanceIds');
  const ips = jsonList(params, 'PrivateIpAddresses');
  const vpcId = params.optional('VpcId');
  const vswitchId = params.optional('VSwitchId');
  const zoneId = params.optional('ZoneId');
  const instanceType = params.optional('InstanceType');
  const status = params.oneOf('Status', [
    'Pending',
    'Running',
    'Starting',
    'Stopping',
    'Stopped',
  ] as const);
  const state = context.state;
  const found = state.allInstances().filter((instance) => {
    const primaryIp = state.findEni(instance.primaryEniId)?.privateIps[0];
    return (
      (ids === undefined || ids.includes(instance.instanceId)) &&
      (ips === undefined || (primaryIp !== undefined && ips.includes(primaryIp))) &&
      (vpcId === undefined || vpcId === state.config.vpcId) &&
      (vswitchId === undefined || instance.vswitchId === vswitchId) &&
      (zoneId === undefined || instance.zoneId === zoneId) &&
      (instanceType === undefined || instance.instanceType === instanceType) &&
      (status === undefined || status === 'Running')
    );
  });
  const maxResults = params.clampedInt('MaxResults', 1, 100, 10);
  const page = pageByToken(
    found,
    (instance) => sequenceKey(instance.seq),
    params.optional('NextToken'),
    maxResults,
  );
  return {
    NextToken: page.nextToken,
    TotalCount: found.length,
    PageNumber: 1,
    PageSize: maxResults,
    Instances: { Instance: page.items.map((instance) => describedInstance(instance, state)) },
  };
}

/** No RegionId parameter exists on this API (ECS-API.md §2.1). */
export function describeInstanceTypes(params: Params): ResponseBody {
  const wanted = params.list('InstanceTypes', 10);
  const family = params.optional('InstanceTypeFamily');
  const minEnis = params.int('MinimumEniQuantity', 0, 1000);
  const minIps = params.int('MinimumEniPrivateIpAddressQuantity', 0, 1000);
  const minIpv6 = params.int('MinimumEniIpv6AddressQuantity', 0, 1000);
  const specs = instanceTypeSpecs().filter(
    (spec) =>
      (wanted.length === 0 || wanted.includes(spec.instanceType)) &&
      (family === undefined || spec.family === family) &&
      spec.eniQuantity >= (minEnis ?? 0) &&
      spec.ipsPerEni >= (minIps ?? 0) &&
      spec.eniIpv6AddressQuantity >= (minIpv6 ?? 0),
  );
  const keyed = specs.map((spec, index) => ({ spec, key: sequenceKey(index) }));
  const page = pageByToken(
    keyed,
    (entry) => entry.key,
    params.optional('NextToken'),
    params.clampedInt('MaxResults', 1, 100, 100),
  );
  return {
    NextToken: page.nextToken,
    InstanceTypes: { InstanceType: page.items.map((entry) => instanceTypeWire(entry.spec)) },
  };
}

function instanceTypeWire(spec: InstanceTypeSpec): ResponseBody {
  return {
    InstanceTypeId: spec.instanceType,
    InstanceTypeFamily: spec.family,
    CpuCoreCount: spec.cpuCoreCount,
    MemorySize: spec.memorySizeGiB,
    EniQuantity: spec.eniQuantity,
    EniPrivateIpAddressQuantity: spec.ipsPerEni,
    EniIpv6AddressQuantity: spec.eniIpv6AddressQuantity,
    EniTotalQuantity: spec.eniTotalQuantity,
    EniTrunkSupported: spec.eniTrunkSupported,
    EriQuantity: 0,
    MaximumQueueNumberPerEni: spec.maximumQueueNumberPerEni,
    PrimaryEniQueueNumber: spec.maximumQueueNumberPerEni,
    SecondaryEniQueueNumber: spec.maximumQueueNumberPerEni,
    TotalEniQueueQuantity: spec.maximumQueueNumberPerEni * spec.eniQuantity,
    NetworkCardQuantity: 1,
  };
}

export function describeVSwitches(params: Params, context: ApiContext): ResponseBody {
  const regionId = params.optional('RegionId');
  const vpcId = params.optional('VpcId');
  if (regionId === undefined && vpcId === undefined) throw params.missing('RegionId');
  if (regionId !== undefined) checkRegion(params, context);
  const vswitchId = params.optional('VSwitchId');
  const zoneId = params.optional('ZoneId');
  const pageNumber = params.int('PageNumber', 1, Number.MAX_SAFE_INTEGER) ?? 1;
  const pageSize = params.int('PageSize', 1, 50) ?? 10;
  const config = context.state.config;
  const found = [...context.state.vswitches.values()].filter(
    (pool) =>
      (vpcId === undefined || vpcId === config.vpcId) &&
      (vswitchId === undefined || pool.vswitchId === vswitchId) &&
      (zoneId === undefined || pool.zoneId === zoneId),
  );
  return {
    TotalCount: found.length,
    PageNumber: pageNumber,
    PageSize: pageSize,
    VSwitches: {
      VSwitch: pageByNumber(found, pageNumber, pageSize).map((pool) => ({
        VSwitchId: pool.vswitchId,
        VpcId: config.vpcId,
        ZoneId: pool.zoneId,
        RegionId: config.regionId,
        CidrBlock: pool.cidrText,
        Ipv6CidrBlock: '',
        EnabledIpv6: false,
        AvailableIpAddressCount: pool.available(),
        Status: 'Available',
        VSwitchName: pool.vswitchId,
        Description: '',
        IsDefault: false,
        CreationTime: '2024-01-01T00:00:00Z',
        OwnerId: Number(config.ownerAccountId),
        ResourceGroupId: '',
        NetworkAclId: '',
        Tags: { Tag: [] },
      })),
    },
  };
}

/** DescribeInstances takes id lists as one JSON string: InstanceIds=["i-1","i-2"]. */
function jsonList(params: Params, name: string): string[] | undefined {
  const text = params.optional(name);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      `Invalid${name}.Malformed`,
      `The specified parameter "${name}" is not a JSON array.`,
    );
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw invalidParameter(name, 'must be a JSON array of strings');
  }
  if (parsed.length > MAX_IDS_PER_CALL) {
    throw invalidParameter(name, `at most ${MAX_IDS_PER_CALL} items`);
  }
  return parsed;
}
