/** Counters the tests and the admin API read: calls, throttled and faults per API, errors per code. */
export interface EmulatorStats {
  /** Every request that named an action, by API. */
  calls: Record<string, number>;
  /** Throttling answers from the token buckets, by API. */
  throttled: Record<string, number>;
  /** Errors raised by fault injection, by API. */
  injectedErrors: Record<string, number>;
  /** Requests a timeout fault left unanswered before the API ran, by API. */
  hung: Record<string, number>;
  /** Requests the API acted on whose answer a lost-response fault withheld, by API. */
  lostResponses: Record<string, number>;
  /** Every error answer (throttled and injected included), by error Code. */
  errors: Record<string, number>;
}

export class CallStats {
  private stats: EmulatorStats = empty();

  call(api: string): void {
    bump(this.stats.calls, api);
  }

  throttled(api: string): void {
    bump(this.stats.throttled, api);
  }

  injected(api: string): void {
    bump(this.stats.injectedErrors, api);
  }

  hung(api: string): void {
    bump(this.stats.hung, api);
  }

  lostResponse(api: string): void {
    bump(this.stats.lostResponses, api);
  }

  error(code: string): void {
    bump(this.stats.errors, code);
  }

  snapshot(): EmulatorStats {
    return {
      calls: { ...this.stats.calls },
      throttled: { ...this.stats.throttled },
      injectedErrors: { ...this.stats.injectedErrors },
      hung: { ...this.stats.hung },
      lostResponses: { ...this.stats.lostResponses },
      errors: { ...this.stats.errors },
    };
  }

  reset(): void {
    this.stats = empty();
  }
}

function empty(): EmulatorStats {
  return { calls: {}, throttled: {}, injectedErrors: {}, hung: {}, lostResponses: {}, errors: {} };
}

function bump(counters: Record<string, number>, key: string): void {
  counters[key] = (counters[key] ?? 0) + 1;
}
