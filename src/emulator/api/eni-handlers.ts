/**
 * The ENI lifecycle APIs: Create (sync), Attach, Detach and Delete (async: they answer at once
 * and the lifecycle finishes the transition). Parameters and codes: ECS-API.md §2.
 */
import { ApiError, invalidParameter } from '../wire/api-error.js';
import type { Params } from '../wire/params.js';
import { checkRegion } from './api-context.js';
import type { ApiContext, ResponseBody } from './api-context.js';
import { createdEni } from './eni-wire.js';

const MAX_EXPLICIT_IPS_ON_CREATE = 10;
const MAX_SECONDARY_COUNT = 49;
/** SecurityGroupIds.N: ECS's default per-ENI quota (Terway enforces the same 5). */
export const MAX_SECURITY_GROUPS = 5;
const MAX_TEXT_LENGTH = 256;

export function createNetworkInterface(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const vswitchId = params.required('VSwitchId');
  const single = params.optional('SecurityGroupId');
  const many = params.list('SecurityGroupIds', MAX_SECURITY_GROUPS);
  params.exclusive('SecurityGroupId', single !== undefined, 'SecurityGroupIds.N', many.length > 0);
  if (single === undefined && many.length === 0) throw params.missing('SecurityGroupId');
  const explicit = params.list('PrivateIpAddress', MAX_EXPLICIT_IPS_ON_CREATE);
  const count = params.int('SecondaryPrivateIpAddressCount', 1, MAX_SECONDARY_COUNT);
  params.exclusive(
    'PrivateIpAddress.N',
    explicit.length > 0,
    'SecondaryPrivateIpAddressCount',
    count !== undefined,
  );
  refuseUnsupported(params);
  const type = params.oneOf('InstanceType', ['Secondary', 'Trunk'] as const) ?? 'Secondary';
  params.oneOf('NetworkInterfaceTrafficMode', ['Standard', 'HighPerformance'] as const);
  const tags = params.tags();
  const name = params.optional('NetworkInterfaceName') ?? '';
  const description = params.optional('Description') ?? '';
  if (name.length > MAX_TEXT_LENGTH) throw invalidParameter('NetworkInterfaceName', 'too long');
  if (description.length > MAX_TEXT_LENGTH) throw invalidParameter('Description', 'too long');
  const deleteOnRelease = params.bool('DeleteOnRelease') ?? true;
  const primaryIp = params.optional('PrimaryIpAddress');

  return context.clientTokens.run('CreateNetworkInterface', params, () => {
    const eni = context.state.createEni({
      vswitchId,
      securityGroupIds: single !== undefined ? [single] : many,
      ...(primaryIp === undefined ? {} : { primaryIp }),
      ...(explicit.length > 0 ? { secondaryIps: explicit } : {}),
      ...(count === undefined ? {} : { secondaryCount: count }),
      tags,
      name,
      description,
      deleteOnRelease,
      type,
    });
    return createdEni(eni, context.state.config.ownerAccountId);
  });
}

export function attachNetworkInterface(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const eniId = params.required('NetworkInterfaceId');
  const instanceId = params.required('InstanceId');
  if (params.has('TrunkNetworkInstanceId')) {
    throw new ApiError(400, 'UnsupportedParameter', 'TrunkNetworkInstanceId is not supported.');
  }
  params.int('NetworkCardIndex', 0, 0);
  context.lifecycle.attach(eniId, instanceId);
  return {};
}

export function detachNetworkInterface(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const eniId = params.required('NetworkInterfaceId');
  const instanceId = params.required('InstanceId');
  context.lifecycle.detach(eniId, instanceId);
  return {};
}

export function deleteNetworkInterface(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  context.lifecycle.delete(params.required('NetworkInterfaceId'));
  return {};
}

/** IPv6 and prefixes need vSwitch features the emulator does not model; ECS's own codes say so. */
function refuseUnsupported(params: Params): void {
  if (params.has('Ipv6AddressCount') || params.list('Ipv6Address', 10).length > 0) {
    throw new ApiError(
      403,
      'InvalidVSwitch.Ipv6NotTurnOn',
      'The IPv6 of the specified VSwitch is not turned on.',
    );
  }
  if (params.has('Ipv4PrefixCount') || params.list('Ipv4Prefix', 10).length > 0) {
    throw new ApiError(
      400,
      'UnsupportedParameter',
      'Ipv4 prefixes are not supported by the emulator.',
    );
  }
}
