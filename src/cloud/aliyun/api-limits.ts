/**
 * Per-API call budgets (calls per minute) for one node's token buckets.
 *
 * Source: the defaults Terway ships in AliyunContainerService/terway
 * `pkg/aliyun/client/ratelimit.go` (`defaultLimit`), which eni_conf `rate_limit` overrides per
 * API. ECS enforces the real quota per account and region, so these are a node's polite share
 * of it, not the quota itself; the buckets also back off on Throttling (see rate-limiter.ts).
 */

/** The key Terway uses for "any API not listed". */
export const DEFAULT_API_KEY = '';

/** Terway's budget for an API without an entry of its own. */
export const DEFAULT_CALLS_PER_MINUTE = 500;

export const DEFAULT_API_RATE_LIMITS: Readonly<Record<string, number>> = {
  [DEFAULT_API_KEY]: DEFAULT_CALLS_PER_MINUTE,
  AttachNetworkInterface: 500,
  CreateNetworkInterface: 500,
  DeleteNetworkInterface: 500,
  DescribeNetworkInterfaces: 800,
  DescribeNetworkInterfaceAttribute: 2000,
  DetachNetworkInterface: 400,
  AssignPrivateIpAddresses: 400,
  UnassignPrivateIpAddresses: 400,
  AssignIpv6Addresses: 400,
  UnassignIpv6Addresses: 400,
  DescribeInstanceTypes: 400,
  // Not in Terway's table (it falls under the "" entry there); kept explicit for terway-cli.
  DescribeInstances: DEFAULT_CALLS_PER_MINUTE,
  DescribeVSwitches: 300,
};

/**
 * Terway lets a bucket hold a whole minute's budget, so a restarting node can fire hundreds of
 * calls in one instant at an account-wide quota. Ten seconds' worth absorbs a pool refill
 * without letting one node spike the account.
 */
export const BURST_SECONDS = 10;
/** Even a tiny budget must let a create and its follow-up describe through together. */
export const MIN_BURST = 2;

/** Defaults with the eni_conf `rate_limit` entries laid over them; non-positive entries ignored. */
export function resolveRateLimits(
  overrides: Readonly<Record<string, number>> = {},
): Record<string, number> {
  const merged: Record<string, number> = { ...DEFAULT_API_RATE_LIMITS };
  for (const [api, perMinute] of Object.entries(overrides)) {
    if (Number.isFinite(perMinute) && perMinute > 0) merged[api] = perMinute;
  }
  return merged;
}

/** The budget for `api` from a resolved table, falling back to the "" entry as Terway does. */
export function callsPerMinuteFor(limits: Readonly<Record<string, number>>, api: string): number {
  return limits[api] ?? limits[DEFAULT_API_KEY] ?? DEFAULT_CALLS_PER_MINUTE;
}

export function burstFor(callsPerMinute: number): number {
  return Math.max(MIN_BURST, Math.ceil((callsPerMinute * BURST_SECONDS) / 60));
}

/**
 * Reads have no side effects; the ApiCaller logs their successes at debug level so a periodic
 * sync does not flood the log, and only mutating calls need a ClientToken.
 */
export function isReadOnlyApi(api: string): boolean {
  return api.startsWith('Describe') || api.startsWith('List') || api.startsWith('Get');
}
