/**
 * Test-controlled failures, applied before a handler runs so an injected error changes nothing:
 * an error code with its real status, added latency, or a request never answered.
 */
import { injectedError } from '../wire/api-error.js';
import type { ApiError } from '../wire/api-error.js';

export interface FaultSpec {
  /** 0..1 probability of an injected error. */
  errorRate?: number;
  /** Default 'InternalError' (500); 'Throttling' → 400, 'ServiceUnavailable' → 503. */
  errorCode?: string;
  addedLatencyMs?: number;
  /** 0..1 probability that the request is never answered (until stop()). */
  timeoutRate?: number;
}

export const ANY_API = '*';
const DEFAULT_FAULT_CODE = 'InternalError';

export type FaultVerdict =
  | { kind: 'pass'; addedLatencyMs: number }
  | { kind: 'error'; error: ApiError; addedLatencyMs: number }
  | { kind: 'hang' };

export class FaultInjector {
  private readonly faults = new Map<string, FaultSpec>();

  constructor(private readonly random: () => number = Math.random) {}

  set(api: string, fault: FaultSpec): void {
    for (const [name, rate] of [
      ['errorRate', fault.errorRate],
      ['timeoutRate', fault.timeoutRate],
    ] as const) {
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
        throw new Error(`${name} must be within 0..1, got ${rate}`);
      }
    }
    if (fault.addedLatencyMs !== undefined && !(fault.addedLatencyMs >= 0)) {
      throw new Error(`addedLatencyMs must be >= 0, got ${fault.addedLatencyMs}`);
    }
    this.faults.set(api, { ...fault });
  }

  clear(): void {
    this.faults.clear();
  }

  list(): Record<string, FaultSpec> {
    return Object.fromEntries(this.faults);
  }

  /**
   * An API's own fault and the '*' fault are independent sources: each rolls its own dice, and
   * their added latencies add up.
   */
  decide(api: string): FaultVerdict {
    const sources = [this.faults.get(api), api === ANY_API ? undefined : this.faults.get(ANY_API)];
    let addedLatencyMs = 0;
    let error: ApiError | undefined;
    for (const fault of sources) {
      if (fault === undefined) continue;
      if (this.roll(fault.timeoutRate)) return { kind: 'hang' };
      addedLatencyMs += fault.addedLatencyMs ?? 0;
      if (error === undefined && this.roll(fault.errorRate)) {
        error = injectedError(fault.errorCode ?? DEFAULT_FAULT_CODE);
      }
    }
    return error === undefined
      ? { kind: 'pass', addedLatencyMs }
      : { kind: 'error', error, addedLatencyMs };
  }

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}
