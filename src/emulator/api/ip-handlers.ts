/**
 * Secondary private IPs: AssignPrivateIpAddresses (count or explicit list, ClientToken
 * idempotent) and UnassignPrivateIpAddresses. Both document MissingParameter as HTTP 403.
 */
import { assignIps, unassignIps } from '../state/private-ips.js';
import { ApiError } from '../wire/api-error.js';
import type { Params } from '../wire/params.js';
import { checkRegion } from './api-context.js';
import type { ApiContext, ResponseBody } from './api-context.js';

/** ECS-API.md §2.1: an Available ENI takes 1–32 explicit IPs per call. */
const MAX_EXPLICIT_IPS = 32;
const MAX_SECONDARY_COUNT = 49;
const MAX_UNASSIGN_IPS = 50;

export function assignPrivateIpAddresses(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const eniId = params.required('NetworkInterfaceId');
  const explicit = params.list('PrivateIpAddress', MAX_EXPLICIT_IPS);
  const count = params.int('SecondaryPrivateIpAddressCount', 1, MAX_SECONDARY_COUNT);
  params.exclusive(
    'PrivateIpAddress.N',
    explicit.length > 0,
    'SecondaryPrivateIpAddressCount',
    count !== undefined,
  );
  if (explicit.length === 0 && count === undefined) {
    if (params.has('Ipv4PrefixCount') || params.list('Ipv4Prefix', 10).length > 0) {
      throw new ApiError(
        400,
        'UnsupportedParameter',
        'Ipv4 prefixes are not supported by the emulator.',
      );
    }
    throw params.missing('SecondaryPrivateIpAddressCount');
  }
  return context.clientTokens.run('AssignPrivateIpAddresses', params, () => {
    const ips = assignIps(
      context.state,
      eniId,
      explicit.length > 0 ? { explicit } : { count: count ?? 0 },
    );
    return {
      AssignedPrivateIpAddressesSet: {
        NetworkInterfaceId: eniId,
        PrivateIpSet: { PrivateIpAddress: ips },
        Ipv4PrefixSet: { Ipv4Prefixes: [] },
      },
    };
  });
}

export function unassignPrivateIpAddresses(params: Params, context: ApiContext): ResponseBody {
  checkRegion(params, context);
  const eniId = params.required('NetworkInterfaceId');
  const ips = params.list('PrivateIpAddress', MAX_UNASSIGN_IPS);
  if (ips.length === 0) throw params.missing('PrivateIpAddress.N');
  unassignIps(context.state, eniId, ips);
  return {};
}
