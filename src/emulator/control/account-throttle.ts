/**
 * Account-wide API flow control, as ECS applies it: one bucket per API, one shared by the
 * mutating ENI APIs, one shared by everything. A call needs a token from every bucket that
 * applies, and takes none unless all have one, so a throttled call costs nothing.
 */
import type { Clock } from '../../util/clock.js';
import type { BucketSpec } from './token-bucket.js';
import { TokenBucket } from './token-bucket.js';

export interface ThrottleConfig {
  perApi?: Record<string, BucketSpec>;
  /** A shared bucket across all mutating ENI APIs (Create/Attach/Detach/Delete/Assign/Unassign). */
  mutating?: BucketSpec;
  /** A shared bucket across every API. */
  all?: BucketSpec;
  /** Send x-acs-retry-after (ms until the next token) with Throttling errors. Default true. */
  retryAfterHeader?: boolean;
}

export const MUTATING_APIS: ReadonlySet<string> = new Set([
  'CreateNetworkInterface',
  'AttachNetworkInterface',
  'DetachNetworkInterface',
  'DeleteNetworkInterface',
  'AssignPrivateIpAddresses',
  'UnassignPrivateIpAddresses',
]);

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export class AccountThrottle {
  private readonly perApi = new Map<string, TokenBucket>();
  private readonly mutating: TokenBucket | undefined;
  private readonly all: TokenBucket | undefined;

  constructor(config: ThrottleConfig, clock: Clock) {
    for (const [api, spec] of Object.entries(config.perApi ?? {}))
      this.perApi.set(api, new TokenBucket(spec, clock));
    this.mutating =
      config.mutating === undefined ? undefined : new TokenBucket(config.mutating, clock);
    this.all = config.all === undefined ? undefined : new TokenBucket(config.all, clock);
  }

  admit(api: string): ThrottleVerdict {
    const buckets = [
      this.perApi.get(api),
      MUTATING_APIS.has(api) ? this.mutating : undefined,
      this.all,
    ].filter((bucket): bucket is TokenBucket => bucket !== undefined);
    const waitMs = Math.max(0, ...buckets.map((bucket) => bucket.waitMs()));
    if (waitMs > 0) return { allowed: false, retryAfterMs: waitMs };
    for (const bucket of buckets) bucket.take();
    return { allowed: true };
  }
}
