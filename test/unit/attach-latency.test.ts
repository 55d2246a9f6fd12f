import { describe, expect, test } from '@jest/globals';

import {
  AttachLatency,
  DENSE_POLL_MS,
  DENSE_SPAN_MS,
} from '../../src/cloud/aliyun/attach-latency.js';
import { POLL_MAX_MS } from '../../src/cloud/aliyun/poll.js';

describe('AttachLatency.nextRead', () => {
  test('before any ENI has gone InUse, the regular interval', () => {
    const latency = new AttachLatency();
    expect(latency.window).toBeUndefined();
    expect(latency.nextRead(1_000, 1_500, 950)).toBe(2_450);
  });

  test('once learned: the middle of the window, densely from there, then the regular interval', () => {
    const latency = new AttachLatency();
    latency.learn(1_600, 2_400);
    expect(latency.window).toEqual({ lo: 1_600, hi: 2_400 });
    const attachedAt = 10_000;
    // Nothing is read before the middle of the window, whatever the regular interval says.
    expect(latency.nextRead(attachedAt, attachedAt, 200)).toBe(12_000);
    expect(latency.nextRead(attachedAt, 11_000, 200)).toBe(12_000);
    // Then densely, and its end (when the last ENI had certainly gone InUse) is read whatever.
    expect(latency.nextRead(attachedAt, 12_000, 2_000)).toBe(12_000 + DENSE_POLL_MS);
    expect(latency.nextRead(attachedAt, 12_250, 2_000)).toBe(12_400);
    // Past it: every dense interval, for DENSE_SPAN_MS (or the window's end, if longer).
    expect(latency.nextRead(attachedAt, 12_400, 2_000)).toBe(12_400 + DENSE_POLL_MS);
    const over = 12_400 + Math.max(DENSE_SPAN_MS, 2_400);
    expect(latency.nextRead(attachedAt, over - 1, 2_000)).toBe(over - 1 + DENSE_POLL_MS);
    expect(latency.nextRead(attachedAt, over, 2_000)).toBe(over + 2_000);
  });

  test('a window from a much slower attach delays a read by the longest regular interval at most', () => {
    const latency = new AttachLatency();
    latency.learn(29_000, 30_000);
    expect(latency.nextRead(0, 0, 200)).toBe(POLL_MAX_MS);
    expect(latency.nextRead(0, 28_000, 200)).toBe(29_500);
  });

  test('the latest ENI teaches; bounds are never negative nor crossed', () => {
    const latency = new AttachLatency();
    latency.learn(3_000, 3_200);
    latency.learn(1_200, 1_300);
    expect(latency.window).toEqual({ lo: 1_200, hi: 1_300 });
    latency.learn(-5, -1);
    expect(latency.window).toEqual({ lo: 0, hi: 0 });
    // Found by its first read: dense reads from the attach on.
    expect(latency.nextRead(0, 0, 200)).toBe(DENSE_POLL_MS);
  });
});
