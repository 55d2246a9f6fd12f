/** EcsEmulator's options and their defaults. */
import type { Clock } from '../util/clock.js';
import type { ThrottleConfig } from './control/account-throttle.js';
import type { EmulatorLogger, LabHook } from './state/eni-lifecycle.js';
import type { VSwitchSpec } from './state/account-types.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_VPC_ID = 'vpc-emulator0';
export const DEFAULT_SECURITY_GROUP_IDS: readonly string[] = ['sg-emulator0'];
export const DEFAULT_OWNER_ACCOUNT_ID = '1000000000000001';
/** Async transitions take a moment, as on ECS, but short enough for tests. */
export const DEFAULT_ATTACH_MS = 20;
export const DEFAULT_DETACH_MS = 20;
export const DEFAULT_DELETE_MS = 10;

export interface EmulatorLatencies {
  /** Response latency per API, ms; an API not listed answers at once. */
  perApi: Record<string, number>;
  /** Attaching → InUse. */
  attachMs: number;
  /** Detaching → Available. */
  detachMs: number;
  /** Deleting → gone. */
  deleteMs: number;
  /**
   * A stuck attach (`stickNextAttaches`) fails back to Available after this long, as ECS says a
   * failed attach does, unless the stick request names its own delay. Absent: it stays
   * Attaching for good.
   */
  stuckAttachFailMs?: number;
}

export interface EmulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 = ephemeral. */
  port?: number;
  accessKeys: { accessKeyId: string; accessKeySecret: string }[];
  regionId: string;
  vpcId?: string;
  vpcCidr: string;
  vswitches: VSwitchSpec[];
  /** Groups that exist; default ['sg-emulator0']. */
  securityGroupIds?: string[];
  latencies?: Partial<EmulatorLatencies>;
  throttle?: ThrottleConfig;
  /**
   * Optional persistence: loaded on start, rewritten (temp + rename) after every change.
   * Transitions pending when it was written complete immediately on load.
   */
  stateFile?: string;
  labHook?: LabHook;
  clock?: Clock;
  requireMetadataToken?: boolean;
  /** Lifetime of issued RAM role credentials; renewed when a third is left. Default 1 h. */
  stsTtlMs?: number;
  /** Default 1000000000000001. */
  ownerAccountId?: string;
  /** Lab hook failures and unexpected errors go here; default console.warn. */
  logger?: EmulatorLogger;
  /** Randomness for fault injection; tests pass a deterministic one. */
  random?: () => number;
}

export function resolveLatencies(
  partial: Partial<EmulatorLatencies> | undefined,
): EmulatorLatencies {
  const latencies = {
    perApi: { ...(partial?.perApi ?? {}) },
    attachMs: partial?.attachMs ?? DEFAULT_ATTACH_MS,
    detachMs: partial?.detachMs ?? DEFAULT_DETACH_MS,
    deleteMs: partial?.deleteMs ?? DEFAULT_DELETE_MS,
    ...(partial?.stuckAttachFailMs === undefined
      ? {}
      : { stuckAttachFailMs: partial.stuckAttachFailMs }),
  };
  for (const [name, value] of Object.entries({
    ...latencies.perApi,
    attachMs: latencies.attachMs,
    detachMs: latencies.detachMs,
    deleteMs: latencies.deleteMs,
    ...(latencies.stuckAttachFailMs === undefined
      ? {}
      : { stuckAttachFailMs: latencies.stuckAttachFailMs }),
  })) {
    if (!(value >= 0)) throw new Error(`latency ${name} must be >= 0 ms, got ${value}`);
  }
  return latencies;
}
