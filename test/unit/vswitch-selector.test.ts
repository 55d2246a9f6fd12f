import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { VSwitchSelector } from '../../src/cloud/aliyun/vswitch-selector.js';
import type {
  VSwitchInfo,
  VSwitchSelectorOptions,
} from '../../src/cloud/aliyun/vswitch-selector.js';
import { CloudError } from '../../src/cloud/cloud-error.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const ZONE = 'cn-hangzhou-k';

function vsw(vswitchId: string, availableIpCount: number, zoneId = ZONE): VSwitchInfo {
  return { vswitchId, zoneId, cidr: '10.0.0.0/24', availableIpCount };
}

interface Harness {
  clock: FakeClock;
  selector: VSwitchSelector;
  described: string[][];
  cloud: Map<string, VSwitchInfo>;
  warnings: Record<string, unknown>[];
  failDescribe: { on: boolean };
}

function harness(
  vswitches: VSwitchInfo[],
  overrides: Partial<VSwitchSelectorOptions> = {},
): Harness {
  const clock = new FakeClock();
  const cloud = new Map(vswitches.map((v) => [v.vswitchId, v]));
  const described: string[][] = [];
  const warnings: Record<string, unknown>[] = [];
  const failDescribe = { on: false };
  const log = pino(
    { level: 'warn' },
    { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const selector = new VSwitchSelector({
    zoneId: ZONE,
    vswitchIds: vswitches.map((v) => v.vswitchId),
    fallbackVSwitchId: 'vsw-node',
    policy: 'ordered',
    describe: async (ids) => {
      described.push(ids);
      if (failDescribe.on) throw new Error('DescribeVSwitches: Throttling');
      return ids.flatMap((id) => {
        const info = cloud.get(id);
        return info === undefined ? [] : [{ ...info }];
      });
    },
    clock,
    log,
    ...overrides,
  });
  return { clock, selector, described, cloud, warnings, failDescribe };
}

async function failure(promise: Promise<unknown>): Promise<CloudError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CloudError);
  return error as CloudError;
}

describe('policies', () => {
  test('ordered: the most available IPs first, config order on ties', async () => {
    const { selector, cloud } = harness([vsw('vsw-a', 5), vsw('vsw-b', 50), vsw('vsw-c', 50)]);
    expect((await selector.pick()).vswitchId).toBe('vsw-b');
    cloud.set('vsw-a', vsw('vsw-a', 500));
    selector.invalidate();
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
  });

  test('random: uniform among the vSwitches that have IPs', async () => {
    let roll = 0;
    const { selector } = harness([vsw('vsw-a', 5), vsw('vsw-empty', 0), vsw('vsw-c', 1)], {
      policy: 'random',
      random: () => roll,
    });
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
    roll = 0.49;
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
    roll = 0.5;
    expect((await selector.pick()).vswitchId).toBe('vsw-c');
    roll = 0.9999;
    expect((await selector.pick()).vswitchId).toBe('vsw-c');
  });

  test('no configured vSwitches: the node’s own vSwitch', async () => {
    const { selector, described, cloud } = harness([], {});
    cloud.set('vsw-node', vsw('vsw-node', 9));
    const picked = await selector.pick();
    expect(picked).toEqual(vsw('vsw-node', 9));
    expect(described).toEqual([['vsw-node']]);
  });
});

describe('zone restriction', () => {
  test('vSwitches in another zone are ignored, with one warning each', async () => {
    const { selector, warnings } = harness([
      vsw('vsw-far', 1000, 'cn-hangzhou-j'),
      vsw('vsw-near', 3),
    ]);
    expect((await selector.pick()).vswitchId).toBe('vsw-near');
    selector.invalidate();
    await selector.pick();
    const zoneWarnings = warnings.filter((w) => w['vswitchId'] === 'vsw-far');
    expect(zoneWarnings).toHaveLength(1);
    expect(zoneWarnings[0]?.['msg']).toContain("in zone cn-hangzhou-j, not the node's zone");
    expect(selector.status().find((s) => s.vswitchId === 'vsw-far')?.excluded).toContain(
      'cn-hangzhou-j',
    );
  });

  test('only other-zone and unknown vSwitches: a clear IpNotEnough error', async () => {
    const { selector, cloud } = harness([vsw('vsw-far', 1000, 'cn-hangzhou-j')]);
    const withGhost = new VSwitchSelector({
      zoneId: ZONE,
      vswitchIds: ['vsw-far', 'vsw-ghost'],
      fallbackVSwitchId: 'vsw-node',
      policy: 'random',
      describe: async (ids) => ids.flatMap((id) => (cloud.has(id) ? [cloud.get(id)!] : [])),
      clock: new FakeClock(),
      log: pino({ level: 'silent' }),
    });
    const error = await failure(withGhost.pick());
    expect(error.cloudCode).toBe('InvalidVSwitchId.IpNotEnough');
    expect(error.message).toContain('vsw-far (in zone cn-hangzhou-j');
    expect(error.message).toContain('vsw-ghost (not found by DescribeVSwitches)');
    await failure(selector.pick());
  });
});

describe('exhaustion and inhibit', () => {
  test('markExhausted skips the vSwitch for inhibitMs, cached as 0, then it is back', async () => {
    const { clock, selector } = harness([vsw('vsw-a', 100), vsw('vsw-b', 10)], {
      inhibitMs: 600_000,
    });
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
    selector.markExhausted('vsw-a', 'InvalidVSwitchId.IpNotEnough from CreateNetworkInterface');
    expect((await selector.pick()).vswitchId).toBe('vsw-b');
    const status = selector.status().find((s) => s.vswitchId === 'vsw-a');
    expect(status).toMatchObject({
      availableIpCount: 0,
      inhibitedUntil: clock.now() + 600_000,
      reason: 'InvalidVSwitchId.IpNotEnough from CreateNetworkInterface',
    });
    expect(selector.inhibitedReason('vsw-a')).toBe(
      'InvalidVSwitchId.IpNotEnough from CreateNetworkInterface',
    );
    expect(selector.inhibitedReason('vsw-b')).toBeUndefined();
    // Cache refreshes during the inhibit keep it at 0: ECS's count lags its own IpNotEnough.
    await clock.advance(120_000);
    expect((await selector.pick()).vswitchId).toBe('vsw-b');
    expect(selector.status()[0]?.availableIpCount).toBe(0);
    await clock.advance(480_000);
    expect(selector.inhibitedReason('vsw-a')).toBeUndefined();
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
    expect(selector.status()[0]).toEqual({
      vswitchId: 'vsw-a',
      zoneId: ZONE,
      availableIpCount: 100,
    });
  });

  test('every candidate inhibited or empty: IpNotEnough naming each and why', async () => {
    const { selector } = harness([vsw('vsw-a', 100), vsw('vsw-b', 0)]);
    selector.markExhausted('vsw-a', 'IpNotEnough');
    const error = await failure(selector.pick());
    expect(error.cloudCode).toBe('InvalidVSwitchId.IpNotEnough');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`no vSwitch in zone ${ZONE} can take a new ENI`);
    expect(error.message).toContain('vsw-a (skipped for 10 more min after IpNotEnough)');
    expect(error.message).toContain('vsw-b (0 available IPs)');
  });
});

describe('DescribeVSwitches cache', () => {
  test('one describe per TTL, shared by concurrent picks', async () => {
    const { clock, selector, described } = harness([vsw('vsw-a', 10)], { cacheTtlMs: 60_000 });
    await Promise.all([selector.pick(), selector.pick(), selector.pick()]);
    for (let i = 0; i < 10; i++) await selector.pick();
    expect(described).toHaveLength(1);
    await clock.advance(59_999);
    await selector.pick();
    expect(described).toHaveLength(1);
    await clock.advance(1);
    await selector.pick();
    expect(described).toHaveLength(2);
  });

  test('a failed refresh falls back to the last answer; with none, it fails', async () => {
    const { clock, selector, failDescribe, warnings } = harness([vsw('vsw-a', 10)]);
    await selector.pick();
    failDescribe.on = true;
    await clock.advance(120_000);
    expect((await selector.pick()).vswitchId).toBe('vsw-a');
    expect(warnings.some((w) => String(w['msg']).includes('using the previous answer'))).toBe(true);

    const cold = harness([vsw('vsw-a', 10)]);
    cold.failDescribe.on = true;
    await expect(cold.selector.pick()).rejects.toThrow('DescribeVSwitches: Throttling');
  });

  test('status before any describe lists the candidates without counts', () => {
    const { selector } = harness([vsw('vsw-a', 10), vsw('vsw-b', 1)]);
    expect(selector.status()).toEqual([
      { vswitchId: 'vsw-a', zoneId: '', availableIpCount: undefined },
      { vswitchId: 'vsw-b', zoneId: '', availableIpCount: undefined },
    ]);
  });
});
