/**
 * Per-API token buckets on the injectable Clock. A call waits for a token (FIFO, never fails
 * unless its signal aborts). When ECS answers Throttling, the API's bucket honours
 * x-acs-retry-after by holding every caller of that API until then, and when the Throttling
 * carries no retry-after or comes back soon, slows down multiplicatively and creeps back
 * additively (AIMD): the quota is the account's, shared with every
 * other node, so a throttled node must send less, not just retry later.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import { burstFor, callsPerMinuteFor, resolveRateLimits } from './api-limits.js';

/** Each Throttling answer halves the API's rate ... */
export const THROTTLE_DECREASE_FACTOR = 0.5;
/** ... down to this share of its budget, so a throttled API still makes progress. */
export const MIN_RATE_FRACTION = 1 / 16;
/** A burst of concurrent calls throttled together is one signal, not many. */
export const THROTTLE_DEBOUNCE_MS = 1_000;
/** Without Throttling for this long, the rate grows by RECOVERY_STEP_FRACTION of its budget. */
export const RECOVERY_INTERVAL_MS = 10_000;
export const RECOVERY_STEP_FRACTION = 0.1;
/** Floating-point slack when a timer fires exactly when the token is due. */
const TOKEN_EPSILON = 1e-9;
const MS_PER_MINUTE = 60_000;

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface BucketStatus {
  /** The configured budget. */
  baseCallsPerMinute: number;
  /** The budget after Throttling slow-downs; equals the base when recovered. */
  callsPerMinute: number;
  burst: number;
  tokens: number;
  waiting: number;
  /** Set while a server retry-after holds the API. */
  heldUntil: number | undefined;
  throttleEvents: number;
}

export class TokenBucket {
  readonly baseCallsPerMinute: number;
  private readonly baseBurst: number;
  private ratePerMinute: number;
  private tokens: number;
  private lastRefillAt: number;
  private lastAdjustAt: number;
  private lastThrottleAt = Number.NEGATIVE_INFINITY;
  private heldUntil = Number.NEGATIVE_INFINITY;
  private throttleEvents = 0;
  private readonly queue: Waiter[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    callsPerMinute: number,
    burst = burstFor(callsPerMinute),
  ) {
    this.baseCallsPerMinute = callsPerMinute;
    this.baseBurst = burst;
    this.ratePerMinute = callsPerMinute;
    this.tokens = burst;
    this.lastRefillAt = clock.now();
    this.lastAdjustAt = clock.now();
  }

  /** Resolves when a token is taken; rejects with `signal.reason` if the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    this.refresh();
    if (this.queue.length === 0 && this.isOpen() && this.tokens >= 1 - TOKEN_EPSILON) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(signal.reason);
          // The head may have changed; its timer must follow.
          this.schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.schedule();
    });
  }

  /**
   * ECS said Throttling: cut the rate (once per debounce window), drop the saved burst, and
   * hold every caller until the server's retry-after has passed.
   */
  onThrottled(retryAfterMs?: number): void {
    const now = this.clock.now();
    this.refresh();
    // A server that says when to come back has told us more than a rate cut could: after a
    // quiet spell, the first Throttling only holds callers until then. Throttling again soon
    // after means the account is contended, and the rate is cut.
    const isolated = now - this.lastThrottleAt >= RECOVERY_INTERVAL_MS;
    const informed = retryAfterMs !== undefined && retryAfterMs > 0;
    if (now - this.lastThrottleAt >= THROTTLE_DEBOUNCE_MS && !(isolated && informed)) {
      const floor = this.baseCallsPerMinute * MIN_RATE_FRACTION;
      this.ratePerMinute = Math.max(floor, this.ratePerMinute * THROTTLE_DECREASE_FACTOR);
      this.throttleEvents++;
    }
    this.lastThrottleAt = now;
    this.lastAdjustAt = now;
    this.tokens = Math.min(this.tokens, 0);
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      this.heldUntil = Math.max(this.heldUntil, now + retryAfterMs);
      // No tokens accrue while held: the first call after it goes alone.
      this.lastRefillAt = Math.max(this.lastRefillAt, this.heldUntil);
    }
    this.schedule();
  }

  status(): BucketStatus {
    this.refresh();
    const now = this.clock.now();
    return {
      baseCallsPerMinute: this.baseCallsPerMinute,
      callsPerMinute: this.ratePerMinute,
      burst: this.capacity(),
      tokens: Math.max(0, this.tokens),
      waiting: this.queue.length,
      heldUntil: this.heldUntil > now ? this.heldUntil : undefined,
      throttleEvents: this.throttleEvents,
    };
  }

  /** A slowed bucket also holds a smaller burst, or a quiet spell would refill a storm. */
  private capacity(): number {
    return Math.max(1, (this.baseBurst * this.ratePerMinute) / this.baseCallsPerMinute);
  }

  private isOpen(): boolean {
    return this.clock.now() >= this.heldUntil;
  }

  private refresh(): void {
    const now = this.clock.now();
    if (now > this.lastRefillAt) {
      this.tokens = Math.min(
        this.capacity(),
        this.tokens + ((now - this.lastRefillAt) * this.ratePerMinute) / MS_PER_MINUTE,
      );
      this.lastRefillAt = now;
    }
    if (this.ratePerMinute < this.baseCallsPerMinute) {
      const steps = Math.floor((now - this.lastAdjustAt) / RECOVERY_INTERVAL_MS);
      if (steps > 0) {
        const step = this.baseCallsPerMinute * RECOVERY_STEP_FRACTION;
        this.ratePerMinute = Math.min(this.baseCallsPerMinute, this.ratePerMinute + steps * step);
        this.lastAdjustAt += steps * RECOVERY_INTERVAL_MS;
      }
    } else {
      this.lastAdjustAt = now;
    }
  }

  /** Hands out every token that is due, then sets one timer for the next waiter's token. */
  private schedule(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.refresh();
    while (this.queue.length > 0 && this.isOpen() && this.tokens >= 1 - TOKEN_EPSILON) {
      const waiter = this.queue.shift() as Waiter;
      this.tokens -= 1;
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    if (this.queue.length === 0) return;
    const now = this.clock.now();
    const untilOpen = Math.max(0, this.heldUntil - now);
    const untilToken = ((1 - this.tokens) * MS_PER_MINUTE) / this.ratePerMinute;
    const delay = Math.max(1, Math.ceil(Math.max(untilOpen, untilToken)));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, delay);
  }
}

/** One bucket per API, created on first use with the merged default/eni_conf budget. */
export class RateLimiter {
  private readonly limits: Record<string, number>;
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    overrides: Readonly<Record<string, number>> = {},
  ) {
    this.limits = resolveRateLimits(overrides);
  }

  bucket(api: string): TokenBucket {
    let bucket = this.buckets.get(api);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.clock, callsPerMinuteFor(this.limits, api));
      this.buckets.set(api, bucket);
    }
    return bucket;
  }

  /** Waits for a token; returns how long it waited, in ms of the clock. */
  async acquire(api: string, signal?: AbortSignal): Promise<number> {
    const started = this.clock.now();
    await this.bucket(api).acquire(signal);
    return this.clock.now() - started;
  }

  onThrottled(api: string, retryAfterMs?: number): void {
    this.bucket(api).onThrottled(retryAfterMs);
  }

  status(): Record<string, BucketStatus> {
    const out: Record<string, BucketStatus> = {};
    for (const [api, bucket] of [...this.buckets].sort(([a], [b]) => a.localeCompare(b))) {
      out[api] = bucket.status();
    }
    return out;
  }
}
