/**
 * How long the ApiCaller waits before attempt N+1 of a cloud call.
 *
 * The SDK does not retry on its own (openapi-core v7 ignores RuntimeOptions.autoretry and we
 * pass no Config.retryOptions), so this is the only retry loop: one place that knows the
 * ClientToken, the rate limiter and the metrics.
 */
import type { BackoffOverride } from '../../config/eni-conf.js';

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BASE_DELAY_MS = 200;
export const DEFAULT_MAX_DELAY_MS = 10_000;
export const DEFAULT_MULTIPLIER = 2;
/**
 * A server-sent x-acs-retry-after longer than this is not waited out inside one call: the
 * caller's deadline would pass first, and the rate limiter already holds the API back.
 */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;

/**
 * `full`: uniform in [0, delay] (AWS "full jitter": spreads a fleet of nodes best);
 * `equal`: delay/2 + uniform in [0, delay/2]; `none`: exactly delay (tests, debugging).
 */
export type JitterMode = 'full' | 'equal' | 'none';

export interface RetryPolicy {
  /** Attempts in total, the first included; 1 disables retries. */
  maxAttempts: number;
  /** The ceiling before the first retry. */
  baseDelayMs: number;
  /** The ceiling never grows past this. */
  maxDelayMs: number;
  multiplier: number;
  jitter: JitterMode;
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  baseDelayMs: DEFAULT_BASE_DELAY_MS,
  maxDelayMs: DEFAULT_MAX_DELAY_MS,
  multiplier: DEFAULT_MULTIPLIER,
  jitter: 'full',
  maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
};

export function resolveRetryPolicy(...layers: (Partial<RetryPolicy> | undefined)[]): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer) as [keyof RetryPolicy, unknown][]) {
      if (value !== undefined) (policy as unknown as Record<string, unknown>)[key] = value;
    }
  }
  policy.maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  policy.baseDelayMs = Math.max(0, policy.baseDelayMs);
  policy.maxDelayMs = Math.max(policy.baseDelayMs, policy.maxDelayMs);
  policy.multiplier = Math.max(1, policy.multiplier);
  return policy;
}

/** The un-jittered ceiling before retry number `retry` (1 = the wait after the first attempt). */
export function backoffCeilingMs(policy: RetryPolicy, retry: number): number {
  const grown = policy.baseDelayMs * policy.multiplier ** Math.max(0, retry - 1);
  return Math.min(policy.maxDelayMs, grown);
}

/**
 * The wait before the next attempt. A server-sent retry-after wins (capped), plus a slice of
 * jitter so nodes told the same instant do not all come back in it.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retry: number,
  random: () => number,
  serverRetryAfterMs?: number,
): number {
  if (serverRetryAfterMs !== undefined) {
    const spread = policy.jitter === 'none' ? 0 : random() * policy.baseDelayMs;
    return Math.round(Math.min(serverRetryAfterMs, policy.maxRetryAfterMs) + spread);
  }
  const ceiling = backoffCeilingMs(policy, retry);
  switch (policy.jitter) {
    case 'none':
      return Math.round(ceiling);
    case 'equal':
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    case 'full':
      return Math.round(random() * ceiling);
  }
}

/**
 * Terway's `backoff_override` names (pkg/backoff) for the APIs they govern there, so an
 * eni_conf tuned for Terway tunes the same calls here.
 */
export const BACKOFF_NAME_BY_API: Readonly<Record<string, string>> = {
  CreateNetworkInterface: 'eni_create',
  AttachNetworkInterface: 'eni_ops',
  DetachNetworkInterface: 'eni_ops',
  DeleteNetworkInterface: 'eni_release',
  AssignPrivateIpAddresses: 'eni_ip_ops',
  UnassignPrivateIpAddresses: 'eni_ip_ops',
  AssignIpv6Addresses: 'eni_ip_ops',
  UnassignIpv6Addresses: 'eni_ip_ops',
};
/** Terway's key for the default backoff. */
export const DEFAULT_BACKOFF_NAME = '';

/**
 * A Terway backoff (k8s wait.Backoff: duration, factor, jitter, steps) as a retry policy.
 * wait.Backoff adds up to jitter×duration on top of each step; that is closest to `equal`
 * jitter here. Steps are retries there but attempts here, so steps+1.
 */
export function retryPolicyFromBackoff(backoff: BackoffOverride): Partial<RetryPolicy> {
  const policy: Partial<RetryPolicy> = {};
  if (backoff.durationMs !== undefined) policy.baseDelayMs = backoff.durationMs;
  if (backoff.factor !== undefined && backoff.factor >= 1) policy.multiplier = backoff.factor;
  if (backoff.jitter !== undefined) policy.jitter = backoff.jitter > 0 ? 'equal' : 'none';
  if (backoff.steps !== undefined) policy.maxAttempts = backoff.steps + 1;
  return policy;
}

/** Per-API retry layers from eni_conf `backoff_override`: the "" entry for every API. */
export function retryOverridesFromBackoff(overrides: Readonly<Record<string, BackoffOverride>>): {
  all: Partial<RetryPolicy> | undefined;
  byApi: Record<string, Partial<RetryPolicy>>;
} {
  const fallback = overrides[DEFAULT_BACKOFF_NAME];
  const byApi: Record<string, Partial<RetryPolicy>> = {};
  for (const [api, name] of Object.entries(BACKOFF_NAME_BY_API)) {
    const backoff = overrides[name];
    if (backoff !== undefined) byApi[api] = retryPolicyFromBackoff(backoff);
  }
  return { all: fallback === undefined ? undefined : retryPolicyFromBackoff(fallback), byApi };
}
