import { describe, expect, test } from '@jest/globals';

import {
  burstFor,
  callsPerMinuteFor,
  DEFAULT_API_RATE_LIMITS,
  DEFAULT_CALLS_PER_MINUTE,
  MIN_BURST,
  resolveRateLimits,
} from '../../src/cloud/aliyun/api-limits.js';
import {
  MIN_RATE_FRACTION,
  RateLimiter,
  RECOVERY_INTERVAL_MS,
  TokenBucket,
} from '../../src/cloud/aliyun/rate-limiter.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/** Starts `count` acquisitions and records the clock time each one is granted at. */
function acquireMany(clock: FakeClock, bucket: TokenBucket, count: number): number[] {
  const grantedAt: number[] = [];
  for (let i = 0; i < count; i++) {
    void bucket.acquire().then(() => grantedAt.push(clock.now() - START));
  }
  return grantedAt;
}

const START = 1_700_000_000_000;

describe('default budgets', () => {
  test("Terway's per-minute table, with overrides laid over it", () => {
    expect(DEFAULT_API_RATE_LIMITS['AssignPrivateIpAddresses']).toBe(400);
    expect(DEFAULT_API_RATE_LIMITS['DescribeNetworkInterfaces']).toBe(800);
    expect(DEFAULT_API_RATE_LIMITS['DescribeVSwitches']).toBe(300);
    const limits = resolveRateLimits({ AssignPrivateIpAddresses: 60, Bogus: 0, Other: -5 });
    expect(limits['AssignPrivateIpAddresses']).toBe(60);
    expect(limits['Bogus']).toBeUndefined();
    expect(callsPerMinuteFor(limits, 'Other')).toBe(DEFAULT_CALLS_PER_MINUTE);
    expect(callsPerMinuteFor(limits, 'CreateNetworkInterface')).toBe(500);
    expect(callsPerMinuteFor(resolveRateLimits({ '': 42 }), 'Unknown')).toBe(42);
  });

  test('burst is ten seconds of budget, at least MIN_BURST', () => {
    expect(burstFor(400)).toBe(67);
    expect(burstFor(60)).toBe(10);
    expect(burstFor(1)).toBe(MIN_BURST);
  });
});

describe('TokenBucket', () => {
  test('a burst goes at once, then one call per 60000/rate ms, in order, none failing', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 60, 2);
    const grantedAt = acquireMany(clock, bucket, 5);
    await clock.advance(0);
    expect(grantedAt).toEqual([0, 0]);
    await clock.advance(999);
    expect(grantedAt).toHaveLength(2);
    await clock.advance(1);
    expect(grantedAt).toEqual([0, 0, 1000]);
    await clock.advance(2000);
    expect(grantedAt).toEqual([0, 0, 1000, 2000, 3000]);
    expect(bucket.status().waiting).toBe(0);
  });

  test('tokens refill up to the burst, not beyond', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 60, 3);
    await clock.advance(60_000);
    expect(bucket.status().tokens).toBe(3);
    const grantedAt = acquireMany(clock, bucket, 4);
    await clock.advance(0);
    expect(grantedAt).toEqual([60_000, 60_000, 60_000]);
  });

  test('Throttling halves the rate (once per burst of answers) and it recovers additively', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 600, 10);
    bucket.onThrottled();
    bucket.onThrottled(); // same instant: one signal
    expect(bucket.status()).toMatchObject({ callsPerMinute: 300, tokens: 0, throttleEvents: 1 });
    await clock.advance(1_000);
    bucket.onThrottled();
    expect(bucket.status().callsPerMinute).toBe(150);
    // Recovery: +10% of the budget per quiet interval, back to the budget and no further.
    await clock.advance(RECOVERY_INTERVAL_MS);
    expect(bucket.status().callsPerMinute).toBe(210);
    await clock.advance(RECOVERY_INTERVAL_MS * 3);
    expect(bucket.status().callsPerMinute).toBe(390);
    await clock.advance(RECOVERY_INTERVAL_MS * 100);
    expect(bucket.status().callsPerMinute).toBe(600);
    expect(bucket.status().burst).toBe(10);
  });

  test('the rate never drops below its floor, and a slowed bucket holds a smaller burst', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 320, 32);
    for (let i = 0; i < 10; i++) {
      bucket.onThrottled();
      await clock.advance(1_000);
    }
    const status = bucket.status();
    expect(status.callsPerMinute).toBe(320 * MIN_RATE_FRACTION);
    expect(status.burst).toBe(2);
    expect(status.tokens).toBeLessThanOrEqual(2);
  });

  test('calls queued behind a Throttling go out at the slower rate', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 60, 1);
    const grantedAt = acquireMany(clock, bucket, 3);
    await clock.advance(0);
    expect(grantedAt).toEqual([0]);
    bucket.onThrottled(); // 30/min: a token every 2 s
    await clock.advance(1_999);
    expect(grantedAt).toEqual([0]);
    await clock.advance(1);
    expect(grantedAt).toEqual([0, 2000]);
    await clock.advance(2_000);
    expect(grantedAt).toEqual([0, 2000, 4000]);
  });

  test('a server retry-after holds every caller of the API until it has passed', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 6000, 10);
    bucket.onThrottled(5_000);
    expect(bucket.status().heldUntil).toBe(START + 5_000);
    const grantedAt = acquireMany(clock, bucket, 2);
    await clock.advance(4_999);
    expect(grantedAt).toEqual([]);
    // An isolated, informed Throttling only holds: the rate stays 6000/min, a token every 10 ms.
    await clock.advance(100);
    expect(grantedAt).toEqual([5_010, 5_020]);
    expect(bucket.status().heldUntil).toBeUndefined();
    expect(bucket.status().callsPerMinute).toBe(6000);
  });

  test('a second Throttling soon after the hold means contention: the rate is cut then', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 6000, 10);
    bucket.onThrottled(50);
    expect(bucket.status().callsPerMinute).toBe(6000);
    await clock.advance(2_000);
    bucket.onThrottled(50);
    expect(bucket.status().callsPerMinute).toBe(3000);
    // Without a retry-after the server gave no better signal than a rate cut.
    const blind = new TokenBucket(clock, 6000, 10);
    blind.onThrottled();
    expect(blind.status().callsPerMinute).toBe(3000);
  });

  test('an abort while waiting rejects that call only; the queue keeps its order', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 60, 1);
    await bucket.acquire();
    const controller = new AbortController();
    const outcomes: string[] = [];
    void bucket.acquire(controller.signal).then(
      () => outcomes.push('aborted call granted'),
      (error: unknown) => outcomes.push(`rejected: ${(error as Error).message}`),
    );
    void bucket.acquire().then(() => outcomes.push(`second granted at ${clock.now() - START}`));
    await clock.advance(500);
    controller.abort(new Error('deadline'));
    await clock.advance(0);
    expect(outcomes).toEqual(['rejected: deadline']);
    await clock.advance(500);
    expect(outcomes).toEqual(['rejected: deadline', 'second granted at 1000']);
    expect(clock.pendingTimers()).toBe(0);
  });

  test('an already-aborted signal rejects at once, without taking a token', async () => {
    const clock = new FakeClock(START);
    const bucket = new TokenBucket(clock, 60, 1);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(bucket.acquire(controller.signal)).rejects.toThrow('gone');
    expect(bucket.status().tokens).toBe(1);
  });
});

describe('RateLimiter', () => {
  test('one bucket per API: one API waiting does not hold another back', async () => {
    const clock = new FakeClock(START);
    const limiter = new RateLimiter(clock, { AssignPrivateIpAddresses: 6 });
    expect(limiter.bucket('AssignPrivateIpAddresses').status().burst).toBe(MIN_BURST);
    await limiter.acquire('AssignPrivateIpAddresses');
    await limiter.acquire('AssignPrivateIpAddresses');
    let waited: number | undefined;
    void limiter.acquire('AssignPrivateIpAddresses').then((ms) => (waited = ms));
    expect(await limiter.acquire('DescribeNetworkInterfaces')).toBe(0);
    await clock.advance(10_000);
    expect(waited).toBe(10_000);
    limiter.onThrottled('DescribeNetworkInterfaces');
    const status = limiter.status();
    expect(Object.keys(status)).toEqual(['AssignPrivateIpAddresses', 'DescribeNetworkInterfaces']);
    expect(status['DescribeNetworkInterfaces']?.callsPerMinute).toBe(400);
    expect(status['AssignPrivateIpAddresses']?.callsPerMinute).toBe(6);
  });
});
