/**
 * Test-controlled failures. Most apply before a handler runs, so they change nothing: an error
 * code with its real status, added latency, or a request never answered (`timeoutRate`). One
 * applies after: `lostResponseRate` lets the API act and then withholds its answer, the case
 * ClientToken exists for (ECS did it, the client never heard).
 */
import { injectedError } from '../wire/api-error.js';
import type { ApiError } from '../wire/api-error.js';

export interface FaultSpec {
  /** 0..1 probability of an injected error. */
  errorRate?: number;
  /** Default 'InternalError' (500); 'Throttling' → 400, 'ServiceUnavailable' → 503. */
  errorCode?: string;
  addedLatencyMs?: number;
  /** 0..1 probability that the request is never answered (until stop()); nothing changes. */
  timeoutRate?: number;
  /**
   * 0..1 probability that the API acts and its answer is then withheld until the client gives
   * up (or stop()), as when ECS performed the call and the reply was lost on the way.
   */
  lostResponseRate?: number;
  /**
   * The fault is removed after injecting this many errors, timeouts or lost responses
   * (latency alone does not count). Absent: it stays until cleared.
   */
  maxInjections?: number;
}

export const ANY_API = '*';
const DEFAULT_FAULT_CODE = 'InternalError';
const RATE_FIELDS = ['errorRate', 'timeoutRate', 'lostResponseRate'] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  ...RATE_FIELDS,
  'errorCode',
  'addedLatencyMs',
  'maxInjections',
]);

export type FaultVerdict =
  | { kind: 'pass'; addedLatencyMs: number }
  | { kind: 'error'; error: ApiError; addedLatencyMs: number }
  | { kind: 'lostResponse'; addedLatencyMs: number }
  | { kind: 'hang' };

interface ActiveFault {
  spec: FaultSpec;
  injected: number;
}

export class FaultInjector {
  private readonly faults = new Map<string, ActiveFault>();

  constructor(private readonly random: () => number = Math.random) {}

  set(api: string, fault: FaultSpec): void {
    // A misspelt field would otherwise be a fault that silently never fires.
    const unknown = Object.keys(fault).filter((key) => !KNOWN_FIELDS.has(key));
    if (unknown.length > 0) {
      throw new Error(
        `unknown fault field ${unknown.join(', ')}; known: ${[...KNOWN_FIELDS].join(', ')}`,
      );
    }
    for (const name of RATE_FIELDS) {
      const rate = fault[name];
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
        throw new Error(`${name} must be within 0..1, got ${rate}`);
      }
    }
    if (fault.addedLatencyMs !== undefined && !(fault.addedLatencyMs >= 0)) {
      throw new Error(`addedLatencyMs must be >= 0, got ${fault.addedLatencyMs}`);
    }
    const max = fault.maxInjections;
    if (max !== undefined && !(Number.isInteger(max) && max >= 1)) {
      throw new Error(`maxInjections must be a positive integer, got ${max}`);
    }
    this.faults.set(api, { spec: { ...fault }, injected: 0 });
  }

  clear(): void {
    this.faults.clear();
  }

  list(): Record<string, FaultSpec> {
    return Object.fromEntries([...this.faults].map(([api, fault]) => [api, { ...fault.spec }]));
  }

  /**
   * An API's own fault and the '*' fault are independent sources: each rolls its own dice, and
   * their added latencies add up. A hang wins, then an error (the call did not happen, so there
   * is no answer to lose), then a lost response.
   */
  decide(api: string): FaultVerdict {
    const names = api === ANY_API ? [api] : [api, ANY_API];
    let addedLatencyMs = 0;
    let error: { source: string; error: ApiError } | undefined;
    let lostBy: string | undefined;
    for (const name of names) {
      const fault = this.faults.get(name)?.spec;
      if (fault === undefined) continue;
      if (this.roll(fault.timeoutRate)) {
        this.consume(name);
        return { kind: 'hang' };
      }
      addedLatencyMs += fault.addedLatencyMs ?? 0;
      if (error === undefined && this.roll(fault.errorRate)) {
        error = { source: name, error: injectedError(fault.errorCode ?? DEFAULT_FAULT_CODE) };
      } else if (error === undefined && lostBy === undefined && this.roll(fault.lostResponseRate)) {
        lostBy = name;
      }
    }
    if (error !== undefined) {
      this.consume(error.source);
      return { kind: 'error', error: error.error, addedLatencyMs };
    }
    if (lostBy !== undefined) {
      this.consume(lostBy);
      return { kind: 'lostResponse', addedLatencyMs };
    }
    return { kind: 'pass', addedLatencyMs };
  }

  private consume(name: string): void {
    const fault = this.faults.get(name);
    if (fault === undefined) return;
    fault.injected++;
    const max = fault.spec.maxInjections;
    if (max !== undefined && fault.injected >= max) this.faults.delete(name);
  }

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}
