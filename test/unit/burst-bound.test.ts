import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import type { BurstModel } from '../../bench/burst/lower-bound.js';
import { burstLowerBound, clusterCallFloor, TokenSchedule } from '../../bench/burst/lower-bound.js';

/** The burst benchmark's settings: ecs.ebmg5.24xlarge (31 secondary ENIs × 10 IPs). */
const MODEL: BurstModel = {
  pods: 100,
  ipsPerEni: 10,
  maxEnis: 31,
  maxIpsPerCall: 10,
  createMs: 300,
  attachCallMs: 0,
  attachMs: 2_000,
  assignMs: 300,
  describeMs: 100,
  mutating: { ratePerSecond: 20, burst: 20 },
};

describe('TokenSchedule', () => {
  test('a full bucket grants `burst` tokens at once, then one every 1/rate s', () => {
    const tokens = new TokenSchedule({ ratePerSecond: 10, burst: 2 });
    expect([0, 0, 0, 0].map(() => tokens.take(0))).toEqual([0, 0, 100, 200]);
  });

  test('never grants a token before the call is ready, nor out of order', () => {
    const tokens = new TokenSchedule({ ratePerSecond: 10, burst: 1 });
    expect(tokens.take(500)).toBe(500);
    expect(tokens.take(0)).toBe(500);
  });
});

describe('burst lower bound', () => {
  test('10 ENIs of 10 IPs within the burst: create, attach, one describe', () => {
    expect(burstLowerBound(MODEL)).toEqual({
      ms: 300 + 2_000 + 100,
      enis: 10,
      creates: 10,
      attaches: 10,
      assigns: 0,
      // The attaches go out when the creates return; the bucket still holds their tokens.
      lastTokenMs: 300,
    });
  });

  test('a small bucket spreads the calls out at its rate', () => {
    // 20 calls, 1 token to start, 20/s: creates get tokens 0..450 ms, the 10th attach gets the
    // 20th token at 950 ms.
    const bound = burstLowerBound({ ...MODEL, mutating: { ratePerSecond: 20, burst: 1 } });
    expect(bound.lastTokenMs).toBeCloseTo(950, 6);
    expect(bound.ms).toBeCloseTo(950 + 2_000 + 100, 6);
  });

  test('an attach waits for its create even when a token is there', () => {
    // Tokens are plentiful; the chain is create → attach call → attach → describe.
    const bound = burstLowerBound({ ...MODEL, attachCallMs: 50 });
    expect(bound.ms).toBe(300 + 50 + 2_000 + 100);
  });

  test('IPs beyond what a create carries cost assigns after InUse', () => {
    // 15 IPs per ENI: each create carries 10, one assign brings the other 5.
    const bound = burstLowerBound({ ...MODEL, ipsPerEni: 15, pods: 30 });
    expect(bound).toMatchObject({ enis: 2, assigns: 2 });
    expect(bound.ms).toBe(300 + 2_000 + 100 + 300);
  });

  test('a partial last ENI needs no assign if its create can carry all of it', () => {
    // 2 ENIs: 15 IPs (create 10 + assign 5) and 8 IPs (create only).
    expect(burstLowerBound({ ...MODEL, ipsPerEni: 15, pods: 23 })).toMatchObject({
      enis: 2,
      assigns: 1,
    });
  });

  test('a starved bucket delays the assigns too', () => {
    // Burst 2: the create and the attach go at once; the assign's token exists at 5 s.
    const bound = burstLowerBound({
      ...MODEL,
      ipsPerEni: 15,
      pods: 15,
      mutating: { ratePerSecond: 0.2, burst: 2 },
    });
    expect(bound.lastTokenMs).toBe(5_000);
    expect(bound.ms).toBe(5_000 + 300);
  });

  test('no pods, no time', () => {
    expect(burstLowerBound({ ...MODEL, pods: 0 }).ms).toBe(0);
  });

  test('more ENIs than the instance allows is an error, not a bound', () => {
    expect(() => burstLowerBound({ ...MODEL, maxEnis: 5 })).toThrow('need 10 ENIs');
  });

  test('never below the plain chain, and never lower for more pods or a slower bucket', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 40 }),
        (pods, ipsPerEni, rate, burst) => {
          const model = {
            ...MODEL,
            pods,
            ipsPerEni,
            maxEnis: 1_000,
            mutating: { ratePerSecond: rate, burst },
          };
          const bound = burstLowerBound(model).ms;
          expect(bound).toBeGreaterThanOrEqual(300 + 2_000 + 100);
          expect(burstLowerBound({ ...model, pods: pods + 1 }).ms).toBeGreaterThanOrEqual(bound);
          const slower = { ratePerSecond: rate / 2, burst };
          expect(burstLowerBound({ ...model, mutating: slower }).ms).toBeGreaterThanOrEqual(bound);
        },
      ),
    );
  });
});

describe('cluster call floor', () => {
  test('ecs.g7.xlarge (3 × 15 IPs), 30 pods: 2 creates, 2 attaches, 2 assigns, 1 describe', () => {
    const floor = clusterCallFloor({
      nodes: 200,
      podsPerNode: 30,
      ipsPerEni: 15,
      maxEnis: 3,
      maxIpsPerCall: 10,
    });
    expect(floor.perNode).toEqual({ creates: 2, attaches: 2, assigns: 2, describes: 1 });
    expect(floor.perNodeTotal).toBe(7);
    expect(floor.total).toBe(1_400);
  });

  test('a third ENI instead of the assigns would cost as many calls', () => {
    const floor = clusterCallFloor({
      nodes: 1,
      podsPerNode: 30,
      ipsPerEni: 10,
      maxEnis: 3,
      maxIpsPerCall: 10,
    });
    expect(floor.perNode).toEqual({ creates: 3, attaches: 3, assigns: 0, describes: 1 });
    expect(floor.perNodeTotal).toBe(7);
  });

  test('ENIs that a create fills need no assign', () => {
    const floor = clusterCallFloor({
      nodes: 1,
      podsPerNode: 100,
      ipsPerEni: 10,
      maxEnis: 31,
      maxIpsPerCall: 10,
    });
    expect(floor.perNode).toEqual({ creates: 10, attaches: 10, assigns: 0, describes: 1 });
  });

  test('more pods than a node can hold is an error', () => {
    expect(() =>
      clusterCallFloor({ nodes: 1, podsPerNode: 50, ipsPerEni: 15, maxEnis: 3, maxIpsPerCall: 10 }),
    ).toThrow('need 4 ENIs');
  });
});
