import { describe, expect, test } from '@jest/globals';

import {
  AttachLatency,
  DENSE_POLL_MS,
  DENSE_SPAN_MS,
} from '../../src/cloud/aliyun/attach-latency.js';

describe('AttachLatency.nextRead', () => {
  test('before any ENI has gone InUse, the regular interval', () => {
    const latency = new AttachLatency();
    expect(latency.expected).toBeUndefined();
    expect(latency.nextRead(1_000, 1_500, 950)).toBe(2_450);
  });

  test('once learned: the expected moment, densely after it, the regular interval again later', () => {
    const latency = new AttachLatency();
    latency.learn(1_800);
    expect(latency.expected).toBe(1_800);
    const attachedAt = 10_000;
    // Before the expected moment: no later than it, nor than the regular interval.
    expect(latency.nextRead(attachedAt, 10_500, 450)).toBe(10_950);
    expect(latency.nextRead(attachedAt, 11_000, 950)).toBe(11_800);
    // From it on: every dense interval, unless the regular one is shorter.
    expect(latency.nextRead(attachedAt, 11_800, 1_012)).toBe(11_800 + DENSE_POLL_MS);
    expect(latency.nextRead(attachedAt, 12_000, 100)).toBe(12_100);
    // The dense phase lasts DENSE_SPAN_MS (or the expected time, if longer), then growth resumes.
    const after = attachedAt + 1_800 + DENSE_SPAN_MS;
    expect(latency.nextRead(attachedAt, after - 1, 2_000)).toBe(after - 1 + DENSE_POLL_MS);
    expect(latency.nextRead(attachedAt, after, 2_000)).toBe(after + 2_000);
  });

  test('the latest ENI teaches; a negative bound counts as zero', () => {
    const latency = new AttachLatency();
    latency.learn(3_000);
    latency.learn(1_200);
    expect(latency.expected).toBe(1_200);
    latency.learn(-5);
    expect(latency.expected).toBe(0);
    expect(latency.nextRead(0, 0, 200)).toBe(DENSE_POLL_MS);
  });
});
