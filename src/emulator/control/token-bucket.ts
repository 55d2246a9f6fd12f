/**
 * A token bucket on the injected clock: `burst` tokens at most, refilled continuously at
 * `ratePerSecond`. Refill is computed lazily from the clock, so no timer runs while idle.
 */
import type { Clock } from '../../util/clock.js';

export interface BucketSpec {
  ratePerSecond: number;
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: Clock,
  ) {
    if (!(spec.ratePerSecond > 0) || !(spec.burst >= 1)) {
      throw new Error(
        `a token bucket needs ratePerSecond > 0 and burst >= 1, got ${JSON.stringify(spec)}`,
      );
    }
    this.tokens = spec.burst;
    this.refilledAt = clock.now();
  }

  /** Milliseconds until one token is available; 0 when one is available now. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.spec.ratePerSecond;
  }

  /** Takes one token; callers check `waitMs()` first. */
  take(): void {
    this.refill();
    this.tokens -= 1;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(
      this.spec.burst,
      this.tokens + (elapsed * this.spec.ratePerSecond) / 1000,
    );
    this.refilledAt = now;
  }
}
