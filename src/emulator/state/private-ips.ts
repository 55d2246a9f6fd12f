/**
 * Secondary private IPs on an ENI: ECS's limits (49 secondaries on an unattached ENI, the
 * instance type's EniPrivateIpAddressQuantity once InUse) and all-or-nothing changes.
 */
import { ApiError, invalidEniState } from '../wire/api-error.js';
import type { AccountState } from './account-state.js';
import type { EniRecord } from './account-types.js';

/** An unattached ENI holds at most this many secondary IPs (ECS-API.md §2.2). */
export const MAX_SECONDARIES_UNATTACHED = 49;

export interface AssignRequest {
  count?: number;
  explicit?: string[];
}

export function assignIps(state: AccountState, eniId: string, request: AssignRequest): string[] {
  const eni = state.eni(eniId);
  if (eni.status !== 'Available' && eni.status !== 'InUse') {
    throw invalidEniState(eniId, eni.status, 'AssignPrivateIpAddresses');
  }
  const adding = request.explicit?.length ?? request.count ?? 0;
  const limit = ipLimit(state, eni);
  if (eni.privateIps.length + adding > limit) {
    throw new ApiError(
      403,
      'MaxEniPrivateIpsCountExceeded',
      `ENI ${eniId} has ${eni.privateIps.length} private IPs; ${adding} more would exceed its limit of ${limit}.`,
    );
  }
  const pool = state.pool(eni.vswitchId);
  let ips: string[];
  if (request.explicit !== undefined) {
    pool.checkExplicitAll(request.explicit);
    pool.take(request.explicit);
    ips = [...request.explicit];
  } else {
    ips = pool.allocate(adding);
  }
  eni.privateIps.push(...ips);
  state.changed();
  return ips;
}

/** Private IPs the ENI may carry, its primary included. */
export function ipLimit(state: AccountState, eni: EniRecord): number {
  const instance =
    eni.status === 'InUse' && eni.instanceId !== undefined
      ? state.instance(eni.instanceId)
      : undefined;
  return instance === undefined
    ? 1 + MAX_SECONDARIES_UNATTACHED
    : state.instanceType(instance).ipsPerEni;
}

export function unassignIps(state: AccountState, eniId: string, ips: readonly string[]): void {
  const eni = state.eni(eniId);
  if (eni.status !== 'Available' && eni.status !== 'InUse') {
    throw invalidEniState(eniId, eni.status, 'UnassignPrivateIpAddresses');
  }
  if (ips.includes(eni.privateIps[0] ?? '')) {
    throw new ApiError(
      400,
      'InvalidParameter',
      `The primary private IP address ${eni.privateIps[0]} of ENI ${eniId} cannot be unassigned.`,
    );
  }
  for (const ip of ips) {
    if (!eni.privateIps.includes(ip)) {
      throw new ApiError(
        403,
        'InvalidIp.IpUnassigned',
        `The IP ${ip} is not assigned to ENI ${eniId}.`,
      );
    }
  }
  const removing = new Set(ips);
  eni.privateIps = eni.privateIps.filter((ip) => !removing.has(ip));
  state.pool(eni.vswitchId).release([...removing]);
  state.changed();
}

/** Out of band (admin): an IP appears, whatever the ENI's state and limits. */
export function addIpOutOfBand(state: AccountState, eniId: string): string {
  const eni = state.eni(eniId);
  const [ip] = state.pool(eni.vswitchId).allocate(1);
  if (ip === undefined) throw new Error('allocation returned nothing');
  eni.privateIps.push(ip);
  state.changed();
  return ip;
}
