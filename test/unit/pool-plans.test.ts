import { describe, expect, test } from '@jest/globals';
import { planGrowth } from '../../src/pool/grow-plan.js';
import { computePoolLimits } from '../../src/pool/pool-limits.js';
import { planShrink } from '../../src/pool/shrink-plan.js';

const limits = computePoolLimits(
  { instanceType: 'ecs.g7.xlarge', eniQuantity: 4, ipsPerEni: 15 },
  { eniCapRatio: 1, eniCapShift: 0, maxEni: undefined },
);

describe('computePoolLimits', () => {
  test('secondary ENIs are EniQuantity - 1, capacity is ENIs x IPs per ENI', () => {
    expect(limits).toEqual({
      instanceType: 'ecs.g7.xlarge',
      maxEnis: 3,
      ipsPerEni: 15,
      capacity: 45,
    });
  });

  test('eni_cap_ratio, eni_cap_shift and max_eni adjust the ENI count', () => {
    const instance = { instanceType: 't', eniQuantity: 8, ipsPerEni: 10 };
    expect(
      computePoolLimits(instance, { eniCapRatio: 0.5, eniCapShift: 0, maxEni: undefined }).maxEnis,
    ).toBe(3);
    expect(
      computePoolLimits(instance, { eniCapRatio: 1, eniCapShift: 2, maxEni: undefined }).maxEnis,
    ).toBe(9);
    expect(computePoolLimits(instance, { eniCapRatio: 1, eniCapShift: 0, maxEni: 2 }).maxEnis).toBe(
      2,
    );
    expect(
      computePoolLimits(instance, { eniCapRatio: 0.01, eniCapShift: 0, maxEni: undefined }).maxEnis,
    ).toBe(0);
  });
});

describe('planGrowth', () => {
  const eni = (id: string, size: number, inUse: number, assignable = true) => ({
    id,
    size,
    inUse,
    assignable,
    freeSlots: 15 - size,
  });

  test('fills existing ENIs first, busiest first under most_ips, at most 10 per call', () => {
    const actions = planGrowth({
      wanted: 14,
      enis: [eni('eni-a', 3, 1), eni('eni-b', 5, 4)],
      creatingEnis: 0,
      creatingFreeSlots: 0,
      limits,
      canCreateEni: true,
      policy: 'most_ips',
    });
    expect(actions).toEqual([
      { kind: 'assign', eniId: 'eni-b', count: 10 },
      { kind: 'assign', eniId: 'eni-a', count: 4 },
    ]);
  });

  test('least_ips spreads demand onto the least used ENI first', () => {
    const actions = planGrowth({
      wanted: 2,
      enis: [eni('eni-a', 3, 1), eni('eni-b', 5, 4)],
      creatingEnis: 0,
      creatingFreeSlots: 0,
      limits,
      canCreateEni: true,
      policy: 'least_ips',
    });
    expect(actions).toEqual([{ kind: 'assign', eniId: 'eni-a', count: 2 }]);
  });

  test('min_eni is met by creating ENIs, not by topping up the one there is', () => {
    const below = (enisBelowMin: number, wanted: number) =>
      planGrowth({
        wanted,
        enis: [eni('eni-a', 3, 1)],
        creatingEnis: 0,
        creatingFreeSlots: 0,
        limits,
        canCreateEni: true,
        policy: 'least_ips',
        enisBelowMin,
      });
    // One IP wanted and one ENI missing: the new ENI brings the IP, nothing is assigned.
    expect(below(1, 1)).toEqual([{ kind: 'create', ipCount: 2 }]);
    // Never past the instance's ENI limit (3 secondary here, one of them eni-a).
    expect(below(5, 1).filter((action) => action.kind === 'create')).toHaveLength(
      limits.maxEnis - 1,
    );
    expect(below(0, 1)).toEqual([{ kind: 'assign', eniId: 'eni-a', count: 1 }]);
  });

  test('creates ENIs for the remainder, never past the ENI limit', () => {
    const actions = planGrowth({
      wanted: 40,
      enis: [eni('eni-a', 15, 15)],
      creatingEnis: 1,
      creatingFreeSlots: 0,
      limits,
      canCreateEni: true,
      policy: 'most_ips',
    });
    expect(actions).toEqual([{ kind: 'create', ipCount: 10 }]);
  });

  test('demand that an ENI being created can absorb does not create another ENI', () => {
    const actions = planGrowth({
      wanted: 3,
      enis: [],
      creatingEnis: 1,
      creatingFreeSlots: 13,
      limits,
      canCreateEni: true,
      policy: 'most_ips',
    });
    expect(actions).toEqual([]);
    const more = planGrowth({
      wanted: 20,
      enis: [],
      creatingEnis: 1,
      creatingFreeSlots: 13,
      limits,
      canCreateEni: true,
      policy: 'most_ips',
    });
    expect(more).toEqual([{ kind: 'create', ipCount: 7 }]);
  });

  test('a create brings what max_pool_size lets sit idle besides the demand, shared by the plan', () => {
    const plan = (wanted: number, idleHeadroom: number, enisBelowMin = 0) =>
      planGrowth({
        wanted,
        enis: [],
        creatingEnis: 0,
        creatingFreeSlots: 0,
        limits,
        canCreateEni: true,
        policy: 'most_ips',
        enisBelowMin,
        idleHeadroom,
      });
    // Three wanted and room for ten idle: one call fills the new ENI as far as a call can.
    expect(plan(3, 10)).toEqual([{ kind: 'create', ipCount: 10 }]);
    expect(plan(3, 4)).toEqual([{ kind: 'create', ipCount: 7 }]);
    // Without headroom, the demand alone (and never fewer than two).
    expect(plan(3, 0)).toEqual([{ kind: 'create', ipCount: 3 }]);
    expect(plan(1, 0)).toEqual([{ kind: 'create', ipCount: 2 }]);
    // Only the last create has room left: 22 wanted fill one ENI's create and 7 of the next's.
    expect(plan(22, 2)).toEqual([
      { kind: 'create', ipCount: 10 },
      { kind: 'create', ipCount: 9 },
    ]);
    // Creates for min_eni alone take it too, and it is spent once across the plan.
    expect(plan(0, 6, 1)).toEqual([{ kind: 'create', ipCount: 6 }]);
    expect(plan(0, 6, 2)).toEqual([
      { kind: 'create', ipCount: 6 },
      { kind: 'create', ipCount: 2 },
    ]);
  });

  test('demand an ENI busy with an assign can absorb waits for it instead of a new ENI', () => {
    const busy = { id: 'eni-1', size: 3, inUse: 3, assignable: false, freeSlots: 12 };
    const plan = (wanted: number) =>
      planGrowth({
        wanted,
        enis: [busy],
        creatingEnis: 0,
        creatingFreeSlots: 0,
        busyFreeSlots: 12,
        limits,
        canCreateEni: true,
        policy: 'most_ips',
      });
    expect(plan(2)).toEqual([]);
    expect(plan(15)).toEqual([{ kind: 'create', ipCount: 3 }]);
  });

  test('demand beyond one create is planned onto the new ENIs capacity, not onto more ENIs', () => {
    const roomy = { ...limits, ipsPerEni: 15, maxEnis: 3 };
    const actions = planGrowth({
      wanted: 30,
      enis: [],
      creatingEnis: 0,
      creatingFreeSlots: 0,
      limits: roomy,
      canCreateEni: true,
      policy: 'most_ips',
    });
    // Two ENIs of 15 (10 by create, 5 by a later assign each), not three ENIs of 10.
    expect(actions).toEqual([
      { kind: 'create', ipCount: 10 },
      { kind: 'create', ipCount: 10 },
    ]);
  });

  test('a new ENI carries at least one secondary IP besides its primary', () => {
    const actions = planGrowth({
      wanted: 1,
      enis: [],
      creatingEnis: 0,
      creatingFreeSlots: 0,
      limits,
      canCreateEni: true,
      policy: 'most_ips',
    });
    expect(actions).toEqual([{ kind: 'create', ipCount: 2 }]);
  });

  test('busy ENIs and blocked creation yield no calls', () => {
    const actions = planGrowth({
      wanted: 5,
      enis: [eni('eni-a', 3, 1, false)],
      creatingEnis: 0,
      creatingFreeSlots: 0,
      limits,
      canCreateEni: false,
      policy: 'most_ips',
    });
    expect(actions).toEqual([]);
  });
});

describe('planShrink', () => {
  const view = (id: string, idle: string[], inUse: number, primaryIp = idle[0] ?? '') => ({
    id,
    primaryIp,
    size: idle.length + inUse,
    inUse,
    unused: inUse === 0,
    touchable: true,
    idle,
  });

  test('deletes a whole unused ENI when the excess covers it', () => {
    const actions = planShrink({
      release: 4,
      minEni: 0,
      enis: [
        view('eni-a', ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 0),
        view('eni-b', ['10.0.0.9'], 5, '10.0.0.8'),
      ],
    });
    expect(actions[0]).toEqual({ kind: 'delete', eniId: 'eni-a', ipCount: 3 });
    expect(actions[1]).toEqual({ kind: 'unassign', eniId: 'eni-b', ips: ['10.0.0.9'] });
  });

  test('keeps min_eni ENIs and never unassigns an ENI primary IP', () => {
    const actions = planShrink({
      release: 3,
      minEni: 1,
      enis: [view('eni-a', ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 0)],
    });
    expect(actions).toEqual([{ kind: 'unassign', eniId: 'eni-a', ips: ['10.0.0.2', '10.0.0.3'] }]);
  });

  test('unassigns from the least used ENI first, in batches of at most 10', () => {
    const many = Array.from({ length: 12 }, (_, i) => `10.0.1.${i + 2}`);
    const actions = planShrink({
      release: 12,
      minEni: 0,
      enis: [view('eni-busy', ['10.0.2.2'], 9, '10.0.2.1'), view('eni-light', many, 1, '10.0.1.1')],
    });
    expect(actions[0]).toEqual({ kind: 'unassign', eniId: 'eni-light', ips: many.slice(0, 10) });
    expect(actions[1]).toEqual({ kind: 'unassign', eniId: 'eni-busy', ips: ['10.0.2.2'] });
  });
});
