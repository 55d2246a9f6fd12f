import { TerwayError } from '../../errors/terway-error.js';
import { CloudErrorCodes } from '../provider.js';

/** The memory cloud's operations, as tests name them in `injectFailure` and `callCounts`. */
export const MEMORY_CLOUD_OPS = [
  'describeInstanceLimits',
  'listEnis',
  'createEni',
  'assignPrivateIps',
  'unassignPrivateIps',
  'deleteEni',
] as const;

export type MemoryCloudOp = (typeof MEMORY_CLOUD_OPS)[number];

/** Only calls that change state fail at random: a flaky read would teach the pool nothing. */
export const MUTATING_OPS: ReadonlySet<MemoryCloudOp> = new Set<MemoryCloudOp>([
  'createEni',
  'assignPrivateIps',
  'unassignPrivateIps',
  'deleteEni',
]);

/** Random failures are transient by construction, as real ECS flakiness is. */
const RANDOM_FAILURE_CODES = [CloudErrorCodes.ServiceUnavailable, CloudErrorCodes.Throttling];

/**
 * Decides whether a call fails and with which code. Scripted failures (from tests) come first
 * and are exact; random ones follow `failureRate` with an injectable random source, so a seeded
 * generator makes a chaos run replayable.
 */
export class FailureInjector {
  private readonly scripted = new Map<MemoryCloudOp, string[]>();
  private rate = 0;

  constructor(
    failureRate: number,
    private readonly random: () => number,
  ) {
    this.setFailureRate(failureRate);
  }

  setFailureRate(failureRate: number): void {
    if (!Number.isFinite(failureRate) || failureRate < 0 || failureRate > 1) {
      throw new TerwayError('INVALID_CONFIG', `failureRate must be in [0, 1], got ${failureRate}`);
    }
    this.rate = failureRate;
  }

  /** Makes the next `times` calls of `op` fail with `code`, after any already scripted. */
  inject(op: MemoryCloudOp, code: string, times = 1): void {
    if (!Number.isInteger(times) || times < 0) {
      throw new TerwayError('INVALID_ARGUMENT', `times must be a non-negative integer: ${times}`);
    }
    const queue = this.scripted.get(op) ?? [];
    for (let i = 0; i < times; i++) queue.push(code);
    this.scripted.set(op, queue);
  }

  /** Forgets every scripted failure not yet consumed. */
  clear(): void {
    this.scripted.clear();
  }

  /** Failures still scripted for `op`. */
  pending(op: MemoryCloudOp): number {
    return this.scripted.get(op)?.length ?? 0;
  }

  /** The code this call of `op` must fail with, or undefined to let it through. */
  next(op: MemoryCloudOp): string | undefined {
    const scripted = this.scripted.get(op)?.shift();
    if (scripted !== undefined) return scripted;
    if (!MUTATING_OPS.has(op) || this.rate === 0) return undefined;
    if (this.random() >= this.rate) return undefined;
    const index = Math.min(
      RANDOM_FAILURE_CODES.length - 1,
      Math.floor(this.random() * RANDOM_FAILURE_CODES.length),
    );
    return RANDOM_FAILURE_CODES[index];
  }
}
